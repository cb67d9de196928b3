"""Backups of the record and their restore, on SQLite and on PostgreSQL.

A backup is taken while 小宝 serves: on SQLite with the online backup API (one step, so the
copy is one consistent state of the file however many writers commit meanwhile), on
PostgreSQL with ``pg_dump`` run inside a snapshot this module exported, so the counts it
reports are the counts of exactly what was dumped. The file appears only when complete (a
temporary file beside it, renamed), and is checked before it is reported. A restore goes
only into an empty database: stored data is never overwritten.
"""
from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.engine import make_url

from xiaobao.errors import XiaobaoError

# What a backup reports, each name with the query that counts it (the main tables of every
# package; ratings are events of their kind). A table a revision does not have yet is skipped.
COUNTS = {
    "messages": "SELECT count(*) FROM messages",
    "tickets": "SELECT count(*) FROM handoff_tickets",
    "ratings": "SELECT count(*) FROM events WHERE kind = 'rating'",
    "kb_entries": "SELECT count(*) FROM kb_entries",
    "kb_entry_versions": "SELECT count(*) FROM kb_entry_versions",
    "policies": "SELECT count(*) FROM policy_items",
    "policy_versions": "SELECT count(*) FROM policy_versions",
    "enterprises": "SELECT count(*) FROM enterprises",
    "enterprise_facts": "SELECT count(*) FROM enterprise_facts",
    "notifications": "SELECT count(*) FROM notifications",
}
COUNTED_TABLE = {name: query.split(" FROM ")[1].split()[0] for name, query in COUNTS.items()}


class BackupError(XiaobaoError):
    status = 400
    code = "backup_failed"


@dataclass(frozen=True)
class Snapshot:
    """What one backup file holds (or one restored database): its revision and counts."""

    path: Path
    revision: str
    counts: dict[str, int]

    def lines(self) -> list[str]:
        return [f"file={self.path}", f"revision={self.revision}",
                *(f"{name}={n}" for name, n in self.counts.items())]


def _counts_sqlite(conn: sqlite3.Connection) -> dict[str, int]:
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    return {name: conn.execute(query).fetchone()[0] for name, query in COUNTS.items()
            if COUNTED_TABLE[name] in tables}


def _counts(conn: Connection) -> dict[str, int]:
    tables = set(inspect(conn).get_table_names())
    return {name: conn.execute(text(query)).scalar_one() for name, query in COUNTS.items()
            if COUNTED_TABLE[name] in tables}


def _revision_sqlite(conn: sqlite3.Connection) -> str:
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError:
        row = None
    if row is None:
        raise BackupError("这不是小宝的数据库备份（没有迁移版本）"
                          " / not a 小宝 database backup (no Alembic revision)")
    return row[0]


def _check_sqlite(conn: sqlite3.Connection, path: Path) -> None:
    try:
        result = [row[0] for row in conn.execute("PRAGMA integrity_check")]
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"备份文件已损坏或不是 SQLite 数据库：{path}（{exc}）"
                          f" / the backup file is damaged or not an SQLite database: {path} "
                          f"({exc})") from None
    if result != ["ok"]:
        raise BackupError(f"备份文件完整性检查未通过：{path}（{'; '.join(result[:3])}）"
                          f" / the backup file failed its integrity check: {path}") from None


def _sqlite_path(engine: Engine) -> Path:
    return Path(engine.url.database or "")


def _temporary_beside(target: Path) -> Path:
    return target.with_name(f".{target.name}.{os.getpid()}.partial")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _copy_sqlite(source: sqlite3.Connection, target: Path) -> Snapshot:
    """Copy ``source`` into ``target`` atomically and return what the copy holds."""
    partial = _temporary_beside(target)
    partial.unlink(missing_ok=True)
    try:
        copy = sqlite3.connect(partial)
        try:
            source.backup(copy)  # pages=-1: one step, one consistent state
            # One self-contained file: no -wal beside it to lose on the way to the shelf.
            copy.execute("PRAGMA journal_mode=DELETE")
            _check_sqlite(copy, partial)
            snapshot = Snapshot(target, _revision_sqlite(copy), _counts_sqlite(copy))
        finally:
            copy.close()
        _fsync(partial)
        os.replace(partial, target)
        return snapshot
    finally:
        partial.unlink(missing_ok=True)


def backup(engine: Engine, target: Path, *, overwrite: bool = False) -> Snapshot:
    """Write a consistent copy of the database to ``target`` and say what it holds. An existing
    file is replaced only when asked (it may be the one good backup)."""
    target = target.resolve()
    if not target.parent.is_dir():
        raise BackupError(f"目录不存在：{target.parent} / no such folder: {target.parent}")
    if target.exists() and not overwrite:
        raise BackupError(f"文件已存在：{target}（覆盖请加 --overwrite）"
                          f" / the file exists: {target} (add --overwrite to replace it)")
    if engine.dialect.name == "sqlite":
        database = _sqlite_path(engine)
        if not database.is_file():
            raise BackupError(f"数据库文件不存在：{database} / no database file: {database}")
        source = sqlite3.connect(database, timeout=30)
        try:
            return _copy_sqlite(source, target)
        finally:
            source.close()
    return _pg_dump(engine, target)


