"""Migration 0017: the API tokens table as the model declares it (one row per name, per
hash), after 0016 in the one chain; and back down (SQLite and PostgreSQL)."""
from __future__ import annotations

import datetime as dt

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from tests.migrations.conftest import _alembic, _config
from xiaobao.tokens import ApiToken

AT = dt.datetime(2026, 12, 8, 0, 0, tzinfo=dt.UTC)
ROW = ("INSERT INTO api_tokens (name, token_hash, prefix, scopes, created_at, created_by, "
       "revoked_by) VALUES (:name, :hash, 'xb_abcdefgh', '[\"kb:write\"]', :at, 'cli', '')")


def test_0017_follows_0016_and_is_the_one_head():
    script = ScriptDirectory.from_config(_config())
    assert script.get_revision("0017_api_tokens").down_revision == "0016_entitlements"
    assert script.get_heads() == ["0017_api_tokens"]


def test_the_table_matches_the_model_and_goes_back_down(bare_engine):
    _alembic(bare_engine, "0017_api_tokens")
    with bare_engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), ApiToken.metadata)
    assert [d for d in diffs if "api_tokens" in repr(d)] == []
    with bare_engine.begin() as conn:
        conn.execute(text(ROW), {"name": "oa", "hash": "a" * 64, "at": AT})
    for name, digest in (("oa", "b" * 64), ("oa-2", "a" * 64)):  # a name or a hash twice
        with pytest.raises(IntegrityError), bare_engine.begin() as conn:
            conn.execute(text(ROW), {"name": name, "hash": digest, "at": AT})

    _alembic(bare_engine, "0016_entitlements", up=False)
    assert "api_tokens" not in inspect(bare_engine).get_table_names()
