"""好差评: one rating per case, the latest one counting, every earlier one kept.

A *case* is a ticket (a rating of the human service) or, with no ticket, the conversation's
bot service. Rating a case again appends a new ``rating`` event that names the one it
replaces (``replaces``), so the history stays in the log and the rates count the latest.

A 差评 counts the moment it is given: when the bot has to ask why, the level is recorded at
once with its reason pending, and the reason the user then gives completes it (a
``rating_reason`` event and the work order's reason) instead of rating the case again — a user
who moves on without saying why has still rated.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ratings.cases import is_bad, rating_recorded, reason_given
from xiaobao.enums import Rating
from xiaobao.errors import XiaobaoError
from xiaobao.events import Event, EventKind, record_event


def case_of(conversation_id: str, ticket_id: str) -> str:
    return f"ticket:{ticket_id}" if ticket_id else f"bot:{conversation_id}"


def latest_rating(session: Session, conversation_id: str, ticket_id: str = "") -> Event | None:
    case = case_of(conversation_id, ticket_id)
    rows = session.scalars(select(Event).where(Event.kind == EventKind.RATING.value,
                                               Event.conversation_id == conversation_id)
                           .order_by(Event.pk.desc()))
    return next((e for e in rows if (e.data or {}).get("case") == case), None)


class ReasonRequired(XiaobaoError, ValueError):
    """不满意 and 非常不满意 must say why (the 差评 work order starts from the reason)."""

    status = 422
    code = "reason_required"
    message = "请说明不满意的原因。 / Please say why you are dissatisfied."

    def __init__(self) -> None:
        super().__init__(self.message)


def record_rating(session: Session, conversation_id: str, rating: Rating | str, *,
                  ticket_id: str = "", actor: str = "user", reason: str = "",
                  department: str = "", handler: str = "",
                  reason_pending: bool = False) -> Event:
    """Append a rating of the case; an earlier rating of the same case is replaced (kept).

    A 差评 (the bottom two levels) needs a ``reason`` (else ReasonRequired) and opens a work
    order (:mod:`ratings.cases`) in the same transaction; ``department`` and
    ``handler`` are the rated ticket's, given by the caller (this package reads no ticket).
    ``reason_pending``: the reason has been asked for; the 差评 is recorded without one.
    The same 差评 again with a reason, while the latest one's is pending, completes it."""
    rating = Rating(rating)
    reason = reason.strip()
    if is_bad(rating) and not reason and not reason_pending:
        raise ReasonRequired()
    previous = latest_rating(session, conversation_id, ticket_id)
    if previous is not None and awaits_reason(session, previous, rating):
        # the same 差评 again: its reason, or (none yet) nothing new to record
        return complete_reason(session, previous, reason, actor=actor) if reason else previous
    event = record_event(session, EventKind.RATING, conversation_id=conversation_id,
                         ticket_id=ticket_id, actor=actor, rating=rating.value,
                         target="human" if ticket_id else "bot",
                         case=case_of(conversation_id, ticket_id),
                         replaces=previous.pk if previous is not None else None, reason=reason,
                         **({"reason_pending": True} if is_bad(rating) and not reason else {}))
    session.flush()  # the work order points at the event
    rating_recorded(session, event, department=department, handler=handler)
    return event


def awaits_reason(session: Session, event: Event, rating: Rating) -> bool:
    """Whether ``event`` is a 差评 of this level recorded with its reason still to come."""
    data = event.data or {}
    if not (data.get("reason_pending") and data.get("rating") == rating.value):
        return False
    given = session.scalars(select(Event).where(
        Event.kind == EventKind.RATING_REASON.value,
        Event.conversation_id == event.conversation_id, Event.pk > event.pk))
    return not any((e.data or {}).get("of_rating") == event.pk for e in given)


def complete_reason(session: Session, rating_event: Event, reason: str, *,
                    actor: str = "user") -> Event:
    """Give a pending 差评 its reason: logged, and written on its work order."""
    event = record_event(session, EventKind.RATING_REASON,
                         conversation_id=rating_event.conversation_id,
                         ticket_id=rating_event.ticket_id, actor=actor, of_rating=rating_event.pk,
                         rating=(rating_event.data or {}).get("rating"), reason=reason)
    reason_given(session, rating_event.pk, reason)
    return event
