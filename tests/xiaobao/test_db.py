"""The engine factory: on SQLite a locked database waits (busy timeout, WAL) instead of failing
the turn, shown with real processes writing at once; on PostgreSQL a pooled connection is
checked before use."""
from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from xiaobao.db import make_engine, upgrade
from xiaobao.settings import REPO_ROOT

WRITES = 150  # transactions per process, each holding the write lock a few milliseconds

# One writer: read, write, hold the lock, commit — as a turn records its messages.
WRITER = """
import sys, time
from sqlalchemy import func, select
from xiaobao.db import make_engine, session_scope
from xiaobao.events import Event, record_event
engine = make_engine(sys.argv[1])
print("ready", flush=True)
sys.stdin.readline()  # both start together
for n in range(int(sys.argv[2])):
    with session_scope(engine) as s:
        record_event(s, "rating", conversation_id=f"{sys.argv[3]}-{n}", rating="满意")
        s.flush()
        time.sleep(0.003)
        s.scalar(select(func.count()).select_from(Event))
print("done", flush=True)
"""


def writer(url: str, writes: int, name: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", WRITER, url, str(writes), name], cwd=REPO_ROOT,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
    return proc


@pytest.fixture
def database(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'xiaobao.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


def ratings(url: str) -> int:
    conn = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        return conn.execute("SELECT count(*) FROM events WHERE kind = 'rating'").fetchone()[0]
    finally:
        conn.close()


def test_two_processes_writing_at_once_both_finish_every_write(database):
    procs = [writer(database, WRITES, name) for name in ("a", "b")]
    started = time.monotonic()
    for proc in procs:
        proc.stdin.write("go\n")
        proc.stdin.flush()
    results = [proc.communicate(timeout=120) for proc in procs]
    elapsed = time.monotonic() - started
    for proc, (out, err) in zip(procs, results, strict=True):
        assert "database is locked" not in err
        assert proc.returncode == 0 and out.strip() == "done", err
    assert ratings(database) == 2 * WRITES
    assert elapsed < 60


def test_a_writer_waits_for_a_held_lock_instead_of_failing(database):
    path = database.removeprefix("sqlite:///")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # the write lock, held as a long import would
    try:
        # Without a busy timeout the same write fails at once: the lock is real.
        impatient = sqlite3.connect(path, timeout=0)
        with pytest.raises(sqlite3.OperationalError, match="database is locked"):
            impatient.execute("INSERT INTO events (kind, conversation_id, ticket_id, actor, data,"
                              " at) VALUES ('rating', 'x', '', '', '{}', '2026-01-01')")
        impatient.close()

        proc = writer(database, 1, "patient")
        started = time.monotonic()
        proc.stdin.write("go\n")
        proc.stdin.flush()
        time.sleep(1.5)
        assert proc.poll() is None  # still waiting, not failed
    finally:
        holder.execute("COMMIT")
        holder.close()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and out.strip() == "done", err
    assert time.monotonic() - started >= 1.5
    assert ratings(database) == 1


def test_sqlite_connections_use_wal_and_a_busy_timeout(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert raw.execute("PRAGMA busy_timeout").fetchone()[0] == 30_000
    engine.dispose()


def test_postgres_connections_are_checked_before_use():
    engine = make_engine("postgresql+psycopg2://nobody@127.0.0.1:1/none")  # never connected
    assert engine.pool._pre_ping is True
    engine.dispose()
