"""Enterprise sign-in sessions (一网通办 法人), kept server-side in SQL so that sign-out ends them.

Like the console's sessions (:mod:`xiaobao.sessions`): the browser's cookie holds a random
token (256 bits) and the ``enterprise_sessions`` table only its SHA-256, so neither a database
dump nor a log reveals a usable cookie. The row carries the 统一社会信用代码 and name the
identity provider vouched for at sign-in; nothing else of the enterprise. A session ends when
it is revoked (sign-out), idle longer than ``settings.enterprise_session_max_age_s`` or at its
absolute end (``settings.enterprise_session_absolute_max_age_s`` after sign-in). Every gateway
reads the same table, so a sign-out counts everywhere at once.
"""
from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from sqlalchemy import DateTime, String, delete
from sqlalchemy.orm import Mapped, Session, mapped_column

from xiaobao.clock import utcnow
from xiaobao.db import Base
from xiaobao.sessions import end, live, token_hash, touch, well_formed  # the same rules
from xiaobao.settings import Settings


class EnterpriseSession(Base):
    __tablename__ = "enterprise_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 of the token, hex
    uscc: Mapped[str] = mapped_column(String(18), index=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True),
                                                           nullable=True)


@dataclass(frozen=True)
class SignedInEnterprise:
    uscc: str
    name: str


def _row(db: Session, token: str | None) -> EnterpriseSession | None:
    if not well_formed(token):
        return None
    return db.get(EnterpriseSession, token_hash(token))


def create(db: Session, uscc: str, name: str, settings: Settings, *,
           now: dt.datetime | None = None) -> str:
    """A new session for the enterprise; returns the token for the cookie (never stored)."""
    now = now or utcnow()
    db.execute(delete(EnterpriseSession).where(EnterpriseSession.expires_at < now))
    token = secrets.token_urlsafe(32)
    expires = now + dt.timedelta(seconds=settings.enterprise_session_absolute_max_age_s)
    db.add(EnterpriseSession(id=token_hash(token), uscc=uscc, name=name[:200], created_at=now,
                             last_seen_at=now, expires_at=expires, revoked_at=None))
    db.flush()
    return token


def resolve(db: Session, token: str | None, settings: Settings, *,
            now: dt.datetime | None = None) -> SignedInEnterprise | None:
    """The enterprise of a live session, or None: unknown, revoked, past its absolute end or
    idle too long. Touches ``last_seen_at`` (at most once a minute); the caller commits."""
    row = _row(db, token)
    now = now or utcnow()
    if not live(row, now, settings.enterprise_session_max_age_s):
        return None
    touch(row, now)
    return SignedInEnterprise(uscc=row.uscc, name=row.name)


def revoke(db: Session, token: str | None, *, now: dt.datetime | None = None) -> bool:
    """End one session (sign-out); False when there was none to end."""
    return end(_row(db, token), now)
