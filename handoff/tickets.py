"""The two state machines, as explicit transition tables: tickets and 12345 calls.

A change of state goes through :func:`check_ticket_transition` or :func:`check_call_transition`
so an illegal move (resolving an abandoned ticket, answering a completed call) is refused with
the same clear error everywhere, before anything is written.
"""
from __future__ import annotations

from xiaobao.errors import XiaobaoError

# --- tickets -----------------------------------------------------------------------------------
QUEUED = "queued"
CLAIMED = "claimed"
IN_CONVERSATION = "in_conversation"
TRANSFERRED = "transferred"  # waiting in another department's queue, transcript attached
RESOLVED = "resolved"
UNRESOLVED = "unresolved"  # final; the user's next handoff is queued with priority
ABANDONED = "abandoned"  # the user left (or left a message instead)

TICKET_TRANSITIONS: dict[str, frozenset[str]] = {
    QUEUED: frozenset({CLAIMED, ABANDONED}),
    # claimed -> queued: reclaimed (no first response within the service level, or helper gone)
    CLAIMED: frozenset({IN_CONVERSATION, QUEUED, TRANSFERRED, RESOLVED, UNRESOLVED, ABANDONED}),
    # in_conversation -> queued: the helper went away (no heartbeat) and the user still waits
    IN_CONVERSATION: frozenset({RESOLVED, UNRESOLVED, ABANDONED, TRANSFERRED, QUEUED}),
    TRANSFERRED: frozenset({CLAIMED, ABANDONED}),
    RESOLVED: frozenset(),
    UNRESOLVED: frozenset(),
    ABANDONED: frozenset(),
}
WAITING_STATES = frozenset({QUEUED, TRANSFERRED})
OWNED_STATES = frozenset({CLAIMED, IN_CONVERSATION})
OPEN_STATES = WAITING_STATES | OWNED_STATES
FINAL_STATES = frozenset(s for s, nxt in TICKET_TRANSITIONS.items() if not nxt)

# --- 12345 three-way calls ----------------------------------------------------------------------
REQUESTED = "requested"
SCHEDULED = "scheduled"
DIALLING = "dialling"
RINGING = "ringing"
ANSWERED = "answered"
THREE_WAY_CONNECTED = "three_way_connected"
COMPLETED = "completed"
NO_ANSWER = "no_answer"  # transient: becomes scheduled (retry) or unreachable
UNREACHABLE = "unreachable"
FAILED = "failed"
CANCELLED = "cancelled"

CALL_TRANSITIONS: dict[str, frozenset[str]] = {
    REQUESTED: frozenset({SCHEDULED, CANCELLED}),
    SCHEDULED: frozenset({DIALLING, CANCELLED}),
    # dialling -> scheduled: the adapter failed or timed out (calls.start_call), retried like a
    # no answer
    DIALLING: frozenset({RINGING, NO_ANSWER, FAILED, CANCELLED, SCHEDULED}),
    RINGING: frozenset({ANSWERED, NO_ANSWER, FAILED, CANCELLED}),
    ANSWERED: frozenset({THREE_WAY_CONNECTED, COMPLETED, FAILED}),
    THREE_WAY_CONNECTED: frozenset({COMPLETED, FAILED}),
    NO_ANSWER: frozenset({SCHEDULED, UNREACHABLE}),
    COMPLETED: frozenset(),
    UNREACHABLE: frozenset(),
    FAILED: frozenset(),
    CANCELLED: frozenset(),
}
CALL_FINAL_STATES = frozenset(s for s, nxt in CALL_TRANSITIONS.items() if not nxt)


class HandoffError(XiaobaoError, ValueError):
    """A request the dispatch queue refuses; ``message`` is Chinese for the user, then English."""

    code = "handoff_error"
    status = 400


class IllegalTransition(HandoffError):
    code = "illegal_transition"
    status = 409


class UnknownTicket(HandoffError):
    code = "unknown_ticket"
    status = 404


class TicketClosed(HandoffError):
    code = "ticket_closed"
    status = 409


class NotAllowed(HandoffError):
    code = "not_allowed"
    status = 403


def check_ticket_transition(current: str, new: str, ticket_id: str = "") -> None:
    if new not in TICKET_TRANSITIONS.get(current, frozenset()):
        raise IllegalTransition(
            f"工单{ticket_id}当前状态为「{current}」，不能变为「{new}」。"
            f" / Ticket {ticket_id} cannot go from {current!r} to {new!r}.")


def check_call_transition(current: str, new: str, call_id: str = "") -> None:
    if new not in CALL_TRANSITIONS.get(current, frozenset()):
        raise IllegalTransition(
            f"12345通话{call_id}当前状态为「{current}」，不能变为「{new}」。"
            f" / Call {call_id} cannot go from {current!r} to {new!r}.")
