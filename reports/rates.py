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
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, or_, select
from sqlalchemy.orm import Session

from handoff.config import HandoffConfig
from handoff.store import Ticket
from handoff.tickets import (
    ABANDONED,
    ANSWERED,
    FINAL_STATES,
    RESOLVED,
    THREE_WAY_CONNECTED,
)
from knowledge_base.models import Entry
from ratings.cases import BAD_RATINGS, BadRatingCase, Stage, cases_for
from ratings.deadlines import rectification_due, rectified_in_time, timer_state
from xiaobao.clock import aware, open_seconds, utcnow
from xiaobao.db import session_scope
from xiaobao.enums import SATISFIED_RATINGS, Channel
from xiaobao.events import Event, EventKind

MAX_WINDOW_DAYS = 366
EARLIEST, LATEST = dt.date(2000, 1, 1), dt.date(2999, 12, 31)
REPEAT_WITHIN = dt.timedelta(days=7)  # 首办成功率: a same-topic contact this close is a repeat
BREAKDOWNS = ("department", "channel", "helper", "category", "day")
RATES = ("response_rate", "resolution_rate", "bot_resolution_rate", "satisfaction_rate",
         "unfounded_rate", "first_contact_resolution_rate", "containment_rate",
         "active_rating_rate", "rectified_in_time_rate", "follow_up_rate")
DURATIONS = ("first_response_s", "handling_s", "queue_wait_s")
METRICS = RATES + DURATIONS
ABANDONED_EARLY = "abandoned_before_service_level"
# Breakdown keys of what has no such key: the bot's own service, an unclaimed ticket, a
# question or ticket without a knowledge-base candidate.
BOT_CHANNEL = "bot"
BOT_HELPER = "小宝"
NO_HELPER = "未领取"
NO_CATEGORY = "未分类"
_CHUNK = 500
_CALL_CONNECTED = frozenset({ANSWERED, THREE_WAY_CONNECTED})


class WindowError(ValueError):
    """A window the reports refuse; ``message`` is Chinese / English."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def check_window(first: dt.date, last: dt.date) -> None:
    """Raise WindowError unless ``first`` ≤ ``last``, at most a year apart, in 2000–2999."""
    for day in (first, last):
        if not EARLIEST <= day <= LATEST:
            raise WindowError(f"日期 {day} 超出范围（{EARLIEST} 至 {LATEST}）。 / {day} is "
                              f"outside {EARLIEST}..{LATEST}.")
    if first > last:
        raise WindowError(f"开始日期 {first} 晚于结束日期 {last}。 / The window starts ({first}) "
                          f"after it ends ({last}).")
    if (last - first).days + 1 > MAX_WINDOW_DAYS:
        raise WindowError(f"统计区间最长 {MAX_WINDOW_DAYS} 天。 / A window is at most "
                          f"{MAX_WINDOW_DAYS} days.")


def days_of(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]


# --- the cohort's facts ---------------------------------------------------------------------------

Keys = dict[str, str]  # one key per breakdown (BREAKDOWNS)

IN_TIME, LATE, PENDING = "in_time", "late", "pending"


@dataclass(frozen=True)
class TicketFact:
    """A handoff of the cohort, as the rates need it."""

    keys: Keys
    status: str
    response: str  # IN_TIME | LATE | PENDING (open, level not yet reached) | ABANDONED_EARLY
    first_response_s: float | None  # service seconds from the clock's start
    queue_wait_s: float | None  # service seconds from the clock's start to the first claim
    handling_s: float | None  # seconds from the first human response to the close
    first_contact_resolved: bool  # resolved, no transfer, no same-topic contact ±7 days


@dataclass(frozen=True)
class VisitFact:
    """A conversation's day with at least one question for the bot."""

    keys: Keys
    resolved_by_bot: bool
    handed_off: bool  # without a handoff the visit is a completed bot case


@dataclass(frozen=True)
class QuestionFact:
    keys: Keys
    contained: bool  # answered (or a suggestion chosen) with no handoff before the next one


