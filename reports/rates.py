"""The rates the centre is judged by, computed from the record — the event log, the tickets
and the 差评 work orders — never from log files.

Every figure is over one cohort: what *started* in the window ``[first, last]`` (dates, both
included, in the service calendar's zone, Asia/Shanghai):

* a **ticket** (a handoff) starts when it is created (queued);
* a **visit** is one conversation's bot turns on one day: the portal keeps one conversation
  per visitor for months, so the day is the visit. A visit with a ``bot_answer`` event has a
  *question*; each ``bot_answer`` that is not a clicked suggestion is one question;
* a **rated case** (:mod:`ratings.record`: a ticket, or a conversation's bot service) counts
  with its latest rating only: a ticket's when the ticket is in the cohort, the bot's on the
  day that rating was given.

A rate is ``{"value": numerator / denominator, "numerator", "denominator"}``, ``value`` None
when there is no denominator (not available — never 0% or 100%). A duration is
``{"p50", "p90", "n"}`` in seconds, nearest-rank percentiles, None without values. Each figure
can be broken down by department, channel, helper, knowledge-base category or day: the rows
are the same figures over the part of the cohort with that key (:data:`BREAKDOWNS`).

>>> summary(engine, dt.date(2026, 11, 30), dt.date(2026, 11, 30), config=config, by="day")
"""
from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Engine

from handoff.config import HandoffConfig
from handoff.tickets import (
    FINAL_STATES,
    RESOLVED,
)
from reports.collect import collect
from reports.facts import (
    ABANDONED_EARLY,
    BREAKDOWNS,
    IN_TIME,
    LATE,
    Facts,
)
from reports.window import days_of
from xiaobao.enums import SATISFIED_RATINGS

RATES = ("response_rate", "resolution_rate", "bot_resolution_rate", "satisfaction_rate",
         "unfounded_rate", "first_contact_resolution_rate", "containment_rate",
         "active_rating_rate", "rectified_in_time_rate", "follow_up_rate")
DURATIONS = ("first_response_s", "handling_s", "queue_wait_s")
METRICS = RATES + DURATIONS


# --- the definitions (README: 服务指标 / Service rates) -------------------------------------------

def rate(numerator: int, denominator: int) -> dict:
    return {"value": numerator / denominator if denominator else None,
            "numerator": numerator, "denominator": denominator}


def percentiles(values: Sequence[float]) -> dict:
    """Nearest rank: p50 is the ⌈n/2⌉-th smallest value, p90 the ⌈0.9·n⌉-th."""
    ordered = sorted(values)

    def rank(p: float) -> float | None:
        return ordered[math.ceil(p * len(ordered)) - 1] if ordered else None

    return {"p50": rank(0.5), "p90": rank(0.9), "n": len(ordered)}


def response_rate(f: Facts) -> dict:
    """响应率: handoffs whose first human response (for 12345, the call answered or three-way
    connected) came within the channel's service level ÷ handoffs. The clock runs from
    queueing (a 12345 call-back booked for a window: from the window's start) and counts
    service hours only. A handoff abandoned before the service level passed is left out (and
    counted in ``abandoned_before_service_level``), and so is an open one whose level has not
    passed yet; one closed with no human response counts as late."""
    counted = [t for t in f.tickets if t.response in (IN_TIME, LATE)]
    return rate(sum(t.response == IN_TIME for t in counted), len(counted))


def abandoned_before_service_level(f: Facts) -> int:
    """Handoffs the user abandoned before a first response and before the service level."""
    return sum(t.response == ABANDONED_EARLY for t in f.tickets)


def resolution_rate(f: Facts) -> dict:
    """解决率: tickets resolved ÷ tickets closed (resolved, unresolved or abandoned)."""
    closed = [t for t in f.tickets if t.status in FINAL_STATES]
    return rate(sum(t.status == RESOLVED for t in closed), len(closed))


