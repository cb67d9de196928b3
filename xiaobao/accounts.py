"""One accounts-and-roles model for the whole project.

Roles: helper, leader, editor, supervisor, admin. ``departments`` limits which
tickets a helper or leader sees. Passwords are argon2 hashes.
"""
from __future__ import annotations

import datetime as dt
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import JSON, Boolean, DateTime, Index, Integer, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from xiaobao.clock import utcnow
from xiaobao.db import Base
from xiaobao.errors import XiaobaoError
from xiaobao.policy import ROLES


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


# Names are one whatever their case (find_account looks them up so); migration 0009.
Index("uq_accounts_username_lower", func.lower(Account.username), unique=True)



class AccountError(XiaobaoError, ValueError):
    """A bad account request (unknown role, short password, name taken); said to the operator."""

    status = 422
    code = "account_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)


MIN_PASSWORD_CHARS = 8
# Passwords every guessing list starts with; with the patterns below, refused at any length.
COMMON_PASSWORDS = frozenset({
    "password", "password1", "password123", "passw0rd", "p@ssw0rd", "p@ssword", "admin123",
    "administrator", "qwertyuiop", "qwerty123", "1qaz2wsx", "1q2w3e4r", "1q2w3e4r5t",
    "zaq12wsx", "asdfghjkl", "iloveyou", "welcome1", "letmein1", "woaini1314", "woaini520",
    "changeme", "xiaobao123", "abc12345", "abcd1234", "a1234567", "aa123456", "1234qwer",
    "qwer1234", "asdf1234", "zxcvbnm1", "football", "baseball", "sunshine", "princess",
    "dragon123", "monkey123", "shadow123", "superman", "trustno1", "88888888a",
})


def password_problem(password: str, username: str = "") -> str | None:
    """Why this password is refused (Chinese / English), or None when it is acceptable.

    Length alone let ``12345678`` through: also refuse the common passwords, the username
    (maybe with digits after it), and trivial patterns (one character repeated, a run such as
    12345678 or abcdefgh, a short block repeated such as 12121212)."""
    if len(password) < MIN_PASSWORD_CHARS:
        return f"密码至少 {MIN_PASSWORD_CHARS} 个字符 / password must have at least " \
               f"{MIN_PASSWORD_CHARS} characters"
    lowered = password.lower()
    if lowered in COMMON_PASSWORDS or (username and lowered.rstrip("0123456789!@#.")
                                        == username.strip().lower()):
        return "密码过于常见或包含用户名 / password is too common or contains the username"
    if _is_trivial_pattern(lowered):
        return "密码是简单的重复或连续字符 / password is a trivial repeat or sequence"
    return None


def _is_trivial_pattern(text: str) -> bool:
    for size in range(1, len(text) // 2 + 1):  # a block repeated: aaaaaaaa, 12121212, abcabcab
        if all(text[i] == text[i % size] for i in range(len(text))):
            return True
    steps = {ord(b) - ord(a) for a, b in zip(text, text[1:], strict=False)}
    return steps in ({1}, {-1})  # a run up or down: 12345678, 87654321, abcdefgh


def find_account(session: Session, username: str) -> Account | None:
    """The account of this name, whatever its case (``Demo`` is ``demo``)."""
    return session.scalar(
        select(Account).where(func.lower(Account.username) == username.strip().lower()))


def set_password(session: Session, account: Account, password: str) -> None:
    """Replace an account's password (same rules as a new account's)."""
    problem = password_problem(password, account.username)
    if problem:
        raise AccountError(problem)
    account.password_hash = hash_password(password)


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
    problem = password_problem(password, username)
    if problem:
        raise AccountError(problem)
    if find_account(session, username) is not None:
        raise AccountError(f"username {username!r} is taken (names are case-insensitive)")
    account = Account(username=username, display_name=display_name or username,
                      password_hash=hash_password(password), roles=list(roles),
                      departments=list(departments or []), active=True)
    session.add(account)
    session.flush()
    return account


def authenticate(session: Session, username: str, password: str) -> Account | None:
    """The active account with this name and password, or None (same answer for both faults)."""
    account = find_account(session, username)
    if account is None:
        # Spend the time of a real check so the response time does not reveal valid usernames.
        verify_password(_dummy_hash(), password)
        return None
    if not account.active or not verify_password(account.password_hash, password):
        return None
    return account
