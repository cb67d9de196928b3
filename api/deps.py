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
from fastapi import Depends, Path, Request, Response
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket

from api.errors import ApiError
from api.metrics import REDIS_DEGRADED
from api.services import Services
from handoff import left_messages, views
from handoff.context import HandoffContext
from handoff.store import open_ticket_for
from xiaobao import conversations, enterprise_sessions, limits, policy, sessions, tokens
from xiaobao.accounts import Account
from xiaobao.clock import utcnow
from xiaobao.conversations import conversation_id_for
from xiaobao.db import session_scope
from xiaobao.enterprise_sessions import SignedInEnterprise
from xiaobao.events import Event, EventKind, record_event
from xiaobao.settings import Settings
from xiaobao.tokens import TokenPrincipal

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
# scope="function": committed before the response is sent (FastAPI's default runs a yield
# dependency's exit after it), so the client's next request sees what this one wrote (a login's
# session, an edit).
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
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
                        secure=secure_cookies(settings))


def secure_cookies(settings: Settings) -> bool:
    """Cookies go over HTTPS only when configured so, and always in production."""
    return settings.secure_cookies or settings.is_production


def conversation_over(services: Services, conversation_id: str) -> bool:
    """Ended (结束会话), or idle longer than ``settings.visitor_idle_s`` with no ticket open."""
    with session_scope(services.engine) as s:
        if s.scalar(select(Event.pk).where(Event.conversation_id == conversation_id,
                                           Event.kind == EventKind.CONVERSATION_ENDED.value)
                    .limit(1)) is not None:
            return True
        last = conversations.last_activity(s, conversation_id)
        idle = last is not None and (utcnow() - last).total_seconds() > \
            services.settings.visitor_idle_s
        if idle and open_ticket_for(s, conversation_id) is None:
            record_event(s, EventKind.CONVERSATION_ENDED, conversation_id=conversation_id,
                         actor="gateway", why="idle")
            return True
        return False


def visitor(services: Services, cookies: dict[str, str]) -> tuple[str, str]:
    """(secret, conversation id) of the visitor: the cookie's, unless there is none or its
    conversation is over — then a new secret, so nothing of the old one is shown again (a
    kiosk's next user, a cookie copied off a shared computer)."""
    secret = visitor_secret_from_cookies(cookies, services.settings)
    if secret and not conversation_over(services, conversation_id_of(secret, services.settings)):
        return secret, conversation_id_of(secret, services.settings)
    secret = new_visitor_secret()
    return secret, conversation_id_of(secret, services.settings)


def ensure_visitor(request: Request, response: Response, services: ServicesDep) -> str:
    """The visitor's conversation id, derived from the secret in their cookie (a new secret is
    set on the response when there is none, or its conversation is over); the cookie is
    refreshed either way, so it stays long-lived."""
    secret, conversation_id = visitor(services, request.cookies)
    set_visitor_cookie(response, services.settings, secret)
    return conversation_id


VisitorId = Annotated[str, Depends(ensure_visitor)]  # the conversation id, never the secret


# --- the client's address and the abuse limits ----------------------------------------------------
# The address is the socket's peer, unless ``settings.trusted_proxy_header`` names the one header
# a reverse proxy in front of the gateway sets (the first address of an X-Forwarded-For style
# list); no other header is ever believed, so a client cannot pick its own address.

def _address(connection: HTTPConnection) -> str:
    settings: Settings = connection.app.state.services.settings
    header = settings.trusted_proxy_header.strip()
    if header:
        forwarded = connection.headers.get(header, "").split(",")[0].strip()
        if forwarded:
            return forwarded
    return connection.client.host if connection.client else "unknown"


def client_ip(request: Request) -> str:
    """The client's address for an HTTP request (see above)."""
    return _address(request)


def websocket_client_ip(websocket: WebSocket) -> str:
    """The client's address for a WebSocket (see above)."""
    return _address(websocket)


ClientIp = Annotated[str, Depends(client_ip)]


async def enforce_limit(services: Services, name: str, key: str, limit: int, window_s: float,
                        what: str) -> None:
    """One abuse limit (:func:`xiaobao.limits.enforce`, off the event loop); over it,
    ``LimitExceeded`` becomes 429 with ``Retry-After`` (:mod:`api.errors`). While Redis is
    down the limit lets the request through (logged, and counted on ``/metrics``)."""
    verdict = await run_in_threadpool(limits.enforce, services.redis, name, key, limit,
                                      window_s, what)
    if verdict.degraded:
        REDIS_DEGRADED.labels("rate_limit").inc()