@dataclass(frozen=True)
class RatingFact:
    """The latest rating of a case of the cohort."""

    keys: Keys
    rating: str
    of_completed_case: bool  # a closed ticket of the cohort, or a completed bot visit
    bad: bool
    reviewed: bool
    unfounded: bool  # reviewed 不属实 and not overturned: out of 满意率
    rectification: str | None  # 差评 still counting: IN_TIME | LATE | PENDING
    followed_up: bool


@dataclass(frozen=True)
class Facts:
    tickets: list[TicketFact] = field(default_factory=list)
    visits: list[VisitFact] = field(default_factory=list)
    questions: list[QuestionFact] = field(default_factory=list)
    ratings: list[RatingFact] = field(default_factory=list)

    def where(self, by: str, key: str) -> Facts:
        return Facts(*([x for x in items if x.keys[by] == key] for items in self._lists()))

    def keys_of(self, by: str) -> list[str]:
        return sorted({x.keys[by] for items in self._lists() for x in items})

    def _lists(self) -> tuple[list, ...]:
        return self.tickets, self.visits, self.questions, self.ratings


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


# --- reading the record --------------------------------------------------------------------------

@dataclass(frozen=True)
class Window:
    first: dt.date
    last: dt.date
    tz: ZoneInfo

    @property
    def start(self) -> dt.datetime:
        """The first instant, in UTC (SQLite keeps UTC wall time: always compare in UTC)."""
        return dt.datetime.combine(self.first, dt.time.min, tzinfo=self.tz).astimezone(dt.UTC)

    @property
    def end(self) -> dt.datetime:
        """The instant after the last day (exclusive), in UTC."""
        return dt.datetime.combine(self.last + dt.timedelta(days=1), dt.time.min,
                                   tzinfo=self.tz).astimezone(dt.UTC)

    def day(self, at: dt.datetime) -> dt.date:
        return aware_utc(at).astimezone(self.tz).date()

    def holds(self, at: dt.datetime) -> bool:
        return self.start <= aware_utc(at) < self.end


def aware_utc(value: dt.datetime) -> dt.datetime:
    at = aware(value)
    assert at is not None
    return at.astimezone(dt.UTC)


def collect(engine: Engine, first: dt.date, last: dt.date, *, config: HandoffConfig,
            now: dt.datetime | None = None) -> Facts:
    """The cohort of the window ``[first, last]``, read in one transaction."""
    check_window(first, last)
    window = Window(first, last, ZoneInfo(config.hours.timezone))
    now = aware_utc(now) if now is not None else utcnow()
    with session_scope(engine) as s:
        tickets = _tickets_created(s, window)
        by_ticket = _ticket_events(s, [t.id for t in tickets])
        related = _tickets_of_visitors(s, tickets)
        ticket_facts = {t.id: _ticket_fact(t, by_ticket[t.id], related, window, config, now)
                        for t in tickets}
        visit_events = _bot_events(s, window)
        categories = _entry_categories(s, {str((e.data or {}).get("entry_id") or "")
                                           for e in visit_events
                                           if not (e.data or {}).get("category")})
        visits, questions = _visits(visit_events, window, config, categories)
        ratings = _rating_facts(s, window, ticket_facts, visits, config, now)
    return Facts(tickets=list(ticket_facts.values()),
                 visits=[v.fact for v in visits.values() if v.asked],
                 questions=questions, ratings=ratings)


def _chunks(items: Sequence[str]) -> Iterator[list[str]]:
    for start in range(0, len(items), _CHUNK):
        yield list(items[start:start + _CHUNK])


def _tickets_created(s: Session, window: Window) -> list[Ticket]:
    return list(s.scalars(select(Ticket).where(Ticket.created_at >= window.start,
                                               Ticket.created_at < window.end)
                          .order_by(Ticket.created_at)))


_TICKET_KINDS = (EventKind.TICKET_QUEUED.value, EventKind.TICKET_CLAIMED.value,
                 EventKind.TICKET_FIRST_RESPONSE.value, EventKind.TICKET_TRANSFERRED.value,
                 EventKind.CALL_STATUS.value)


