"""Migration 0015: the enterprise sign-in sessions table as the model declares it, after
0014 in the one chain; and back down (SQLite and PostgreSQL)."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from tests.migrations.conftest import _alembic, _config
from xiaobao.enterprise_sessions import EnterpriseSession


def test_0015_follows_0014_and_is_the_one_head():
    script = ScriptDirectory.from_config(_config())
    revision = script.get_revision("0015_enterprise_sessions")
    assert revision.down_revision == "0014_notifications"
    assert len(script.get_heads()) == 1


def test_the_table_matches_the_model_and_goes_back_down(bare_engine):
    _alembic(bare_engine, "0015_enterprise_sessions")
    with bare_engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), EnterpriseSession.metadata)
    assert [d for d in diffs if "enterprise_sessions" in repr(d)] == []

    _alembic(bare_engine, "0014_notifications", up=False)
    assert "enterprise_sessions" not in inspect(bare_engine).get_table_names()
