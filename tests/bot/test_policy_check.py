"""政策体检 in the chat (bot/actions/policy_check.py) on the seed, with a real store: it asks only
questions that matter, takes clicks, typed numbers and 不知道, re-asks a bad answer, and ends
with what is decided, its results in the message."""
from __future__ import annotations

import json

import pytest
from rasa_sdk.events import SlotSet

from bot.actions.policy_check import QUESTIONS_PER_ROUND, ActionPolicyCheck, answer_buttons
from policies import store
from policies.fields import default_dictionary
from xiaobao.db import session_scope


@pytest.fixture
def seeded(services, engine):
    with session_scope(engine) as s:
        store.import_files(s, sorted(store.SEED.glob("*.yaml")), "seed")
    return services


def slots_of(events: list) -> dict:
    return {e["name"]: e["value"] for e in events if e["event"] == "slot"}


async def turn(action, dispatcher, tracker, text, slots):
    intent = "policy_fact" if text.startswith("/policy_fact") else "check_policies"
    out = await action.run(dispatcher, tracker(text, intent, slots=slots), {})
    return {**slots, **slots_of(out)}, dispatcher.messages[-1]


async def test_a_check_up_asks_what_matters_and_ends_with_the_results(seeded, tracker,
                                                                      dispatcher):
    action = ActionPolicyCheck(seeded)
    slots, asked = await turn(action, dispatcher, tracker, "我公司能享受哪些政策", {})
    fields_asked = []
    for _ in range(QUESTIONS_PER_ROUND + 1):
        custom = asked.get("custom") or {}
        if "policy_result" in custom:
            break
        field = custom["field"]["name"]
        fields_asked.append(field)
        assert custom["free_text"] == {"intent": "policy_fact", "entities": {"field": field},
                                       "field": "value"}
        titles = [b["title"] for b in asked["buttons"]]
        assert titles[-1] == "不知道"
        choice = asked["buttons"][0]  # the first answer offered
        slots, asked = await turn(action, dispatcher, tracker, choice["payload"], slots)
    assert len(set(fields_asked)) == len(fields_asked)  # nothing asked twice
    result = asked["custom"]["policy_result"]
    assert "政策体检结果" in asked["text"]
    assert {"eligible", "possible", "ineligible"} == set(result)
    assert slots["policy_asked"] == 0 and slots["policy_facts"]


async def test_a_typed_number_a_bad_answer_and_dont_know(seeded, tracker, dispatcher):
    action = ActionPolicyCheck(seeded)
    slots = {"policy_facts": {}, "policy_declined": [], "policy_asked": 1}
    typed = '/policy_fact{"field": "employees", "value": "大约25人"}'
    slots, _ = await turn(action, dispatcher, tracker, typed, slots)
    assert slots["policy_facts"]["employees"] == 25
    bad = '/policy_fact{"field": "taxpayer_type", "value": "大企业"}'
    slots, asked = await turn(action, dispatcher, tracker, bad, slots)
    assert "一般纳税人" in asked["text"] and asked["buttons"][-1]["title"] == "不知道"
    assert "taxpayer_type" not in slots["policy_facts"]
    skip = '/policy_fact{"field": "taxpayer_type", "value": "不知道"}'
    slots, asked = await turn(action, dispatcher, tracker, skip, slots)
    assert slots["policy_declined"] == ["taxpayer_type"]
    assert (asked.get("custom") or {}).get("field", {}).get("name") != "taxpayer_type"


async def test_with_no_published_policy_it_says_so(services, tracker, dispatcher):
    out = await ActionPolicyCheck(services).run(dispatcher, tracker("政策体检",
                                                                    "check_policies"), {})
    assert out == [] and "没有已发布的政策" in dispatcher.messages[0]["text"]


def test_every_answer_button_carries_its_field_and_a_parseable_value():
    dictionary = default_dictionary()
    for f in dictionary.base_fields():
        for button in answer_buttons(f):
            data = json.loads(button["payload"].removeprefix("/policy_fact"))
            assert data["field"] == f.name and data["value"] != ""


def test_slot_events_are_plain_json():
    assert SlotSet("policy_facts", {"employees": {"gte": 10.0}})["value"] == {
        "employees": {"gte": 10.0}}


async def test_each_turn_keeps_the_check_up_with_the_conversation(seeded, engine, tracker,
                                                                 dispatcher):
    from policies.checkups import latest_checkup

    action = ActionPolicyCheck(seeded)
    slots, _ = await turn(action, dispatcher, tracker, "我公司能享受哪些政策", {})
    answer = '/policy_fact{"field": "employees", "value": "25"}'
    slots, _ = await turn(action, dispatcher, tracker, answer, slots)
    skip = '/policy_fact{"field": "high_tech", "value": "不知道"}'
    slots, _ = await turn(action, dispatcher, tracker, skip, slots)
    with session_scope(engine) as s:
        kept = latest_checkup(s, "conv-1")
        assert latest_checkup(s, "conv-2") is None
    assert kept is not None
    assert kept.facts == slots["policy_facts"] and kept.facts["employees"] == 25
    assert kept.declined == ["high_tech"] == slots["policy_declined"]


async def test_a_new_check_up_starts_from_the_facts_already_given(seeded, tracker, dispatcher):
    """In the same conversation: from its slots; a tracker without them (expired, a new Rasa)
    starts from the conversation's record."""
    action = ActionPolicyCheck(seeded)
    given = {"policy_facts": {"employees": 25, "taxpayer_type": "小规模纳税人"},
             "policy_declined": ["high_tech"], "policy_asked": 0}
    slots, asked = await turn(action, dispatcher, tracker, "政策体检", dict(given))
    assert slots["policy_facts"] == given["policy_facts"]
    assert slots["policy_declined"] == ["high_tech"]
    first = (asked.get("custom") or {}).get("field", {}).get("name")
    assert first not in ("employees", "taxpayer_type", "high_tech")

    fresh, again = await turn(action, dispatcher, tracker, "政策体检", {})  # the same sender
    assert fresh["policy_facts"] == given["policy_facts"]
    assert fresh["policy_declined"] == ["high_tech"]
    assert (again.get("custom") or {}).get("field", {}).get("name") == first

    other = await action.run(dispatcher, tracker("政策体检", "check_policies", slots={},
                                                 sender_id="conv-2"), {})
    assert slots_of(other)["policy_facts"] == {}  # another conversation starts empty