def _ticket_events(s: Session, ticket_ids: list[str]) -> dict[str, list[Event]]:
    out: dict[str, list[Event]] = defaultdict(list)
    for chunk in _chunks(ticket_ids):
        for e in s.scalars(select(Event).where(Event.ticket_id.in_(chunk),
                                               Event.kind.in_(_TICKET_KINDS))
                           .order_by(Event.at, Event.pk)):
            out[e.ticket_id].append(e)
    return out


def visitor_of(t: Ticket) -> str:
    return t.visitor_id or t.conversation_id


def category_of(t: Ticket) -> str:
    """The knowledge-base category of the ticket's top candidate ("" without one)."""
    candidates = (t.context or {}).get("candidates") or []
    return str(candidates[0].get("category") or "") if candidates else ""


def _tickets_of_visitors(s: Session, tickets: list[Ticket]) -> dict[str, list[Ticket]]:
    """Every ticket (any time) of the cohort's visitors, for the 7-day repeat rule."""
    visitors = sorted({visitor_of(t) for t in tickets})
    found: dict[str, Ticket] = {}
    for chunk in _chunks(visitors):
        for t in s.scalars(select(Ticket).where(or_(Ticket.visitor_id.in_(chunk),
                                                    Ticket.conversation_id.in_(chunk)))):
            found[t.id] = t
    out: dict[str, list[Ticket]] = defaultdict(list)
    for t in found.values():
        out[visitor_of(t)].append(t)
    return out


def _clock_from(t: Ticket, events: list[Event]) -> dt.datetime:
    """When the 响应率's clock starts: the ``ticket_queued`` event's ``clock_from`` (a 12345
    call-back's window start), else the ticket's creation."""
    for e in events:
        if e.kind == EventKind.TICKET_QUEUED and (e.data or {}).get("clock_from"):
            return aware_utc(dt.datetime.fromisoformat(str(e.data["clock_from"])))
    return aware_utc(t.created_at)


def _first_response(t: Ticket, events: list[Event]) -> dt.datetime | None:
    """The first human response: for 12345 the call answered or connected, else the
    helper's first message (before any transfer, whose ticket row forgets it)."""
    if t.channel == Channel.HOTLINE_12345:
        hits = [e for e in events if e.kind == EventKind.CALL_STATUS
                and (e.data or {}).get("status") in _CALL_CONNECTED]
    else:
        hits = [e for e in events if e.kind == EventKind.TICKET_FIRST_RESPONSE]
    return aware_utc(hits[0].at) if hits else None


def _is_repeat_pair(t: Ticket, other: Ticket) -> bool:
    """``other`` is a contact on the same topic within 7 days before ``t`` or after it closed."""
    topic = category_of(t)
    if other.id == t.id or not topic or category_of(other) != topic:
        return False
    created, other_created = aware_utc(t.created_at), aware_utc(other.created_at)
    if created - REPEAT_WITHIN <= other_created < created:
        return True
    closed = aware_utc(t.closed_at) if t.closed_at is not None else None
    return closed is not None and closed < other_created <= closed + REPEAT_WITHIN


def _ticket_fact(t: Ticket, events: list[Event], related: dict[str, list[Ticket]],
                 window: Window, config: HandoffConfig, now: dt.datetime) -> TicketFact:
    clock = _clock_from(t, events)
    level = config.response_level(t.channel)
    responded = _first_response(t, events)
    claims = [aware_utc(e.at) for e in events if e.kind == EventKind.TICKET_CLAIMED]
    closed = aware_utc(t.closed_at) if t.closed_at is not None else None
    if responded is not None:
        response = IN_TIME if open_seconds(clock, responded, config) <= level else LATE
    elif t.status == ABANDONED and closed is not None:
        response = ABANDONED_EARLY if open_seconds(clock, closed, config) < level else LATE
    elif t.status in FINAL_STATES:
        response = LATE  # closed with no human response at all
    else:
        response = PENDING if open_seconds(clock, now, config) < level else LATE
    transferred = any(e.kind == EventKind.TICKET_TRANSFERRED for e in events)
    repeated = any(_is_repeat_pair(t, other) for other in related[visitor_of(t)])
    return TicketFact(
        keys={"department": t.department, "channel": t.channel,
              "helper": t.helper or NO_HELPER, "category": category_of(t) or NO_CATEGORY,
              "day": window.day(t.created_at).isoformat()},
        status=t.status, response=response,
        first_response_s=open_seconds(clock, responded, config) if responded else None,
        queue_wait_s=open_seconds(clock, claims[0], config) if claims else None,
        handling_s=(closed - responded).total_seconds() if closed and responded else None,
        first_contact_resolved=t.status == RESOLVED and not transferred and not repeated)


