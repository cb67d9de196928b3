"""Exports for people who work in spreadsheets: one row per conversation, per ticket or per
差评 case that started in a window, read from the same record as the rates.

Each kind is a generator of dicts (:data:`COLUMNS` gives their keys in order) that reads the
table with ``yield_per`` and fetches what a chunk's rows need in a few queries per chunk, so
a year of conversations is never held in memory. Times are ISO 8601 in the service
calendar's zone; durations are the rates' service seconds (:mod:`reports.collect`), so a
row's ``first_response_s`` and ``response`` are what 响应率 counted. Text is exported as
stored: the record is masked when written, and the retention purge blanks what it must.

A conversation is its turns in the record (``messages``): it belongs to the window of its
first turn. Its handoff columns come from its tickets — department, helper and resolution of
the last one (where it ended up), first response of the first one (what the user waited for
first); without a ticket the resolution is the bot's, judged as the rates judge a visit. Its
rating is the latest of any of its cases (the bot's or a ticket's), with the reason given
with it or after it.

Who sees what: ``departments`` None is everything (supervisors, admin); a leader's list keeps
the tickets of those departments, the conversations handed to them, and the 差评 cases of
them and of the bot (no department), as the 差评 queue shows them.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from handoff.config import HandoffConfig
from handoff.store import Ticket
from ratings.cases import BadRatingCase
from ratings.deadlines import rectified_in_time, timer_state
from reports.collect import first_response, ticket_events, ticket_fact, tickets_of_visitors
from reports.facts import TicketFact
from reports.window import Window, aware_utc, check_window
from xiaobao.clock import utcnow
from xiaobao.conversations import Message
from xiaobao.enums import Speaker
from xiaobao.events import Event, EventKind

Row = dict[str, Any]
CHUNK = 500
# Every conversation today comes through the portal's chat: nothing in the record names a
# conversation's channel yet, so the export derives it. A channel that records its own (the
# widget, 企业微信) replaces this constant with what it records.
PORTAL = "portal"

COLUMNS: dict[str, tuple[str, ...]] = {
    "conversations": (
        "conversation_id", "channel", "started_at", "ended_at", "messages", "first_message",
        "questions", "entries", "handed_off", "tickets", "handoff_channel", "department",
        "helper", "first_response_at", "first_response_s", "response", "resolution",
        "rating", "rating_reason", "rated_at", "rating_target"),
    "tickets": (
        "ticket_id", "conversation_id", "channel", "department", "helper", "status",
        "priority", "complaint", "topic", "company", "summary", "created_at", "claimed_at",
        "first_response_at", "closed_at", "queue_wait_s", "first_response_s", "handling_s",
        "response", "transferred", "first_contact_resolved", "rating", "rating_reason",
        "rated_at"),
    "complaints": (
        "case_id", "conversation_id", "ticket_id", "rating", "reason", "department",
        "handler", "opened_at", "status", "counts", "verdict", "review_note", "reviewed_by",
        "reviewed_at", "overturned", "overturned_by", "overturned_at", "overturn_note",
        "complexity", "contact_due", "contacted_at", "contacted_by", "contact_note",
        "fix_due", "fixed_at", "fixed_by", "fix_note", "followed_up_at", "followed_up_by",
        "follow_up_note", "superseded_at", "overdue", "rectified_in_time"),
}
KINDS = tuple(COLUMNS)


def rows(session: Session, kind: str, first: dt.date, last: dt.date, *,
         config: HandoffConfig, departments: Sequence[str] | None = None,
         now: dt.datetime | None = None) -> Iterator[Row]:
    """The rows of ``kind`` (one of :data:`KINDS`) that started in ``[first, last]``, oldest
    first. Raises ``WindowError`` (422) for a window the reports refuse, ``ValueError`` for
    an unknown kind."""
    check_window(first, last)
    if kind not in COLUMNS:
        raise ValueError(kind)
    window = Window(first, last, ZoneInfo(config.hours.timezone))
    now = aware_utc(now) if now is not None else utcnow()
    build = {"conversations": _conversations, "tickets": _tickets,
             "complaints": _complaints}[kind]
    return build(session, window, config, departments, now)


def _time(value: dt.datetime | None, window: Window) -> str | None:
    return aware_utc(value).astimezone(window.tz).isoformat(timespec="seconds") \
        if value is not None else None


def _seconds(value: float | None) -> float | None:
    return round(value, 1) if value is not None else None


def _partitions(session: Session, query: Select) -> Iterator[Sequence[Any]]:
    """The query's rows, CHUNK at a time, from a streaming cursor."""
    result = session.execute(query.execution_options(yield_per=CHUNK))
    yield from result.partitions()


