"""Migration 0010 makes exactly the policy store's tables (SQLite and PostgreSQL)."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from policies.models import PolicyItem
from tests.migrations.conftest import _alembic, _config


def test_one_head_and_0010_follows_0009():
    script = ScriptDirectory.from_config(_config())
    assert len(script.get_heads()) == 1  # one chain; later revisions follow (0011 …)
    assert script.get_revision("0010_policies").down_revision == "0009_username_case"


def test_the_policy_tables_match_the_models(bare_engine):
    _alembic(bare_engine, "head")
    with bare_engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), PolicyItem.metadata)
    assert [d for d in diffs if "policy_" in repr(d)] == []
    _alembic(bare_engine, "0009_username_case", up=False)  # and back down
    with bare_engine.connect() as conn:
        names = set(conn.dialect.get_table_names(conn))
    assert not {"policy_items", "policy_versions"} & names