# --- visits and questions -------------------------------------------------------------------------

_BOT_KINDS = (EventKind.BOT_ANSWER.value, EventKind.ANSWER_FEEDBACK.value,
              EventKind.HANDOFF_REQUESTED.value)


def _bot_events(s: Session, window: Window) -> list[Event]:
    return list(s.scalars(select(Event).where(Event.kind.in_(_BOT_KINDS),
                                              Event.conversation_id != "",
                                              Event.at >= window.start, Event.at < window.end)
                          .order_by(Event.at, Event.pk)))


def _entry_categories(s: Session, entry_ids: Iterable[str]) -> dict[str, str]:
    """Categories of entries named by events written before events carried their own."""
    ids = sorted(i for i in entry_ids if i)
    out: dict[str, str] = {}
    for chunk in _chunks(ids):
        out.update(s.execute(select(Entry.id, Entry.category).where(Entry.id.in_(chunk))).all())
    return out


def bot_keys(category: str, day: dt.date, config: HandoffConfig) -> Keys:
    """A bot item's keys: its department is the one its category is routed to."""
    return {"department": config.routing.get(category, config.central_department),
            "channel": BOT_CHANNEL, "helper": BOT_HELPER,
            "category": category or NO_CATEGORY, "day": day.isoformat()}


@dataclass
class _Visit:
    keys: Keys
    asked: bool = False
    answered: bool = False
    helpful: bool = False
    unhelpful: bool = False
    handed_off: bool = False

    @property
    def fact(self) -> VisitFact:
        resolved = self.helpful or (self.answered and not self.handed_off
                                    and not self.unhelpful)
        return VisitFact(keys=self.keys, resolved_by_bot=resolved, handed_off=self.handed_off)


def _visits(events: list[Event], window: Window, config: HandoffConfig,
            categories: dict[str, str]) -> tuple[dict[tuple[str, dt.date], _Visit],
                                                 list[QuestionFact]]:
    by_visit: dict[tuple[str, dt.date], list[Event]] = defaultdict(list)
    for e in events:
        by_visit[(e.conversation_id, window.day(e.at))].append(e)
    visits: dict[tuple[str, dt.date], _Visit] = {}
    questions: list[QuestionFact] = []
    for (conversation_id, day), evs in by_visit.items():
        typed = [e for e in evs if e.kind == EventKind.BOT_ANSWER
                 and not (e.data or {}).get("chosen")]
        first = _category(typed[0], categories) if typed else ""
        visit = _Visit(keys=bot_keys(first, day, config), asked=bool(typed))
        asked: list[tuple[Event, list[Event]]] = []  # each question and what followed it
        for e in evs:
            data = e.data or {}
            if e.kind == EventKind.BOT_ANSWER:
                visit.answered |= data.get("decision") == "answer"
                if not data.get("chosen"):
                    asked.append((e, []))
                    continue
            elif e.kind == EventKind.ANSWER_FEEDBACK:
                visit.helpful |= data.get("helpful") is True
                visit.unhelpful |= data.get("helpful") is False
            else:
                visit.handed_off = True
            if asked:
                asked[-1][1].append(e)
        visits[(conversation_id, day)] = visit
        for question, after in asked:
            decision = (question.data or {}).get("decision")
            answered = decision == "answer" or (decision == "suggest" and any(
                e.kind == EventKind.BOT_ANSWER for e in after))
            handed = any(e.kind == EventKind.HANDOFF_REQUESTED for e in after)
            questions.append(QuestionFact(keys=bot_keys(_category(question, categories), day,
                                                        config),
                                          contained=answered and not handed))
    return visits, questions


