"""`xiaobao users add / list` against a temp database."""
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from xiaobao import db, settings
from xiaobao.accounts import Account, authenticate
from xiaobao.accounts_cli import app


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("XIAOBAO_HOME", str(tmp_path))
    monkeypatch.delenv("XIAOBAO_DATABASE_URL", raising=False)
    settings.get_settings.cache_clear()
    db.get_engine.cache_clear()
    yield tmp_path
    settings.get_settings.cache_clear()
    db.get_engine.cache_clear()


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
])
def test_bad_accounts_are_refused(home, args, message):
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and message in result.output


def test_duplicate_username_is_refused(home):
    runner = CliRunner()
    runner.invoke(app, ["add", "ann", "--role", "helper", "--password", "long-password"])
    again = runner.invoke(app, ["add", "ann", "--role", "helper", "--password", "long-password"])
    assert again.exit_code == 2 and "taken" in again.output


def test_ensure_demo_creates_one_account_only_on_a_fresh_install(home):
    runner = CliRunner()
    first = runner.invoke(app, ["ensure-demo"])
    assert first.exit_code == 0 and "demo" in first.output
    saved = (home / "demo_account.txt").read_text(encoding="utf-8")
    password = saved.split("password: ")[1].strip()
    with db.session_scope(db.get_engine()) as session:
        demo = authenticate(session, "demo", password)
        assert demo is not None and "helper" in demo.roles and len(demo.departments) > 1
    again = runner.invoke(app, ["ensure-demo"])
    assert again.exit_code == 0 and again.output == ""
