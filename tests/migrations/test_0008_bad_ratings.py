"""The 差评 work-order table: one head after 0007, the table the model declares (SQLite and
PostgreSQL), and back down without touching the events it points at."""
from __future__ import annotations

import datetime as dt
import json

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from ratings.cases import BadRatingCase
from tests.migrations.conftest import _alembic, _config


def test_one_head_and_0008_follows_0007():
    script = ScriptDirectory.from_config(_config())
    assert len(script.get_heads()) == 1
    assert script.get_revision("0008_bad_ratings").down_revision == "0007_kb_review"
    assert "0008_bad_ratings" in {r.revision for r in script.iterate_revisions("heads", "base")}


def test_the_table_matches_the_model_and_goes_back_down(bare_engine):
    _alembic(bare_engine, "0007_kb_review")
    at = dt.datetime(2026, 12, 1, 2, 0, tzinfo=dt.UTC)
    with bare_engine.begin() as c:
        c.execute(text("INSERT INTO events (kind, conversation_id, ticket_id, actor, data, at) "
                       "VALUES ('rating', 'c1', 't1', 'user', :d, :at)"),
                  {"d": json.dumps({"rating": "不满意", "case": "ticket:t1"}), "at": at})
    _alembic(bare_engine, "head")

    with bare_engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn),
                                 BadRatingCase.metadata)
    ours = [d for d in diffs if "bad_rating_cases" in repr(d)]
    assert ours == []

    with bare_engine.begin() as c:
        pk = c.execute(text("SELECT pk FROM events")).scalar()
        # Only the required columns: the others take their server defaults.
        c.execute(text("INSERT INTO bad_rating_cases (rating_event_pk, case_key, "
                       "conversation_id, rating, opened_at) VALUES (:pk, 'ticket:t1', 'c1', "
                       "'不满意', :at)"), {"pk": pk, "at": at})
        row = c.execute(text("SELECT status, verdict, overturned, complexity, reason, handler "
                             "FROM bad_rating_cases")).one()
        assert (row.status, row.verdict, bool(row.overturned), row.complexity, row.reason,
                row.handler) == ("open", "", False, "simple", "", "")

    _alembic(bare_engine, "0007_kb_review", up=False)
    tables = set(inspect(bare_engine).get_table_names())
    assert "bad_rating_cases" not in tables and "events" in tables
    with bare_engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM events")).scalar() == 1
    _alembic(bare_engine, "head")  # and up again
    assert "bad_rating_cases" in inspect(bare_engine).get_table_names()