# --- ratings: the latest of a case, with its reason ---------------------------------------------

def _latest_ratings(session: Session, column: Any, keys: list[str]) -> dict[str, Event]:
    """The latest ``rating`` event per case among those whose ``column`` is in ``keys``."""
    latest: dict[str, Event] = {}
    for e in session.scalars(select(Event).where(Event.kind == EventKind.RATING.value,
                                                 column.in_(keys)).order_by(Event.pk)):
        case = str((e.data or {}).get("case") or "")
        if case:
            latest[case] = e
    return latest


def _reasons(session: Session, ratings: list[Event]) -> dict[int, str]:
    """A rating's reason: given with it, or later (``rating_reason``, a 差评 asked why)."""
    out = {e.pk: str((e.data or {}).get("reason") or "") for e in ratings}
    pending = [e.pk for e in ratings if not out[e.pk]]
    if pending:
        conversations = sorted({e.conversation_id for e in ratings if not out[e.pk]})
        for e in session.scalars(select(Event).where(
                Event.kind == EventKind.RATING_REASON.value,
                Event.conversation_id.in_(conversations)).order_by(Event.pk)):
            of = (e.data or {}).get("of_rating")
            if of in out and not out[of]:
                out[of] = str((e.data or {}).get("reason") or "")
    return out


def _rating_cells(e: Event | None, reasons: dict[int, str], window: Window) -> Row:
    if e is None:
        return {"rating": None, "rating_reason": None, "rated_at": None}
    return {"rating": (e.data or {}).get("rating"), "rating_reason": reasons.get(e.pk, ""),
            "rated_at": _time(e.at, window)}


# --- tickets --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Handled:
    fact: TicketFact  # the rates' own fact of the ticket
    transferred: bool
    responded_at: dt.datetime | None  # the first human response (the row forgets one before
    # a transfer; the events do not)


def _handled(session: Session, tickets: list[Ticket], window: Window, config: HandoffConfig,
             now: dt.datetime) -> dict[str, _Handled]:
    events = ticket_events(session, [t.id for t in tickets])
    related = tickets_of_visitors(session, tickets)
    return {t.id: _Handled(ticket_fact(t, events[t.id], related, window, config, now),
                           any(e.kind == EventKind.TICKET_TRANSFERRED for e in events[t.id]),
                           first_response(t, events[t.id]))
            for t in tickets}


def _tickets(session: Session, window: Window, config: HandoffConfig,
             departments: Sequence[str] | None, now: dt.datetime) -> Iterator[Row]:
    query = select(Ticket).where(Ticket.created_at >= window.start,
                                 Ticket.created_at < window.end)
    if departments is not None:
        query = query.where(Ticket.department.in_(list(departments)))
    for part in _partitions(session, query.order_by(Ticket.created_at, Ticket.id)):
        tickets = [row[0] for row in part]
        handled = _handled(session, tickets, window, config, now)
        latest = _latest_ratings(session, Event.ticket_id, [t.id for t in tickets])
        reasons = _reasons(session, list(latest.values()))
        for t in tickets:
            fact = handled[t.id].fact
            yield {
                "ticket_id": t.id, "conversation_id": t.conversation_id, "channel": t.channel,
                "department": t.department, "helper": t.helper or "", "status": t.status,
                "priority": t.priority, "complaint": bool(t.complaint), "topic": t.topic,
                "company": t.company, "summary": t.summary,
                "created_at": _time(t.created_at, window),
                "claimed_at": _time(t.claimed_at, window),
                "first_response_at": _time(handled[t.id].responded_at, window),
                "closed_at": _time(t.closed_at, window),
                "queue_wait_s": _seconds(fact.queue_wait_s),
                "first_response_s": _seconds(fact.first_response_s),
                "handling_s": _seconds(fact.handling_s), "response": fact.response,
                "transferred": handled[t.id].transferred,
                "first_contact_resolved": fact.first_contact_resolved,
                **_rating_cells(latest.get(f"ticket:{t.id}"), reasons, window)}


