"""`xiaobao users`: create, list and disable the accounts that log in to the console.

Part of the foundation, so it imports no other package of the project; what needs
one (the demo account's departments, from handoff) is given by ``cli.main``.
"""
from __future__ import annotations

import secrets
from typing import Annotated

import typer
from sqlalchemy import select

from xiaobao import sessions
from xiaobao.accounts import (
    Account,
    AccountError,
    create_account,
    find_account,
    set_password,
)
from xiaobao.db import get_engine, session_scope, upgrade
from xiaobao.policy import DEMO_ROLES, ROLES
from xiaobao.secrets import create_private_file
from xiaobao.settings import get_settings

app = typer.Typer(no_args_is_help=True, add_completion=False)


@app.command("add")
def add_user(
    username: str,
    role: Annotated[list[str], typer.Option(
        "--role", help=f"one of {', '.join(ROLES)}; repeatable")],
    password: Annotated[str, typer.Option("--password", prompt=True, hide_input=True,
                                          confirmation_prompt=True,
                                          help="at least 8 characters, not a common one")],
    department: Annotated[list[str] | None, typer.Option(
        "--department", help="department whose tickets the account sees; repeatable")] = None,
    display_name: Annotated[str, typer.Option(
        "--display-name", help="name shown to users (default: USERNAME)")] = "",
) -> None:
    """Add an account (the password is stored as an argon2 hash)."""
    engine = get_engine()
    upgrade(engine)
    try:
        with session_scope(engine) as session:
            account = create_account(session, username, password, roles=role,
                                     departments=department or [], display_name=display_name)
            typer.echo(f"added {account.username} (id {account.id}) "
                       f"roles={','.join(account.roles)} "
                       f"departments={','.join(account.departments) or '-'}")
    except AccountError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


@app.command("list")
def list_users() -> None:
    """Every account with its roles and departments."""
    engine = get_engine()
    upgrade(engine)
    with session_scope(engine) as session:
        for account in session.scalars(select(Account).order_by(Account.id)):
            state = "active" if account.active else "disabled"
            typer.echo(f"{account.id}\t{account.username}\t{','.join(account.roles)}\t"
                       f"{','.join(account.departments) or '-'}\t{state}")


@app.command("password")
def change_password(
    username: str,
    password: Annotated[str, typer.Option("--password", prompt="New password", hide_input=True,
                                          confirmation_prompt=True,
                                          help="at least 8 characters, not a common one")],
) -> None:
    """Set an account's password; its open sessions end (whoever held them signs in again)."""
    engine = get_engine()
    upgrade(engine)
    with session_scope(engine) as session:
        account = find_account(session, username)
        if account is None:
            typer.echo(f"error: no account {username!r}", err=True)
            raise typer.Exit(2)
        try:
            set_password(session, account, password)
        except AccountError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        ended = sessions.revoke_all_for(session, account.id)
    typer.echo(f"password changed for {account.username}; ended {ended} open session(s)")


def _set_active(username: str, active: bool) -> int:
    """Mark the account (in)active; deactivating ends its open sessions (returns how many)."""
    engine = get_engine()
    upgrade(engine)
    with session_scope(engine) as session:
        account = find_account(session, username)
        if account is None:
            typer.echo(f"error: no account {username!r}", err=True)
            raise typer.Exit(2)
        account.active = active
        return 0 if active else sessions.revoke_all_for(session, account.id)


@app.command("disable")
def disable_user(username: str) -> None:
    """Deactivate an account: it can no longer log in, and its open sessions end at once (an
    open console closes within seconds)."""
    ended = _set_active(username, False)
    typer.echo(f"disabled {username}; ended {ended} open session(s)")


@app.command("enable")
def enable_user(username: str) -> None:
    """Let a disabled account log in again (its old sessions stay ended)."""
    _set_active(username, True)
    typer.echo(f"enabled {username}")


def ensure_demo(departments: list[str]) -> None:
    """On a fresh install (no accounts at all): a demo account that can work every queue.

    The password is random, printed once and kept in ``<home>/demo_account.txt``, created
    with mode 600 (never readable by others, not even briefly). Production creates none.
    The departments are the caller's to give: they are handoff's configuration, and the
    foundation imports no other package. ``cli.main`` registers this as
    `xiaobao users ensure-demo` with every configured department.
    """
    settings = get_settings()
    if settings.is_production:
        typer.echo("production: no demo account is created / 生产模式不创建演示账号")
        return
    engine = get_engine()
    upgrade(engine)
    path = settings.home / "demo_account.txt"
    with session_scope(engine) as session:
        if session.scalar(select(Account.id).limit(1)) is not None:
            return
        password = secrets.token_urlsafe(12)
        create_account(session, "demo", password, roles=list(DEMO_ROLES),
                       departments=departments, display_name="演示帮办")
        path.unlink(missing_ok=True)  # a file left by an earlier install: replaced, still 600
        create_private_file(path, f"username: demo\npassword: {password}\n")
    typer.echo(f"  演示账号 demo / {password}  (saved in {path})")
