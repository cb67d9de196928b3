"""The one owner of a ticket's state change.

:func:`open_ticket` (a new ticket) and :func:`move` (every later change) check the transition
table, then write in the caller's transaction everything the change implies: the ticket row
(a conditional UPDATE, so the database decides races), the transition history, the
conversation's mode, the event for the rates, and the outbox rows that tell Redis and the bot
(:mod:`handoff.outbox`). What a change implies depends only on where the ticket goes, and is
written once, here:

============== ============ =============================== ================================
to             mode         stream                          live event / hook
============== ============ =============================== ================================
queued (new)   waiting      enqueue (high if priority)      —
queued         waiting      release, enqueue high           ``requeued``
claimed        —            hold the read entry, or release ``claimed``
in_conversation human       release (first response)        —
transferred    waiting      release, enqueue high (new dept) ``transferred``
final          bot          release                         ``<status>``; back to the bot
============== ============ =============================== ================================

Callers use :func:`handoff.outbox.transaction`, so the outbox is published after the commit.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, cast

from sqlalchemy import CursorResult, update
from sqlalchemy.orm import Session

from handoff import outbox
from handoff.store import ConversationMode, Ticket, get_ticket, record_transition
from handoff.tickets import (
    ABANDONED,
    CLAIMED,
    FINAL_STATES,
    IN_CONVERSATION,
    QUEUED,
    RESOLVED,
    TRANSFERRED,
    UNRESOLVED,
    WAITING_STATES,
    TicketClosed,
    check_ticket_transition,
)
from xiaobao.clock import utcnow
from xiaobao.enums import Mode
from xiaobao.events import EventKind, record_event

EVENT_OF = {
    QUEUED: EventKind.TICKET_REQUEUED,
    CLAIMED: EventKind.TICKET_CLAIMED,
    IN_CONVERSATION: EventKind.TICKET_FIRST_RESPONSE,
    TRANSFERRED: EventKind.TICKET_TRANSFERRED,
    RESOLVED: EventKind.TICKET_RESOLVED,
    UNRESOLVED: EventKind.TICKET_UNRESOLVED,
    ABANDONED: EventKind.TICKET_ABANDONED,
}
MODE_OF = {QUEUED: Mode.WAITING, IN_CONVERSATION: Mode.HUMAN, TRANSFERRED: Mode.WAITING,
           **{s: Mode.BOT for s in FINAL_STATES}}


def set_mode(session: Session, conversation_id: str, mode: Mode | str, ticket_id: str = "") -> None:
    """The conversation's mode in SQL (the record) and, through the outbox, Redis's cache."""
    mode = Mode(mode)
    row = session.get(ConversationMode, conversation_id)
    if row is None:
        session.add(ConversationMode(conversation_id=conversation_id, mode=mode.value,
                                     ticket_id=ticket_id, updated_at=utcnow()))
    else:
        row.mode, row.ticket_id, row.updated_at = mode.value, ticket_id, utcnow()
    outbox.add(session, conversation_id, outbox.MODE, mode=mode.value, ticket_id=ticket_id)


def open_ticket(session: Session, ticket: Ticket, *, actor: str, reason: str = "",
                clock_from: dt.datetime | None = None, **event_data: Any) -> Ticket:
    """A new ticket, already added to ``session`` in ``queued``: history, mode, events, queue.

    ``clock_from`` is when the 响应率's clock starts (a 12345 call-back booked for a window:
    the window's start), recorded on the ``ticket_queued`` event; by default the queueing."""
    record_transition(session, "ticket", ticket.id, "", QUEUED, actor, reason)
    set_mode(session, ticket.conversation_id, Mode.WAITING, ticket.id)
    record_event(session, EventKind.HANDOFF_REQUESTED, conversation_id=ticket.conversation_id,
                 ticket_id=ticket.id, actor=actor, channel=ticket.channel,
                 department=ticket.department, priority=bool(ticket.priority),
                 complaint=bool(ticket.complaint), **event_data)
    queued_at = ticket.queued_at or utcnow()
    record_event(session, EventKind.TICKET_QUEUED, conversation_id=ticket.conversation_id,
                 ticket_id=ticket.id, actor=actor, channel=ticket.channel,
                 department=ticket.department,
                 clock_from=max(queued_at, clock_from or queued_at).astimezone(dt.UTC).isoformat())
    outbox.add(session, ticket.conversation_id, outbox.ENQUEUE, ticket_id=ticket.id,
               channel=ticket.channel, department=ticket.department, high=bool(ticket.priority))
    return ticket


