"""The answer card: an entry's answer as people read it, with where it comes from and how long
it holds. The bot's answers and the helper's one-click answers use this one wording.

Validity is said only as the knowledge base knows it: an entry with no dates says so instead
of claiming "长期有效", and one with only a start date says it has no end date on record.
"""
from __future__ import annotations

import datetime as dt
from typing import Protocol

DEFAULT_SOURCE = "宝山区政务服务中心"


class Answerable(Protocol):
    """An entry or a search hit: what the card reads."""

    answer: str
    source: str
    source_url: str
    department: str
    effective_from: dt.date | str | None
    expires_on: dt.date | str | None


def validity_text(start: dt.date | str | None, end: dt.date | str | None) -> str:
    if start and end:
        return f"{start} 至 {end}"
    if start:
        return f"{start} 起施行（未注明截止日期，请以发布部门最新规定为准）"
    if end:
        return f"有效至 {end}"
    return "未注明（请以发布部门最新规定为准）"


def source_text(entry: Answerable) -> str:
    source = (entry.source or "").strip() or DEFAULT_SOURCE
    department = (getattr(entry, "department", "") or "").strip()
    if department and department not in source:
        source = f"{source}（{department}）"
    return source


def card_lines(entry: Answerable) -> list[str]:
    """来源, 链接 and 有效期 lines, in that order."""
    lines = [f"来源：{source_text(entry)}"]
    if entry.source_url:
        lines.append(f"链接：{entry.source_url}")
    lines.append(f"有效期：{validity_text(entry.effective_from, entry.expires_on)}")
    return lines


def answer_card(entry: Answerable) -> str:
    """The answer, a blank line, then source, link and validity."""
    return "\n".join([entry.answer.strip(), "", *card_lines(entry)])
