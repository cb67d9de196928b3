"""One accounts-and-roles model for the whole project.

Roles: helper, leader, editor, supervisor, admin. ``departments`` limits which
tickets a helper or leader sees. Passwords are argon2 hashes.
"""
from __future__ import annotations

import datetime as dt
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import JSON, Boolean, DateTime, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from xiaobao.db import Base, utcnow

ROLES = ("helper", "leader", "editor", "supervisor", "admin")



class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64), default="")
    password_hash: Mapped[str] = mapped_column(String(256))
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    departments: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)



class AccountError(ValueError):
    """A bad account request (unknown role, short password, name taken); said to the operator."""


_HASHER = PasswordHasher()  # argon2id with the library's RFC 9106 defaults


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_password("not-a-real-password")


def create_account(session: Session, username: str, password: str, *, roles: list[str],
                   departments: list[str] | None = None, display_name: str = "") -> Account:
    """Add an account; roles must be from :data:`ROLES` and the username unused."""
    unknown = [r for r in roles if r not in ROLES]
    if unknown or not roles:
        raise AccountError(f"unknown role(s) {unknown}; choose from {', '.join(ROLES)}")
    if len(password) < 8:
        raise AccountError("password must have at least 8 characters")
    if session.scalar(select(Account).where(Account.username == username)) is not None:
        raise AccountError(f"username {username!r} is taken")
    account = Account(username=username, display_name=display_name or username,
                      password_hash=hash_password(password), roles=list(roles),
                      departments=list(departments or []), active=True)
    session.add(account)
    session.flush()
    return account


def authenticate(session: Session, username: str, password: str) -> Account | None:
    """The active account with this name and password, or None (same answer for both faults)."""
    account = session.scalar(select(Account).where(Account.username == username))
    if account is None:
        # Spend the time of a real check so the response time does not reveal valid usernames.
        verify_password(_dummy_hash(), password)
        return None
    if not account.active or not verify_password(account.password_hash, password):
        return None
    return account
