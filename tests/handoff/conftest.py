"""A Redis server of our own (tests/redis_server.py) for every test that may flush or fill it."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from handoff.config import default_config
from tests.redis_server import RedisServer
from xiaobao.accounts import Account


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture
def r(redis_server) -> Iterator[redis.Redis]:
    """A client of the private server, emptied before each test (safe: the server is ours)."""
    client = redis_server.client()
    assert client.connection_pool.connection_kwargs["port"] == redis_server.port
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def config():
    """The packaged configuration; tests narrow it with ``config.replace(...)``."""
    return default_config()


def make_helper(engine, username: str, departments: list[str], roles=("helper",)) -> Account:
    """An account row for a helper (no password needed by the queue)."""
    from xiaobao.db import session_scope

    with session_scope(engine) as s:
        account = Account(username=username, display_name=username, password_hash="x",
                          roles=list(roles), departments=list(departments), active=True)
        s.add(account)
        s.flush()
        s.expunge(account)
    return account
