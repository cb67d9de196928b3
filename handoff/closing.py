"""Closing a ticket: resolved, unresolved, abandoned. Every close — a helper's, a leader's,
the 12345 call's, the user's leaving a 留言, the command line's — goes through
:func:`close_ticket`, and so through :func:`handoff.transitions.move`, which hands the
conversation back to the bot (the outbox's ``returned`` row: resume, then ask for a rating).
"""
from __future__ import annotations

from handoff import calls, outbox, transitions
from handoff.context import HandoffContext
from handoff.store import get_ticket
from handoff.tickets import (
    ABANDONED,
    FINAL_STATES,
    OPEN_STATES,
    OWNED_STATES,
    RESOLVED,
    UNRESOLVED,
    HandoffError,
    NotAllowed,
)
from handoff.views import TicketInfo, ticket_info
from xiaobao import policy


def close_ticket(ticket_id: str, status: str, *, ctx: HandoffContext, actor: str,
                 helper: policy.Actor | None = None, note: str = "",
                 expect: frozenset[str] = OWNED_STATES, event_data: dict | None = None,
                 relay_data: dict | None = None) -> TicketInfo:
    """Close as ``status``; with ``helper``, only its holder or a leader of its department."""
    if status not in FINAL_STATES:
        raise HandoffError(f"{status} 不是结束状态。 / {status!r} is not a final state.")
    with outbox.transaction(ctx) as s:
        t = get_ticket(s, ticket_id)
        if helper is not None and t.status not in FINAL_STATES and \
                not policy.can_act_on_ticket(helper, t.department, t.helper):
            raise NotAllowed(f"工单{t.id}不由您处理。 / Ticket {t.id} is not yours.")
        moved = transitions.move(s, ticket_id, status, actor=actor, reason=note, expect=expect,
                                 event_data=event_data, relay_data=relay_data,
                                 note=note[:ctx.max_chars] if note else t.note)
        if moved is None:
            raise HandoffError(f"工单{ticket_id}状态已变化，请刷新。 / Ticket {ticket_id} changed "
                               f"meanwhile; reload.")
        calls.cancel_open_calls(s, ticket_id, actor)  # a closed ticket is never dialled
        s.flush()
        s.expunge(moved)
    return ticket_info(moved, helper.username if helper else None)


def resolve_ticket(ticket_id: str, helper: policy.Actor, note: str = "", *,
                   ctx: HandoffContext) -> TicketInfo:
    """Close as resolved; the conversation returns to the bot, which asks for a rating."""
    return close_ticket(ticket_id, RESOLVED, ctx=ctx, actor=helper.username, helper=helper,
                        note=note)


def mark_unresolved(ticket_id: str, helper: policy.Actor, note: str = "", *,
                    ctx: HandoffContext) -> TicketInfo:
    """Close as unresolved (final); the user's next handoff is queued with priority."""
    return close_ticket(ticket_id, UNRESOLVED, ctx=ctx, actor=helper.username, helper=helper,
                        note=note)


def abandon_ticket(ticket_id: str, actor: str = "user", note: str = "", *,
                   ctx: HandoffContext) -> TicketInfo:
    """The user left (or chose to leave a 留言): close the ticket, back to the bot."""
    return close_ticket(ticket_id, ABANDONED, ctx=ctx, actor=actor, note=note,
                        expect=OPEN_STATES)
