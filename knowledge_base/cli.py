"""`xiaobao kb …`: import, export, search, history, publish and archive from the shell."""
from __future__ import annotations

import getpass
import json
import sys
from collections import Counter
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from knowledge_base import io, store
from knowledge_base.models import STATUSES
from xiaobao.db import get_engine, session_scope, upgrade

app = typer.Typer(no_args_is_help=True)
out = Console()
err = Console(stderr=True)
SEED_DIR = Path(__file__).parent / "seed"


def _engine():
    engine = get_engine()
    upgrade(engine)
    return engine


def _fail(message: str, code: int = 1) -> None:
    # Text, not markup: a reason such as "[answer]" must print as it is, and unwrapped.
    err.print(Text("错误 / error: ", style="bold red") + Text(message), soft_wrap=True)
    raise typer.Exit(code)


def _announce(ids: list[str]) -> None:
    """Tell running gateways (best effort) so their index follows within a second."""
    import redis

    from retrieval.sync import publish_changes
    from xiaobao.settings import get_settings

    publish_changes(redis.Redis.from_url(get_settings().redis_url, socket_timeout=1), ids)


ByOption = typer.Option(None, "--by", help="who makes the change (default: the system user)")


@app.command("import")
def import_(files: list[Path] = typer.Argument(..., help="YAML, JSON Lines, CSV or XLSX files"),
            by: str | None = ByOption) -> None:
    """Import entries (all files in one transaction: all or nothing, idempotent by id)."""
    actor = by or getpass.getuser()
    for f in files:
        if not f.is_file():
            _fail(f"文件不存在 / no such file: {f}", 2)
    try:
        entries = [e for f in files for e in io.parse_entries(f)]
        dupes = {i for i, n in Counter(e.id for e in entries).items() if n > 1}
        if dupes:
            _fail(f"多个文件含相同 id / the same id in several files: {', '.join(sorted(dupes))}")
        with session_scope(_engine()) as s:
            summary = store.save_entries(s, entries, actor, action="import")
    except store.KnowledgeBaseError as exc:
        _fail(exc.message)
    _announce(summary.changed_ids)
    out.print(f"导入完成 / imported: 新增 created {len(summary.created)}, 更新 updated "
              f"{len(summary.updated)}, 未变 unchanged {len(summary.unchanged)}")


@app.command("seed")
def seed(by: str = typer.Option("seed", "--by"),
         if_empty: bool = typer.Option(False, "--if-empty", help="only into an empty knowledge base")) -> None:
    """Import the shipped seed knowledge base (knowledge_base/seed/*.yaml)."""
    if if_empty:
        with session_scope(_engine()) as s:
            if store.count_entries(s):
                return
    import_(sorted(SEED_DIR.glob("*.yaml")), by)


@app.command("export")
def export(file: Path, status: str | None = typer.Option(None, help="only entries with this status")) -> None:
    """Export entries; the format follows the file's extension."""
    if status and status not in STATUSES:
        _fail(f"状态应为 {'/'.join(STATUSES)} / status must be one of {STATUSES}", 2)
    try:
        with session_scope(_engine()) as s:
            n = io.export_file(s, file, status)
    except store.KnowledgeBaseError as exc:
        _fail(exc.message)
    out.print(f"已导出 {n} 条 / exported {n} entries → {file}")


@app.command("search")
def search(query: str | None = typer.Argument(None),
           top_k: int = typer.Option(5, "--top-k", min=1, max=50),
           as_json: bool = typer.Option(False, "--json"),
           batch: Path | None = typer.Option(None, "--batch", help="one query a line")) -> None:
    """Search the knowledge base as the bot would (decision and ranked hits)."""
    from retrieval.service import get_retriever
    from retrieval.types import QueryError

    if (query is None) == (batch is None):
        _fail("请给出一个问题或 --batch 文件 / give either a QUERY or --batch FILE", 2)
    retriever = get_retriever()
    if batch is not None:
        if not batch.is_file():
            _fail(f"文件不存在 / no such file: {batch}", 2)
        queries = batch.read_text("utf-8").splitlines()
        for q, r in zip(queries, retriever.search_many(queries, top_k)):
            if isinstance(r, QueryError):
                line = {"query": q, "decision": "error", "error": r.message, "hits": []}
            else:
                line = {"query": q, "decision": r.decision,
                        "hits": [{"id": h.id, "score": h.score} for h in r.hits]}
            sys.stdout.write(json.dumps(line, ensure_ascii=False) + "\n")
        return
    try:
        result = retriever.search(query, top_k)
    except QueryError as exc:
        _fail(exc.message)
    if as_json:
        sys.stdout.write(json.dumps(result.to_dict(), ensure_ascii=False) + "\n")
        return
    out.print(f"决定 decision: [bold]{result.decision}[/]  ({result.reason})")
    table = Table("id", "score", "cos", "bm25", "question", "source")
    for h in result.hits:
        table.add_row(h.id, f"{h.score:.3f}", f"{h.dense:.3f}", f"{h.sparse:.2f}", h.question, h.source)
    out.print(table)


@app.command("history")
def history(entry_id: str) -> None:
    """Every version of an entry, and who made it."""
    try:
        with session_scope(_engine()) as s:
            rows = store.history(s, entry_id)
            table = Table("version", "status", "by", "at", "question")
            for v in rows:
                table.add_row(str(v.version), v.data["status"], v.changed_by,
                              v.changed_at.strftime("%Y-%m-%d %H:%M:%S"), v.data["question"])
    except store.KnowledgeBaseError as exc:
        _fail(exc.message)
    out.print(table)


@app.command("diff")
def diff(entry_id: str, old: int, new: int) -> None:
    """What changed between two versions of an entry."""
    try:
        with session_scope(_engine()) as s:
            out.print(store.diff(s, entry_id, old, new) or "（无差异 / no difference）", highlight=False)
    except store.KnowledgeBaseError as exc:
        _fail(exc.message)


def _change(entry_id: str, action, by: str | None) -> None:
    try:
        with session_scope(_engine()) as s:
            entry = action(s, by or getpass.getuser())
            version = entry.version
    except store.KnowledgeBaseError as exc:
        _fail(exc.message)
    _announce([entry_id])
    out.print(f"{entry_id} → 版本 version {version}")


@app.command("rollback")
def rollback(entry_id: str, version: int, by: str | None = ByOption) -> None:
    """Make an earlier version current again (as a new version)."""
    _change(entry_id, lambda s, a: store.rollback(s, entry_id, version, a), by)


@app.command("publish")
def publish(entry_id: str, by: str | None = ByOption) -> None:
    _change(entry_id, lambda s, a: store.set_status(s, entry_id, "published", a), by)


@app.command("archive")
def archive(entry_id: str, by: str | None = ByOption) -> None:
    _change(entry_id, lambda s, a: store.set_status(s, entry_id, "archived", a), by)
