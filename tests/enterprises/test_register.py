"""The register's facts: history kept, sources ranked, freshness, the logged read, the
enterprise's own word beside the authority's, and records() equal to profile()."""
from __future__ import annotations

import datetime as dt
import random

import pytest
from sqlalchemy import func, select

from enterprises import audit, register
from enterprises.models import EnterpriseFact
from enterprises.register import RegisterError, add_declared, history, profile, records
from policies.evaluator import check, policy_from_dict
from policies.facts import FactError
from tests.enterprises.conftest import DAY, code

A = code(1)


def load(session, uscc, facts, source, as_of, name="测试企业"):
    register.ensure_enterprise(session, uscc, name)
    keys = register.new_facts(uscc, facts, source, as_of, register.existing_keys(session, [uscc]))
    register.write_facts(session, keys, by="test", batch="b")
    return len(keys)


def test_a_new_value_never_overwrites_the_old(session):
    load(session, A, {"employees": 40}, "人社", dt.date(2026, 3, 1))
    load(session, A, {"employees": 55}, "人社", dt.date(2026, 9, 1))
    load(session, A, {"employees": 50}, "人社", dt.date(2026, 6, 1))  # loaded late, older
    kept = history(session, A, "employees")
    assert [h["value"] for h in kept] == [40, 55, 50]
    got = profile(session, A, DAY).fields["employees"]
    assert (got.value, got.as_of, got.source) == (55, dt.date(2026, 9, 1), "人社")
    # as of an earlier day, the later facts were not known yet
    assert profile(session, A, dt.date(2026, 7, 1)).facts["employees"] == 50


def test_an_authority_ranks_above_the_enterprises_newer_word_which_stays_visible(session):
    load(session, A, {"employees": 80, "revenue": 900.0}, "市场监管登记", dt.date(2026, 11, 1))
    assert add_declared(session, A, {"employees": 95, "rd_ratio": 6}, by="chat",
                        as_of=dt.date(2026, 12, 1)) == 2
    p = profile(session, A, DAY)
    employees = p.fields["employees"]
    assert employees.value == 80 and employees.authoritative and employees.source == "市场监管登记"
    assert employees.declared_value == 95 and employees.declared_source == "对话中填报"
    assert p.fields["revenue"].declared_as_of is None  # the enterprise said nothing else
    rd = p.fields["rd_ratio"]
    assert rd.value == 6.0 and not rd.authoritative  # only the enterprise's word: it counts
    assert p.facts == {"employees": 80, "revenue": 900.0, "rd_ratio": 6.0}
    assert p.authoritative_fresh == {"employees", "revenue"}
    assert p.to_dict()["fields"][0]["declared"]["value"] == 95


def test_a_stale_authoritative_fact_is_not_authoritative_fresh(session):
    load(session, A, {"employees": 20}, "人社", DAY - dt.timedelta(days=366))
    load(session, A, {"revenue": 100}, "税务", DAY - dt.timedelta(days=365))
    p = profile(session, A, DAY)
    assert p.facts == {"employees": 20, "revenue": 100.0}  # still the value for a check-up
    assert not p.fields["employees"].fresh and p.fields["revenue"].fresh
    assert p.authoritative_fresh == {"revenue"}


def test_a_fresh_declared_fact_is_never_authoritative_fresh(session):
    add_declared(session, A, {"employees": 5}, by="chat", as_of=DAY)
    p = profile(session, A, DAY)
    assert p.fields["employees"].fresh and p.authoritative_fresh == frozenset()


def test_add_declared_is_idempotent_and_refuses_an_authority_or_a_bad_value(session):
    assert add_declared(session, A, {"high_tech": "是"}, by="chat", as_of=DAY) == 1
    assert add_declared(session, A, {"high_tech": True}, by="chat", as_of=DAY) == 0
    with pytest.raises(RegisterError) as refused:
        add_declared(session, A, {"employees": 3}, source="税务", by="chat")
    assert refused.value.status == 422
    with pytest.raises(FactError):
        add_declared(session, A, {"employees": "很多", "revenue": 10}, by="chat")
    with pytest.raises(RegisterError):
        add_declared(session, A, {"scale": "小型"}, by="chat")
    with pytest.raises(RegisterError):
        add_declared(session, "91350100M000100Y44", {"employees": 3}, by="chat")
    assert session.scalar(select(func.count()).select_from(EnterpriseFact)) == 1