def read_backup(path: Path) -> Snapshot:
    """Check an SQLite backup file (integrity, revision) without changing it."""
    path = path.resolve()
    if not path.is_file() or path.stat().st_size == 0:
        raise BackupError(f"备份文件不存在或为空：{path} / the backup file is missing or empty: "
                          f"{path}")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        _check_sqlite(conn, path)
        return Snapshot(path, _revision_sqlite(conn), _counts_sqlite(conn))
    finally:
        conn.close()


def stored_rows(engine: Engine) -> dict[str, int]:
    """Every table of the database holding rows (the migration record aside): empty means a
    restore may go there."""
    with engine.connect() as conn:
        names = [t for t in inspect(conn).get_table_names() if t != "alembic_version"]
        rows = {t: conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one() for t in names}
    return {t: n for t, n in rows.items() if n}


def _refuse_unless_empty(engine: Engine) -> None:
    rows = stored_rows(engine)
    if rows:
        held = ", ".join(f"{t}={n}" for t, n in sorted(rows.items())[:5])
        raise BackupError(f"目标数据库已有数据（{held}），恢复只能在空的数据库中进行，未做任何改动"
                          f" / the target database already holds data ({held}); a restore goes "
                          "only into an empty database; nothing was changed")


def _refuse_unknown_revision(revision: str) -> None:
    """A copy made by a newer 小宝 than this one cannot be migrated: refused before copying."""
    from alembic.script import ScriptDirectory

    from xiaobao.settings import REPO_ROOT

    try:
        ScriptDirectory(str(REPO_ROOT / "migrations")).get_revision(revision)
    except Exception:  # noqa: BLE001 (alembic raises several kinds for an unknown id)
        raise BackupError(f"备份的数据库版本 {revision} 比本程序新，无法恢复，请先升级小宝"
                          f" / the backup's revision {revision} is newer than this 小宝 knows; "
                          "upgrade 小宝 first") from None


def restore(engine: Engine, source: Path) -> Snapshot:
    """Restore ``source`` into the empty database of ``engine``, then migrate it to head."""
    from xiaobao.db import upgrade

    source = source.resolve()
    if engine.dialect.name == "sqlite":
        backup_file = read_backup(source)
        _refuse_unknown_revision(backup_file.revision)
        target = _sqlite_path(engine).resolve()
        if target.exists():
            _refuse_unless_empty(engine)
        engine.dispose()
        target.parent.mkdir(parents=True, exist_ok=True)
        for stale in (Path(f"{target}-wal"), Path(f"{target}-shm")):
            stale.unlink(missing_ok=True)  # the empty database's own journal, not the copy's
        copy_from = sqlite3.connect(f"file:{backup_file.path}?mode=ro", uri=True)
        try:
            _copy_sqlite(copy_from, target)
        finally:
            copy_from.close()
    else:
        _refuse_unless_empty(engine)
        _pg_restore(engine, source)
    upgrade(engine)
    engine.dispose()
    with engine.connect() as conn:
        revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        return Snapshot(source, revision, _counts(conn))


# PostgreSQL: pg_dump and pg_restore, found on PATH.

def _libpq(engine: Engine) -> tuple[str, dict[str, str]]:
    """The database's address for libpq (no password on the command line: PGPASSWORD)."""
    url = make_url(engine.url.render_as_string(hide_password=False))
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = url.password
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _tool(name: str, command: list[str]) -> str:
    found = shutil.which(name)
    if found is None:
        shown = " ".join(command)
        raise BackupError(f"找不到 {name}：请安装 PostgreSQL 客户端（apt-get install "
                          f"postgresql-client），或手动运行：{shown}"
                          f" / {name} not found on PATH: install the PostgreSQL client, or run: "
                          f"{shown}")
    return found


def _run(command: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        said, name = (done.stderr or done.stdout).strip()[-500:], Path(command[0]).name
        raise BackupError(f"{name} 失败（退出码 {done.returncode}）：{said}"
                          f" / {name} failed (exit code {done.returncode}): {said}")


def _pg_dump(engine: Engine, target: Path) -> Snapshot:
    url, env = _libpq(engine)
    partial = _temporary_beside(target)
    with engine.connect() as conn:
        # The counts and the dump read one snapshot: the transaction stays open until pg_dump
        # has attached to it, so what is reported is what the file holds.
        conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
        snapshot_id = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
        counts = _counts(conn)
        revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        command = ["pg_dump", "--format=custom", f"--snapshot={snapshot_id}",
                   f"--file={partial}", url]
        command[0] = _tool("pg_dump", command)
        try:
            _run(command, env)
            _run([_tool("pg_restore", ["pg_restore", "--list", str(partial)]), "--list",
                  str(partial)], env)  # the archive reads back whole
            _fsync(partial)
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
        conn.rollback()
    return Snapshot(target, revision, counts)


def _pg_restore(engine: Engine, source: Path) -> None:
    if not source.is_file() or source.stat().st_size == 0:
        raise BackupError(f"备份文件不存在或为空：{source} / the backup file is missing or empty: "
                          f"{source}")
    url, env = _libpq(engine)
    command = ["pg_restore", "--no-owner", "--exit-on-error", "--single-transaction",
               f"--dbname={url}", str(source)]
    with engine.connect() as conn:
        has_tables = bool(inspect(conn).get_table_names())
    if has_tables:  # a migrated but empty database: its empty tables give way to the copy's
        command[1:1] = ["--clean", "--if-exists"]
    command[0] = _tool("pg_restore", command)
    engine.dispose()
    _run(command, env)