def bot_resolution_rate(f: Facts) -> dict:
    """Bot resolution: visits with a question in which an answer was marked 有帮助, or which
    were answered with no handoff and no 没帮助 ÷ visits with a question."""
    return rate(sum(v.resolved_by_bot for v in f.visits), len(f.visits))


def satisfaction_rate(f: Facts) -> dict:
    """满意率: 非常满意 + 满意 + 基本满意 ÷ ratings (the latest per case); a 差评 whose 不属实
    review was upheld (not overturned) is left out of both."""
    counted = [r for r in f.ratings if not r.unfounded]
    return rate(sum(r.rating in SATISFIED_RATINGS for r in counted), len(counted))


def unfounded_rate(f: Facts) -> dict:
    """不属实率: 差评 reviewed 不属实 (and not overturned) ÷ 差评 reviewed."""
    reviewed = [r for r in f.ratings if r.bad and r.reviewed]
    return rate(sum(r.unfounded for r in reviewed), len(reviewed))


def first_contact_resolution_rate(f: Facts) -> dict:
    """首办成功率: tickets resolved in the first contact — never transferred, and no other
    ticket of the same visitor on the same topic (the knowledge-base category of the top
    candidate) created in the 7 days before it or the 7 days after it closed — ÷ tickets
    resolved."""
    resolved = [t for t in f.tickets if t.status == RESOLVED]
    return rate(sum(t.first_contact_resolved for t in resolved), len(resolved))


def containment_rate(f: Facts) -> dict:
    """Containment: questions answered without a person — the bot answered (or the user chose
    one of its suggestions) and no handoff was requested before the next question ÷
    questions."""
    return rate(sum(q.contained for q in f.questions), len(f.questions))


def active_rating_rate(f: Facts) -> dict:
    """主动评价率: ratings ÷ completed cases (closed tickets, and visits with a question and
    no handoff)."""
    completed = sum(t.status in FINAL_STATES for t in f.tickets) + \
        sum(not v.handed_off for v in f.visits)
    return rate(sum(r.of_completed_case for r in f.ratings), completed)


def rectified_in_time_rate(f: Facts) -> dict:
    """差评整改率: 差评 contacted within 1 working day and fixed within 5 (complex: 15) ÷ 差评
    (upheld 不属实 left out); a 差评 whose timers are still running and not yet fixed is
    counted once fixed or overdue."""
    due = [r for r in f.ratings if r.rectification in (IN_TIME, LATE)]
    return rate(sum(r.rectification == IN_TIME for r in due), len(due))


def follow_up_rate(f: Facts) -> dict:
    """回访率: 差评 followed up (回访 recorded) ÷ 差评 (upheld 不属实 left out)."""
    bad = [r for r in f.ratings if r.rectification is not None]
    return rate(sum(r.followed_up for r in bad), len(bad))


def first_response_s(f: Facts) -> dict:
    """Service seconds from the clock's start (as 响应率's) to the first human response."""
    return percentiles([t.first_response_s for t in f.tickets if t.first_response_s is not None])


def handling_s(f: Facts) -> dict:
    """Seconds (wall clock) from the first human response to the close, closed tickets."""
    return percentiles([t.handling_s for t in f.tickets if t.handling_s is not None])


def queue_wait_s(f: Facts) -> dict:
    """Service seconds from the clock's start (as 响应率's) to the first claim."""
    return percentiles([t.queue_wait_s for t in f.tickets if t.queue_wait_s is not None])


FIGURES: dict[str, Callable[[Facts], Any]] = {
    "response_rate": response_rate, "resolution_rate": resolution_rate,
    "bot_resolution_rate": bot_resolution_rate, "satisfaction_rate": satisfaction_rate,
    "unfounded_rate": unfounded_rate,
    "first_contact_resolution_rate": first_contact_resolution_rate,
    "containment_rate": containment_rate, "active_rating_rate": active_rating_rate,
    "rectified_in_time_rate": rectified_in_time_rate, "follow_up_rate": follow_up_rate,
    "first_response_s": first_response_s, "handling_s": handling_s,
    "queue_wait_s": queue_wait_s, ABANDONED_EARLY: abandoned_before_service_level,
}