def _category(e: Event, categories: dict[str, str]) -> str:
    data = e.data or {}
    return str(data.get("category") or categories.get(str(data.get("entry_id") or ""), ""))


# --- ratings and 差评 -----------------------------------------------------------------------------

def _latest_per_case(events: Iterable[Event]) -> dict[str, Event]:
    latest: dict[str, Event] = {}
    for e in events:
        case = str((e.data or {}).get("case") or "")
        if case and (case not in latest or e.pk > latest[case].pk):
            latest[case] = e
    return latest


def _ticket_ratings(s: Session, ticket_ids: list[str]) -> list[Event]:
    out: list[Event] = []
    for chunk in _chunks(ticket_ids):
        out += s.scalars(select(Event).where(Event.kind == EventKind.RATING.value,
                                             Event.ticket_id.in_(chunk)))
    return out


def _bot_ratings(s: Session, window: Window) -> list[Event]:
    """The bot ratings of every conversation rated in the window, at any time (a later one
    replaces a rating of the window)."""
    rated = sorted(set(s.scalars(select(Event.conversation_id).where(
        Event.kind == EventKind.RATING.value, Event.ticket_id == "",
        Event.at >= window.start, Event.at < window.end))))
    out: list[Event] = []
    for chunk in _chunks(rated):
        out += s.scalars(select(Event).where(Event.kind == EventKind.RATING.value,
                                             Event.ticket_id == "",
                                             Event.conversation_id.in_(chunk)))
    return out


def _rectification(case: BadRatingCase | None, rated_at: dt.datetime, config: HandoffConfig,
                   now: dt.datetime) -> str:
    """IN_TIME (contacted and fixed before their deadlines), LATE (a deadline passed), or
    PENDING (timers running); a 差评 without a work order is late once its fix is due."""
    if case is None:
        due = rectification_due(rated_at, config.hours)["fix_due_simple"]
        return LATE if now >= due else PENDING
    if rectified_in_time(case, config.hours):
        return IN_TIME
    state = timer_state(case, now, config.hours)
    late = state[Stage.CONTACTED.value]["overdue"] or state[Stage.FIXED.value]["overdue"]
    return LATE if late else PENDING


def _rating_facts(s: Session, window: Window, tickets: dict[str, TicketFact],
                  visits: dict[tuple[str, dt.date], _Visit], config: HandoffConfig,
                  now: dt.datetime) -> list[RatingFact]:
    latest = _latest_per_case(_ticket_ratings(s, list(tickets)))
    bot_latest = {case: e for case, e in _latest_per_case(_bot_ratings(s, window)).items()
                  if window.holds(e.at)}
    cases = {c.rating_event_pk: c for c in cases_for(s, [*latest, *bot_latest])}
    out = []
    for e in [*latest.values(), *bot_latest.values()]:
        rating = str((e.data or {}).get("rating") or "")
        if e.ticket_id:
            ticket = tickets[e.ticket_id]
            keys, completed = ticket.keys, ticket.status in FINAL_STATES
        else:
            day = window.day(e.at)
            visit = visits.get((e.conversation_id, day))
            keys = visit.keys if visit else bot_keys("", day, config)
            completed = visit is not None and visit.asked and not visit.handed_off
        bad = rating in BAD_RATINGS
        case = cases.get(e.pk)
        unfounded = bool(bad and case is not None and case.unfounded)
        out.append(RatingFact(
            keys=keys, rating=rating, of_completed_case=completed, bad=bad,
            reviewed=bool(bad and case is not None and case.verdict), unfounded=unfounded,
            rectification=_rectification(case, aware_utc(e.at), config, now)
            if bad and not unfounded else None,
            followed_up=bool(case is not None and case.followed_up_at is not None)))
    return out
