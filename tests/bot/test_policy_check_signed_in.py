"""The chat's 政策体检 for a signed-in enterprise (bot/actions/policy_check.py), the action run
directly with its tracker on a real database and Redis (the gateway's note of the signed-in
enterprise, xiaobao.conversation_enterprise, written as the gateway writes it): the first
message says what the register knows with its source and date, no known fact is asked, an
answer is stored as 对话中填报 beside the authority's and expires by the retention rule; the
same conversation without the note is anonymous."""
from __future__ import annotations

import datetime as dt
import json

import pytest

from bot.actions.policy_check import ActionPolicyCheck
from enterprises import register
from enterprises.importing import import_files
from policies import store
from retention.register_facts import purge_declared
from tests.bot.conftest import FakeServices
from xiaobao import clock, conversation_enterprise
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


# --- a fact the enterprise corrects (bot/actions/policy_corrections.py) ---------------------

def typed_answer(text: str, field: str = "revenue") -> str:
    """What the gateway sends for text typed at a question of ``field`` (api.typed_answers)."""
    return "/policy_fact" + json.dumps({"field": field, "value": text}, ensure_ascii=False)


def result_ids(message: dict, status: str) -> set[str]:
    return {p["id"] for p in message["custom"]["policy_result"][status]}


async def test_a_correction_is_stored_beside_the_authority_and_confirmed(
        signed_in, tracker, dispatcher, engine):
    today = clock.today().isoformat()
    action = ActionPolicyCheck(signed_in)
    events = await action.run(dispatcher, tracker(typed_answer("我们人数变成80了"), "policy_fact",
                                                  slots={"policy_asked": 1}), {})
    said = dispatcher.messages[-1]
    assert said["text"].startswith(f"已记录：从业人数 80 人（对话中填报，{today}），登记信息"
                                   "（市场监管登记）仍为 60 人，以核实为准。")
    assert said["custom"]["field"]["name"] not in KNOWN  # the check-up goes on
    assert slots_of(events)["policy_facts"]["employees"] == 80
    with session_scope(engine) as s:
        kept = [(h["value"], h["source"]) for h in register.history(s, USCC, "employees")]
        assert kept == [(60, "市场监管登记"), (80, "对话中填报")]  # beside, never over
        found = register.profile(s, USCC)
        assert found.facts["employees"] == 60 and "employees" in found.authoritative_fresh
        assert found.fields["employees"].declared_value == 80
        assert "revenue" not in found.facts  # the correction is not an answer to revenue


async def test_the_results_use_the_corrected_value(signed_in, tracker, dispatcher):
    action = ActionPolicyCheck(signed_in)
    exemption = "fee-disability-fund-exemption"  # 免申即享 for at most 30 employees
    end = {"policy_asked": 5}  # the round is over: the next message carries the results
    await action.run(dispatcher, tracker(typed_answer("不知道"), "policy_fact", slots=end), {})
    assert exemption in result_ids(dispatcher.messages[-1], "ineligible")  # the register's 60
    events = await action.run(dispatcher, tracker(typed_answer("从业人数现在是20人"),
                                                  "policy_fact", slots=end), {})
    assert "已记录：从业人数 20 人" in dispatcher.messages[-1]["text"]
    assert exemption in result_ids(dispatcher.messages[-1], "eligible")
    # and in the next turn: the enterprise's word beside the authority's still counts here
    slots = {**slots_of(events), **end}
    await action.run(dispatcher, tracker(typed_answer("不知道", "industry"), "policy_fact",
                                         slots=slots), {})
    assert "已记录" not in dispatcher.messages[-1]["text"]
    assert exemption in result_ids(dispatcher.messages[-1], "eligible")


async def test_a_correction_typed_on_its_own_and_a_yes_no_fact(signed_in, tracker, dispatcher,
                                                              engine):
    action = ActionPolicyCheck(signed_in)
    await action.run(dispatcher, tracker("注册地改成嘉定区了", "policy_fact"), {})  # no question
    assert "已记录：注册地所在区 嘉定区（对话中填报" in dispatcher.messages[-1]["text"]
    assert "登记信息（市场监管登记）仍为 宝山区" in dispatcher.messages[-1]["text"]
    await action.run(dispatcher, tracker(typed_answer("已经不是高新技术企业了"), "policy_fact",
                                         slots={"policy_asked": 1}), {})
    assert "已记录：有效期内高新技术企业：否（对话中填报" in dispatcher.messages[-1]["text"]
    assert "仍为" not in dispatcher.messages[-1]["text"]  # no authority said otherwise
    with session_scope(engine) as s:
        history = register.history(s, USCC)
        assert [(h["value"], h["source"]) for h in history if h["field"] == "district"] == [
            ("宝山区", "市场监管登记"), ("嘉定区", "对话中填报")]
        assert [(h["value"], h["source"]) for h in history if h["field"] == "high_tech"] == [
            (False, "对话中填报")]


async def test_an_anonymous_correction_never_touches_the_register(signed_in, tracker, dispatcher,
                                                                 engine, r):
    conversation_enterprise.forget(r, "conv-1")
    action = ActionPolicyCheck(signed_in)
    events = await action.run(dispatcher, tracker(typed_answer("从业人数现在是20人"),
                                                  "policy_fact", slots={"policy_asked": 1}), {})
    text = dispatcher.messages[-1]["text"]
    assert text.startswith("已记录：从业人数 20 人，本次政策体检按此核对。")
    assert "登记" not in text and "60" not in text  # nothing of the register read
    assert slots_of(events)["policy_facts"]["employees"] == 20  # the visitor's word is used
    with session_scope(engine) as s:
        assert [h["source"] for h in register.history(s, USCC)] == ["市场监管登记"] * 3
