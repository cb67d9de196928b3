"""Migration 0016 makes exactly the batch-run and work-item tables, with the once-only key,
after 0015; and back down (SQLite and PostgreSQL)."""
from __future__ import annotations

import datetime as dt

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from entitlements.models import WorkItem
from tests.migrations.conftest import _alembic, _config

AT = dt.datetime(2026, 12, 7, 2, 0, tzinfo=dt.UTC)
ROW = ("INSERT INTO work_items (policy_id, policy_version, rule_version, department, uscc, "
       "run_id, why, status, created_at, decided_by, note, granted_by) VALUES "
       "('pol-1', 1, 'abc', '区税务局', '91310113MA1G00001X', 1, '{}', 'pending', :at, '', '', '')")


def test_0016_follows_0015():
    script = ScriptDirectory.from_config(_config())
    assert script.get_revision("0016_entitlements").down_revision == "0015_enterprise_sessions"
    assert len(script.get_heads()) == 1


def test_the_tables_match_the_models_and_keep_one_item(bare_engine):
    _alembic(bare_engine, "0016_entitlements")
    with bare_engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), WorkItem.metadata)
    assert [d for d in diffs if "work_item" in repr(d) or "batch_run" in repr(d)] == []
    with bare_engine.begin() as conn:
        conn.execute(text(ROW), {"at": AT})
    with pytest.raises(IntegrityError), bare_engine.begin() as conn:
        conn.execute(text(ROW), {"at": AT})  # the same policy version and enterprise
    _alembic(bare_engine, "0015_enterprise_sessions", up=False)
    assert not {"work_items", "batch_runs"} & set(inspect(bare_engine).get_table_names())
