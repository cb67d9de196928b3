"""API tokens: how the centre's own systems (12345 工单, OA) call the gateway without a cookie.

A token is ``xb_`` and 43 random URL-safe characters (256 bits). It is shown once, when it is
made (``xiaobao tokens add``); the ``api_tokens`` table keeps only its SHA-256, so a database
dump or a log reveals no usable token, and a lookup by hash is as good as a constant-time
comparison (knowing how long a wrong guess took says nothing about the right one). Its first
characters (:data:`PREFIX_CHARS`) are kept for the operator to tell tokens apart.

A token is refused (401) when unknown, revoked or past its expiry; otherwise the request runs
as a :class:`TokenPrincipal`: no role, no department of its own, only its scopes, each of which
opens exactly one rule of :mod:`xiaobao.policy` (the table is :data:`xiaobao.policy.SCOPES`).
A ``…:read`` scope counts only for a request that reads (GET, HEAD): a token that reads the
reports cannot review a 差评. ``last_used_at`` is written at most once a minute per token, so a
system polling every second does not write every second. Making and revoking a token are in the
event log (``api_token_created``, ``api_token_revoked``); using one is not, beyond
``last_used_at``.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass, field

from sqlalchemy import JSON, DateTime, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from xiaobao.clock import SHANGHAI, aware, utcnow
from xiaobao.db import Base
from xiaobao.errors import XiaobaoError
from xiaobao.events import EventKind, record_event
from xiaobao.policy import SCOPES

TOKEN_PREFIX = "xb_"
PREFIX_CHARS = 8  # of the random part, kept for display: xb_AbCd1234…
TOUCH_EVERY = dt.timedelta(minutes=1)  # last_used_at is written at most this often
SAFE_METHODS = frozenset({"GET", "HEAD"})
READ_SUFFIX = ":read"
MAX_NAME_CHARS = 48  # "token:" + the name is the actor of what the token does (64 characters)
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0," + str(MAX_NAME_CHARS - 1) + r"}$")
_TOKEN_RE = re.compile(r"^xb_[A-Za-z0-9_-]{32,64}$")


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(MAX_NAME_CHARS), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256, hex
    prefix: Mapped[str] = mapped_column(String(16))
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(64), default="")
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True),
                                                           nullable=True)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True),
                                                             nullable=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True),
                                                           nullable=True)
    revoked_by: Mapped[str] = mapped_column(String(64), default="")


class TokenError(XiaobaoError, ValueError):
    """A bad request to make or revoke a token (name, scope, expiry); said to the operator."""

    status = 422
    code = "token_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)


class TokenNotFound(TokenError):
    status = 404
    code = "token_not_found"


class TokenRefused(XiaobaoError):
    """The request's token does not authenticate it: unknown, revoked or expired (401)."""

    status = 401

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message, status=401, code=code,
                         headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


def _unknown() -> TokenRefused:
    return TokenRefused("API 令牌无效。 / The API token is not valid.", "token_invalid")


@dataclass
class TokenPrincipal:
    """Who a request with a token is, as :mod:`xiaobao.policy` reads an actor: no role, no
    department, only ``scopes`` (those that count for this request's method). ``username``,
    ``token:<name>``, is the actor recorded for what it does (an entry's history, the events)."""

    name: str
    scopes: frozenset[str]
    username: str = ""
    display_name: str = ""
    roles: list[str] = field(default_factory=list)
    departments: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.username = self.username or f"token:{self.name}"
        self.display_name = self.display_name or f"API 令牌 {self.name}"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def parse_expiry(value: str | None, now: dt.datetime | None = None) -> dt.datetime | None:
    """``YYYY-MM-DD`` (valid through that day, Shanghai time), ``N`` or ``Nd`` (N days from
    now), ``never`` (None); anything else, or a moment already past, is a TokenError."""
    now = now or utcnow()
    text = (value or "").strip().lower()
    if text in ("", "never"):
        return None
    days = text[:-1] if text.endswith("d") else text
    if days.isdigit():
        if int(days) < 1 or int(days) > 3660:
            raise TokenError("有效天数须在 1 到 3660 之间 / --expires days must be 1 to 3660")
        return now + dt.timedelta(days=int(days))
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise TokenError(f"无法识别的有效期 {value!r}（YYYY-MM-DD、天数或 never） / --expires "
                         "takes YYYY-MM-DD, a number of days or never") from None
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), SHANGHAI).astimezone(dt.UTC)
    if end <= now:
        raise TokenError(f"有效期 {day} 已过 / {day} is already past")
    return end