# --- accounts and roles ------------------------------------------------------------------------

def active_account(session: Session, account_id: object) -> Account | None:
    account = session.get(Account, account_id) if isinstance(account_id, int) else None
    return account if account is not None and account.active else None


# The console's session cookie holds a random token; the session itself is a row in SQL
# (xiaobao.sessions), so logout and deactivation end it on every gateway at once.

def session_token(connection: HTTPConnection, settings: Settings) -> str | None:
    return connection.cookies.get(settings.session_cookie)


def set_session_cookie(response: Response, settings: Settings, token: str) -> None:
    response.set_cookie(settings.session_cookie, token,
                        max_age=settings.session_absolute_max_age_s, httponly=True,
                        samesite="strict", secure=secure_cookies(settings))


def clear_session_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(settings.session_cookie, httponly=True, samesite="strict",
                           secure=secure_cookies(settings))


def session_account(session: Session, token: str | None, settings: Settings) -> Account | None:
    """The active account of a live session, or None (see :func:`xiaobao.sessions.resolve`)."""
    return active_account(session, sessions.resolve(session, token, settings))


def _signed_in_account(request: Request, session: Session) -> Account:
    settings = request.app.state.services.settings
    account = session_account(session, session_token(request, settings), settings)
    # Commit the session's touch (last_seen_at, once a minute) now, not when the route ends:
    # the route's handoff functions write through connections of their own, and on SQLite a
    # write left pending here holds the lock they would wait for, 30 s, then fail ("database
    # is locked": every helper request stalled once a minute under load).
    session.commit()
    if account is None:
        raise ApiError(401, "not_authenticated", "请先登录 / Please log in")
    return account


# --- API tokens (xiaobao.tokens): ``Authorization: Bearer xb_…`` -------------------------------
# A request with a bearer token is the token's and nobody else's: its cookies are not read, so
# it needs no Origin (api/web_security.py exempts it when it carries no cookie at all). Routes
# whose rule a token's scope can open (xiaobao.policy.SCOPES) receive a TokenPrincipal; the
# rest answer 403, an unknown, revoked or expired token 401.

def bearer_of(authorization: str) -> str | None:
    """The token of an ``Authorization: Bearer …`` header's value."""
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip() or None


def bearer_token(connection: HTTPConnection) -> str | None:
    return bearer_of(connection.headers.get("authorization", ""))


def _token_principal(request: Request, session: Session, token: str) -> TokenPrincipal:
    try:
        row = tokens.authenticate(session, token)
    finally:
        session.commit()  # last_used_at (once a minute), before the route writes: see above
    return tokens.principal(row, request.method)


def get_current_principal(request: Request, session: SessionDep) -> Principal:
    token = bearer_token(request)
    if token is not None:
        return _token_principal(request, session, token)
    return _signed_in_account(request, session)


def get_current_account(request: Request, session: SessionDep) -> Account:
    """The signed-in account; a token (valid or not) is refused here: these routes are the
    account's own (its password, its sessions) or not open to any scope."""
    token = bearer_token(request)
    if token is not None:
        _token_principal(request, session, token)  # 401 when it is no live token
        raise ApiError(403, "token_not_allowed", "API 令牌不能调用此接口，须登录账号。 / An API "
                       "token cannot call this route: it needs a signed-in account.")
    return _signed_in_account(request, session)


Principal = Account | TokenPrincipal
CurrentAccount = Annotated[Account, Depends(get_current_account)]
CurrentPrincipal = Annotated[Principal, Depends(get_current_principal)]


def require(decide: Callable[[Principal], bool], what: str, what_en: str
            ) -> Callable[[Principal], Principal]:
    """A dependency passing the accounts, or tokens, for which ``decide`` (a
    :mod:`xiaobao.policy` rule) holds. A rule no scope opens never passes a token."""

    def check(principal: CurrentPrincipal) -> Principal:
        if decide(principal):
            return principal
        if isinstance(principal, TokenPrincipal):
            raise ApiError(403, "token_scope", f"API 令牌的权限范围不含此操作（需要{what}权限） / "
                           f"The API token's scopes do not allow this (it needs the {what_en} "
                           "role)")
        raise ApiError(403, "forbidden", f"需要{what}权限 / Requires the {what_en} role")

    return check


