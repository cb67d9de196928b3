import json

from bot.actions.answer import (
    ActionAnswerQuestion,
    ActionChooseEntry,
    ActionRecordFeedback,
    answer_message,
)
from knowledge_base.card import answer_card


def slots(events):
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


async def test_answer_carries_source_validity_and_feedback_buttons(services, events, tracker,
                                                                   dispatcher):
    out = await ActionAnswerQuestion(services).run(dispatcher, tracker("发票怎么领"), {})
    [msg] = dispatcher.messages
    assert msg["text"].startswith("增值税发票怎么申领的答案")
    assert "来源：上海市宝山区税务局\n" in msg["text"]  # department already named
    assert msg["text"].endswith("有效期：自2024-01-01起施行\n以最新文件和窗口受理意见为准")
    assert [b["title"] for b in msg["buttons"]] == ["有帮助", "没帮助", "转人工"]
    assert json.loads(msg["buttons"][0]["payload"].removeprefix("/feedback")) == {
        "helpful": "yes", "entry_id": "kb-tax-003"}
    s = slots(out)
    assert s["decision"] == "answer" and s["last_entry_id"] == "kb-tax-003"
    assert s["human_offered"] is False
    assert [c["id"] for c in s["candidates"]] == ["kb-tax-003", "kb-reg-001"]
    assert events() == [{"kind": "bot_answer", "conversation_id": "conv-1", "ticket_id": "",
                         "decision": "answer", "entry_id": "kb-tax-003", "query": "发票怎么领",
                         "score": 0.92, "category": "税务"}]


async def test_a_fairly_sure_answer_names_its_question_and_offers_related_ones(
        services, events, tracker, dispatcher):
    """Lever 3 of "answer directly": the card opens with the entry's own question (a mismatch
    shows), 相关问题 follow as buttons that answer when clicked, then the feedback buttons; it
    is an answer (slots, event) like any other."""
    out = await ActionAnswerQuestion(services).run(dispatcher, tracker("发票去哪里领"), {})
    [msg] = dispatcher.messages
    assert msg["text"].startswith("关于“增值税发票怎么申领”：\n增值税发票怎么申领的答案")
    assert msg["text"].endswith("\n\n相关问题：")
    assert [b["title"] for b in msg["buttons"]] == [
        "营业执照遗失怎么补办", "公司印章怎么刻制", "有帮助", "没帮助", "转人工"]
    assert json.loads(msg["buttons"][0]["payload"].removeprefix("/choose_entry")) == {
        "entry_id": "kb-reg-001"}
    s = slots(out)
    assert s["decision"] == "answer" and s["last_entry_id"] == "kb-tax-003"
    [event] = events()
    assert event["decision"] == "answer" and event["alternatives"] == "yes"


def test_the_answer_is_the_knowledge_bases_answer_card(kb):
    """The bot and the helper's one-click answers say validity and source the same way."""
    for hit in kb.entries.values():
        assert answer_message(hit)["text"] == answer_card(hit)
    undated = answer_message(kb.entries["kb-reg-007"])["text"]
    assert "有效期" not in undated  # no dates on record: no validity claimed at all
    assert undated.endswith("\n以最新文件和窗口受理意见为准")
    assert "长期有效" not in undated
    licence = answer_message(kb.entries["kb-reg-001"])["text"]
    assert "来源：宝山区市场监督管理局（区市场监管局）\n" in licence  # the department is added


async def test_suggest_offers_at_most_three_entries(services, events, tracker, dispatcher):
    out = await ActionAnswerQuestion(services).run(dispatcher, tracker("执照丢了"), {})
    [msg] = dispatcher.messages
    assert msg["text"] == "您是不是想问："
    payloads = [b["payload"] for b in msg["buttons"]]
    assert payloads[:3] == ['/choose_entry{"entry_id":"kb-reg-001"}',
                            '/choose_entry{"entry_id":"kb-reg-007"}',
                            '/choose_entry{"entry_id":"kb-tax-003"}']
    assert payloads[3] == "/request_human" and len(payloads) == 4
    assert slots(out)["decision"] == "suggest"


async def test_abstain_says_so_and_offers_people(services, events, tracker, dispatcher):
    out = await ActionAnswerQuestion(services).run(dispatcher, tracker("火星上能开公司吗"), {})
    [msg] = dispatcher.messages
    assert "没有找到可靠的答案" in msg["text"]
    assert [b["payload"] for b in msg["buttons"]] == ["/request_human", "/request_12345_call"]
    assert slots(out)["human_offered"] is True
    assert events()[0]["decision"] == "abstain" and events()[0]["entry_id"] == ""


async def test_query_error_message_is_shown(services, events, tracker, dispatcher):
    await ActionAnswerQuestion(services).run(dispatcher, tracker("   "), {})
    assert "请输入" in dispatcher.messages[0]["text"]


async def test_retrieval_failure_is_polite(services, events, tracker, dispatcher):
    class Broken:
        def search(self, text, top_k=5):
            raise RuntimeError("index gone")

    services.retriever = Broken()
    out = await ActionAnswerQuestion(services).run(dispatcher, tracker("发票怎么领"), {})
    assert "出了点问题" in dispatcher.messages[0]["text"]
    assert slots(out)["human_offered"] is True


