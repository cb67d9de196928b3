"""Enterprise sign-in sessions (xiaobao.enterprise_sessions) on a real migrated database:
revocation, absolute lifetime, idle timeout, and that only the token's hash is stored."""
from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from sqlalchemy import text

from xiaobao import enterprise_sessions as es
from xiaobao.db import session_scope
from xiaobao.settings import Settings

T0 = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)
IDLE_S, ABSOLUTE_S = 3600, 4 * 3600
USCC, NAME = "91310113MA1GL2K3XG", "上海宝山示例科技有限公司"


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(home=tmp_path, enterprise_session_max_age_s=IDLE_S,
                    enterprise_session_absolute_max_age_s=ABSOLUTE_S)


def new(engine, settings, now=T0) -> str:
    with session_scope(engine) as db:
        return es.create(db, USCC, NAME, settings, now=now)


def resolve(engine, token, settings, now):
    with session_scope(engine) as db:
        return es.resolve(db, token, settings, now=now)


def test_a_live_session_names_its_enterprise(engine, settings):
    token = new(engine, settings)
    assert resolve(engine, token, settings, T0 + dt.timedelta(minutes=5)) == \
        es.SignedInEnterprise(USCC, NAME)


def test_only_the_tokens_hash_is_stored(engine, settings):
    token = new(engine, settings)
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT id FROM enterprise_sessions")).scalars().all()
    assert stored == [hashlib.sha256(token.encode()).hexdigest()]


def test_sign_out_ends_it(engine, settings):
    token = new(engine, settings)
    with session_scope(engine) as db:
        assert es.revoke(db, token, now=T0) is True
    with session_scope(engine) as db:
        assert es.revoke(db, token, now=T0) is False  # nothing left to end
    assert resolve(engine, token, settings, T0 + dt.timedelta(seconds=1)) is None


def test_idle_too_long_ends_it_but_activity_keeps_it(engine, settings):
    token = new(engine, settings)
    step = dt.timedelta(seconds=IDLE_S - 60)
    assert resolve(engine, token, settings, T0 + step) is not None  # touches last_seen_at
    assert resolve(engine, token, settings, T0 + 2 * step) is not None
    assert resolve(engine, token, settings, T0 + 3 * step + dt.timedelta(seconds=IDLE_S)) is None


def test_the_absolute_end_holds_however_active(engine, settings):
    token = new(engine, settings)
    for minutes in range(50, ABSOLUTE_S // 60, 50):
        assert resolve(engine, token, settings, T0 + dt.timedelta(minutes=minutes)) is not None
    assert resolve(engine, token, settings, T0 + dt.timedelta(seconds=ABSOLUTE_S)) is None


@pytest.mark.parametrize("token", [None, "", "short", "x" * 200, "a b c" * 10])
def test_malformed_or_unknown_tokens_name_nobody(engine, settings, token):
    new(engine, settings)
    assert resolve(engine, token, settings, T0) is None
    assert resolve(engine, "A" * 43, settings, T0) is None  # well-formed, never issued


def test_expired_rows_are_deleted_when_the_next_session_is_made(engine, settings):
    new(engine, settings)
    new(engine, settings, now=T0 + dt.timedelta(seconds=ABSOLUTE_S + 1))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM enterprise_sessions")).scalar() == 1
