"""Migration 0013 makes exactly the register's tables (SQLite and PostgreSQL), and goes back
down."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from enterprises.models import Enterprise
from tests.migrations.conftest import _alembic, _config

TABLES = {"enterprises", "enterprise_facts", "register_audit"}


def test_0013_follows_0012():
    script = ScriptDirectory.from_config(_config())
    assert script.get_revision("0013_enterprises").down_revision == "0012_entry_policy_ids"


def test_the_register_tables_match_the_models(bare_engine):
    _alembic(bare_engine, "0013_enterprises")
    with bare_engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Enterprise.metadata)
        names = set(conn.dialect.get_table_names(conn))
    assert TABLES <= names
    assert [d for d in diffs if any(t in repr(d) for t in TABLES)] == []
    _alembic(bare_engine, "0012_entry_policy_ids", up=False)
    with bare_engine.connect() as conn:
        names = set(conn.dialect.get_table_names(conn))
    assert not TABLES & names
