"""Migration 0014 makes exactly the notification tables, with the once-only key, after the
register's 0013; and back down (SQLite and PostgreSQL)."""
from __future__ import annotations

import datetime as dt

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from notifications.models import Notification
from tests.migrations.conftest import _alembic, _config

AT = dt.datetime(2026, 12, 7, 2, 0, tzinfo=dt.UTC)
ROW = ("INSERT INTO notifications (id, uscc, policy_id, policy_version, kind, channel, text, "
       "status, attempts, next_attempt_at, created_at, provider_message_id, last_error) VALUES "
       "(:id, '91310113MA1G00001X', 'pol-1', 1, 'eligible', 'sms', 't', 'pending', 0, :at, "
       ":at, '', '')")


TABLES = {"notifications", "notification_optouts"}


def _table_of(diff) -> str:
    """The table an autogenerate difference is about (a tuple, or a list of column ones)."""
    first = diff[0] if isinstance(diff, list) else diff
    for part in first[1:]:
        for candidate in (part, getattr(part, "table", None)):
            name = getattr(candidate, "name", candidate)
            if isinstance(name, str) and name in TABLES:
                return name
    return ""


def test_0014_follows_0013():
    script = ScriptDirectory.from_config(_config())
    assert script.get_revision("0014_notifications").down_revision == "0013_enterprises"
    assert len(script.get_heads()) == 1


def test_the_notification_tables_match_the_models_and_keep_one_row(bare_engine):
    _alembic(bare_engine, "0014_notifications")
    with bare_engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Notification.metadata)
    assert [d for d in diffs if _table_of(d) in TABLES] == []
    with bare_engine.begin() as conn:
        conn.execute(text(ROW), {"id": "a", "at": AT})
    with pytest.raises(IntegrityError), bare_engine.begin() as conn:
        conn.execute(text(ROW), {"id": "b", "at": AT})  # the same enterprise, policy, kind

    _alembic(bare_engine, "0013_enterprises", up=False)
    with bare_engine.connect() as conn:
        names = set(conn.dialect.get_table_names(conn))
    assert not TABLES & names
