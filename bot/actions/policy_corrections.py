"""An enterprise correcting a fact in the chat's 政策体检 ("从业人数现在是80人" after the
register's summary, :mod:`enterprises.corrections` reads it): the bot's side.

The corrected value is the enterprise's own word: stored beside the authority's (对话中填报,
by :class:`bot.actions.policy_check.ActionPolicyCheck`, never over it), used for this
check-up's results (a declared fact counts for the check-up, never for 免申即享:
enterprises/sources.py), and confirmed with what the register still says:
"已记录：从业人数 80 人（对话中填报，2026-12-07），登记信息（市场监管登记）仍为 60 人，
以核实为准。"
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from enterprises import sources
from enterprises.checkup_start import RegisterStart, shown_value
from enterprises.corrections import parse_corrections
from policies.facts import Facts, Interval, fact_json
from policies.fields import NUMERIC, Dictionary, Field


def corrections_in(text: str, asked: str | None, dictionary: Dictionary) -> dict[str, Any]:
    """The facts ``text`` corrects, when it is more than the answer to the question ``asked``
    (a click on 一般纳税人 names its field, and is only the answer); {} otherwise."""
    found = parse_corrections(text, dictionary)
    return found if found and set(found) != {asked} else {}


def said(f: Field, value: Any) -> str:
    """A fact as the confirmation says it: "从业人数 80 人", "有效期内高新技术企业：否"."""
    if isinstance(value, bool):
        return f"{f.label}：{'是' if value else '否'}"
    if f.type in NUMERIC and f.unit and isinstance(value, (int, float)) \
            and not isinstance(value, Interval):
        return f"{f.label} {value:g} {f.unit}"
    return f"{f.label} {shown_value(f, value)}"


def _authority_value(f: Field, value: Any) -> str:
    return said(f, value).removeprefix(f.label).lstrip("： ")


def confirmation(corrected: Facts, start: RegisterStart, day: dt.date,
                 dictionary: Dictionary, *, signed_in: bool) -> str:
    """One sentence per corrected fact: what was recorded, and what the register still says
    when an authority says otherwise. An anonymous visitor's word is used, not stored."""
    known = {k.field: k for k in start.known}
    lines = []
    for name, value in corrected.items():
        f = dictionary[name]
        if not signed_in:
            lines.append(f"已记录：{said(f, value)}，本次政策体检按此核对。")
            continue
        line = f"已记录：{said(f, value)}（{sources.CONVERSATION}，{day.isoformat()}）"
        k = known.get(name)
        if k is not None and sources.is_authoritative(k.source) \
                and fact_json(k.value) != fact_json(value):
            line += (f"，登记信息（{k.source}）仍为 {_authority_value(f, k.value)}，"
                     "以核实为准")
        lines.append(line + "。")
    return "".join(lines)


def counted_facts(given: Facts, start: RegisterStart, corrected: set[str]) -> Facts:
    """The facts this check-up decides with: the register's where it knows them (they are not
    asked again), the conversation's otherwise — and the enterprise's own word where it
    corrected the register: in this turn (``corrected``) or before (its word is the register's
    declared value beside the authority's)."""
    declared = {k.field for k in start.known
                if k.declared is not None and k.field in given
                and k.declared["value"] == fact_json(given[k.field])}
    facts = {**given, **start.facts}
    facts.update({n: given[n] for n in corrected | declared if n in given})
    return facts