# --- conversations --------------------------------------------------------------------------------

def _conversation_query(window: Window, departments: Sequence[str] | None) -> Select:
    """Each conversation whose first turn falls in the window: id, first and last turn, how
    many turns. Only conversations with a turn in the window are grouped."""
    started = func.min(Message.at)
    active = select(Message.conversation_id).where(Message.at >= window.start,
                                                   Message.at < window.end)
    query = (select(Message.conversation_id, started, func.max(Message.at), func.count())
             .where(Message.conversation_id.in_(active.scalar_subquery()))
             .group_by(Message.conversation_id)
             .having(started >= window.start, started < window.end))
    if departments is not None:
        handed = select(Ticket.conversation_id).where(Ticket.department.in_(list(departments)))
        query = query.where(Message.conversation_id.in_(handed.scalar_subquery()))
    return query.order_by(started, Message.conversation_id)


_BOT_KINDS = (EventKind.BOT_ANSWER.value, EventKind.ANSWER_FEEDBACK.value,
              EventKind.HANDOFF_REQUESTED.value, EventKind.HELPER_KB_ANSWER.value)


def _first_user_turns(session: Session, ids: list[str]) -> dict[str, str]:
    firsts = (select(func.min(Message.pk)).where(Message.conversation_id.in_(ids),
                                                 Message.role == Speaker.USER.value)
              .group_by(Message.conversation_id))
    return dict(session.execute(select(Message.conversation_id, Message.text)
                                .where(Message.pk.in_(firsts.scalar_subquery()))).all())


def _bot_service(events: list[Event]) -> tuple[int, list[str], str]:
    """Typed questions, the entries answered with (bot and helpers, in order, once each),
    and the bot's resolution as the rates judge a visit: resolved when an answer was called
    helpful, or answered and neither called unhelpful nor handed off."""
    questions, entries = 0, []
    answered = helpful = unhelpful = handed = False
    for e in events:
        data = e.data or {}
        if e.kind == EventKind.BOT_ANSWER:
            questions += not data.get("chosen")
            if data.get("decision") == "answer":
                answered = True
                entries.append(str(data.get("entry_id") or ""))
        elif e.kind == EventKind.HELPER_KB_ANSWER:
            entries.append(str(data.get("entry_id") or ""))
        elif e.kind == EventKind.ANSWER_FEEDBACK:
            helpful |= data.get("helpful") is True
            unhelpful |= data.get("helpful") is False
        else:
            handed = True
    resolved = helpful or (answered and not unhelpful and not handed)
    verdict = "" if not questions else "bot_resolved" if resolved else "bot_unresolved"
    return questions, list(dict.fromkeys(e for e in entries if e)), verdict


