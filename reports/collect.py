"""Reading the record into the cohort's facts: the tickets and their events, the bot's visits
and questions, the ratings and 差评 cases of one window, in one transaction."""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
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
from reports.facts import (
    ABANDONED_EARLY,
    BOT_CHANNEL,
    BOT_HELPER,
    IN_TIME,
    LATE,
    NO_CATEGORY,
    NO_HELPER,
    PENDING,
    Facts,
    Keys,
    QuestionFact,
    RatingFact,
    TicketFact,
    VisitFact,
)
from reports.window import Window, aware_utc, check_window
from xiaobao.clock import open_seconds, utcnow
from xiaobao.db import session_scope
from xiaobao.enums import Channel
from xiaobao.events import Event, EventKind

REPEAT_WITHIN = dt.timedelta(days=7)  # 首办成功率: a same-topic contact this close is a repeat
_CHUNK = 500
_CALL_CONNECTED = frozenset({ANSWERED, THREE_WAY_CONNECTED})


# --- reading the record --------------------------------------------------------------------------

def collect(engine: Engine, first: dt.date, last: dt.date, *, config: HandoffConfig,
            now: dt.datetime | None = None) -> Facts:
    """The cohort of the window ``[first, last]``, read in one transaction."""
    check_window(first, last)
    window = Window(first, last, ZoneInfo(config.hours.timezone))
    now = aware_utc(now) if now is not None else utcnow()
    with session_scope(engine) as s:
        tickets = _tickets_created(s, window)
        by_ticket = ticket_events(s, [t.id for t in tickets])
        related = tickets_of_visitors(s, tickets)
        ticket_facts = {t.id: ticket_fact(t, by_ticket[t.id], related, window, config, now)
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


def ticket_events(s: Session, ticket_ids: list[str]) -> dict[str, list[Event]]:
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


def tickets_of_visitors(s: Session, tickets: list[Ticket]) -> dict[str, list[Ticket]]:
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


def first_response(t: Ticket, events: list[Event]) -> dt.datetime | None:
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


def ticket_fact(t: Ticket, events: list[Event], related: dict[str, list[Ticket]],
                 window: Window, config: HandoffConfig, now: dt.datetime) -> TicketFact:
    clock = _clock_from(t, events)
    level = config.response_level(t.channel)
    responded = first_response(t, events)
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