def _closed(ticket_id: str, status: str) -> TicketClosed:
    return TicketClosed(f"工单{ticket_id}已结束（{status}）。 / Ticket {ticket_id} is already "
                        f"{status}.")


def move(session: Session, ticket_id: str, to: str, *, actor: str, reason: str = "",
         expect: set[str] | frozenset[str] | None = None, expect_helper: str | None = None,
         via: str | None = None, stream_entry: tuple[str, str] | None = None,
         event_data: dict | None = None, relay_data: dict | None = None,
         **values: object) -> Ticket | None:
    """Move a ticket to ``to`` if it is still as we read it; None when we lost a race.

    Raises UnknownTicket, TicketClosed (already final) or IllegalTransition. ``expect`` narrows
    the states the caller accepts; ``expect_helper`` requires the current holder. ``via`` walks
    through an intermediate state in the same change (a claim taken over: claimed → queued →
    claimed), recorded in the history but with the effects of ``to`` only. ``stream_entry``
    is the stream entry a claim read (kept pending until the first response).
    """
    ticket = get_ticket(session, ticket_id)
    current = ticket.status
    if current in FINAL_STATES:
        raise _closed(ticket_id, current)
    if expect is not None and current not in expect:
        return None
    steps = [current, via, to] if via else [current, to]
    for a, b in zip(steps, steps[1:]):
        check_ticket_transition(a, b, ticket_id)
    if to in FINAL_STATES:
        values.setdefault("closed_at", utcnow())
        values["open_conversation_id"] = None
    stmt = (update(Ticket).where(Ticket.id == ticket_id, Ticket.status == current)
            .values(status=to, **values))
    if expect_helper is not None:
        stmt = stmt.where(Ticket.helper == expect_helper)
    result = cast("CursorResult[Any]",  # an UPDATE's result has a rowcount
                  session.execute(stmt.execution_options(synchronize_session=False)))
    if result.rowcount != 1:
        return None
    previous_helper = ticket.helper
    for a, b in zip(steps, steps[1:]):
        record_transition(session, "ticket", ticket_id, a, b, actor, reason)
    session.expire(ticket)
    t = session.get_one(Ticket, ticket_id)
    _effects(session, t, current, to, actor=actor, reason=reason,
             stream_entry=stream_entry, previous_helper=previous_helper,
             event_data=event_data or {}, relay_data=relay_data or {})
    return t


def _effects(session: Session, t: Ticket, current: str, to: str, *, actor: str, reason: str,
             stream_entry: tuple[str, str] | None, previous_helper: str | None,
             event_data: dict, relay_data: dict) -> None:
    conv = t.conversation_id
    mode = MODE_OF.get(to)
    if mode is not None:
        set_mode(session, conv, mode, "" if mode == Mode.BOT else t.id)
    data: dict = {"department": t.department}
    if to == QUEUED:
        data["previous_helper"] = previous_helper or ""
    if to == CLAIMED:
        data["from_status"] = current
    if reason:
        data["note"] = reason
    record_event(session, EVENT_OF[to], conversation_id=conv, ticket_id=t.id, actor=actor,
                 **{**data, **event_data})

    if to == CLAIMED and stream_entry is not None:
        outbox.add(session, conv, outbox.HOLD, ticket_id=t.id, stream=stream_entry[0],
                   entry=stream_entry[1])
    else:
        outbox.add(session, conv, outbox.RELEASE, ticket_id=t.id)
    if to in WAITING_STATES:
        outbox.add(session, conv, outbox.ENQUEUE, ticket_id=t.id, channel=t.channel,
                   department=t.department, high=True)

    event: dict | None = None
    if to == QUEUED:
        event = {"type": "requeued", "ticket_id": t.id}
    elif to == CLAIMED:
        event = {"type": "claimed", "ticket_id": t.id, "helper": t.helper}
    elif to == TRANSFERRED:
        event = {"type": "transferred", "ticket_id": t.id, "department": t.department}
    elif to in FINAL_STATES:
        event = {"type": to, "ticket_id": t.id, "note": t.note}
    elif relay_data:
        event = {"ticket_id": t.id}
    if event is not None:
        outbox.add(session, conv, outbox.RELAY, **{**event, **relay_data})
    if to in FINAL_STATES:
        outbox.add(session, conv, outbox.RETURNED, ticket_id=t.id, status=to)
