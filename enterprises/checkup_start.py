"""Where a signed-in enterprise's 政策体检 starts: the facts the register already holds, said in
one sentence with their sources and as-of dates, so the check-up asks only what is unknown.

Only for the enterprise signed in on the browser (the caller passes the USCC of its session,
never one from the request). The facts that count are the register's own ranking
(:func:`enterprises.register.profile`: an authority's above the enterprise's word); what the
enterprise said otherwise is shown beside them ("登记：60人；您填报：62人"), never over them.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from sqlalchemy.orm import Session

from enterprises.register import FieldValue, RegisterError, profile
from policies.facts import Facts, Interval, fact_json
from policies.fields import Dictionary, Field, default_dictionary

CLOSING = "如有变化请告诉我。"


def shown_value(f: Field | None, value: Any) -> str:
    """A fact as a person reads it, with its unit: 60人, 宝山区, 是, 2019-05-10."""
    unit = f.unit if f else ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, Interval) and f is not None and value.low is not None:
        return f.band_label(value.low, value.high)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:g}{unit}"
    return f"{value}{unit}"


@dataclass(frozen=True)
class KnownFact:
    """One field the register knows: the value that counts and, when the enterprise said
    something else, its own word beside it."""

    field: str
    label: str
    value: Any
    shown: str
    source: str
    as_of: dt.date
    declared: dict | None = None

    def to_dict(self) -> dict:
        out = {"field": self.field, "label": self.label, "value": fact_json(self.value),
               "shown": self.shown, "source": self.source, "as_of": self.as_of.isoformat()}
        if self.declared is not None:
            out["declared"] = self.declared
        return out

    @property
    def phrase(self) -> str:
        sep = "：" if isinstance(self.value, bool) else ""
        return f"{self.label}{sep}{self.shown}"


@dataclass(frozen=True)
class RegisterStart:
    """The register's part of a check-up: ``facts`` to check with, ``known`` to show."""

    facts: Facts = field(default_factory=dict)
    known: list[KnownFact] = field(default_factory=list)

    @property
    def sentence(self) -> str:
        return register_sentence(self.known)

    def to_dict(self) -> dict:
        return {"from_register": [k.to_dict() for k in self.known],
                "register_sentence": self.sentence}


def _known(value: FieldValue, dictionary: Dictionary) -> KnownFact:
    f = dictionary.fields.get(value.field)
    declared = None
    if value.declared_as_of is not None:
        declared = {"value": fact_json(value.declared_value),
                    "shown": shown_value(f, value.declared_value),
                    "source": value.declared_source,
                    "as_of": value.declared_as_of.isoformat()}
    return KnownFact(value.field, f.label if f else value.field, value.value,
                     shown_value(f, value.value), value.source, value.as_of, declared)


def register_sentence(known: list[KnownFact]) -> str:
    """"根据登记信息（市场监管登记，2026-11-01）：注册地所在区宝山区，成立日期2019-05-10；（税务，
    …）：…，如有变化请告诉我。" — grouped by source and as-of date; "" when nothing is known."""
    if not known:
        return ""
    key = lambda k: (k.source, k.as_of)  # noqa: E731
    groups = [f"（{source}，{as_of.isoformat()}）：" + "，".join(k.phrase for k in items)
              for (source, as_of), items in groupby(sorted(known, key=key), key=key)]
    return "根据登记信息" + "；".join(groups) + "，" + CLOSING


def register_start(session: Session, uscc: str | None, day: dt.date, *,
                   dictionary: Dictionary | None = None) -> RegisterStart:
    """What the register knows of the signed-in enterprise ``uscc`` on ``day``; nothing for
    an anonymous visitor (None) or an enterprise the register does not hold."""
    if not uscc:
        return RegisterStart()
    dictionary = dictionary or default_dictionary()
    try:
        found = profile(session, uscc, day, dictionary=dictionary)
    except RegisterError:  # not in the register (or no valid code): nothing to start from
        return RegisterStart()
    order = list(dictionary.fields)
    values = sorted(found.fields.values(),
                    key=lambda v: order.index(v.field) if v.field in order else len(order))
    return RegisterStart(dict(found.facts), [_known(v, dictionary) for v in values])
