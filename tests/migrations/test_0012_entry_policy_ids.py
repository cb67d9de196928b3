"""Migration 0012: an entry's ``policy_ids`` as the model declares them, existing entries
naming none; and back down (SQLite and PostgreSQL)."""
from __future__ import annotations

import datetime as dt
import json

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from knowledge_base.models import Entry
from tests.migrations.conftest import _alembic, _config

AT = dt.datetime(2026, 12, 1, 2, 0, tzinfo=dt.UTC)


def test_0012_follows_0011_and_is_the_one_head():
    script = ScriptDirectory.from_config(_config())
    assert script.get_revision("0012_entry_policy_ids").down_revision == "0011_rating_prompt"
    assert len(script.get_heads()) == 1


def test_policy_ids_match_the_model_and_existing_entries_name_none(bare_engine):
    _alembic(bare_engine, "0011_rating_prompt")
    with bare_engine.begin() as c:
        c.execute(text(
            "INSERT INTO kb_entries (id, question, similar_questions, answer, category, "
            "department, source, source_url, long_term, reviewed_by, tags, status, version, "
            "updated_by, updated_at) VALUES ('e1', '问', '[]', '答', '', '', '', '', :f, '', "
            "'[]', 'published', 1, 'x', :at)"), {"f": False, "at": AT})
    _alembic(bare_engine, "head")

    with bare_engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Entry.metadata)
        assert [d for d in diffs if "policy_ids" in repr(d)] == []
        value = conn.execute(text("SELECT policy_ids FROM kb_entries")).scalar_one()
    assert (json.loads(value) if isinstance(value, str) else value) == []

    _alembic(bare_engine, "0011_rating_prompt", up=False)  # and back down
    columns = {c["name"] for c in inspect(bare_engine).get_columns("kb_entries")}
    assert "policy_ids" not in columns