async def test_clicked_suggestion_answers_with_that_entry(services, events, tracker, dispatcher):
    t = tracker('/choose_entry{"entry_id":"kb-reg-001"}', intent="choose_entry",
                entities=[{"entity": "entry_id", "value": "kb-reg-001"}])
    out = await ActionChooseEntry(services).run(dispatcher, t, {})
    [msg] = dispatcher.messages
    assert "营业执照遗失怎么补办的答案" in msg["text"]
    assert "有效期：自2023-05-01起施行，有效期至2026-12-31" in msg["text"]
    assert slots(out)["last_entry_id"] == "kb-reg-001"
    clicked, answered = events()
    assert clicked["kind"] == "suggestion_clicked" and clicked["entry_id"] == "kb-reg-001"
    assert answered["kind"] == "bot_answer" and answered["chosen"] is True


async def test_a_lost_event_log_does_not_cost_the_answer(services, tracker, dispatcher,
                                                          tmp_path):
    from xiaobao.db import make_engine

    services.engine = make_engine(f"sqlite:///{tmp_path / 'no-tables.db'}")  # never migrated
    try:
        out = await ActionAnswerQuestion(services).run(dispatcher, tracker("发票怎么领"), {})
    finally:
        services.engine.dispose()
    assert dispatcher.messages[0]["text"].startswith("增值税发票怎么申领的答案")
    assert slots(out)["decision"] == "answer"


async def test_unknown_entry_is_explained(services, events, tracker, dispatcher):
    t = tracker("/choose_entry", intent="choose_entry",
                entities=[{"entity": "entry_id", "value": "kb-gone"}])
    assert await ActionChooseEntry(services).run(dispatcher, t, {}) == []
    assert "下线" in dispatcher.messages[0]["text"]


def feedback(tracker, helpful, count):
    return tracker("/feedback", intent="feedback",
                   entities=[{"entity": "helpful", "value": helpful},
                             {"entity": "entry_id", "value": "kb-tax-003"}],
                   slots={"unhelpful_count": count})


async def test_unhelpful_twice_in_a_row_offers_a_human(services, events, tracker, dispatcher):
    first = await ActionRecordFeedback(services).run(dispatcher, feedback(tracker, "no", 0), {})
    assert slots(first) == {"unhelpful_count": 1, "human_offered": False}
    assert "buttons" not in dispatcher.messages[0] or not dispatcher.messages[0]["buttons"]
    second = await ActionRecordFeedback(services).run(dispatcher, feedback(tracker, "no", 1), {})
    assert slots(second) == {"unhelpful_count": 0, "human_offered": True}
    assert [b["payload"] for b in dispatcher.messages[1]["buttons"]] == [
        "/request_human", "/request_12345_call"]
    assert [(e["kind"], e["helpful"], e["entry_id"]) for e in events()] == [
        ("answer_feedback", False, "kb-tax-003")] * 2


async def test_helpful_resets_the_count(services, events, tracker, dispatcher):
    out = await ActionRecordFeedback(services).run(dispatcher, feedback(tracker, "yes", 1), {})
    assert slots(out)["unhelpful_count"] == 0
    assert events()[0]["helpful"] is True


async def test_typed_ordinal_chooses_among_the_suggestions(services, events, tracker, dispatcher):
    candidates = [{"id": "kb-reg-001"}, {"id": "kb-reg-007"}, {"id": "kb-tax-003"}]
    t = tracker("我选第二个", intent="choose_entry", slots={"candidates": candidates})
    out = await ActionChooseEntry(services).run(dispatcher, t, {})
    assert slots(out)["last_entry_id"] == "kb-reg-007"
    assert await ActionChooseEntry(services).run(dispatcher, tracker("第3个", intent="choose_entry",
                                                             slots={"candidates": candidates[:2]}),
                                         {}) == []


async def test_typed_feedback_reads_the_words(services, events, tracker, dispatcher):
    await ActionRecordFeedback(services).run(dispatcher, tracker("没什么用", intent="feedback",
                                                         slots={"last_entry_id": "kb-x"}), {})
    await ActionRecordFeedback(services).run(dispatcher, tracker("很有帮助", intent="feedback"), {})
    assert [(e["helpful"], e["entry_id"]) for e in events()] == [(False, "kb-x"), (True, "")]


async def test_the_real_index_answers_a_seed_question_with_its_card(seeded_retriever, services,
                                                                    events, tracker, dispatcher):
    """The shipped seed knowledge base, indexed with the real model (tests/conftest.py)."""
    services.retriever = seeded_retriever
    out = await ActionAnswerQuestion(services).run(
        dispatcher, tracker("在宝山新开一家公司，怎么申请营业执照？"), {})
    entry = seeded_retriever.get_entry("kb-startup-001")
    [msg] = dispatcher.messages
    assert msg["text"] == answer_card(entry)
    assert "有效期：自2022-03-01起施行" in msg["text"] and "长期有效" not in msg["text"]
    assert slots(out)["last_entry_id"] == "kb-startup-001"
    assert events()[0]["entry_id"] == "kb-startup-001"

    t = tracker('/choose_entry{"entry_id":"kb-startup-001"}', intent="choose_entry",
                entities=[{"entity": "entry_id", "value": "kb-startup-001"}])
    await ActionChooseEntry(services).run(dispatcher, t, {})
    assert dispatcher.messages[1]["text"] == msg["text"]
