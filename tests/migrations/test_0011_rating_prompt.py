"""Migration 0011: the ticket's two marks of its 好差评 question, as the model declares them;
tickets already closed count as asked unless their hand-back still waits in the outbox; and
back down (SQLite and PostgreSQL)."""
from __future__ import annotations

import datetime as dt
import json

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from handoff.store import Ticket
from tests.migrations.conftest import _alembic, _config

AT = dt.datetime(2026, 12, 1, 2, 0, tzinfo=dt.UTC)


def _ticket(conn, ticket_id: str, conversation_id: str, status: str, closed: bool) -> None:
    conn.execute(text(
        "INSERT INTO handoff_tickets (id, request_id, conversation_id, visitor_id, channel, "
        "department, priority, complaint, status, topic, company, phone, time_window, summary, "
        "context, note, created_at, queued_at, closed_at) VALUES (:id, :id, :c, :c, "
        "'online_helper', '综合窗口', 0, :f, :s, '', '', '', '', '', '{}', '', :at, :at, :closed)"),
        {"id": ticket_id, "c": conversation_id, "s": status, "f": False, "at": AT,
         "closed": AT if closed else None})


def test_0011_follows_0010():
    script = ScriptDirectory.from_config(_config())
    assert script.get_revision("0011_rating_prompt").down_revision == "0010_policies"


def test_the_marks_match_the_model_and_closed_tickets_count_as_asked(bare_engine):
    _alembic(bare_engine, "0010_policies")
    with bare_engine.begin() as c:
        _ticket(c, "t-asked", "c1", "resolved", closed=True)
        _ticket(c, "t-waiting", "c2", "resolved", closed=True)  # its hand-back not yet run
        _ticket(c, "t-open", "c3", "in_conversation", closed=False)
        c.execute(text("INSERT INTO handoff_outbox (conversation_id, kind, payload, attempts, "
                       "created_at) VALUES ('c2', 'returned', :p, 0, :at)"),
                  {"p": json.dumps({"ticket_id": "t-waiting", "status": "resolved"}), "at": AT})
    _alembic(bare_engine, "head")

    with bare_engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Ticket.metadata)
        assert [d for d in diffs if "rating_prompt" in repr(d)] == []
        rows = dict(conn.execute(text("SELECT id, rating_prompted_at IS NOT NULL "
                                      "FROM handoff_tickets")).all())
    assert {k: bool(v) for k, v in rows.items()} == {"t-asked": True, "t-waiting": False,
                                                     "t-open": False}

    _alembic(bare_engine, "0010_policies", up=False)  # and back down
    columns = {c["name"] for c in inspect(bare_engine).get_columns("handoff_tickets")}
    assert not {"rating_prompted_at", "rating_prompt_claimed_at"} & columns
