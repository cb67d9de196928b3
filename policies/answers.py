"""An answer as the planner weighs it: a choice, yes/no, or the band of the field it falls in.

The planner tries a field's likely answers (its choices, yes and no, each of its bands) and
weighs each by how often enterprises give it (:mod:`policies.priors`). Both sides name an
answer the same way here: :func:`answer_key` for an answer the planner tries, :func:`bucket`
for a fact an enterprise gave. A value that is none of these — a date, an industry code, a
number of a field without bands, free text, a band given that spans two of the field's
bands — has no key and is not counted (never the raw number).
"""
from __future__ import annotations

from typing import Any

from policies.facts import Interval
from policies.fields import NUMERIC, Field


def band_key(low: float, high: float | None) -> str:
    """A band's name in the counts: ``"10-20"``, ``"1000-"`` (no end)."""
    return f"{low:g}-" + ("" if high is None else f"{high:g}")


def answer_key(f: Field, answer: Any) -> str | None:
    """The key of one answer the planner tries (``policies.planner._answers``)."""
    if f.type == "boolean" and isinstance(answer, bool):
        return "true" if answer else "false"
    if isinstance(answer, Interval) and answer.low is not None:
        return band_key(answer.low, answer.high)
    if isinstance(answer, str) and answer in f.choices:
        return answer
    return None


def _in_band(f: Field, value: Any) -> tuple[float, float | None] | None:
    for low, high in f.bands:
        if isinstance(value, Interval):
            # the whole of the interval given lies in this band
            if value.low is None or value.low < low:
                continue
            if high is None:
                return (low, high)
            if value.high is not None and (value.high < high or (
                    value.high == high and not value.high_inclusive)):
                return (low, high)
        elif value >= low and (high is None or value < high):
            return (low, high)
    return None


def bucket(f: Field, value: Any) -> str | None:
    """The key a given fact is counted under, or None when it is not counted."""
    if f.derived:
        return None
    if f.type == "boolean":
        return answer_key(f, value) if isinstance(value, bool) else None
    if f.choices:
        return value if isinstance(value, str) and value in f.choices else None
    if f.type in NUMERIC and f.bands and (isinstance(value, Interval) or (
            isinstance(value, (int, float)) and not isinstance(value, bool))):
        band = _in_band(f, value)
        return band_key(*band) if band else None
    return None
