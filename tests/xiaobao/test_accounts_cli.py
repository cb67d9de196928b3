"""`xiaobao users add / list / ensure-demo` against a temp database."""
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from xiaobao import db, settings
from xiaobao.accounts import Account, authenticate
from xiaobao.accounts_cli import app, ensure_demo


def test_add_then_list(home):
    runner = CliRunner()
    result = runner.invoke(app, ["add", "ann", "--role", "helper", "--role", "leader",
                                 "--department", "区市场监管局", "--password", "s3cret-pass"])
    assert result.exit_code == 0, result.output
    assert "added ann" in result.output
    listed = runner.invoke(app, ["list"])
    assert "ann\thelper,leader\t区市场监管局\tactive" in listed.output
    with db.session_scope(db.get_engine()) as session:
        assert authenticate(session, "ann", "s3cret-pass").roles == ["helper", "leader"]
        assert authenticate(session, "ann", "wrong-pass") is None


def test_password_prompt_with_confirmation(home):
    result = CliRunner().invoke(app, ["add", "bob", "--role", "editor"],
                                input="long-password\nlong-password\n")
    assert result.exit_code == 0, result.output
    with db.session_scope(db.get_engine()) as session:
        stored = session.scalar(select(Account).where(Account.username == "bob"))
        assert stored.password_hash.startswith("$argon2id$")


@pytest.mark.parametrize("args, message", [
    (["add", "x", "--role", "wizard", "--password", "long-password"], "unknown role"),
    (["add", "x", "--role", "helper", "--password", "short"], "at least 8"),
    (["add", "x", "--role", "helper", "--password", "12345678"], "trivial"),
    (["add", "x", "--role", "helper", "--password", "abcdefghij"], "trivial"),
    (["add", "x", "--role", "helper", "--password", "12121212"], "trivial"),
    (["add", "x", "--role", "helper", "--password", "aaaaaaaaaa"], "trivial"),
    (["add", "x", "--role", "helper", "--password", "Password123"], "too common"),
    (["add", "zhangsan", "--role", "helper", "--password", "ZhangSan2024"], "username"),
])
def test_bad_accounts_are_refused(home, args, message):
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and message in result.output


def test_duplicate_username_is_refused(home):
    runner = CliRunner()
    runner.invoke(app, ["add", "ann", "--role", "helper", "--password", "long-password"])
    again = runner.invoke(app, ["add", "ann", "--role", "helper", "--password", "long-password"])
    assert again.exit_code == 2 and "taken" in again.output


def test_ensure_demo_creates_one_account_only_on_a_fresh_install(home, capsys):
    ensure_demo(["区市场监管局", "区税务局"])
    saved = (home / "demo_account.txt").read_text(encoding="utf-8")
    password = saved.split("password: ")[1].strip()
    assert password in capsys.readouterr().out
    with db.session_scope(db.get_engine()) as session:
        demo = authenticate(session, "demo", password)
        assert demo is not None and "helper" in demo.roles
        assert demo.departments == ["区市场监管局", "区税务局"]
    ensure_demo(["区税务局"])
    assert capsys.readouterr().out == ""


def test_demo_password_file_is_private_from_the_start(home):
    import os
    import stat

    old = os.umask(0o000)  # even the most permissive umask gives a file only its owner reads
    try:
        ensure_demo(["区税务局"])
    finally:
        os.umask(old)
    assert stat.S_IMODE((home / "demo_account.txt").stat().st_mode) == 0o600


def test_production_creates_no_demo_account(home, monkeypatch, capsys):
    monkeypatch.setenv("XIAOBAO_ENV", "production")
    settings.get_settings.cache_clear()
    ensure_demo(["区税务局"])
    assert "no demo account" in capsys.readouterr().out
    assert not (home / "demo_account.txt").exists()
    db.upgrade(db.get_engine())
    with db.session_scope(db.get_engine()) as session:
        assert session.scalar(select(Account.id).limit(1)) is None


def test_users_ensure_demo_command_gives_every_configured_department(home):
    """The root command line joins handoff's departments to the foundation's account."""
    from cli.main import app as root
    from handoff.config import load_config

    runner = CliRunner()
    first = runner.invoke(root, ["users", "ensure-demo"])
    assert first.exit_code == 0 and "demo" in first.output, first.output
    with db.session_scope(db.get_engine()) as session:
        demo = session.scalar(select(Account).where(Account.username == "demo"))
        assert demo.departments == load_config(settings.get_settings().handoff_config).departments
        assert len(demo.departments) > 1
    again = runner.invoke(root, ["users", "ensure-demo"])
    assert again.exit_code == 0 and again.output == ""


def test_the_foundation_imports_no_other_package():
    """xiaobao/ is imported by every package; only its command-line root may import them."""
    import ast
    from pathlib import Path

    others = {"api", "bot", "handoff", "knowledge_base", "retrieval", "migrations"}
    for path in sorted(Path(db.__file__).parent.glob("*.py")):
        if path.name == "cli.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                assert name.split(".")[0] not in others, f"{path.name} imports {name}"


def test_usernames_are_case_insensitive(home):
    runner = CliRunner()
    runner.invoke(app, ["add", "demo2", "--role", "helper", "--password", "long-password"])
    again = runner.invoke(app, ["add", "Demo2", "--role", "helper", "--password", "long-password"])
    assert again.exit_code == 2 and "taken" in again.output
    with db.session_scope(db.get_engine()) as session:
        assert authenticate(session, "DEMO2", "long-password").username == "demo2"
        assert session.scalar(select(Account).where(Account.username == "Demo2")) is None


def test_password_command_changes_the_password_and_ends_sessions(home):
    from xiaobao import sessions

    runner = CliRunner()
    runner.invoke(app, ["add", "ann", "--role", "helper", "--password", "long-password"])
    with db.session_scope(db.get_engine()) as session:
        account = authenticate(session, "ann", "long-password")
        sessions.create(session, account.id, settings.get_settings())
    weak = runner.invoke(app, ["password", "ann", "--password", "11111111"])
    assert weak.exit_code == 2 and "trivial" in weak.output
    result = runner.invoke(app, ["password", "Ann", "--password", "new-long-secret"])
    assert result.exit_code == 0, result.output
    assert "ended 1 open session" in result.output
    with db.session_scope(db.get_engine()) as session:
        assert authenticate(session, "ann", "long-password") is None
        assert authenticate(session, "ann", "new-long-secret") is not None
    missing = runner.invoke(app, ["password", "nobody", "--password", "new-long-secret"])
    assert missing.exit_code == 2 and "no account" in missing.output
