"""`xiaobao backup FILE` and `xiaobao restore FILE`: the record copied while 小宝 serves, and
put back into an empty home. Each prints the copy's Alembic revision and counts, one
``name=value`` a line; a refusal is its sentence on stderr and exit code 1, nothing changed."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer

from xiaobao.backup import Snapshot
from xiaobao.errors import XiaobaoError


def _report(work: Callable[[], Snapshot]) -> None:
    try:
        snapshot = work()
    except XiaobaoError as exc:
        typer.echo(exc.message, err=True)
        raise typer.Exit(1) from None
    for line in snapshot.lines():
        typer.echo(line)


def backup_command(
        file: Path = typer.Argument(..., dir_okay=False, help="the backup file to write"),
        overwrite: bool = typer.Option(False, "--overwrite", help="replace an existing file"),
) -> None:
    """A consistent copy of the database while 小宝 serves (SQLite's online backup, or
    pg_dump --format=custom), checked, with its revision and counts."""
    from xiaobao.backup import backup
    from xiaobao.db import get_engine

    _report(lambda: backup(get_engine(), file, overwrite=overwrite))


def restore_command(
        file: Path = typer.Argument(..., dir_okay=False, help="a file `xiaobao backup` wrote"),
) -> None:
    """Restore a backup into this home's EMPTY database (refused if it holds any data), then
    migrate it to the newest revision. Stop the gateways first."""
    from xiaobao.backup import restore
    from xiaobao.db import get_engine

    _report(lambda: restore(get_engine(), file))
