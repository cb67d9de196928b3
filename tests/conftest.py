"""Fixtures shared by every test package: databases (SQLite, and PostgreSQL when a URL is given)."""
from __future__ import annotations

import atexit
import json
import os
import shutil
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.exc import OperationalError

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

# The files that share tests/bot/conftest.py's ``bot_stack`` (one `rasa run` for both).
BOT_STACK_FILES = {"test_rasa_server.py", "test_rasa_phone_codes.py",
                   "test_rasa_policy_check_signed_in.py", "test_tracker_window.py"}


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class ByFile(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            name = Path(path).name
            if name in BROWSER_STACK_FILES:
                return "browser-stack"
            return "bot-stack" if name in BOT_STACK_FILES else path

    return ByFile(config, log)


# `make test-fast` leaves these out (``-m "not rasa and not browser and not slow"``): files that
# start other processes (a gateway, nginx, a second Redis) or spend most of a minute in the real
# embedding model's training or evaluation. `make test` runs them all.
SLOW_FILES = {
    "tests/api/test_faults.py", "tests/api/test_faults_handoff.py", "tests/api/test_restart.py",
    "tests/api/test_import_responsiveness.py", "tests/api/test_proxy_headers.py",
    "tests/handoff/test_load.py", "tests/bench/test_reconcile.py",
    "tests/retrieval/test_adapt.py", "tests/retrieval/test_quality.py",
    "tests/retrieval/test_model_convert.py", "tests/retrieval/test_embedder.py",
    "tests/retrieval/test_cli.py", "tests/api/test_push_once.py",
    "tests/notifications/test_cli.py", "tests/xiaobao/test_sentinel.py",
    "tests/test_postgres_server.py", "tests/api/test_faults_database.py",
    "tests/deploy/test_soak.py",
}


@pytest.hookimpl(tryfirst=True)  # before -m reads the marks
def pytest_collection_modifyitems(items) -> None:
    """Items that share a node id run serially: xdist tells items apart by it and would run one
    of them (schemathesis gives every API operation its test's id: 55 of 57 went unrun).
    Browser files (``*_browser.py``) are marked ``browser``, the files above ``slow``."""
    seen = Counter(item.nodeid for item in items)
    for item in items:
        if seen[item.nodeid] > 1:
            item.add_marker(pytest.mark.serial)
        path = item.nodeid.split("::", 1)[0]
        if path.endswith("_browser.py"):
            item.add_marker(pytest.mark.browser)
        if path in SLOW_FILES:
            item.add_marker(pytest.mark.slow)


class _MigratedOnce:
    """The schema migrated once per test process, then handed to each test empty.

    Migrating per test cost ~0.1 s on SQLite and over a second on PostgreSQL under load (most
    of it CREATE/DROP DATABASE, which checkpoint). So SQLite gets a copy of a file migrated
    once, and PostgreSQL one database per process whose tables are emptied (TRUNCATE …
    RESTART IDENTITY, so ids start at 1 as in a new database) before each test. A test that
    leaves the schema itself changed is not expected; `tests/migrations` builds its own."""

    def __init__(self) -> None:
        self.sqlite_file: Path | None = None
        self.pg_url = ""
        self.pg_tables: list[str] = []
        self.pg_drop = None

    def sqlite(self, target: Path) -> Engine:
        if self.sqlite_file is None:
            import tempfile

            folder = Path(tempfile.mkdtemp(prefix="xiaobao-schema-"))
            eng = make_engine(f"sqlite:///{folder / 'migrated.db'}")
            upgrade(eng)
            eng.dispose()
            self.sqlite_file = folder / "migrated.db"
        shutil.copyfile(self.sqlite_file, target)
        return make_engine(f"sqlite:///{target}")

    def postgres(self) -> Engine:
        if not self.pg_url:
            self.pg_url, self.pg_drop = _fresh_postgres()
            eng = make_engine(self.pg_url)
            upgrade(eng)
            self.pg_tables = [t for t in inspect(eng).get_table_names() if t != "alembic_version"]
            eng.dispose()
            atexit.register(self.pg_drop)
        eng = make_engine(self.pg_url)
        names = ", ".join(f'"{t}"' for t in self.pg_tables)
        try:
            with eng.begin() as conn:
                conn.execute(text("SET LOCAL lock_timeout = '10s'"))
                conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        except OperationalError:  # an earlier test still holds a lock: start a new database
            eng.dispose()
            self.pg_url = ""
            return self.postgres()
        return eng


_MIGRATED = _MigratedOnce()


@pytest.fixture(params=DB_KINDS)
def engine(request, tmp_path) -> Iterator[Engine]:
    """A migrated, empty database: SQLite always, PostgreSQL too when
    XIAOBAO_TEST_POSTGRES_URL is set."""
    if request.param == "sqlite":
        eng = _MIGRATED.sqlite(tmp_path / "test.db")
    else:
        eng = _MIGRATED.postgres()
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def seeded_retriever(tmp_path_factory):
    """The shipped seed knowledge base, indexed with the real model: embedded once per test run
    (the first worker to need it builds it, under a lock, with its figures), loaded by the
    others from that copy (their own database, the same entries)."""
    from filelock import FileLock

    from tests.bench.bench_retrieval import seeded_retriever as build

    base = tmp_path_factory.getbasetemp()
    # scripts/test.sh names one folder for all its pytest runs; else the run's own.
    shared = Path(os.environ.get("XIAOBAO_TEST_SHARED")
                  or (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base))
    saved, figures_file = shared / "seed-index", shared / "seed-index.json"
    home = tmp_path_factory.mktemp("seeded")
    with FileLock(str(shared / "seed-index.lock")):
        retriever, figures = build(home, saved if figures_file.exists() else None)
        if figures is None:
            figures = json.loads(figures_file.read_text())
        else:
            shutil.copytree(home / "index", saved, dirs_exist_ok=True)
            figures_file.write_text(json.dumps(figures))
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


@pytest.fixture
def on_engine(engine, monkeypatch, tmp_path):
    """The command line's settings point at the test database (SQLite or PostgreSQL), for
    tests that run `xiaobao …` in process (typer's CliRunner)."""
    from xiaobao import db
    from xiaobao import settings as settings_module

    monkeypatch.setenv("XIAOBAO_HOME", str(tmp_path))
    monkeypatch.setenv("XIAOBAO_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.delenv("XIAOBAO_HANDOFF_CONFIG", raising=False)
    settings_module.get_settings.cache_clear()
    db.get_engine.cache_clear()
    yield engine
    db.get_engine.cache_clear()
    settings_module.get_settings.cache_clear()