def test_a_persons_read_needs_a_reason_and_is_logged(session):
    load(session, A, {"employees": 8}, "人社", DAY)
    with pytest.raises(RegisterError) as refused:
        register.read_profile(session, A, actor="wang", reason="  ")
    assert refused.value.code == "reason_required"
    assert audit.entries(session) == []
    register.read_profile(session, A, actor="wang", reason="核对免申即享名单", day=DAY)
    [entry] = audit.entries(session, uscc=A)
    assert (entry["actor"], entry["action"]) == ("wang", "read")
    assert entry["reason"] == "核对免申即享名单"
    with pytest.raises(RegisterError) as unknown:
        register.read_profile(session, code(2), actor="wang", reason="x")
    assert unknown.value.status == 404


def test_records_equal_profile_for_every_enterprise(session):
    for n in range(1, 8):
        load(session, code(n), {"employees": n * 10, "high_tech": n % 2 == 0},
             "人社" if n % 3 else "企业自报", DAY - dt.timedelta(days=100 * n), f"企业{n}")
        if n % 2:
            add_declared(session, code(n), {"employees": n, "revenue": {"gte": 100, "lt": 300}},
                         by="chat", as_of=DAY)
    register.ensure_enterprise(session, code(99), "无事实企业")
    got = list(records(session, DAY))
    assert [r["uscc"] for r in got] == sorted(code(n) for n in [*range(1, 8), 99])
    for r in got:
        p = profile(session, r["uscc"], DAY)
        assert r == {"uscc": p.uscc, "name": p.name, "facts": p.facts,
                     "authoritative_fresh": set(p.authoritative_fresh)}
    assert next(r for r in got if r["uscc"] == code(99))["facts"] == {}


def test_profile_facts_feed_the_evaluator(session):
    load(session, A, {"employees": 12}, "人社", DAY)
    small = policy_from_dict({"id": "p", "conditions": {"field": "employees", "op": "le",
                                                       "value": 30}})
    assert check([small], profile(session, A, DAY).facts, DAY).results[0].status == "eligible"


def test_records_equal_profile_on_random_registers(session):
    """Many enterprises with facts from authorities and from the enterprise, fresh and stale,
    some as of after the day asked about: the streamed records and the one-enterprise profile
    agree on every one, on several days."""
    rnd = random.Random(24)
    choices = ["人社", "税务", "市场监管登记", "企业自报", "对话中填报"]
    for n in range(1, 41):
        uscc = code(n)
        register.ensure_enterprise(session, uscc, f"企业{n}")
        keys: list = []
        known = register.existing_keys(session, [uscc])
        for _ in range(rnd.randint(0, 12)):
            value = {"employees": rnd.randint(0, 400), "high_tech": rnd.random() < 0.5,
                     "revenue": {"gte": 100, "lt": 300} if rnd.random() < 0.3
                     else float(rnd.randint(0, 900)),
                     "founded_on": dt.date(2000 + rnd.randint(0, 25), 1, 1)}
            name = rnd.choice(sorted(value))
            as_of = DAY - dt.timedelta(days=rnd.randint(-30, 500))
            keys += register.new_facts(uscc, {name: value[name]}, rnd.choice(choices), as_of,
                                       known)
        register.write_facts(session, keys, by="t", batch="")
    for day in (DAY, DAY - dt.timedelta(days=200), DAY + dt.timedelta(days=40)):
        got = list(records(session, day))
        assert len(got) == 40
        for r in got:
            p = profile(session, r["uscc"], day)
            assert r == {"uscc": p.uscc, "name": p.name, "facts": p.facts,
                         "authoritative_fresh": set(p.authoritative_fresh)}


def test_records_of_some_enterprises_only(session):
    for n in (1, 2, 3):
        load(session, code(n), {"employees": n}, "人社", DAY)
    got = list(records(session, DAY, usccs=[code(3), code(1).lower(), code(9)]))
    assert [(r["uscc"], r["facts"]) for r in got] == [(code(1), {"employees": 1}),
                                                      (code(3), {"employees": 3})]
    assert list(records(session, DAY, usccs=[])) == []
