"""The chat's 政策体检 for a signed-in enterprise (bot/actions/policy_check.py), the action run
directly with its tracker on a real database and Redis (the gateway's note of the signed-in
enterprise, xiaobao.conversation_enterprise, written as the gateway writes it): the first
message says what the register knows with its source and date, no known fact is asked, an
answer is stored as 对话中填报 beside the authority's and expires by the retention rule; the
same conversation without the note is anonymous."""
from __future__ import annotations

import datetime as dt

import pytest

from bot.actions.policy_check import ActionPolicyCheck
from enterprises import register
from enterprises.importing import import_files
from policies import store
from retention.register_facts import purge_declared
from tests.bot.conftest import FakeServices
from xiaobao import conversation_enterprise
from xiaobao.clock import utcnow
from xiaobao.db import session_scope

USCC = "91310113MA1GL2K3XG"  # api.oidc_simulator.SAMPLES[0]
CSV = f"uscc,name,district,founded_on,employees\n{USCC},示例科技,宝山区,2019-05-10,60\n"
KNOWN = {"district", "founded_on", "employees"}


@pytest.fixture
def signed_in(engine, r, tmp_path):
    (tmp_path / "m.csv").write_text(CSV, encoding="utf-8")
    with session_scope(engine) as s:
        store.import_files(s, sorted(store.SEED.glob("*.yaml")), "seed")
        import_files(s, [tmp_path / "m.csv"], source="市场监管登记", by="test",
                     as_of=dt.date(2026, 11, 1))
    conversation_enterprise.remember(r, "conv-1", USCC, 600)
    return FakeServices(engine=engine, redis=r)


def slots_of(events):
    return {e["name"]: e["value"] for e in events if e["event"] == "slot"}


async def test_the_first_message_starts_from_the_register(signed_in, tracker, dispatcher,
                                                          engine):
    action = ActionPolicyCheck(signed_in)
    events = await action.run(dispatcher, tracker("政策体检", "check_policies"), {})
    first = dispatcher.messages[-1]
    assert ("根据登记信息（市场监管登记，2026-11-01）：注册地所在区宝山区，成立日期2019-05-10，"
            "从业人数60人，如有变化请告诉我。") in first["text"]
    field = first["custom"]["field"]["name"]
    assert field not in KNOWN
    slots = slots_of(events)
    seen = [field]
    for _ in range(4):  # answer with the first button: never a known fact asked
        text = dispatcher.messages[-1]["buttons"][0]["payload"]
        events = await action.run(dispatcher, tracker(text, "policy_fact", slots=slots), {})
        slots = {**slots, **slots_of(events)}
        custom = dispatcher.messages[-1].get("custom") or {}
        if "field" not in custom:
            break
        assert custom["field"]["name"] not in KNOWN
        seen.append(custom["field"]["name"])
    assert "根据登记信息" not in dispatcher.messages[-1]["text"]  # said once, at the start
    with session_scope(engine) as s:
        stored = [h for h in register.history(s, USCC) if h["source"] == "对话中填报"]
        assert {h["field"] for h in stored} and {h["field"] for h in stored} <= set(seen)
        assert [h["source"] for h in register.history(s, USCC, "employees")] == ["市场监管登记"]
        # the register's retention rule: facts given in a conversation expire
        later = utcnow() + dt.timedelta(days=10_000)
        assert purge_declared(s, later) == len(stored)


async def test_a_given_fact_is_kept_beside_the_authority(signed_in, tracker, dispatcher,
                                                         engine):
    action = ActionPolicyCheck(signed_in)
    text = '/policy_fact{"field": "employees", "value": "62"}'
    await action.run(dispatcher, tracker(text, "policy_fact", slots={"policy_asked": 1}), {})
    with session_scope(engine) as s:
        kept = [(h["value"], h["source"]) for h in register.history(s, USCC, "employees")]
        assert kept == [(60, "市场监管登记"), (62, "对话中填报")]
        assert register.profile(s, USCC).facts["employees"] == 60  # the authority counts


async def test_without_the_gateways_note_the_chat_is_anonymous(signed_in, tracker, dispatcher,
                                                              engine, r):
    conversation_enterprise.forget(r, "conv-1")
    action = ActionPolicyCheck(signed_in)
    await action.run(dispatcher, tracker(f"我是{USCC}，政策体检", "check_policies"), {})
    assert "登记" not in dispatcher.messages[-1]["text"]
    await action.run(dispatcher, tracker('/policy_fact{"field": "employees", "value": "7"}',
                                         "policy_fact", slots={"policy_asked": 1}), {})
    with session_scope(engine) as s:
        assert [h["source"] for h in register.history(s, USCC, "employees")] == ["市场监管登记"]
