"""Server-side console sessions (xiaobao.sessions) on a real migrated database: revocation,
absolute lifetime, idle timeout, deactivation, and that only the token's hash is stored."""
from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from sqlalchemy import select, text

from xiaobao import sessions
from xiaobao.accounts import Account, create_account
from xiaobao.db import session_scope
from xiaobao.settings import Settings

T0 = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)
IDLE_S, ABSOLUTE_S = 3600, 4 * 3600


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(home=tmp_path, session_max_age_s=IDLE_S,
                    session_absolute_max_age_s=ABSOLUTE_S)


@pytest.fixture
def account_id(engine) -> int:
    with session_scope(engine) as db:
        return create_account(db, "ann", "long-password", roles=["helper"]).id


def new(engine, account_id, settings, now=T0) -> str:
    with session_scope(engine) as db:
        return sessions.create(db, account_id, settings, now=now)


def resolve(engine, token, settings, now):
    with session_scope(engine) as db:
        return sessions.resolve(db, token, settings, now=now)


def test_the_table_holds_only_the_tokens_hash(engine, account_id, settings):
    token = new(engine, account_id, settings)
    assert len(token) >= 43 and str(account_id) not in token.split("_")  # random, no id
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(text("SELECT * FROM sessions"))]
    assert len(rows) == 1
    assert rows[0][0] == hashlib.sha256(token.encode()).hexdigest()
    assert not any(token in str(value) for value in rows[0])
    assert resolve(engine, token, settings, T0) == account_id


def test_revoke_ends_the_session_and_only_it(engine, account_id, settings):
    one, two = new(engine, account_id, settings), new(engine, account_id, settings)
    with session_scope(engine) as db:
        assert sessions.revoke(db, one, now=T0) is True
        assert sessions.revoke(db, one, now=T0) is False  # already ended
    assert resolve(engine, one, settings, T0) is None
    assert resolve(engine, two, settings, T0) == account_id


def test_revoke_all_for_ends_every_session_of_the_account(engine, account_id, settings):
    with session_scope(engine) as db:
        other_id = create_account(db, "bob", "long-password", roles=["helper"]).id
    mine = [new(engine, account_id, settings) for _ in range(3)]
    theirs = new(engine, other_id, settings)
    with session_scope(engine) as db:
        assert sessions.revoke_all_for(db, account_id, now=T0) == 3
    assert [resolve(engine, t, settings, T0) for t in mine] == [None] * 3
    assert resolve(engine, theirs, settings, T0) == other_id


def test_absolute_lifetime_ends_even_an_active_session(engine, account_id, settings):
    token = new(engine, account_id, settings)
    # Used every half hour: never idle, yet over at created + absolute maximum.
    step = dt.timedelta(minutes=30)
    at = T0
    while at + step < T0 + dt.timedelta(seconds=ABSOLUTE_S):
        at += step
        assert resolve(engine, token, settings, at) == account_id
    assert resolve(engine, token, settings, T0 + dt.timedelta(seconds=ABSOLUTE_S)) is None


def test_idle_timeout(engine, account_id, settings):
    token = new(engine, account_id, settings)
    almost = T0 + dt.timedelta(seconds=IDLE_S - 1)
    assert resolve(engine, token, settings, almost) == account_id  # activity: touched
    assert resolve(engine, token, settings, almost + dt.timedelta(seconds=IDLE_S - 1)) \
        == account_id
    idle = new(engine, account_id, settings)
    assert resolve(engine, idle, settings, T0 + dt.timedelta(seconds=IDLE_S)) is None


def test_last_seen_is_written_at_most_once_a_minute(engine, account_id, settings):
    token = new(engine, account_id, settings)

    def last_seen():
        with session_scope(engine) as db:
            value = db.scalar(select(sessions.WebSession.last_seen_at))
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value

    resolve(engine, token, settings, T0 + dt.timedelta(seconds=30))
    assert last_seen() == T0
    resolve(engine, token, settings, T0 + dt.timedelta(seconds=61))
    assert last_seen() == T0 + dt.timedelta(seconds=61)


def test_a_deactivated_account_has_no_session(engine, account_id, settings):
    token = new(engine, account_id, settings)
    with session_scope(engine) as db:
        db.get(Account, account_id).active = False
    assert resolve(engine, token, settings, T0) is None


@pytest.mark.parametrize("token", [None, "", "short", "x" * 500, "../../etc", "a b" * 20])
def test_malformed_or_unknown_tokens_resolve_to_nobody(engine, settings, token):
    assert resolve(engine, token, settings, T0) is None


def test_creating_a_session_deletes_expired_ones(engine, account_id, settings):
    new(engine, account_id, settings, now=T0)
    later = T0 + dt.timedelta(seconds=ABSOLUTE_S + 1)
    fresh = new(engine, account_id, settings, now=later)
    with session_scope(engine) as db:
        ids = db.scalars(select(sessions.WebSession.id)).all()
    assert ids == [sessions.token_hash(fresh)]
