"""SQL persistence for the dispatch queue: the system of record.

Every change is written here before Redis hears of it (through :mod:`handoff.outbox`), so that
after Redis loses its data :mod:`handoff.recovery` can rebuild the queues from these rows
alone. Ticket state changes belong to :mod:`handoff.transitions`; what was said belongs to
:mod:`xiaobao.conversations`.
"""
from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, cast

from sqlalchemy import (
    JSON,
    Boolean,
    CursorResult,
    DateTime,
    Index,
    Integer,
    String,
    Text,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from handoff.tickets import UnknownTicket, check_call_transition
from xiaobao.clock import utcnow
from xiaobao.db import Base


def new_id() -> str:
    return uuid.uuid4().hex


class Ticket(Base):
    __tablename__ = "handoff_tickets"
    # Queue positions and overviews count waiting tickets of one channel and department.
    __table_args__ = (Index("ix_handoff_tickets_queue", "channel", "department", "status",
                            "priority", "queued_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    request_id: Mapped[str] = mapped_column(String(128), unique=True)
    conversation_id: Mapped[str] = mapped_column(String(96), index=True)
    visitor_id: Mapped[str] = mapped_column(String(96), index=True, default="")
    # Equal to conversation_id while the ticket is open, NULL once closed: the unique index
    # makes "at most one open ticket per conversation" hold even under concurrent requests.
    open_conversation_id: Mapped[str | None] = mapped_column(String(96), unique=True,
                                                              nullable=True)
    channel: Mapped[str] = mapped_column(String(32))
    department: Mapped[str] = mapped_column(String(64), index=True)
    priority: Mapped[int] = mapped_column(Integer, default=0)  # 1 = ahead of normal
    complaint: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(24), index=True)
    helper: Mapped[str | None] = mapped_column(String(64), index=True, nullable=True)
    topic: Mapped[str] = mapped_column(Text, default="")
    company: Mapped[str] = mapped_column(Text, default="")
    phone: Mapped[str] = mapped_column(String(32), default="")
    time_window: Mapped[str] = mapped_column(Text, default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    context: Mapped[dict] = mapped_column(JSON, default=dict)  # turns, candidates, intent, entities
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    queued_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    claimed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    first_response_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True),
                                                                  nullable=True)
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True,
                                                          index=True)
    # One 好差评 question per closed ticket (handoff.rating_prompt): when a hand-back took the
    # asking (a lease, for a hand-back that dies midway), and when the question was recorded.
    rating_prompt_claimed_at: Mapped[dt.datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True)
    rating_prompted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True),
                                                                   nullable=True)


class Transition(Base):
    """Every state change of a ticket or a call, with time and actor."""

    __tablename__ = "handoff_transitions"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subject: Mapped[str] = mapped_column(String(8))  # "ticket" | "call"
    subject_id: Mapped[str] = mapped_column(String(32), index=True)
    from_status: Mapped[str] = mapped_column(String(24))
    to_status: Mapped[str] = mapped_column(String(24))
    actor: Mapped[str] = mapped_column(String(64), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ConversationMode(Base):
    __tablename__ = "handoff_conversation_modes"

    conversation_id: Mapped[str] = mapped_column(String(96), primary_key=True)
    mode: Mapped[str] = mapped_column(String(16), default="bot")
    ticket_id: Mapped[str] = mapped_column(String(32), default="")
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class HelperStatus(Base):
    """A helper's duty record; liveness (heartbeats) is in Redis."""

    __tablename__ = "handoff_helper_status"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="away")  # on_duty | away
    cap: Mapped[int | None] = mapped_column(Integer, nullable=True)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LeftMessage(Base):
    """留言咨询: a question left outside hours or with nobody on duty, answered later."""

    __tablename__ = "handoff_left_messages"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(96), index=True)
    visitor_id: Mapped[str] = mapped_column(String(96), index=True, default="")
    department: Mapped[str] = mapped_column(String(64), index=True)
    text: Mapped[str] = mapped_column(Text)
    phone: Mapped[str] = mapped_column(String(32), default="")
    # open | answered | expired (unanswered when the retention purge took its text)
    status: Mapped[str] = mapped_column(String(16), default="open")
    answer: Mapped[str] = mapped_column(Text, default="")
    answered_by: Mapped[str] = mapped_column(String(64), default="")
    ticket_id: Mapped[str] = mapped_column(String(32), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    answered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    seen_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Call(Base):
    """A 12345 three-way call attached to a ticket."""

    __tablename__ = "handoff_calls"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    ticket_id: Mapped[str] = mapped_column(String(32), index=True)
    status: Mapped[str] = mapped_column(String(24), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    phone: Mapped[str] = mapped_column(String(32), default="")
    scheduled_for: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True),
                                                              nullable=True)
    external_id: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# --- operations ---------------------------------------------------------------------------------

def get_ticket(session: Session, ticket_id: str) -> Ticket:
    ticket = session.get(Ticket, ticket_id) if ticket_id else None
    if ticket is None:
        raise UnknownTicket(f"找不到工单 {ticket_id}。 / Unknown ticket {ticket_id!r}.")
    return ticket


def record_transition(session: Session, subject: str, subject_id: str, from_status: str,
                      to_status: str, actor: str, note: str = "") -> None:
    session.add(Transition(subject=subject, subject_id=subject_id, from_status=from_status,
                           to_status=to_status, actor=actor, note=note, at=utcnow()))


def move_call(session: Session, call: Call, new_status: str, actor: str, note: str = "",
              **values: object) -> bool:
    current = call.status
    check_call_transition(current, new_status, call.id)
    result = cast("CursorResult[Any]", session.execute(  # an UPDATE's result has a rowcount
        update(Call).where(Call.id == call.id, Call.status == current)
        .values(status=new_status, updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)))
    if result.rowcount != 1:
        return False
    record_transition(session, "call", call.id, current, new_status, actor, note)
    session.expire(call)
    return True


def open_ticket_for(session: Session, conversation_id: str) -> Ticket | None:
    return session.scalar(select(Ticket).where(Ticket.open_conversation_id == conversation_id))


def history(session: Session, subject_id: str) -> list[Transition]:
    return list(session.scalars(select(Transition).where(Transition.subject_id == subject_id)
                                .order_by(Transition.pk)))
