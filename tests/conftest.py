"""Fixtures shared by every test package: databases (SQLite, and PostgreSQL when a URL is given)."""
from __future__ import annotations

import os
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine, create_engine, text

from tests.redis_server import RedisServer
from xiaobao.db import make_engine, upgrade

PG_URL = os.environ.get("XIAOBAO_TEST_POSTGRES_URL", "")
# Starlette's test client says ``Host: testserver``; the gateway answers only names it is told of.
os.environ.setdefault("XIAOBAO_ALLOWED_HOSTS", '["localhost", "testserver"]')
DB_KINDS = ["sqlite"] + (["postgres"] if PG_URL else [])


def _fresh_postgres() -> tuple[str, callable]:
    """A throw-away database on the given server, dropped afterwards."""
    name = f"xiaobao_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_URL.rsplit("/", 1)[0] + "/" + name

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


# make test runs pytest twice (scripts/test.sh): the suite on two pytest-xdist workers, then the
# tests marked ``serial`` alone. On the workers a file's tests stay together, so its module
# fixtures are built once and its tests keep their order; the browser files share one session
# stack (a gateway and `rasa run`), so they go to one worker together. (A scheduler of our own:
# xdist's loadgroup marks have no effect under pytest 9, which ignores the node id they rewrite.)
BROWSER_STACK_FILES = {"test_accessibility_browser.py", "test_dashboard_browser.py",
                       "test_editor_browser.py", "test_pages_browser.py",
                       "test_policy_check_browser.py"}


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class ByFile(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return "browser-stack" if Path(path).name in BROWSER_STACK_FILES else path

    return ByFile(config, log)


@pytest.hookimpl(tryfirst=True)  # before -m reads the marks
def pytest_collection_modifyitems(items) -> None:
    """Items that share a node id run serially: xdist tells items apart by it and would run one
    of them (schemathesis gives every API operation its test's id: 55 of 57 went unrun)."""
    seen = Counter(item.nodeid for item in items)
    for item in items:
        if seen[item.nodeid] > 1:
            item.add_marker(pytest.mark.serial)


@pytest.fixture(params=DB_KINDS)
def engine(request, tmp_path) -> Iterator[Engine]:
    """A migrated, empty database: SQLite always, PostgreSQL too when
    XIAOBAO_TEST_POSTGRES_URL is set."""
    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'test.db'}")
        upgrade(eng)
        yield eng
        eng.dispose()
    else:
        url, drop = _fresh_postgres()
        eng = make_engine(url)
        upgrade(eng)
        yield eng
        eng.dispose()
        drop()


@pytest.fixture(scope="session")
def seeded_retriever(tmp_path_factory):
    """The shipped seed knowledge base, indexed with the real model (built once per session)."""
    from tests.bench.bench_retrieval import seeded_retriever as build

    retriever, figures = build(tmp_path_factory.mktemp("seeded"))
    retriever.build_figures = figures
    return retriever


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory) -> Iterator[RedisServer]:
    """A private redis-server (never the shared one): the tests may flush it."""
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