def _conversations(session: Session, window: Window, config: HandoffConfig,
                   departments: Sequence[str] | None, now: dt.datetime) -> Iterator[Row]:
    for part in _partitions(session, _conversation_query(window, departments)):
        ids = [row[0] for row in part]
        first_turns = _first_user_turns(session, ids)
        tickets: dict[str, list[Ticket]] = defaultdict(list)
        for t in session.scalars(select(Ticket).where(Ticket.conversation_id.in_(ids))
                                 .order_by(Ticket.created_at, Ticket.id)):
            tickets[t.conversation_id].append(t)
        handled = _handled(session, [ts[0] for ts in tickets.values()], window, config, now)
        events: dict[str, list[Event]] = defaultdict(list)
        for e in session.scalars(select(Event).where(Event.conversation_id.in_(ids),
                                                     Event.kind.in_(_BOT_KINDS))
                                 .order_by(Event.pk)):
            events[e.conversation_id].append(e)
        ratings: dict[str, Event] = {}
        for e in _latest_ratings(session, Event.conversation_id, ids).values():
            if e.conversation_id not in ratings or e.pk > ratings[e.conversation_id].pk:
                ratings[e.conversation_id] = e
        reasons = _reasons(session, list(ratings.values()))
        for conversation_id, started_at, ended_at, turns in part:
            questions, entries, bot_verdict = _bot_service(events[conversation_id])
            handed = tickets.get(conversation_id, [])
            first, final = (handed[0], handed[-1]) if handed else (None, None)
            info = handled[first.id] if first is not None else None
            fact = info.fact if info is not None else None
            rating = ratings.get(conversation_id)
            yield {
                "conversation_id": conversation_id, "channel": PORTAL,
                "started_at": _time(started_at, window), "ended_at": _time(ended_at, window),
                "messages": int(turns), "first_message": first_turns.get(conversation_id, ""),
                "questions": questions, "entries": entries, "handed_off": bool(handed),
                "tickets": [t.id for t in handed],
                "handoff_channel": final.channel if final else None,
                "department": final.department if final else None,
                "helper": (final.helper or "") if final else None,
                "first_response_at": _time(info.responded_at, window) if info else None,
                "first_response_s": _seconds(fact.first_response_s) if fact else None,
                "response": fact.response if fact else None,
                "resolution": final.status if final else bot_verdict,
                **_rating_cells(rating, reasons, window),
                "rating_target": (rating.data or {}).get("target") if rating else None}


# --- 差评 cases -----------------------------------------------------------------------------------

def _complaints(session: Session, window: Window, config: HandoffConfig,
                departments: Sequence[str] | None, now: dt.datetime) -> Iterator[Row]:
    query = select(BadRatingCase).where(BadRatingCase.opened_at >= window.start,
                                        BadRatingCase.opened_at < window.end)
    if departments is not None:
        query = query.where(BadRatingCase.department.in_([*departments, ""]))
    for part in _partitions(session, query.order_by(BadRatingCase.opened_at,
                                                    BadRatingCase.id)):
        for (case,) in part:
            state = timer_state(case, now, config.hours)
            yield {
                "case_id": case.id, "conversation_id": case.conversation_id,
                "ticket_id": case.ticket_id, "rating": case.rating, "reason": case.reason,
                "department": case.department, "handler": case.handler,
                "opened_at": _time(case.opened_at, window), "status": case.status,
                "counts": case.counts, "verdict": case.verdict,
                "review_note": case.review_note, "reviewed_by": case.reviewed_by,
                "reviewed_at": _time(case.reviewed_at, window),
                "overturned": bool(case.overturned), "overturned_by": case.overturned_by,
                "overturned_at": _time(case.overturned_at, window),
                "overturn_note": case.overturn_note, "complexity": case.complexity,
                "contact_due": _time(state["contacted"]["due"], window),
                "contacted_at": _time(case.contacted_at, window),
                "contacted_by": case.contacted_by, "contact_note": case.contact_note,
                "fix_due": _time(state["fixed"]["due"], window),
                "fixed_at": _time(case.fixed_at, window), "fixed_by": case.fixed_by,
                "fix_note": case.fix_note,
                "followed_up_at": _time(case.followed_up_at, window),
                "followed_up_by": case.followed_up_by, "follow_up_note": case.follow_up_note,
                "superseded_at": _time(case.superseded_at, window),
                "overdue": state["overdue"],
                "rectified_in_time": rectified_in_time(case, config.hours)}
