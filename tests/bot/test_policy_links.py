"""An answer about a policy the store holds offers 看看我是否符合 (bot/replies.py,
bot/actions/answer.py), and that button starts the check-up of that policy alone, which asks
only its questions and ends with its result (bot/actions/policy_check.py), on the seed."""
from __future__ import annotations

import json

import pytest

from bot.actions.answer import ActionAnswerQuestion, ActionChooseEntry
from bot.actions.policy_check import ActionPolicyCheck
from policies import store
from policies.evaluator import policy_from_dict
from retrieval.types import SearchResult
from tests.bot.conftest import make_hit
from xiaobao.db import session_scope

CIT = "tax-small-profit-cit"
VAT = "tax-small-scale-vat"
ASKED = "小微企业所得税怎么优惠"
SMALL = {"taxable_income": {"lt": 100}, "employees": 8, "total_assets": 200,
         "is_individual_business": False, "industry": "I6510"}


@pytest.fixture
def seeded(services, engine, kb):
    with session_scope(engine) as s:
        store.import_files(s, sorted(store.SEED.glob("*.yaml")), "seed")
        store.archive(s, VAT, "rev", "测试下线")  # linked but no longer published
    hit = make_hit("kb-cit-1", ASKED, 0.95, policy_ids=(CIT, VAT))
    kb.results[ASKED] = SearchResult(ASKED, "answer", [hit])
    kb.entries[hit.id] = hit
    return services


def _check_buttons(message: dict) -> list[dict]:
    return [b for b in message["buttons"] if b["title"].startswith("看看我是否符合")]


async def test_an_answer_about_a_published_policy_offers_the_check(seeded, tracker, dispatcher):
    await ActionAnswerQuestion(seeded).run(dispatcher, tracker(ASKED), {})
    [message] = dispatcher.messages
    payload = '/policy_fact{"policies":"' + CIT + '"}'
    assert _check_buttons(message) == [{"title": "看看我是否符合", "payload": payload}]
    assert [b["title"] for b in message["buttons"][:3]] == ["有帮助", "没帮助", "转人工"]
    [link] = message["custom"]["policy_links"]
    assert link["id"] == CIT and link["payload"] == payload and "小型微利" in link["title"]

    dispatcher.messages.clear()  # a clicked 您是不是想问 answers with the same offer
    await ActionChooseEntry(seeded).run(dispatcher, tracker(
        "/choose_entry", "choose_entry", entities=[{"entity": "entry_id", "value": "kb-cit-1"}]),
        {})
    assert _check_buttons(dispatcher.messages[0]) == [{"title": "看看我是否符合",
                                                       "payload": payload}]


async def test_an_answer_without_links_offers_no_check(seeded, tracker, dispatcher):
    await ActionAnswerQuestion(seeded).run(dispatcher, tracker("发票怎么领"), {})
    assert _check_buttons(dispatcher.messages[0]) == []
    assert "policy_links" not in (dispatcher.messages[0].get("custom") or {})


async def test_the_check_for_one_policy_asks_only_its_questions(seeded, engine, tracker,
                                                               dispatcher):
    with session_scope(engine) as s:
        needs = policy_from_dict(store.get_item(s, CIT).data).needs
    action = ActionPolicyCheck(seeded)
    text, slots, asked = '/policy_fact{"policies":"' + CIT + '"}', {}, []
    for _ in range(10):
        events = await action.run(dispatcher, tracker(text, "policy_fact", slots=slots), {})
        slots = {**slots, **{e["name"]: e["value"] for e in events if e["event"] == "slot"}}
        message = dispatcher.messages[-1]
        custom = message.get("custom") or {}
        if "policy_result" in custom:
            break
        field = custom["field"]["name"]
        assert field in needs, field
        asked.append(field)
        if len(asked) == 1:
            assert message["text"].startswith("好的，看看您是否符合“")
        assert custom["free_text"]["entities"] == {"field": field, "policies": CIT}
        assert all(json.loads(b["payload"][len("/policy_fact"):])["policies"] == CIT
                   for b in message["buttons"])
        value = SMALL[field]
        text = "/policy_fact" + json.dumps({"field": field, "policies": CIT, "value": value
                                            if isinstance(value, str) else json.dumps(value)},
                                           ensure_ascii=False)
    assert asked and len(asked) == len(set(asked))
    result = dispatcher.messages[-1]["custom"]["policy_result"]
    assert [e["id"] for e in result["eligible"]] == [CIT]
    assert result["possible"] == [] and result["ineligible"] == []
    assert dispatcher.messages[-1]["text"].startswith("核对结果：按您提供的信息，您符合“")


async def test_a_policy_no_longer_published_is_said_plainly(seeded, tracker, dispatcher):
    await ActionPolicyCheck(seeded).run(dispatcher, tracker(
        '/policy_fact{"policies":"' + VAT + '"}', "policy_fact"), {})
    assert "已更新或下线" in dispatcher.messages[-1]["text"]


async def test_the_result_for_one_policy_says_why_not(seeded, tracker, dispatcher):
    slots = {"policy_facts": {**SMALL, "employees": 320}, "policy_declined": [],
             "policy_asked": 0}
    await ActionPolicyCheck(seeded).run(dispatcher, tracker(
        '/policy_fact{"policies":"' + CIT + '"}', "policy_fact", slots=slots), {})
    message = dispatcher.messages[-1]
    assert message["text"].startswith("核对结果：按您提供的信息，您暂不符合“")
    assert "从业人数不超过300人 —— 您填报 320人（第三条）" in message["text"]
    assert [e["id"] for e in message["custom"]["policy_result"]["ineligible"]] == [CIT]
    assert message["buttons"] == []
