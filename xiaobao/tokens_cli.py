"""`xiaobao tokens`: make, list and revoke the API tokens of the centre's own systems.

``add`` prints the token on standard output and nothing else there (``TOKEN=$(xiaobao tokens
add oa --scope tickets:read)``), what it may do on standard error; it is never shown again.
``list`` never shows a token, only its first characters.
"""
from __future__ import annotations

import datetime as dt
import getpass
from typing import Annotated

import typer

from xiaobao import tokens
from xiaobao.clock import SHANGHAI, aware
from xiaobao.db import get_engine, session_scope, upgrade
from xiaobao.policy import SCOPES

app = typer.Typer(no_args_is_help=True, add_completion=False)
DEFAULT_EXPIRY = "365d"


def _operator() -> str:
    """Who made or revoked a token, for the event log: the operating-system user."""
    try:
        return f"cli:{getpass.getuser()}"[:64]
    except (KeyError, OSError):  # no user name in this container
        return "cli"


def _when(value: dt.datetime | None) -> str:
    return aware(value).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if value else "-"


@app.command("add")
def add_token(
    name: str,
    scope: Annotated[list[str], typer.Option(
        "--scope", help=f"one of {', '.join(SCOPES)}; repeatable")],
    expires: Annotated[str, typer.Option(
        "--expires", help="YYYY-MM-DD (valid through that day, Shanghai time), a number of "
                          "days (90 or 90d) or never")] = DEFAULT_EXPIRY,
) -> None:
    """Make a token; it is printed once and only its SHA-256 is kept."""
    engine = get_engine()
    upgrade(engine)
    try:
        with session_scope(engine) as session:
            row, token = tokens.create_token(session, name, scope,
                                             expires_at=tokens.parse_expiry(expires),
                                             by=_operator())
            typer.echo(f"added token {row.name} scopes={','.join(row.scopes)} "
                       f"expires={_when(row.expires_at)}", err=True)
    except tokens.TokenError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(token)
    typer.echo("此令牌只显示这一次，请立即保存。 / This token is shown once: keep it now.",
               err=True)


@app.command("list")
def list_tokens() -> None:
    """Every token: name, first characters, scopes, created, expires, last used, revoked,
    state (active, expired or revoked). Never the token itself."""
    engine = get_engine()
    upgrade(engine)
    typer.echo("name\ttoken\tscopes\tcreated\texpires\tlast_used\trevoked\tstate")
    with session_scope(engine) as session:
        for row in tokens.list_tokens(session):
            typer.echo(f"{row.name}\t{row.prefix}…\t{','.join(row.scopes)}\t"
                       f"{_when(row.created_at)}\t{_when(row.expires_at)}\t"
                       f"{_when(row.last_used_at)}\t{_when(row.revoked_at)}\t"
                       f"{tokens.state(row)}")


@app.command("revoke")
def revoke_token(name: str) -> None:
    """Revoke a token: refused (401) from its next request on, on every gateway."""
    engine = get_engine()
    upgrade(engine)
    try:
        with session_scope(engine) as session:
            row = tokens.revoke_token(session, name, by=_operator())
            when = _when(row.revoked_at)
    except tokens.TokenError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"revoked {name} at {when}")