def figures(f: Facts) -> dict:
    """Every figure of ``f``: the keys of :data:`METRICS` and ``abandoned_before_service_level``."""
    return {name: compute(f) for name, compute in FIGURES.items()}


# --- the reports ----------------------------------------------------------------------------------

def summary(engine: Engine, first: dt.date, last: dt.date, *, config: HandoffConfig,
            by: str | None = None, now: dt.datetime | None = None,
            departments: list[str] | None = None) -> dict:
    """The window's figures; with ``by``, ``"breakdown": {"by", "rows": [{"key", ...}]}``.
    The per-helper breakdown holds only the work of ``departments`` unless it is None
    (:func:`xiaobao.policy.report_departments`: a department leader sees its own helpers)."""
    facts = collect(engine, first, last, config=config, now=now)
    out = figures(facts)
    if by is not None:
        part = facts
        if by == "helper" and departments is not None:
            part = Facts(*([x for x in items if x.keys["department"] in departments]
                           for items in facts._lists()))
        out["breakdown"] = {"by": by, "rows": breakdown(part, by, first, last)}
    return out


def breakdown(facts: Facts, by: str, first: dt.date, last: dt.date) -> list[dict]:
    """One row per key (every day of the window for ``day``), the figures of that part."""
    if by not in BREAKDOWNS:
        raise ValueError(f"unknown breakdown {by!r}")
    keys = [d.isoformat() for d in days_of(first, last)] if by == "day" else facts.keys_of(by)
    return [{"key": key, **figures(facts.where(by, key))} for key in keys]


def series(engine: Engine, first: dt.date, last: dt.date, metric: str, *,
           config: HandoffConfig, now: dt.datetime | None = None) -> dict:
    """``{"metric", "points": [{"day", "value", "numerator", "denominator"}]}``, every day of
    the window. For a duration ``value`` is the day's median (p50) in seconds, ``p90`` is
    beside it, ``denominator`` is how many were measured and ``numerator`` is None."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}")
    facts = collect(engine, first, last, config=config, now=now)
    points = []
    for day in days_of(first, last):
        figure = FIGURES[metric](facts.where("day", day.isoformat()))
        if metric in DURATIONS:
            point = {"value": figure["p50"], "numerator": None, "denominator": figure["n"],
                     "p90": figure["p90"]}
        else:
            point = dict(figure)
        points.append({"day": day.isoformat(), **point})
    return {"metric": metric, "points": points}


def export_rows(engine: Engine, first: dt.date, last: dt.date, *, config: HandoffConfig,
                by: str | None = None, now: dt.datetime | None = None) -> list[dict]:
    """One flat row per day (and, with ``by``, per key of that day): ``day``, ``by``, ``key``,
    then ``<rate>``, ``<rate>_numerator``, ``<rate>_denominator`` for each rate and
    ``<duration>_p50``, ``_p90``, ``_n`` for each duration, then the abandoned count."""
    facts = collect(engine, first, last, config=config, now=now)
    rows = []
    for day in days_of(first, last):
        of_day = facts.where("day", day.isoformat())
        if by and by != "day":
            parts = [(key, of_day.where(by, key)) for key in of_day.keys_of(by)]
        else:
            parts = [(day.isoformat() if by else "", of_day)]
        for key, part in parts:
            rows.append({"day": day.isoformat(), "by": by or "", "key": key,
                         **flatten(figures(part))})
    return rows


def flatten(figs: dict) -> dict:
    out: dict = {}
    for name in RATES:
        out[name] = figs[name]["value"]
        out[f"{name}_numerator"] = figs[name]["numerator"]
        out[f"{name}_denominator"] = figs[name]["denominator"]
    for name in DURATIONS:
        for part in ("p50", "p90", "n"):
            out[f"{name}_{part}"] = figs[name][part]
    out[ABANDONED_EARLY] = figs[ABANDONED_EARLY]
    return out


