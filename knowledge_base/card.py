"""The answer card: an entry's answer as people read it, with where it comes from and how
current it is. The bot's answers, the helper's one-click answers and the editor's preview use
this one wording.

Nothing is claimed that the entry does not say:

- 长期有效 only when the entry is marked ``long_term``; otherwise the known dates
  ("自2022-11-01起施行", "有效期至2027-12-31"), or no validity line at all;
- "最近核对：2026-11-30" from ``reviewed_on``; never reviewed → "以最新文件和窗口受理意见为准";
- ``source`` names a document (or "本中心整理"); a link to a site's home page is not a source
  but the place to apply, so it is shown as "办理入口：上海“一网通办”（https://zwdt.sh.gov.cn/）".
"""
from __future__ import annotations

import datetime as dt
from typing import Protocol
from urllib.parse import urlsplit

DEFAULT_SOURCE = "本中心整理"
UNREVIEWED_TEXT = "以最新文件和窗口受理意见为准"

# Sites the seed links to, by host: a home-page link is shown by the site's name.
SITE_NAMES = {
    "zwdt.sh.gov.cn": "上海“一网通办”",
    "yct.sh.gov.cn": "上海市开办企业“一窗通”",
    "shanghai.chinatax.gov.cn": "国家税务总局上海市税务局",
    "etax.shanghai.chinatax.gov.cn": "上海市电子税务局",
    "www.shgjj.com": "上海住房公积金网",
    "www.shbsq.gov.cn": "上海宝山门户网站",
    "www.gov.cn": "中国政府网",
    "rsj.sh.gov.cn": "上海市人力资源和社会保障局",
    "zzlz.gsxt.gov.cn": "电子营业执照系统",
    "www.gsxt.gov.cn": "国家企业信用信息公示系统",
    "sheitc.sh.gov.cn": "上海市经济和信息化委员会",
    "stcsm.sh.gov.cn": "上海市科学技术委员会",
    "www.innocom.gov.cn": "高新技术企业认定管理工作网",
    "sthj.sh.gov.cn": "上海市生态环境局",
    "scjgj.sh.gov.cn": "上海市市场监督管理局",
    "www.12345.gov.cn": "12345政务服务便民热线",
}


class Answerable(Protocol):
    """An entry, its validated data or a search hit: what the card reads (read-only, so a
    date or an ISO string both fit)."""

    @property
    def answer(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def source_url(self) -> str: ...
    @property
    def department(self) -> str: ...
    @property
    def effective_from(self) -> dt.date | str | None: ...
    @property
    def expires_on(self) -> dt.date | str | None: ...


def _date(value: dt.date | str | None) -> str:
    return value.isoformat() if isinstance(value, dt.date) else (value or "")


def validity_text(start: dt.date | str | None, end: dt.date | str | None,
                  long_term: bool = False) -> str:
    """What the entry says of its validity, or "" when it says nothing."""
    start, end = _date(start), _date(end)
    parts = []
    if start:
        parts.append(f"自{start}起施行")
    if end:
        parts.append(f"有效期至{end}")
    elif long_term:
        parts.append("长期有效")
    return "，".join(parts)


def review_text(reviewed_on: dt.date | str | None) -> str:
    reviewed = _date(reviewed_on)
    return f"最近核对：{reviewed}" if reviewed else UNREVIEWED_TEXT


def is_home_page(url: str) -> bool:
    """A link to a site's front page (no path, query or fragment): not a deep link."""
    if not url:
        return False
    parts = urlsplit(url.strip())
    return bool(parts.netloc) and parts.path in ("", "/") and not parts.query \
        and not parts.fragment


def site_name(url: str) -> str:
    host = urlsplit(url.strip()).netloc.lower()
    return SITE_NAMES.get(host, host)


def source_text(entry: Answerable) -> str:
    source = (entry.source or "").strip() or DEFAULT_SOURCE
    department = (getattr(entry, "department", "") or "").strip()
    if department and department not in source:
        source = f"{source}（{department}）"
    return source


def link_line(url: str) -> str:
    """"链接：<deep link>", or "办理入口：<site>（<home page>）" for a home-page link."""
    url = (url or "").strip()
    if not url:
        return ""
    if is_home_page(url):
        return f"办理入口：{site_name(url)}（{url}）"
    return f"链接：{url}"


def card_lines(entry: Answerable) -> list[str]:
    """来源, then 链接 or 办理入口, 有效期 when known, and 最近核对 (or the caution)."""
    lines = [f"来源：{source_text(entry)}"]
    link = link_line(entry.source_url)
    if link:
        lines.append(link)
    validity = validity_text(entry.effective_from, entry.expires_on,
                             bool(getattr(entry, "long_term", False)))
    if validity:
        lines.append(f"有效期：{validity}")
    lines.append(review_text(getattr(entry, "reviewed_on", None)))
    return lines


def answer_card(entry: Answerable) -> str:
    """The answer, a blank line, then source, link, validity and review."""
    return "\n".join([entry.answer.strip(), "", *card_lines(entry)])


def review_state(reviewed_on: dt.date | None, max_age_days: int,
                 today: dt.date | None = None) -> str:
    """``unreviewed`` (never checked), ``stale`` (older than the age) or ``current``."""
    if reviewed_on is None:
        return "unreviewed"
    today = today or dt.date.today()
    return "stale" if (today - reviewed_on).days > max_age_days else "current"
