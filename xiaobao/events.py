"""The event log every step appends to: bot replies, handoffs, resolutions, ratings.

The rates (响应率, 解决率, 满意率) are computed from these rows, so an event is
written in the same transaction as the change it reports.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, DateTime, Integer, String
from sqlalchemy.orm import Mapped, Session, mapped_column

from xiaobao.db import Base, utcnow

# 好差评 levels, best first; the first three count as satisfied.
RATINGS = ("非常满意", "满意", "基本满意", "不满意", "非常不满意")
SATISFIED = frozenset(RATINGS[:3])



class Event(Base):
    __tablename__ = "events"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(48), index=True)  # e.g. bot_answer, rating, ticket_resolved
    conversation_id: Mapped[str] = mapped_column(String(96), index=True, default="")
    ticket_id: Mapped[str] = mapped_column(String(64), index=True, default="")
    actor: Mapped[str] = mapped_column(String(64), default="")
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


def record_event(session: Session, kind: str, *, conversation_id: str = "", ticket_id: str = "",
                 actor: str = "", **data: object) -> Event:
    """Append one event to ``session`` (the caller commits it with its own change)."""
    event = Event(kind=kind, conversation_id=conversation_id, ticket_id=ticket_id, actor=actor,
                  data=data)
    session.add(event)
    return event
