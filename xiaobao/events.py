"""The event log every step appends to: bot replies, handoffs, resolutions, ratings.

The rates (响应率, 解决率, 满意率) are computed from these rows, so an event is written in the
same transaction as the change it reports. An event about a message points at it
(``message_pk``) instead of copying its text: :mod:`xiaobao.conversations` is the record of
what was said.
"""
from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import JSON, DateTime, Integer, String
from sqlalchemy.orm import Mapped, Session, mapped_column

from xiaobao.clock import utcnow
from xiaobao.db import Base
from xiaobao.enums import RATINGS, SATISFIED_RATINGS  # noqa: F401  (re-exported)

SATISFIED = SATISFIED_RATINGS


class EventKind(StrEnum):
    """Every kind of event, in one place."""

    MESSAGE_RECEIVED = "message_received"
    BOT_ANSWER = "bot_answer"
    SUGGESTION_CLICKED = "suggestion_clicked"
    BOT_FAILURE = "bot_failure"
    # 结束会话 (a shared terminal): the visitor's secret was replaced; the old id is left behind.
    CONVERSATION_ENDED = "conversation_ended"
    # Rasa unavailable: the gateway served the turn itself (api/fallback.py); ``served`` says how.
    FALLBACK_TURN = "fallback_turn"
    ANSWER_FEEDBACK = "answer_feedback"
    HANDOFF_REQUESTED = "handoff_requested"
    TICKET_QUEUED = "ticket_queued"
    TICKET_CLAIMED = "ticket_claimed"
    TICKET_FIRST_RESPONSE = "ticket_first_response"
    TICKET_REQUEUED = "ticket_requeued"
    TICKET_TRANSFERRED = "ticket_transferred"
    TICKET_RESOLVED = "ticket_resolved"
    TICKET_UNRESOLVED = "ticket_unresolved"
    TICKET_ABANDONED = "ticket_abandoned"
    CALL_STATUS = "call_status"
    MESSAGE_LEFT = "message_left"
    MESSAGE_ANSWERED = "message_answered"
    HELPER_KB_ANSWER = "helper_kb_answer"
    # A turn of the chat's 政策体检: the facts given so far and what they decide
    # (policies.checkups; the facts are personal data, blanked by the retention purge).
    POLICY_CHECK = "policy_check"
    KB_DRAFT_PROPOSED = "kb_draft_proposed"
    KB_DRAFT_ACCEPTED = "kb_draft_accepted"
    KB_DRAFT_REJECTED = "kb_draft_rejected"
    RATING = "rating"
    RATING_REASON = "rating_reason"
    BAD_RATING_OPENED = "bad_rating_opened"
    BAD_RATING_SUPERSEDED = "bad_rating_superseded"
    BAD_RATING_REVIEWED = "bad_rating_reviewed"
    BAD_RATING_OVERTURNED = "bad_rating_overturned"
    BAD_RATING_RECTIFIED = "bad_rating_rectified"
    LOGIN = "login"
    PASSWORD_CHANGED = "password_changed"
    # An enterprise signed in (一网通办 法人) or out; ``actor`` is its USCC.
    ENTERPRISE_LOGIN = "enterprise_login"
    ENTERPRISE_LOGOUT = "enterprise_logout"
    # An export of conversations, tickets or 差评 cases (reports.export_files): who, which
    # kind, the window, the format and how many rows were written.
    DATA_EXPORTED = "data_exported"
    # An API token made or revoked (xiaobao.tokens); ``actor`` is who did it, ``data.token``
    # the token's name. Its use is not an event (``api_tokens.last_used_at``).
    API_TOKEN_CREATED = "api_token_created"
    API_TOKEN_REVOKED = "api_token_revoked"


class Event(Base):
    __tablename__ = "events"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(48), index=True)
    conversation_id: Mapped[str] = mapped_column(String(96), index=True, default="")
    ticket_id: Mapped[str] = mapped_column(String(64), index=True, default="")
    actor: Mapped[str] = mapped_column(String(64), default="")
    message_pk: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


def record_event(session: Session, kind: EventKind | str, *, conversation_id: str = "",
                 ticket_id: str = "", actor: str = "", message_pk: int | None = None,
                 **data: object) -> Event:
    """Append one event to ``session`` (the caller commits it with its own change)."""
    kind = EventKind(kind)  # an unknown kind is a bug, not a new kind
    event = Event(kind=kind.value, conversation_id=conversation_id, ticket_id=ticket_id or "",
                  actor=actor, message_pk=message_pk, data=data)
    session.add(event)
    return event
