"""The gateway's dependencies, named once so routes read ``def f(session: SessionDep, me: CurrentAccount)``.

Permissions are dependencies too (``require_role``), never ``if`` statements in handlers.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

import redis
from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from api.errors import ApiError
from xiaobao.accounts import Account
from xiaobao.db import session_scope
from xiaobao.settings import Settings

SESSION_ACCOUNT_KEY = "account_id"


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


def get_engine_dep(request: Request) -> Engine:
    return request.app.state.engine


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request: committed when the route returns, rolled back on error."""
    with session_scope(request.app.state.engine) as session:
        yield session


def get_redis(request: Request) -> redis.Redis:
    return request.app.state.redis


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
EngineDep = Annotated[Engine, Depends(get_engine_dep)]
SessionDep = Annotated[Session, Depends(get_session)]
RedisDep = Annotated[redis.Redis, Depends(get_redis)]


def get_current_account(request: Request, session: SessionDep) -> Account:
    account_id = request.session.get(SESSION_ACCOUNT_KEY)
    account = session.get(Account, account_id) if isinstance(account_id, int) else None
    if account is None or not account.active:
        request.session.clear()
        raise ApiError(401, "not_authenticated", "请先登录 / Please log in")
    return account


CurrentAccount = Annotated[Account, Depends(get_current_account)]


def require_role(*roles: str) -> Callable[[Account], Account]:
    """A dependency that passes accounts holding any of ``roles`` (admin always passes)."""
    allowed = set(roles) | {"admin"}

    def check(account: CurrentAccount) -> Account:
        if not allowed.intersection(account.roles):
            raise ApiError(403, "forbidden",
                           f"需要以下角色之一：{'、'.join(roles)} / Requires role: {', '.join(roles)}")
        return account

    return check


# Helpers and leaders work tickets; supervisors and admins may look at every department.
HelperAccount = Annotated[Account, Depends(require_role("helper", "leader"))]
LeaderAccount = Annotated[Account, Depends(require_role("leader"))]


def sees_all_departments(account: Account) -> bool:
    return bool({"admin", "supervisor"}.intersection(account.roles))
