"""`xiaobao kb …`: import, export, history, publish and archive from the shell.

Every write goes through :class:`KnowledgeBaseService`, which commits and then
announces the change to running gateways. (`xiaobao kb search` is the search
package's command; the command-line root, ``cli.main``, adds it to this group.)
"""
from __future__ import annotations

import getpass
from collections import Counter
from pathlib import Path
from typing import NoReturn

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from knowledge_base import io, store
from knowledge_base.card import is_home_page, review_state
from knowledge_base.changes import redis_announcer
from knowledge_base.models import STATUSES, Entry
from knowledge_base.service import KnowledgeBaseService

app = typer.Typer(no_args_is_help=True)
out = Console()
err = Console(stderr=True)
SEED_DIR = Path(__file__).parent / "seed"


def _service() -> KnowledgeBaseService:
    """The migrated database, announcing to running gateways (best effort) over Redis."""

    from xiaobao import redis_clients
    from xiaobao.db import get_engine, upgrade
    from xiaobao.settings import get_settings

    engine = get_engine()
    upgrade(engine)
    settings = get_settings()
    client = redis_clients.client(settings.redis_url, text=False, read_timeout_s=1)
    return KnowledgeBaseService(engine, redis_announcer(client),
                                review_max_age_days=settings.kb_review_max_age_days)


def _fail(message: str, code: int = 1) -> NoReturn:
    # Text, not markup: a reason such as "[answer]" must print as it is, and unwrapped.
    err.print(Text("错误 / error: ", style="bold red") + Text(message), soft_wrap=True)
    raise typer.Exit(code)


ByOption = typer.Option(None, "--by", help="who makes the change (default: the system user)")


@app.command("import")
def import_(files: list[Path] = typer.Argument(..., help="YAML, JSON Lines, CSV or XLSX files"),
            by: str | None = ByOption,
            dry_run: bool = typer.Option(False, "--dry-run",
                                         help="check and report what would change; write "
                                              "nothing")) -> None:
    """Import entries (all files in one transaction: all or nothing, idempotent by id)."""
    _import(files, by or getpass.getuser(), dry_run=dry_run)


def _import(files: list[Path], actor: str, service: KnowledgeBaseService | None = None, *,
            dry_run: bool = False) -> None:
    """Validate every file before the database is touched; then one all-or-nothing import."""
    for f in files:
        if not f.is_file():
            _fail(f"文件不存在 / no such file: {f}", 2)
    try:
        entries = [e for f in files for e in io.parse_entries(f)]
        dupes = {i for i, n in Counter(e.id for e in entries).items() if n > 1}
        if dupes:
            _fail(f"多个文件含相同 id / the same id in several files: {', '.join(sorted(dupes))}")
        summary = (service or _service()).import_entries(entries, actor, dry_run=dry_run)
    except store.KnowledgeBaseError as exc:
        _fail(exc.message)
    if dry_run:
        out.print(f"预检通过，未写入 / dry run, nothing written: 将新增 would create "
                  f"{len(summary.created)}, 将更新 would update {len(summary.updated)}, 未变 "
                  f"unchanged {len(summary.unchanged)}", soft_wrap=True)
        return
    out.print(f"导入完成 / imported: 新增 created {len(summary.created)}, 更新 updated "
              f"{len(summary.updated)}, 未变 unchanged {len(summary.unchanged)}")


@app.command("seed")
def seed(by: str = typer.Option("seed", "--by"),
         if_empty: bool = typer.Option(False, "--if-empty",
                                       help="only into an empty knowledge base")) -> None:
    """Import the shipped seed knowledge base (knowledge_base/seed/*.yaml)."""
    service = _service()
    if if_empty and service.count():
        return
    _import(sorted(SEED_DIR.glob("*.yaml")), by, service)


@app.command("export")
def export(file: Path,
           status: str | None = typer.Option(None, help="only entries with this status")) -> None:
    """Export entries; the format follows the file's extension."""
    if status and status not in STATUSES:
        _fail(f"状态应为 {'/'.join(STATUSES)} / status must be one of {STATUSES}", 2)
    try:
        n = _service().export(file, status)
    except store.KnowledgeBaseError as exc:
        _fail(exc.message)
    out.print(f"已导出 {n} 条 / exported {n} entries → {file}")


@app.command("history")
def history(entry_id: str) -> None:
    """Every version of an entry, and who made it."""
    try:
        rows = _service().history(entry_id)
    except store.KnowledgeBaseError as exc:
        _fail(exc.message)
    table = Table("version", "status", "by", "at", "question")
    for v in rows:
        table.add_row(str(v.version), v.data["status"], v.changed_by,
                      v.changed_at.strftime("%Y-%m-%d %H:%M:%S"), v.data["question"])
    out.print(table)


@app.command("diff")
def diff(entry_id: str, old: int, new: int) -> None:
    """What changed between two versions of an entry."""
    try:
        text = _service().diff(entry_id, old, new)
    except store.KnowledgeBaseError as exc:
        _fail(exc.message)
    out.print(text or "（无差异 / no difference）", highlight=False)


def _done(entry: Entry) -> None:
    out.print(f"{entry.id} → 版本 version {entry.version}")


@app.command("rollback")
def rollback(entry_id: str, version: int, by: str | None = ByOption) -> None:
    """Make an earlier version current again (as a new version)."""
    try:
        entry = _service().rollback(entry_id, version, by or getpass.getuser())
    except store.KnowledgeBaseError as exc:
        _fail(exc.message)
    _done(entry)


@app.command("publish")
def publish(entry_id: str, by: str | None = ByOption) -> None:
    """Publish an entry: the bot may answer with it (inside its validity window)."""
    try:
        entry = _service().publish(entry_id, by or getpass.getuser())
    except store.KnowledgeBaseError as exc:
        _fail(exc.message)
    _done(entry)


@app.command("archive")
def archive(entry_id: str, by: str | None = ByOption) -> None:
    """Archive an entry: kept with its history, no longer answered with."""
    try:
        entry = _service().archive(entry_id, by or getpass.getuser())
    except store.KnowledgeBaseError as exc:
        _fail(exc.message)
    _done(entry)


@app.command("stale")
def stale(all_statuses: bool = typer.Option(False, "--all",
                                            help="drafts and archived entries too")) -> None:
    """Entries to check against their source: never reviewed, or not for longer than
    XIAOBAO_KB_REVIEW_MAX_AGE_DAYS (default 180). Exits 0; lists nothing when all are current."""
    service = _service()
    rows = service.needing_review(status=None if all_statuses else "published")
    table = Table("id", "status", "核对 review", "by", "question", "link")
    for e in rows:
        state = review_state(e.reviewed_on, service.review_max_age_days)
        said = "未核对 never" if state == "unreviewed" else f"{e.reviewed_on} 超期 overdue"
        link = "需深链接 home page" if is_home_page(e.source_url) else ""
        table.add_row(e.id, e.status, said, e.reviewed_by, e.question, link)
    if rows:
        out.print(table)
    out.print(f"待核对 {len(rows)} 条 / {len(rows)} entries need review "
              f"(>{service.review_max_age_days} 天 days or never)")