# Account: a rule no token scope opens; Principal: an account or a token (policy.SCOPES).
HelperAccount = Annotated[Account, Depends(require(policy.works_tickets, "帮办人员",
                                                   "helper or leader"))]
TicketReader = Annotated[Principal, Depends(require(policy.reads_tickets, "帮办人员",
                                                    "helper or leader"))]
LeaderAccount = Annotated[Account, Depends(require(
    policy.is_leader, "部门领导", "department leader"))]


EditorAccount = Annotated[Principal, Depends(require(
    policy.edits_knowledge, "知识库编辑", "knowledge editor"))]


PolicyEditorAccount = Annotated[Account, Depends(require(
    policy.edits_policies, "政策编辑", "policy editor"))]


GapsReaderAccount = Annotated[Account, Depends(require(
    policy.reads_knowledge_gaps, "知识库编辑或督导", "editor or supervisor"))]


ReportReaderAccount = Annotated[Principal, Depends(require(
    policy.reads_reports, "督导或部门领导", "supervisor or leader"))]
ExportReaderAccount = Annotated[Principal, Depends(require(
    policy.exports_records, "督导或部门领导", "supervisor or leader"))]
TokenManagerAccount = Annotated[Account, Depends(require(policy.manages_tokens, "督导",
                                                         "supervisor or admin"))]


def raise_denied(exc: policy.Denied) -> None:
    raise ApiError(exc.status, exc.code, exc.message) from None


# --- what a helper may open: a ticket or a 留言 of their departments (xiaobao.policy decides) ---

def ticket_in_my_departments(account: TicketReader, ctx: HandoffDep,
                              ticket_id: Annotated[str, Path(max_length=32)]) -> str:
    department = views.ticket_department(ticket_id, ctx=ctx)  # UnknownTicket -> 404
    if not policy.can_see_department(account, department):
        raise ApiError(403, "department_not_allowed",
                       f"工单{ticket_id}属于{department}，不在您的部门范围内。"
                       f" / Ticket {ticket_id} belongs to another department.")
    return ticket_id


TicketInMyDepartments = Annotated[str, Depends(ticket_in_my_departments)]


def message_in_my_departments(account: HelperAccount, ctx: HandoffDep,
                               message_id: Annotated[str, Path(max_length=32)]) -> str:
    department, status, answered_by = left_messages.message_department(message_id, ctx=ctx)
    if not policy.can_work_department(account, department):
        raise ApiError(403, "department_not_allowed",
                       f"留言{message_id}属于{department}，不在您的部门范围内。"
                       f" / Message {message_id} belongs to another department.")
    if status != "open":
        raise ApiError(409, "already_answered",
                       f"留言{message_id}已由{answered_by}答复。"
                       f" / Message {message_id} has already been answered.")
    return message_id


MessageInMyDepartments = Annotated[str, Depends(message_in_my_departments)]


# --- the signed-in enterprise (一网通办 法人 sign-in, api/routes/enterprise_auth.py) -------------
# Its own cookie and its own server-side session (xiaobao.enterprise_sessions); the portal's
# anonymous visitor cookie is unaffected. Register facts are only for the enterprise named here.

def current_enterprise_identity(request: Request) -> SignedInEnterprise | None:
    """The enterprise signed in on this browser (USCC and name), or None."""
    services: Services = request.app.state.services
    token = request.cookies.get(services.settings.enterprise_cookie)
    if not token:
        return None
    with session_scope(services.engine) as session:  # committed: the touch of last_seen_at
        return enterprise_sessions.resolve(session, token, services.settings)


def current_enterprise(request: Request) -> str | None:
    """The USCC of the enterprise signed in on this browser, or None (anonymous)."""
    signed_in = current_enterprise_identity(request)
    return signed_in.uscc if signed_in else None


CurrentEnterprise = Annotated[str | None, Depends(current_enterprise)]


def require_enterprise(uscc: CurrentEnterprise) -> str:
    """The signed-in enterprise's USCC; 401 for anyone else. Routes that show register facts
    take this, never a USCC from the request: typing a code reveals nothing."""
    if uscc is None:
        raise ApiError(401, "not_signed_in", "请先进行企业登录 / Please sign in as an enterprise")
    return uscc


SignedInUscc = Annotated[str, Depends(require_enterprise)]
