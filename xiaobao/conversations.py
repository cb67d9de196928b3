"""One record of a conversation: every turn — user, bot, helper, system — in one table.

Bot-mode turns carry no ticket; turns said while a ticket is open carry its id, so a ticket's
transcript, the user's history, the helper's context pack, the retention purge and the rates
all read the same rows. ``client_id`` makes a resent message harmless. Text is stored as
typed: escaping is the page's job.

A portal visitor's conversation id is derived from the secret in their cookie
(:func:`conversation_id_for`): helpers, logs and events see the id, never the secret, and the
id cannot be turned back into a cookie that opens the conversation.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import JSON, CursorResult, DateTime, Integer, String, Text, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from xiaobao.clock import aware, utcnow
from xiaobao.db import Base
from xiaobao.enums import Speaker


class Message(Base):
    __tablename__ = "messages"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(String(96), index=True)
    ticket_id: Mapped[str | None] = mapped_column(String(32), index=True, nullable=True)
    role: Mapped[str] = mapped_column(String(16))  # a Speaker
    author: Mapped[str] = mapped_column(String(64), default="")  # helper's username
    text: Mapped[str] = mapped_column(Text)
    data: Mapped[dict] = mapped_column(JSON, default=dict)  # buttons, payload
    client_id: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


def conversation_id_for(visitor_secret: str, key: str) -> str:
    """The conversation id of the visitor whose cookie holds ``visitor_secret``: ``"v-"`` and
    the first 32 hex digits of HMAC-SHA256 keyed with ``key`` (``settings.secret_key``).
    Deterministic, so a returning browser finds its conversation; keyed, so nobody without the
    key can compute it from a secret, nor anyone at all a secret from it."""
    if not visitor_secret:
        raise ValueError("empty visitor secret")
    mac = hmac.new(key.encode("utf-8"), visitor_secret.encode("utf-8"), hashlib.sha256)
    return "v-" + mac.hexdigest()[:32]


@dataclass(frozen=True)
class MessageView:
    """A message as pages and the relay carry it."""

    pk: int
    conversation_id: str
    ticket_id: str
    role: str
    author: str
    text: str
    buttons: list
    client_id: str
    at: str

    def to_dict(self) -> dict:
        # ``id`` is the record's primary key, the message's stable id on every page; ``pk`` the
        # same, under the name the console has always read.
        return {"type": "message", "id": self.pk, "pk": self.pk,
                "conversation_id": self.conversation_id,
                "ticket_id": self.ticket_id, "role": self.role, "author": self.author,
                "text": self.text, "buttons": self.buttons, "message_id": self.client_id,
                "at": self.at}


def view(m: Message) -> MessageView:
    return MessageView(pk=m.pk, conversation_id=m.conversation_id, ticket_id=m.ticket_id or "",
                       role=m.role, author=m.author, text=m.text,
                       buttons=list((m.data or {}).get("buttons", [])),
                       client_id=m.client_id or "", at=aware(m.at).isoformat())


def append(session: Session, conversation_id: str, role: Speaker | str, text: str, *,
           ticket_id: str | None = None, author: str = "", client_id: str | None = None,
           **data: object) -> Message:
    """Add one turn to ``session`` (committed with the caller's change) and give it its pk."""
    message = Message(conversation_id=conversation_id, ticket_id=ticket_id or None,
                      role=Speaker(role).value, author=author, text=text,
                      client_id=client_id or None, data=data, at=utcnow())
    session.add(message)
    session.flush()
    return message


def by_client_id(session: Session, client_id: str | None) -> Message | None:
    if not client_id:
        return None
    return session.scalar(select(Message).where(Message.client_id == client_id))


def conversation(session: Session, conversation_id: str, *, after_pk: int = 0,
                 limit: int | None = None, oldest: bool = False) -> list[Message]:
    """The conversation's turns in order: the last ``limit`` of them when given, or with
    ``oldest`` the first ``limit`` after ``after_pk`` (a page catching up, in pages)."""
    q = select(Message).where(Message.conversation_id == conversation_id,
                              Message.pk > after_pk)
    if limit is None or oldest:
        q = q.order_by(Message.pk)
        return list(session.scalars(q if limit is None else q.limit(limit)))
    rows = list(session.scalars(q.order_by(Message.pk.desc()).limit(limit)))
    return rows[::-1]


def of_ticket(session: Session, ticket_id: str, *, after_pk: int = 0) -> list[Message]:
    return list(session.scalars(select(Message).where(Message.ticket_id == ticket_id,
                                                      Message.pk > after_pk)
                                .order_by(Message.pk)))


def before(session: Session, conversation_id: str, until_pk: int | None, limit: int
           ) -> list[Message]:
    """The last ``limit`` turns said before a ticket opened (what the helper reads first)."""
    q = select(Message).where(Message.conversation_id == conversation_id,
                              Message.ticket_id.is_(None))
    if until_pk is not None:
        q = q.where(Message.pk <= until_pk)
    return list(session.scalars(q.order_by(Message.pk.desc()).limit(limit)))[::-1]


def last_pk(session: Session, conversation_id: str) -> int | None:
    return session.scalar(select(Message.pk).where(Message.conversation_id == conversation_id)
                          .order_by(Message.pk.desc()).limit(1))


def delete_of_tickets(session: Session, ticket_ids: list[str]) -> int:
    """The retention purge: remove the turns said during these (closed) tickets."""
    removed = 0
    for start in range(0, len(ticket_ids), 500):
        chunk = ticket_ids[start:start + 500]
        result = cast("CursorResult[Any]",
                      session.execute(delete(Message).where(Message.ticket_id.in_(chunk))))
        removed += result.rowcount or 0
    return removed


def last_activity(session: Session, conversation_id: str) -> dt.datetime | None:
    """When anyone last wrote in the conversation (None: nothing yet)."""
    at = session.scalar(select(Message.at).where(Message.conversation_id == conversation_id)
                        .order_by(Message.pk.desc()).limit(1))
    return aware(at) if at is not None else None
