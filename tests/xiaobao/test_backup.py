"""`xiaobao backup` and `xiaobao restore`: a copy taken while a real gateway process serves
chat turns (and the packages write ratings) restores into a new home with exactly the counts
the backup reported; a restore never goes over stored data; a damaged file is refused; the
same round trip on PostgreSQL when XIAOBAO_TEST_POSTGRES_URL is set."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.api.conftest import (  # noqa: F401  (the real gateway process and its fixtures)
    _rasa_server,
    gateway_process,
    rasa,
    redis_client,
    redis_url,
)
from tests.conftest import DB_KINDS, _fresh_postgres
from xiaobao.backup import BackupError, backup, read_backup, restore, stored_rows
from xiaobao.db import make_engine, session_scope, upgrade
from xiaobao.events import record_event
from xiaobao.settings import REPO_ROOT


def xiaobao(*args: str, home: Path, database_url: str = "") -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("XIAOBAO_")}
    env["XIAOBAO_HOME"] = str(home)
    if database_url:
        env["XIAOBAO_DATABASE_URL"] = database_url
    return subprocess.run([sys.executable, "-m", "cli.main", *args], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def reported(output: str) -> tuple[str, dict[str, int]]:
    """The revision and counts a backup or restore printed."""
    pairs = dict(line.split("=", 1) for line in output.splitlines() if "=" in line)
    revision = pairs.pop("revision")
    pairs.pop("file")
    return revision, {name: int(n) for name, n in pairs.items()}


def count(engine, query: str) -> int:
    with engine.connect() as conn:
        return conn.execute(text(query)).scalar_one()


def rate(engine, n: int) -> None:
    with session_scope(engine) as session:
        record_event(session, "rating", conversation_id=f"c{n}", rating="满意")


@pytest.mark.slow
def test_backup_during_traffic_restores_exactly_what_it_reported(
        gateway_process, rasa, tmp_path):  # noqa: F811 (the fixtures imported above)
    engine = gateway_process.engine
    gateway_process.start()
    stop = threading.Event()
    posted: list[int] = []
    failures: list[str] = []

    def chat() -> None:  # four visitors, under the per-visitor and per-address limits
        for visitor in range(4):
            with httpx.Client(base_url=gateway_process.base, timeout=10,
                              headers={"Origin": gateway_process.base}) as user:
                user.get("/")
                for turn in range(25):
                    if stop.is_set():
                        return
                    answer = user.post("/api/chat/messages", json={"text": f"营业执照{turn}"})
                    if answer.status_code != 200:
                        failures.append(answer.text)
                    posted.append(visitor)

    def ratings() -> None:  # the packages writing beside the gateway, as the bot's actions do
        n = 0
        while not stop.is_set():
            rate(engine, n)
            n += 1
            time.sleep(0.01)

    writers = [threading.Thread(target=chat), threading.Thread(target=ratings)]
    for writer in writers:
        writer.start()
    try:
        deadline = time.monotonic() + 30
        while count(engine, "SELECT count(*) FROM messages") < 20:
            assert time.monotonic() < deadline, gateway_process.log()
            time.sleep(0.05)
        done = xiaobao("backup", str(tmp_path / "copy.db"), home=gateway_process.home)
        time.sleep(0.5)  # traffic goes on after the copy
    finally:
        stop.set()
        for writer in writers:
            writer.join(60)
    assert done.returncode == 0, done.stderr
    assert failures == []
    revision, counts = reported(done.stdout)
    assert revision == count(engine, "SELECT version_num FROM alembic_version")
    assert counts["messages"] >= 20 and counts["ratings"] > 0
    after = (count(engine, "SELECT count(*) FROM messages"),
             count(engine, "SELECT count(*) FROM events WHERE kind = 'rating'"))
    print(f"copied at messages={counts['messages']} ratings={counts['ratings']}; "
          f"after the traffic messages={after[0]} ratings={after[1]}")
    assert after[0] > counts["messages"] or after[1] > counts["ratings"]  # a moment, not the end

    new_home = tmp_path / "new-home"
    restored = xiaobao("restore", str(tmp_path / "copy.db"), home=new_home)
    assert restored.returncode == 0, restored.stderr
    assert reported(restored.stdout) == (revision, counts)
    copy = make_engine(f"sqlite:///{new_home / 'xiaobao.db'}")
    assert count(copy, "SELECT count(*) FROM messages") == counts["messages"]
    assert count(copy, "SELECT count(*) FROM events WHERE kind = 'rating'") == counts["ratings"]
    copy.dispose()


def _home_with_data(home: Path, ratings: int) -> Path:
    home.mkdir()
    engine = make_engine(f"sqlite:///{home / 'xiaobao.db'}")
    upgrade(engine)
    for n in range(ratings):
        rate(engine, n)
    engine.dispose()
    return home / "xiaobao.db"


def test_restore_into_a_home_with_data_is_refused_and_changes_nothing(tmp_path):
    _home_with_data(tmp_path / "source", ratings=3)
    assert xiaobao("backup", str(tmp_path / "copy.db"), home=tmp_path / "source").returncode == 0
    target = _home_with_data(tmp_path / "target", ratings=1)
    before = target.read_bytes()

    done = xiaobao("restore", str(tmp_path / "copy.db"), home=tmp_path / "target")
    assert done.returncode == 1
    assert "目标数据库已有数据" in done.stderr and "already holds data" in done.stderr
    assert "Traceback" not in done.stderr
    engine = make_engine(f"sqlite:///{target}")
    assert stored_rows(engine) == {"events": 1}
    engine.dispose()
    assert target.read_bytes() == before


def test_backup_refuses_to_replace_a_file_unless_told(tmp_path):
    _home_with_data(tmp_path / "home", ratings=2)
    (tmp_path / "copy.db").write_bytes(b"an older backup")
    done = xiaobao("backup", str(tmp_path / "copy.db"), home=tmp_path / "home")
    assert done.returncode == 1 and "--overwrite" in done.stderr
    assert (tmp_path / "copy.db").read_bytes() == b"an older backup"
    done = xiaobao("backup", str(tmp_path / "copy.db"), "--overwrite", home=tmp_path / "home")
    assert done.returncode == 0, done.stderr
    assert read_backup(tmp_path / "copy.db").counts["ratings"] == 2


def _truncated(tmp_path: Path) -> Path:
    _home_with_data(tmp_path / "source", ratings=50)
    good = backup(make_engine(f"sqlite:///{tmp_path / 'source' / 'xiaobao.db'}"),
                  tmp_path / "good.db").path
    bad = tmp_path / "truncated.db"
    bad.write_bytes(good.read_bytes()[:8192])
    return bad


def _garbage(tmp_path: Path) -> Path:
    bad = tmp_path / "garbage.db"
    bad.write_bytes(b"PGDMP not an sqlite file at all" * 100)
    return bad


def _foreign(tmp_path: Path) -> Path:
    bad = tmp_path / "foreign.db"
    engine = create_engine(f"sqlite:///{bad}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    engine.dispose()
    return bad


def _empty(tmp_path: Path) -> Path:
    bad = tmp_path / "empty.db"
    bad.write_bytes(b"")
    return bad


@pytest.mark.parametrize(("make_bad", "said"), [
    (_truncated, "backup file"), (_garbage, "not an SQLite database"),
    (_foreign, "no Alembic revision"), (_empty, "missing or empty")])
def test_a_damaged_backup_is_refused_and_nothing_is_written(tmp_path, make_bad, said):
    bad = make_bad(tmp_path)
    done = xiaobao("restore", str(bad), home=tmp_path / "new-home")
    assert done.returncode == 1
    assert said in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "new-home" / "xiaobao.db").exists()


def test_an_older_copy_is_migrated_to_head_on_restore(tmp_path):
    from alembic import command
    from alembic.config import Config

    old = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    cfg = Config()
    cfg.set_main_option("script_location", str(REPO_ROOT / "migrations"))
    with old.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0015_enterprise_sessions")
    copy = backup(old, tmp_path / "old-copy.db")
    assert copy.revision == "0015_enterprise_sessions"
    assert "notifications" in copy.counts and "batch_runs" not in copy.counts

    target = make_engine(f"sqlite:///{tmp_path / 'home' / 'xiaobao.db'}")
    restored = restore(target, tmp_path / "old-copy.db")
    assert restored.revision == "0017_api_tokens"
    assert count(target, "SELECT count(*) FROM batch_runs") == 0
    target.dispose()


def test_a_copy_newer_than_this_code_is_refused(tmp_path):
    _home_with_data(tmp_path / "home", ratings=1)
    source = make_engine(f"sqlite:///{tmp_path / 'home' / 'xiaobao.db'}")
    with source.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    backup(source, tmp_path / "future.db")
    target = make_engine(f"sqlite:///{tmp_path / 'new' / 'xiaobao.db'}")
    with pytest.raises(BackupError, match="newer than this"):
        restore(target, tmp_path / "future.db")
    assert not (tmp_path / "new" / "xiaobao.db").exists()


def _scratch(kind: str, tmp_path: Path, name: str) -> tuple[str, object]:
    if kind == "postgres":
        return _fresh_postgres()  # a database of a unique name, dropped afterwards
    return f"sqlite:///{tmp_path / name / 'xiaobao.db'}", lambda: None


@pytest.mark.parametrize("kind", DB_KINDS)
def test_round_trip_into_a_scratch_database(kind, tmp_path):
    """On SQLite always, on PostgreSQL (pg_dump, pg_restore) when a server is given."""
    source_url, drop_source = _scratch(kind, tmp_path, "source")
    target_url, drop_target = _scratch(kind, tmp_path, "target")
    (tmp_path / "source").mkdir()
    source, target = make_engine(source_url), make_engine(target_url)
    try:
        upgrade(source)
        for n in range(7):
            rate(source, n)
        copy = backup(source, tmp_path / "copy")
        assert copy.counts["ratings"] == 7
        rate(source, 99)  # after the copy: not in it

        if kind == "postgres":
            upgrade(target)  # migrated but empty: still a place a restore may go
        restored = restore(target, tmp_path / "copy")
        assert (restored.revision, restored.counts) == (copy.revision, copy.counts)
        assert count(target, "SELECT count(*) FROM events WHERE kind = 'rating'") == 7

        with pytest.raises(BackupError, match="already holds data"):
            restore(source, tmp_path / "copy")
        assert count(source, "SELECT count(*) FROM events WHERE kind = 'rating'") == 8
    finally:
        source.dispose()
        target.dispose()
        drop_source()
        drop_target()


def test_postgres_without_pg_dump_names_the_command(tmp_path, monkeypatch):
    """No server needed: the tool is looked for before anything runs."""
    import xiaobao.backup as backup_module

    monkeypatch.setattr(backup_module.shutil, "which", lambda name: None)
    with pytest.raises(BackupError) as refused:
        backup_module._tool("pg_dump", ["pg_dump", "--format=custom", "--file=x.dump",
                                        "postgresql://u@h/db"])
    assert "找不到 pg_dump" in refused.value.message
    assert "pg_dump --format=custom --file=x.dump" in refused.value.message
