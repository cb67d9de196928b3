"""One 好差评 question per closed ticket, whichever path closed it (issue 21).

Every close — a helper's or a leader's, after a transfer or not, the 12345 call's (completed,
failed, or settled after a stuck dial), the user's leaving a 留言, the command line's — goes
through :func:`handoff.transitions.move`, whose outbox ``returned`` row runs the gateway's
hand-back (:func:`api.conversation.return_to_bot`): resume the bot, have it ask for the
rating. The outbox delivers that row at least once (a retry after a failure, a drain racing
the publisher, a gateway dying before it deleted the row), so the asking itself is made
idempotent here, by two marks on the ticket:

* :func:`claim` takes the asking (``rating_prompt_claimed_at``, a lease of ``LEASE_S``):
  :data:`ASK` for the one hand-back that may ask, :data:`DONE` once the question was
  recorded (another delivery: nothing to say again), :data:`BUSY` while another hand-back
  holds the lease (retried later);
* :func:`mark_asked`, in the transaction that records the question, sets
  ``rating_prompted_at``; :func:`release` gives the lease back when the bot could not be
  reached (nothing was said), so the retry asks.

A hand-back that dies after Rasa spoke but before the question was recorded has shown the
user nothing (the page gets the question from the record or the push after it); once its
lease runs out the next delivery asks, so the user sees the question once.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, cast

from sqlalchemy import CursorResult, or_, update
from sqlalchemy.orm import Session

from handoff.context import HandoffContext
from handoff.store import Ticket
from xiaobao.clock import utcnow
from xiaobao.db import session_scope

ASK, DONE, BUSY = "ask", "done", "busy"
LEASE_S = 120  # longer than a hand-back may take (three calls of settings.rasa_timeout_s, 30 s)


def claim(ticket_id: str, *, ctx: HandoffContext, now: dt.datetime | None = None) -> str:
    """Whether this hand-back of ``ticket_id`` asks for the rating: ASK, DONE or BUSY."""
    moment = now or utcnow()
    with session_scope(ctx.engine) as s:
        free = or_(Ticket.rating_prompt_claimed_at.is_(None),
                   Ticket.rating_prompt_claimed_at < moment - dt.timedelta(seconds=LEASE_S))
        got = cast("CursorResult[Any]", s.execute(
            update(Ticket).where(Ticket.id == ticket_id, Ticket.rating_prompted_at.is_(None),
                                 free)
            .values(rating_prompt_claimed_at=moment)
            .execution_options(synchronize_session=False))).rowcount
        if got == 1:
            return ASK
        t = s.get(Ticket, ticket_id)
        if t is None or t.rating_prompted_at is not None:
            return DONE  # asked already (or the ticket is gone: nobody to ask about)
        return BUSY


def mark_asked(session: Session, ticket_id: str) -> None:
    """The question is in the record (call in the transaction that writes it)."""
    session.execute(update(Ticket).where(Ticket.id == ticket_id)
                    .values(rating_prompted_at=utcnow(), rating_prompt_claimed_at=None)
                    .execution_options(synchronize_session=False))


def release(ticket_id: str, *, ctx: HandoffContext) -> None:
    """Nothing was asked (the bot could not be reached): the next hand-back may ask."""
    with session_scope(ctx.engine) as s:
        s.execute(update(Ticket).where(Ticket.id == ticket_id,
                                       Ticket.rating_prompted_at.is_(None))
                  .values(rating_prompt_claimed_at=None)
                  .execution_options(synchronize_session=False))


def asked(ticket_id: str, *, ctx: HandoffContext) -> bool:
    """Whether the rating question of ``ticket_id`` is in the record."""
    with session_scope(ctx.engine) as s:
        t = s.get(Ticket, ticket_id)
        return t is not None and t.rating_prompted_at is not None
