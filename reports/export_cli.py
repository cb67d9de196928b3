"""`xiaobao export conversations|tickets|complaints FILE --from D --to D`: the rows that
started in the window (:mod:`reports.exports`) as CSV, XLSX or JSON Lines by FILE's
extension; ``--encoding gb18030`` for a CSV that older Excel opens directly (default UTF-8
with a byte-order mark). Each export is logged (``data_exported`` events, ``--by`` names
who). A bad date, window, extension or encoding exits 2 with a Chinese / English message."""
from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(help="Exports: conversations, tickets and 差评 cases of a window",
                  no_args_is_help=True)

FILE_HELP = ".csv, .xlsx or .jsonl"
FROM_HELP = "First day, YYYY-MM-DD (Asia/Shanghai)"
TO_HELP = "Last day, included"
ENCODING_HELP = "CSV only: utf-8 (with BOM, the default) or gb18030"
BY_HELP = "who exports (logged)"


def _run(kind: str, file: Path, first: str, last: str, encoding: str, by: str) -> None:
    from handoff.config import load_config
    from reports.cli import _date
    from reports.export_files import Export, ExportError, format_of
    from reports.window import WindowError
    from xiaobao.db import get_engine, upgrade
    from xiaobao.settings import get_settings

    start, end = _date(first, "--from"), _date(last, "--to")
    if not file.parent.is_dir():
        typer.echo(f"目录“{file.parent}”不存在。 / No directory {str(file.parent)!r}.", err=True)
        raise typer.Exit(2)
    try:
        fmt = format_of(file)
        engine = get_engine()
        export = Export(engine, kind, start, end, fmt, encoding=encoding, actor=by,
                        config=load_config(get_settings().handoff_config))
    except (ExportError, WindowError) as exc:
        typer.echo(exc.message, err=True)
        raise typer.Exit(2) from None
    upgrade(engine)
    count = export.write(file)
    typer.echo(f"已导出 / exported {count} {kind} → {file}")


def _command(kind: str, doc: str):
    def command(file: Path = typer.Argument(..., dir_okay=False, help=FILE_HELP),
                first: str = typer.Option(..., "--from", help=FROM_HELP),
                last: str = typer.Option(..., "--to", help=TO_HELP),
                encoding: str = typer.Option("utf-8", help=ENCODING_HELP),
                by: str = typer.Option("cli", help=BY_HELP)) -> None:
        _run(kind, file, first, last, encoding, by)

    command.__doc__ = doc
    app.command(kind)(command)


_command("conversations", "One row per conversation that started in the window: channel, "
                          "times, first response, helper, department, resolution, rating.")
_command("tickets", "One row per handoff ticket created in the window, with the rates' "
                    "figures and its rating.")
_command("complaints", "One row per 差评 case opened in the window: review, rectification, "
                       "timers.")
