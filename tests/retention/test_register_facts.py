"""The register's retention rule: facts given in conversations go after their period; an
authority's facts and the enterprise's filed ones stay; running it again deletes nothing."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from enterprises.models import EnterpriseFact
from enterprises.register import (
    add_declared,
    ensure_enterprise,
    existing_keys,
    new_facts,
    write_facts,
)
from retention.register_facts import purge_declared
from xiaobao.db import session_factory

USCC = "91350100M000100Y43"
NOW = dt.datetime(2026, 12, 7, 4, 0, tzinfo=dt.UTC)


def test_only_old_conversation_facts_are_deleted(engine):
    with session_factory(engine)() as s:
        ensure_enterprise(s, USCC, "样例")
        write_facts(s, new_facts(USCC, {"employees": 9}, "人社", dt.date(2025, 1, 1),
                                 existing_keys(s, [USCC])), by="t", batch="")
        add_declared(s, USCC, {"employees": 7}, by="chat", as_of=dt.date(2025, 1, 1))
        add_declared(s, USCC, {"revenue": 10}, source="企业自报", by="chat")
        add_declared(s, USCC, {"high_tech": False}, by="chat")
        for fact in s.scalars(select(EnterpriseFact).where(EnterpriseFact.field.in_(
                ["employees", "revenue"]))):
            fact.loaded_at = NOW - dt.timedelta(days=400)
        s.flush()
        assert purge_declared(s, NOW) == 1
        assert purge_declared(s, NOW) == 0
        left = {(f.field, f.source) for f in s.scalars(select(EnterpriseFact))}
        assert left == {("employees", "人社"), ("revenue", "企业自报"), ("high_tech", "对话中填报")}
        assert purge_declared(s, NOW + dt.timedelta(days=400), days=30) == 1
        s.rollback()
