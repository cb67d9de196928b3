"""Log in and out of the console: a server-side session (:mod:`xiaobao.sessions`) whose random
token is the cookie (HttpOnly, SameSite=Strict, Secure in production); logout revokes it.

Abuse limits (in Redis, so every gateway process sees the same counts): at most
``logins_per_ip_per_15_minutes`` attempts from one address; after
``login_failures_before_delay`` wrong passwords for one username from one address, the next
attempt of that username from that address must wait 1 s after the last failure, then 2 s,
4 s, … at most 15 minutes (a success starts afresh). A too-early attempt gets 429 without a
password check. The delay is keyed on (username, address) together, so wrong passwords from
other addresses never lock the helper out of the account from theirs; above
``login_failures_per_account_alert`` failures of one account within an hour from all addresses
together, each further one is logged as a warning and counted on ``/metrics``
(``xiaobao_login_failure_alerts_total``) — an alert, not a block. Password checks (argon2,
~64 MB each) run at most ``concurrent_password_checks`` at once in a process; a login that
finds no free slot within ``PASSWORD_CHECK_WAIT_S`` gets 503.
"""
from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from api.deps import (
    CurrentAccount,
    ServicesDep,
    SessionDep,
    SettingsDep,
    clear_session_cookie,
    client_ip,
    session_token,
    set_session_cookie,
)
from api.errors import ApiError, error_responses
from api.metrics import LOGIN_FAILURE_ALERTS
from api.services import Services
from xiaobao import limits, policy, sessions
from xiaobao.accounts import Account, AccountError, authenticate, set_password
from xiaobao.events import EventKind, record_event

router = APIRouter(prefix="/api/auth", tags=["auth"],
                   responses=error_responses(400, 401, 403, 413, 422, 429, 503))

log = logging.getLogger(__name__)

LOGIN_WINDOW_S = 15 * 60  # the per-address window
DELAY_CAP_S = 15 * 60  # the longest wait between attempts for one username from one address
ACCOUNT_ALERT_WINDOW_S = 3600  # login_failures_per_account_alert counts in this window
PASSWORD_CHECK_WAIT_S = 2.0  # then 503: every password-check slot is busy


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


def account_out(account: Account) -> dict:
    return {"id": account.id, "username": account.username, "display_name": account.display_name,
            "roles": list(account.roles), "departments": list(account.departments)}


def _check_password(services: Services, session: Session, username: str, password: str
                    ) -> Account | None:
    """:func:`xiaobao.accounts.authenticate` (argon2, or its dummy check for an unknown name)
    in one of the process's password-check slots."""
    slots = services.password_checks
    if not slots.acquire(timeout=PASSWORD_CHECK_WAIT_S):
        raise ApiError(503, "busy", "登录请求过多，请稍后再试。 / Too many logins at once; "
                                    "please retry in a few seconds.", headers={"Retry-After": "2"})
    try:
        return authenticate(session, username, password)
    finally:
        slots.release()


def failure_key(username: str, ip: str) -> str:
    """The key of the login delay (``login_user_ip``): one username from one address."""
    return f"{username.lower()}\n{ip}"


def _alert_on_account_failures(services: Services, who: str, ip: str) -> None:
    """Counts a wrong password of ``who`` from any address; above the account's ceiling it
    logs a warning and counts the alert, but refuses nothing."""
    ceiling = services.settings.login_failures_per_account_alert
    verdict = limits.hit(services.redis, "login_user_failures", who, ceiling,
                         ACCOUNT_ALERT_WINDOW_S)
    if not verdict.allowed:
        LOGIN_FAILURE_ALERTS.inc()
        log.warning("login: more than %d wrong passwords for account %r within %d min "
                    "(this one from %s); not blocked", ceiling, who,
                    ACCOUNT_ALERT_WINDOW_S // 60, ip)


@router.post("/login")
def login(body: LoginIn, request: Request, response: Response, session: SessionDep,
          services: ServicesDep) -> dict:
    redis, settings = services.redis, services.settings
    ip = client_ip(request)
    limits.enforce(redis, "login_ip", ip, settings.logins_per_ip_per_15_minutes,
                   LOGIN_WINDOW_S, "登录尝试")
    who = body.username.lower()
    key = failure_key(who, ip)
    wait_s = limits.failure_delay_s(redis, "login_user_ip", key)
    if wait_s:  # refused before any password check
        raise limits.LimitExceeded(
            f"密码错误次数较多，请{limits.wait_text(wait_s)}后再试。"
            f" / Too many failed attempts; retry in {wait_s} s.", wait_s)
    account = _check_password(services, session, body.username, body.password)
    if account is None:
        limits.record_failure(redis, "login_user_ip", key,
                              free=settings.login_failures_before_delay, cap_s=DELAY_CAP_S)
        _alert_on_account_failures(services, who, ip)
        raise ApiError(401, "bad_credentials", "用户名或密码错误 / Wrong username or password")
    limits.reset_failures(redis, "login_user_ip", key)
    # A fresh session: any the browser brought along ends, nothing carries over.
    sessions.revoke(session, session_token(request, settings))
    set_session_cookie(response, settings, sessions.create(session, account.id, settings))
    record_event(session, "login", actor=account.username)
    return {"account": account_out(account)}


@router.post("/logout")
def logout(request: Request, response: Response, session: SessionDep,
           settings: SettingsDep) -> dict:
    """Ends the session on the server (on every gateway), not only in this browser."""
    sessions.revoke(session, session_token(request, settings))
    clear_session_cookie(response, settings)
    return {"ok": True}


@router.get("/me")
def me(account: CurrentAccount) -> dict:
    """The account and what it may do (:func:`xiaobao.policy.capabilities`), which the pages
    read instead of its roles."""
    return {"account": account_out(account), "can": policy.capabilities(account)}


class PasswordChangeIn(BaseModel):
    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=1, max_length=256)


@router.post("/password")
def change_password(body: PasswordChangeIn, request: Request, response: Response,
                    account: CurrentAccount, session: SessionDep, services: ServicesDep) -> dict:
    """The signed-in account sets a new password: the current one is checked first, every
    session of the account ends (other browsers sign in again) and this one gets a new one."""
    if _check_password(services, session, account.username, body.current_password) is None:
        raise ApiError(403, "bad_credentials", "当前密码不正确 / Current password is wrong")
    try:
        set_password(session, account, body.new_password)
    except AccountError as exc:
        raise ApiError(422, "weak_password", str(exc)) from None
    settings = services.settings
    sessions.revoke_all_for(session, account.id)
    set_session_cookie(response, settings, sessions.create(session, account.id, settings))
    record_event(session, EventKind.PASSWORD_CHANGED, actor=account.username)
    return {"ok": True}
