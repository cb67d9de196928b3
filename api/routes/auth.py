"""Log in and out of the console: a signed session cookie holding the account id.

Repeated wrong passwords for one username are refused for a while (counted in
Redis, so every gateway process sees the same count).
"""
from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from api.deps import SESSION_ACCOUNT_KEY, CurrentAccount, RedisDep, SessionDep
from api.errors import ApiError
from xiaobao.accounts import Account, authenticate
from xiaobao.events import record_event

router = APIRouter(prefix="/api/auth", tags=["auth"])

MAX_FAILURES = 10
FAILURE_WINDOW_S = 15 * 60


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


def account_out(account: Account) -> dict:
    return {"id": account.id, "username": account.username, "display_name": account.display_name,
            "roles": list(account.roles), "departments": list(account.departments)}


def _failures_key(username: str) -> str:
    return f"xiaobao:auth:failures:{username.lower()}"


@router.post("/login")
def login(body: LoginIn, request: Request, session: SessionDep, redis: RedisDep) -> dict:
    key = _failures_key(body.username)
    if int(redis.get(key) or 0) >= MAX_FAILURES:
        raise ApiError(429, "too_many_attempts",
                       "密码错误次数过多，请15分钟后再试 / Too many failed attempts, "
                       "retry in 15 minutes")
    account = authenticate(session, body.username, body.password)
    if account is None:
        with redis.pipeline() as pipe:
            pipe.incr(key).expire(key, FAILURE_WINDOW_S).execute()
        raise ApiError(401, "bad_credentials", "用户名或密码错误 / Wrong username or password")
    redis.delete(key)
    request.session.clear()  # a fresh session: nothing carried over from before the login
    request.session[SESSION_ACCOUNT_KEY] = account.id
    record_event(session, "login", actor=account.username)
    return {"account": account_out(account)}


@router.post("/logout")
def logout(request: Request) -> dict:
    request.session.clear()
    return {"ok": True}


@router.get("/me")
def me(account: CurrentAccount) -> dict:
    return {"account": account_out(account)}
