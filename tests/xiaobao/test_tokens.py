"""API tokens (xiaobao.tokens) on a real migrated database: only the hash is stored, a token
is refused once revoked or expired, ``last_used_at`` is written at most once a minute, the
``…:read`` scopes count only for reads, and making and revoking are in the event log."""
from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from sqlalchemy import select, text

from xiaobao import policy, tokens
from xiaobao.db import session_scope
from xiaobao.events import Event, EventKind

T0 = dt.datetime(2026, 12, 8, 1, 0, tzinfo=dt.UTC)  # 09:00 in Shanghai


def make(engine, name="oa", scopes=("tickets:read",), expires_at=None, now=T0):
    with session_scope(engine) as db:
        row, token = tokens.create_token(db, name, list(scopes), expires_at=expires_at,
                                         by="cli:ops", now=now)
        return row.name, token


def authenticate(engine, token, now):
    with session_scope(engine) as db:
        row = tokens.authenticate(db, token, now=now)
        return row.name, row.last_used_at


def test_the_token_is_stored_only_as_its_hash(engine):
    _, token = make(engine)
    assert token.startswith("xb_") and len(token) == 3 + 43  # 256 random bits
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT * FROM api_tokens")).mappings().one()
    assert stored["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert token not in " ".join(str(v) for v in stored.values())
    assert token.startswith(stored["prefix"]) and len(stored["prefix"]) == 3 + 8


def test_two_tokens_differ_and_a_name_is_taken_once(engine):
    _, first = make(engine, "oa")
    _, second = make(engine, "oa-2")
    assert first != second
    with pytest.raises(tokens.TokenError, match="taken"):
        make(engine, "oa")


@pytest.mark.parametrize("name, scopes, message", [
    ("oa", ["tickets:write"], "unknown scope"),
    ("oa", [], "unknown scope"),
    ("", ["kb:write"], "token name"),
    ("有空格 的名字", ["kb:write"], "token name"),
    ("x" * 49, ["kb:write"], "token name"),
])
def test_bad_requests_are_refused(engine, name, scopes, message):
    with pytest.raises(tokens.TokenError, match=message), session_scope(engine) as db:
        tokens.create_token(db, name, scopes, expires_at=None, by="cli", now=T0)


def test_a_live_token_authenticates_and_is_touched_at_most_once_a_minute(engine):
    _, token = make(engine)
    assert authenticate(engine, token, T0) == ("oa", T0)
    _, touched = authenticate(engine, token, T0 + dt.timedelta(seconds=59))
    assert touched.replace(tzinfo=dt.UTC) == T0  # not written again within the minute
    later = T0 + dt.timedelta(seconds=61)
    _, touched = authenticate(engine, token, later)
    assert touched.replace(tzinfo=dt.UTC) == later


@pytest.mark.parametrize("token", ["xb_" + "A" * 43, "xb_short", "not-ours", "", "xb_" + "é" * 43])
def test_an_unknown_or_malformed_token_is_refused(engine, token):
    make(engine)
    with pytest.raises(tokens.TokenRefused) as refused, session_scope(engine) as db:
        tokens.authenticate(db, token, now=T0)
    assert refused.value.status == 401 and refused.value.code == "token_invalid"


def test_a_revoked_token_is_refused_and_the_revocation_is_kept(engine):
    _, token = make(engine)
    with session_scope(engine) as db:
        tokens.revoke_token(db, "oa", by="cli:ops", now=T0 + dt.timedelta(hours=1))
        again = tokens.revoke_token(db, "oa", by="someone-else", now=T0 + dt.timedelta(hours=2))
        assert again.revoked_by == "cli:ops"  # a second revoke changes nothing
        assert tokens.state(again, T0) == "revoked"
    with pytest.raises(tokens.TokenRefused) as refused, session_scope(engine) as db:
        tokens.authenticate(db, token, now=T0 + dt.timedelta(hours=3))
    assert (refused.value.status, refused.value.code) == (401, "token_revoked")
    with pytest.raises(tokens.TokenError, match="no token"), session_scope(engine) as db:
        tokens.revoke_token(db, "nobody", by="cli")


def test_a_token_is_refused_from_its_expiry_on(engine):
    expiry = T0 + dt.timedelta(days=1)
    _, token = make(engine, expires_at=expiry)
    assert authenticate(engine, token, expiry - dt.timedelta(seconds=1))[0] == "oa"
    with pytest.raises(tokens.TokenRefused) as refused, session_scope(engine) as db:
        tokens.authenticate(db, token, now=expiry)
    assert refused.value.code == "token_expired"
    with pytest.raises(tokens.TokenError, match="past"):
        make(engine, "oa-old", expires_at=T0 - dt.timedelta(seconds=1))


def test_expiry_is_a_shanghai_day_or_a_number_of_days():
    assert tokens.parse_expiry("2026-12-31", T0) == dt.datetime(2026, 12, 31, 16, 0,
                                                              tzinfo=dt.UTC)  # 1 Jan 00:00 CST
    assert tokens.parse_expiry("30", T0) == tokens.parse_expiry("30d", T0) == \
        T0 + dt.timedelta(days=30)
    assert tokens.parse_expiry("never", T0) is None
    for bad in ("2026-12-07", "tomorrow", "0d", "2026-13-01"):
        with pytest.raises(tokens.TokenError):
            tokens.parse_expiry(bad, T0)


def test_read_scopes_count_only_for_reads(engine):
    make(engine, scopes=["reports:read", "kb:write"])
    with session_scope(engine) as db:
        row = tokens.find_token(db, "oa")
        reading, writing = tokens.principal(row, "GET"), tokens.principal(row, "POST")
    assert reading.scopes == {"reports:read", "kb:write"} and writing.scopes == {"kb:write"}
    assert policy.reads_reports(reading) and not policy.reads_reports(writing)
    assert policy.edits_knowledge(writing) and not policy.reads_tickets(reading)
    assert reading.username == "token:oa" and reading.roles == []


def test_a_token_opens_only_its_scopes_rules():
    """Each scope is one rule of xiaobao.policy; no role's other rights come with it."""
    for scope in policy.SCOPES:
        actor = tokens.TokenPrincipal(name="t", scopes=frozenset({scope}))
        opened = {rule.__name__ for rule in (policy.reads_reports, policy.reads_tickets,
                                             policy.edits_knowledge, policy.exports_records,
                                             policy.works_tickets,
                                             policy.is_leader, policy.edits_policies,
                                             policy.reads_knowledge_gaps, policy.reads_register,
                                             policy.manages_register, policy.reads_work_lists,
                                             policy.sees_all_departments) if rule(actor)}
        assert opened == {{"reports:read": "reads_reports", "tickets:read": "reads_tickets",
                           "kb:write": "edits_knowledge", "exports:read": "exports_records"}[scope]}
        # no department of its own: what it reads, it reads everywhere
        assert policy.report_departments(actor) is None
        assert policy.visible_departments(actor, ["A", "B"]) == ["A", "B"]


def test_making_and_revoking_are_in_the_event_log(engine):
    make(engine, scopes=["kb:write"], expires_at=T0 + dt.timedelta(days=2))
    _, token = make(engine, "oa-2")
    with session_scope(engine) as db:
        tokens.revoke_token(db, "oa", by="cli:boss")
    authenticate(engine, token, T0)  # a use is no event
    with session_scope(engine) as db:
        events = [(e.kind, e.actor, e.data.get("token")) for e in
                  db.scalars(select(Event).order_by(Event.pk))]
    assert events == [(EventKind.API_TOKEN_CREATED, "cli:ops", "oa"),
                      (EventKind.API_TOKEN_CREATED, "cli:ops", "oa-2"),
                      (EventKind.API_TOKEN_REVOKED, "cli:boss", "oa")]
