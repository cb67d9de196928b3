"""The gateway's dependencies, named once so routes read
``def f(services: ServicesDep, me: HelperAccount)``.

Permissions are dependencies too, decided by :mod:`xiaobao.policy` — never ``if`` statements
scattered in handlers.
"""
from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterator
from typing import Annotated

import redis
from fastapi import Depends, Request, Response
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from api.errors import ApiError
from api.services import Services
from handoff.context import HandoffContext
from xiaobao import policy
from xiaobao.accounts import Account
from xiaobao.conversations import conversation_id_for
from xiaobao.db import session_scope
from xiaobao.settings import Settings

SESSION_ACCOUNT_KEY = "account_id"
_VISITOR_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def get_services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_settings_dep(services: ServicesDep) -> Settings:
    return services.settings


def get_engine_dep(services: ServicesDep) -> Engine:
    return services.engine


def get_redis(services: ServicesDep) -> redis.Redis:
    return services.redis


def get_handoff(services: ServicesDep) -> HandoffContext:
    return services.handoff


def get_session(services: ServicesDep) -> Iterator[Session]:
    """One transaction per request: committed when the route returns, rolled back on error."""
    with session_scope(services.engine) as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
EngineDep = Annotated[Engine, Depends(get_engine_dep)]
SessionDep = Annotated[Session, Depends(get_session)]
RedisDep = Annotated[redis.Redis, Depends(get_redis)]
HandoffDep = Annotated[HandoffContext, Depends(get_handoff)]


# --- the portal's visitor -------------------------------------------------------------------------
# The cookie holds a random secret; the conversation id is derived from it with the server's
# key (xiaobao.conversations.conversation_id_for). Helpers, logs and tickets see the id only:
# knowing it does not let anyone open the conversation.

def visitor_secret_from_cookies(cookies: dict[str, str], settings: Settings) -> str | None:
    """The visitor's secret from their cookie, or None when missing or malformed."""
    value = cookies.get(settings.visitor_cookie, "")
    return value if _VISITOR_RE.match(value) else None


def conversation_id_of(visitor_secret: str, settings: Settings) -> str:
    return conversation_id_for(visitor_secret, settings.secret_key)


def conversation_id_from_cookies(cookies: dict[str, str], settings: Settings) -> str | None:
    """The conversation id the visitor's cookie names, or None without a valid cookie."""
    secret = visitor_secret_from_cookies(cookies, settings)
    return conversation_id_of(secret, settings) if secret else None


def new_visitor_secret() -> str:
    return secrets.token_urlsafe(16)  # 128 random bits: the conversation cannot be guessed


def set_visitor_cookie(response: Response, settings: Settings, visitor_secret: str) -> None:
    response.set_cookie(settings.visitor_cookie, visitor_secret,
                        max_age=settings.visitor_max_age_s, httponly=True, samesite="lax",
                        secure=settings.secure_cookies)


def ensure_visitor(request: Request, response: Response, settings: SettingsDep) -> str:
    """The visitor's conversation id, derived from the secret in their cookie (a new secret is
    set on the response when there is none); the cookie is refreshed either way, so it stays
    long-lived."""
    secret = visitor_secret_from_cookies(request.cookies, settings) or new_visitor_secret()
    set_visitor_cookie(response, settings, secret)
    return conversation_id_of(secret, settings)


VisitorId = Annotated[str, Depends(ensure_visitor)]  # the conversation id, never the secret


# --- accounts and roles ------------------------------------------------------------------------

def active_account(session: Session, account_id: object) -> Account | None:
    account = session.get(Account, account_id) if isinstance(account_id, int) else None
    return account if account is not None and account.active else None


def get_current_account(request: Request, session: SessionDep) -> Account:
    account = active_account(session, request.session.get(SESSION_ACCOUNT_KEY))
    if account is None:
        request.session.clear()
        raise ApiError(401, "not_authenticated", "请先登录 / Please log in")
    return account


CurrentAccount = Annotated[Account, Depends(get_current_account)]


def require(decide: Callable[[Account], bool], what: str, what_en: str
            ) -> Callable[[Account], Account]:
    """A dependency passing the accounts for which ``decide`` (a :mod:`xiaobao.policy` rule)
    holds."""

    def check(account: CurrentAccount) -> Account:
        if not decide(account):
            raise ApiError(403, "forbidden", f"需要{what}权限 / Requires the {what_en} role")
        return account

    return check


HelperAccount = Annotated[Account, Depends(require(policy.works_tickets, "帮办人员",
                                                   "helper or leader"))]
LeaderAccount = Annotated[Account, Depends(require(policy.is_leader, "部门领导", "leader"))]


def raise_denied(exc: policy.Denied) -> None:
    raise ApiError(exc.status, exc.code, exc.message) from None
