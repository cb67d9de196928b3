"""Console log-in sessions, kept server-side in SQL so that they can be ended.

The browser's cookie holds a random token (256 bits); the ``sessions`` table holds only its
SHA-256, so neither a database dump nor a log reveals a usable cookie, and the cookie reveals
nothing (no account id). A session ends when it is revoked (logout, ``xiaobao users disable``),
when it was idle longer than ``settings.session_max_age_s``, at its absolute end
(``settings.session_absolute_max_age_s`` after the log-in, however active), or when its account
is deactivated. Every gateway reads the same table, so a revocation counts everywhere at once.

``resolve`` is called on every console request and every ~2 s by the console's WebSocket; it
writes ``last_seen_at`` at most once a minute. Expired rows are deleted when the next session
is created.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from typing import Protocol, TypeGuard, TypeVar

from sqlalchemy import DateTime, ForeignKey, Integer, String, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from xiaobao.accounts import Account
from xiaobao.clock import aware, utcnow
from xiaobao.db import Base
from xiaobao.settings import Settings

TOUCH_EVERY = dt.timedelta(minutes=1)  # last_seen_at is written at most this often
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{32,128}$")


class WebSession(Base):
    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 of the token, hex
    account_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True),
                                                           nullable=True)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def well_formed(token: str | None) -> TypeGuard[str]:
    """A cookie value that could be one of our tokens (anything else is not looked up)."""
    return token is not None and _TOKEN_RE.match(token) is not None


class _SessionRow(Protocol):
    """What the rules below read of a session row (WebSession, EnterpriseSession)."""

    last_seen_at: dt.datetime
    expires_at: dt.datetime
    revoked_at: dt.datetime | None


_Row = TypeVar("_Row", bound=_SessionRow)


def live(row: _Row | None, now: dt.datetime, max_idle_s: int) -> TypeGuard[_Row]:
    """Not revoked, before its absolute end, not idle longer than ``max_idle_s``."""
    return row is not None and row.revoked_at is None and now < aware(row.expires_at) and \
        now - aware(row.last_seen_at) < dt.timedelta(seconds=max_idle_s)


def touch(row: _SessionRow, now: dt.datetime) -> None:
    """``last_seen_at`` written at most once every :data:`TOUCH_EVERY`."""
    if now - aware(row.last_seen_at) >= TOUCH_EVERY:
        row.last_seen_at = now


def end(row: _SessionRow | None, now: dt.datetime | None = None) -> bool:
    """Revoke the row; False when there was none to end."""
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = now or utcnow()
    return True


def _row(db: Session, token: str | None) -> WebSession | None:
    if not well_formed(token):
        return None
    return db.get(WebSession, token_hash(token))


def create(db: Session, account_id: int, settings: Settings, *,
           now: dt.datetime | None = None) -> str:
    """A new session for the account; returns the token for the cookie (never stored)."""
    now = now or utcnow()
    db.execute(delete(WebSession).where(WebSession.expires_at < now))  # housekeeping
    token = secrets.token_urlsafe(32)
    db.add(WebSession(id=token_hash(token), account_id=account_id, created_at=now,
                      last_seen_at=now, revoked_at=None,
                      expires_at=now + dt.timedelta(seconds=settings.session_absolute_max_age_s)))
    db.flush()
    return token


def resolve(db: Session, token: str | None, settings: Settings, *,
            now: dt.datetime | None = None) -> int | None:
    """The account id of a live session, or None: unknown, revoked, past its absolute end,
    idle too long, or its account deactivated. Touches ``last_seen_at`` (at most once a
    minute); the caller's transaction commits it."""
    row = _row(db, token)
    now = now or utcnow()
    if not live(row, now, settings.session_max_age_s):
        return None
    account = db.get(Account, row.account_id)
    if account is None or not account.active:
        return None
    touch(row, now)
    return row.account_id


def revoke(db: Session, token: str | None, *, now: dt.datetime | None = None) -> bool:
    """End one session (logout); False when there was none to end."""
    return end(_row(db, token), now)


def revoke_all_for(db: Session, account_id: int, *, now: dt.datetime | None = None) -> int:
    """End every open session of the account (deactivation); how many were open."""
    when = now or utcnow()
    rows = db.scalars(select(WebSession).where(WebSession.account_id == account_id,
                                               WebSession.revoked_at.is_(None))).all()
    for row in rows:
        row.revoked_at = when
    db.flush()
    return len(rows)

