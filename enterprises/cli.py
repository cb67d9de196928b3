"""`xiaobao enterprises …`: the register (一企一档) on the command line — import, export, show
one enterprise (a logged read, with a reason), its history, and the development seed.

Every refusal is its sentence (Chinese, then English) on stderr and exit code 1, with nothing
stored.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import typer

from xiaobao.errors import XiaobaoError

app = typer.Typer(no_args_is_help=True)
SEED = Path(__file__).resolve().parent / "seed"
SEED_FILES = (("sample_register.csv", "市场监管登记"), ("sample_declared.csv", "企业自报"))


def _fail(message: str) -> None:
    typer.echo(message, err=True)
    raise typer.Exit(1)


def _day(text: str, option: str) -> dt.date | None:
    from policies.facts import parse_date

    if not text:
        return None
    try:
        return parse_date(text)
    except ValueError:
        _fail(f"{option} 日期格式应为 YYYY-MM-DD：{text[:20]} / {option} must be YYYY-MM-DD")
    return None


def in_register(work):
    """``work(session)`` in one transaction on the migrated database; a refusal rolls it all
    back and is printed, never a traceback."""
    from xiaobao.db import get_engine, session_scope, upgrade

    engine = get_engine()
    upgrade(engine)
    try:
        with session_scope(engine) as s:
            return work(s)
    except XiaobaoError as exc:
        _fail(exc.message)


@app.command("import")
def import_command(
        files: list[Path] = typer.Argument(..., exists=True, dir_okay=False,
                                           help=".xlsx, .csv (UTF-8 or GB18030) or .jsonl"),
        source: str = typer.Option("企业自报", help="where the facts come from (市场监管登记, "
                                                   "税务, 人社, 科委认定名单, 企业自报 …)"),
        as_of: str = typer.Option("", "--as-of", help="the facts' as-of date, YYYY-MM-DD "
                                                      "(default today; a column as_of wins)"),
        dry_run: bool = typer.Option(False, "--dry-run", help="check and report, store nothing"),
        by: str = typer.Option("cli", help="who loads them (kept with every fact)")) -> None:
    """Import facts: all rows or none, idempotent, every bad row listed."""
    from enterprises.importing import import_files

    day = _day(as_of, "--as-of")
    report = in_register(lambda s: import_files(s, list(files), source=source, by=by,
                                                as_of=day, dry_run=dry_run))
    head = "预览（未写入）/ dry run" if dry_run else "已导入 / imported"
    typer.echo(f"{head}: rows={report.rows} enterprises_created={len(report.created)} "
               f"facts_added={report.facts_added} facts_unchanged={report.facts_unchanged} "
               f"batch={report.batch}")


@app.command("export")
def export_command(file: Path = typer.Argument(..., dir_okay=False,
                                               help=".xlsx, .csv or .jsonl"),
                   by: str = typer.Option("cli", help="who exports (logged)")) -> None:
    """Every enterprise's current facts to FILE (logged in the register's audit)."""
    from enterprises.importing import export

    count = in_register(lambda s: export(s, file, by=by))
    typer.echo(f"已导出 / exported {count} → {file}")


def _shown(value, unit: str = "") -> str:
    from policies.evaluator import shown_value

    return shown_value(value, unit)


@app.command("show")
def show_command(uscc: str,
                 reason: str = typer.Option("", help="why you read this record (logged)"),
                 by: str = typer.Option("cli", help="who reads (logged)"),
                 date: str = typer.Option("", help="as of this day, YYYY-MM-DD (default "
                                                   "today)")) -> None:
    """One enterprise's record with each fact's source and as-of date (a logged read)."""
    from enterprises.register import read_profile
    from policies.fields import default_dictionary

    day = _day(date, "--date")
    found = in_register(lambda s: read_profile(s, uscc, actor=by, reason=reason, day=day))
    dictionary = default_dictionary()
    typer.echo(f"{found.name or '（无名称）'}  {found.uscc}  （{found.day}）")
    for name, v in found.fields.items():
        f = dictionary[name]
        kind = "权威" if v.authoritative else "自述"
        fresh = "有效" if v.fresh else "已过时效"
        line = f"  {f.label}：{_shown(v.value, f.unit)}  [{v.source}，{v.as_of}，{kind}，{fresh}]"
        if v.declared_as_of is not None:
            line += (f"  企业自述：{_shown(v.declared_value, f.unit)}"
                     f"（{v.declared_source}，{v.declared_as_of}）")
        typer.echo(line)
    typer.echo(f"可用于免申即享的字段 / authoritative and fresh: "
               f"{'、'.join(sorted(found.authoritative_fresh)) or '无'}")


@app.command("history")
def history_command(uscc: str, field: str = typer.Option(None, help="one field only"),
                    reason: str = typer.Option("", help="why you read this record (logged)"),
                    by: str = typer.Option("cli", help="who reads (logged)")) -> None:
    """Every fact ever stored for one enterprise, oldest first (a logged read)."""
    from enterprises.register import history, read_profile

    def work(s):
        read_profile(s, uscc, actor=by, reason=reason)
        return history(s, uscc, field)

    for r in in_register(work):
        typer.echo(f"{r['as_of']} {r['field']}={r['value']} [{r['source']}] "
                   f"{r['loaded_by']} {r['loaded_at'][:19]} {r['batch']}")


@app.command("seed")
def seed_command(if_empty: bool = typer.Option(False, "--if-empty",
                                              help="only into a register with no enterprise")
                 ) -> None:
    """Load the fictitious development register (enterprises/seed/), idempotently."""
    from sqlalchemy import func, select

    from enterprises.importing import import_files
    from enterprises.models import Enterprise

    def work(s):
        if if_empty and s.scalar(select(func.count()).select_from(Enterprise)):
            return None
        return [import_files(s, [SEED / name], source=source, by="seed")
                for name, source in SEED_FILES]

    reports = in_register(work)
    if reports is None:
        typer.echo("登记簿非空，未加载样例 / register not empty: seed skipped")
        return
    typer.echo(f"seeded: enterprises={sum(len(r.created) for r in reports)} "
               f"facts_added={sum(r.facts_added for r in reports)}")
