"""The :class:`handoff.context.HandoffContext` every handoff function takes, on a Redis server
of our own (``r`` in tests/conftest.py) that the tests may flush, and request helpers."""
from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy import func, select, update

from handoff.config import packaged_config
from handoff.context import HandoffContext, Returned
from handoff.requests import Candidate, HandoffRequest
from tests.redis_server import _free_port
from xiaobao.accounts import Account
from xiaobao.db import session_scope

CENTRAL = "综合窗口"
CROSS = "区行政服务中心"  # where 跨省通办 is routed
TAX = "区税务局"


@pytest.fixture
def config():
    """The packaged configuration; tests narrow it with ``config.replace(...)``."""
    return packaged_config()


@pytest.fixture
def ctx(engine, r, config) -> HandoffContext:
    """What the gateway would pass, without the bot hook (tests that check hand-backs add one
    with ``ctx.replace(on_returned=...)``); ``ctx.replace(config=...)`` for another config."""
    return HandoffContext(engine=engine, redis=r, config=config)


class ReturnRecorder:
    """An ``on_returned`` hook that records every hand-back and answers ``answer``."""

    def __init__(self, answer: bool = True):
        self.answer = answer
        self.calls: list[Returned] = []

    def __call__(self, returned: Returned) -> bool:
        self.calls.append(returned)
        return self.answer


@pytest.fixture
def returns() -> ReturnRecorder:
    return ReturnRecorder()


@pytest.fixture
def hooked(ctx, returns) -> HandoffContext:
    """``ctx`` with a recording bot hook (``returns.calls``)."""
    return ctx.replace(on_returned=returns)


@pytest.fixture
def redis_down() -> Iterator[redis.Redis]:
    """A client of a port nobody listens on: Redis is down."""
    client = redis.Redis(host="127.0.0.1", port=_free_port(), socket_connect_timeout=0.2,
                         socket_timeout=0.2, decode_responses=True,
                         retry=Retry(NoBackoff(), 0))  # fail at once, no retries
    yield client
    client.close()


def make_helper(engine, username: str, departments: list[str], roles=("helper",),
                display_name: str = "") -> Account:
    """An account row for a helper (no password needed by the queue)."""
    with session_scope(engine) as s:
        account = Account(username=username, display_name=display_name or username,
                          password_hash="x", roles=list(roles), departments=list(departments),
                          active=True)
        s.add(account)
        s.flush()
        s.expunge(account)
    return account


def on_duty(ctx: HandoffContext, name: str, depts=(CROSS,), roles=("helper",), cap=None,
            display_name: str = "") -> Account:
    """A helper account, marked on duty (with a heartbeat)."""
    from handoff.duty import set_helper_status

    helper = make_helper(ctx.engine, name, list(depts), roles, display_name)
    set_helper_status(helper, "on_duty", cap=cap, ctx=ctx)
    return helper


def req(conversation_id: str | None = None, request_id: str | None = None,
        category: str = "跨省通办", **kw) -> HandoffRequest:
    """A request the bot would make; by default routed to 区行政服务中心."""
    return HandoffRequest(
        request_id=request_id or uuid.uuid4().hex,
        conversation_id=conversation_id or f"conv-{uuid.uuid4().hex[:8]}",
        channel=kw.pop("channel", "online_helper"),
        candidates=kw.pop("candidates", [
            Candidate(id="kb-1", question="什么是跨省通办", category=category, score=0.8),
            Candidate(id="kb-2", question="随申办", category="一网通办与随申办", score=0.4)]),
        last_turns=kw.pop("last_turns", [{"role": "user", "text": "我要转人工"}]),
        intent=kw.pop("intent", "ask_human"), **kw)


def count_events(engine, kind: str, ticket_id: str | None = None) -> int:
    from xiaobao.events import Event

    with session_scope(engine) as s:
        q = select(func.count()).select_from(Event).where(Event.kind == kind)
        if ticket_id is not None:
            q = q.where(Event.ticket_id == ticket_id)
        return int(s.scalar(q) or 0)


def expire_outbox_claims(engine) -> None:
    """Let time pass for the outbox: every claim (and retry back-off) has run out."""
    from handoff.outbox import OutboxRow

    with session_scope(engine) as s:
        s.execute(update(OutboxRow).values(
            claimed_until=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))


def stream_ticket_ids(r: redis.Redis, key: str) -> list[str]:
    return [fields["ticket_id"] for _id, fields in r.xrange(key)]
