import json

from bot.actions.answer import ActionAnswerQuestion, ActionChooseEntry, ActionRecordFeedback


def slots(events):
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


async def test_answer_carries_source_validity_and_feedback_buttons(kb, events, tracker, dispatcher):
    out = await ActionAnswerQuestion().run(dispatcher, tracker("发票怎么领"), {})
    [msg] = dispatcher.messages
    assert msg["text"].startswith("增值税发票怎么申领的答案")
    assert "来源：上海市宝山区税务局\n" in msg["text"]  # department already named
    assert "有效期：2024-01-01 起，长期有效" in msg["text"]
    assert [b["title"] for b in msg["buttons"]] == ["有帮助", "没帮助", "转人工"]
    assert json.loads(msg["buttons"][0]["payload"].removeprefix("/feedback")) == {
        "helpful": "yes", "entry_id": "kb-tax-003"}
    s = slots(out)
    assert s["decision"] == "answer" and s["last_entry_id"] == "kb-tax-003"
    assert s["human_offered"] is False
    assert [c["id"] for c in s["candidates"]] == ["kb-tax-003", "kb-reg-001"]
    assert events == [{"kind": "bot_answer", "conversation_id": "conv-1", "ticket_id": "",
                       "decision": "answer", "entry_id": "kb-tax-003", "query": "发票怎么领",
                       "score": 0.92}]


async def test_suggest_offers_at_most_three_entries(kb, events, tracker, dispatcher):
    out = await ActionAnswerQuestion().run(dispatcher, tracker("执照丢了"), {})
    [msg] = dispatcher.messages
    assert msg["text"] == "您是不是想问："
    payloads = [b["payload"] for b in msg["buttons"]]
    assert payloads[:3] == ['/choose_entry{"entry_id":"kb-reg-001"}',
                            '/choose_entry{"entry_id":"kb-reg-007"}',
                            '/choose_entry{"entry_id":"kb-tax-003"}']
    assert payloads[3] == "/request_human" and len(payloads) == 4
    assert slots(out)["decision"] == "suggest"


async def test_abstain_says_so_and_offers_people(kb, events, tracker, dispatcher):
    out = await ActionAnswerQuestion().run(dispatcher, tracker("火星上能开公司吗"), {})
    [msg] = dispatcher.messages
    assert "没有找到可靠的答案" in msg["text"]
    assert [b["payload"] for b in msg["buttons"]] == ["/request_human", "/request_12345_call"]
    assert slots(out)["human_offered"] is True
    assert events[0]["decision"] == "abstain" and events[0]["entry_id"] == ""


async def test_query_error_message_is_shown(kb, events, tracker, dispatcher):
    await ActionAnswerQuestion().run(dispatcher, tracker("   "), {})
    assert "请输入" in dispatcher.messages[0]["text"]


async def test_retrieval_failure_is_polite(events, tracker, dispatcher):
    from bot.actions import deps

    class Broken:
        def search(self, text, top_k=5):
            raise RuntimeError("index gone")

    deps.use_retriever(Broken())
    try:
        out = await ActionAnswerQuestion().run(dispatcher, tracker("发票怎么领"), {})
    finally:
        deps.use_retriever(None)
    assert "出了点问题" in dispatcher.messages[0]["text"]
    assert slots(out)["human_offered"] is True


async def test_clicked_suggestion_answers_with_that_entry(kb, events, tracker, dispatcher):
    t = tracker('/choose_entry{"entry_id":"kb-reg-001"}', intent="choose_entry",
                entities=[{"entity": "entry_id", "value": "kb-reg-001"}])
    out = await ActionChooseEntry().run(dispatcher, t, {})
    [msg] = dispatcher.messages
    assert "营业执照遗失怎么补办的答案" in msg["text"]
    assert "有效期：2023-05-01 至 2026-12-31" in msg["text"]
    assert slots(out)["last_entry_id"] == "kb-reg-001"
    assert events[0]["chosen"] is True


async def test_unknown_entry_is_explained(kb, events, tracker, dispatcher):
    t = tracker("/choose_entry", intent="choose_entry",
                entities=[{"entity": "entry_id", "value": "kb-gone"}])
    assert await ActionChooseEntry().run(dispatcher, t, {}) == []
    assert "下线" in dispatcher.messages[0]["text"]


def feedback(tracker, helpful, count):
    return tracker("/feedback", intent="feedback",
                   entities=[{"entity": "helpful", "value": helpful},
                             {"entity": "entry_id", "value": "kb-tax-003"}],
                   slots={"unhelpful_count": count})


async def test_unhelpful_twice_in_a_row_offers_a_human(events, tracker, dispatcher):
    first = await ActionRecordFeedback().run(dispatcher, feedback(tracker, "no", 0), {})
    assert slots(first) == {"unhelpful_count": 1, "human_offered": False}
    assert "buttons" not in dispatcher.messages[0] or not dispatcher.messages[0]["buttons"]
    second = await ActionRecordFeedback().run(dispatcher, feedback(tracker, "no", 1), {})
    assert slots(second) == {"unhelpful_count": 0, "human_offered": True}
    assert [b["payload"] for b in dispatcher.messages[1]["buttons"]] == [
        "/request_human", "/request_12345_call"]
    assert [(e["kind"], e["helpful"], e["entry_id"]) for e in events] == [
        ("answer_feedback", False, "kb-tax-003")] * 2


async def test_helpful_resets_the_count(events, tracker, dispatcher):
    out = await ActionRecordFeedback().run(dispatcher, feedback(tracker, "yes", 1), {})
    assert slots(out)["unhelpful_count"] == 0
    assert events[0]["helpful"] is True


async def test_typed_ordinal_chooses_among_the_suggestions(kb, events, tracker, dispatcher):
    candidates = [{"id": "kb-reg-001"}, {"id": "kb-reg-007"}, {"id": "kb-tax-003"}]
    t = tracker("我选第二个", intent="choose_entry", slots={"candidates": candidates})
    out = await ActionChooseEntry().run(dispatcher, t, {})
    assert slots(out)["last_entry_id"] == "kb-reg-007"
    assert await ActionChooseEntry().run(dispatcher, tracker("第3个", intent="choose_entry",
                                                             slots={"candidates": candidates[:2]}),
                                         {}) == []


async def test_typed_feedback_reads_the_words(events, tracker, dispatcher):
    await ActionRecordFeedback().run(dispatcher, tracker("没什么用", intent="feedback",
                                                         slots={"last_entry_id": "kb-x"}), {})
    await ActionRecordFeedback().run(dispatcher, tracker("很有帮助", intent="feedback"), {})
    assert [(e["helpful"], e["entry_id"]) for e in events] == [(False, "kb-x"), (True, "")]
