"""Usernames unique case-insensitively: one head after 0008, the index the model declares,
existing spellings kept (renamed, never dropped), and back down (SQLite and PostgreSQL)."""
from __future__ import annotations

import datetime as dt

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from tests.migrations.conftest import _alembic, _config
from xiaobao.accounts import create_account, find_account
from xiaobao.db import session_scope

AT = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


def _add(conn, username: str) -> None:
    conn.execute(text("INSERT INTO accounts (username, display_name, password_hash, roles, "
                      "departments, active, created_at) VALUES (:u, :u, 'x', '[]', '[]', "
                      ":a, :at)"), {"u": username, "a": True, "at": AT})


def test_0009_follows_0008():
    script = ScriptDirectory.from_config(_config())
    assert script.get_revision("0009_username_case").down_revision == "0008_bad_ratings"


def test_two_spellings_already_stored_are_both_kept_and_the_database_refuses_a_third(
        bare_engine):
    _alembic(bare_engine, "0008_bad_ratings")
    with bare_engine.begin() as c:
        _add(c, "demo")
        _add(c, "Demo")
        _add(c, "other")
    _alembic(bare_engine, "head")

    with bare_engine.connect() as c:
        rows = c.execute(text("SELECT id, username FROM accounts ORDER BY id")).all()
    assert [r.username for r in rows] == ["demo", f"Demo~{rows[1].id}", "other"]
    with pytest.raises(IntegrityError), bare_engine.begin() as c:
        _add(c, "DEMO")
    with session_scope(bare_engine) as s:
        assert find_account(s, "dEmO").username == "demo"

    _alembic(bare_engine, "0008_bad_ratings", up=False)
    with bare_engine.begin() as c:
        _add(c, "DEMO")  # the index is gone with the downgrade
        assert c.execute(text("SELECT count(*) FROM accounts")).scalar() == 4


def test_the_model_refuses_another_spelling_before_the_database_does(bare_engine):
    _alembic(bare_engine, "head")
    with session_scope(bare_engine) as s:
        create_account(s, "Wang", "Kq7#pLm2xZ", roles=["helper"])
    with pytest.raises(Exception, match="case-insensitive"), session_scope(bare_engine) as s:
        create_account(s, "wANG", "Kq7#pLm2xZ", roles=["helper"])