def create_token(session: Session, name: str, scopes: list[str], *,
                 expires_at: dt.datetime | None, by: str,
                 now: dt.datetime | None = None) -> tuple[ApiToken, str]:
    """A new token with these scopes; returns its row and the token itself, which is stored
    nowhere (the caller shows it once)."""
    now = now or utcnow()
    name = name.strip()
    if not _NAME_RE.match(name):
        raise TokenError(f"令牌名称须为 1–{MAX_NAME_CHARS} 个字母、数字或 _.-，以字母或数字开头 / "
                         f"a token name is 1-{MAX_NAME_CHARS} letters, digits or _.- ")
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise TokenError(f"未知的权限范围 {unknown} / unknown scope(s) {unknown}; choose from "
                         f"{', '.join(SCOPES)}")
    if expires_at is not None and aware(expires_at) <= now:
        raise TokenError("有效期已过 / the expiry is already past")
    if find_token(session, name) is not None:
        raise TokenError(f"令牌名称 {name} 已被使用（撤销的令牌也保留名称） / the name {name!r} is "
                         "taken (a revoked token keeps its name)")
    secret = secrets.token_urlsafe(32)
    token = TOKEN_PREFIX + secret
    row = ApiToken(name=name, token_hash=token_hash(token),
                   prefix=TOKEN_PREFIX + secret[:PREFIX_CHARS],
                   scopes=sorted(set(scopes), key=list(SCOPES).index), created_at=now,
                   created_by=by, expires_at=expires_at, last_used_at=None, revoked_at=None,
                   revoked_by="")
    session.add(row)
    record_event(session, EventKind.API_TOKEN_CREATED, actor=by, token=name, scopes=row.scopes,
                 expires_at=expires_at.isoformat() if expires_at else None)
    session.flush()
    return row, token


def find_token(session: Session, name: str) -> ApiToken | None:
    return session.scalar(select(ApiToken).where(ApiToken.name == name.strip()))


def list_tokens(session: Session) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).order_by(ApiToken.id)))


def revoke_token(session: Session, name: str, *, by: str,
                 now: dt.datetime | None = None) -> ApiToken:
    """Revoke the named token: refused from its next request on, on every gateway (they read
    the same table). Revoking it again changes nothing; an unknown name is a TokenError."""
    row = find_token(session, name)
    if row is None:
        raise TokenNotFound(f"没有名为 {name} 的令牌 / no token named {name!r}")
    if row.revoked_at is None:
        row.revoked_at = now or utcnow()
        row.revoked_by = by
        record_event(session, EventKind.API_TOKEN_REVOKED, actor=by, token=row.name)
        session.flush()
    return row


def state(row: ApiToken, now: dt.datetime | None = None) -> str:
    """``active``, ``revoked`` or ``expired``."""
    now = now or utcnow()
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at is not None and aware(row.expires_at) <= now:
        return "expired"
    return "active"


def authenticate(session: Session, token: str, *, now: dt.datetime | None = None) -> ApiToken:
    """The live token row for ``token``, its ``last_used_at`` touched (at most once a minute;
    the caller commits); TokenRefused when unknown, revoked or expired."""
    now = now or utcnow()
    if not _TOKEN_RE.match(token):
        raise _unknown()
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(token)))
    if row is None:
        raise _unknown()
    verdict = state(row, now)
    if verdict == "revoked":
        raise TokenRefused("API 令牌已被撤销。 / The API token has been revoked.",
                           "token_revoked")
    if verdict == "expired":
        raise TokenRefused("API 令牌已过期。 / The API token has expired.", "token_expired")
    if row.last_used_at is None or now - aware(row.last_used_at) >= TOUCH_EVERY:
        row.last_used_at = now
    return row


def principal(row: ApiToken, method: str) -> TokenPrincipal:
    """The request's actor: the token's scopes, less the ``…:read`` ones unless it reads."""
    reads = method.upper() in SAFE_METHODS
    return TokenPrincipal(name=row.name, scopes=frozenset(
        s for s in row.scopes if reads or not s.endswith(READ_SUFFIX)))
