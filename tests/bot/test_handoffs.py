import pytest

from bot.actions import deps
from bot.actions.handoffs import ActionHandoff, ActionRequest12345Call, summary_of
from handoff.requests import HandoffReceipt

HISTORY = [
    {"event": "user", "text": "你好", "timestamp": 1.0,
     "parse_data": {"intent": {"name": "greet"}}},
    {"event": "bot", "text": "您好！我是企业管家小宝", "timestamp": 2.0},
    {"event": "user", "text": "股权转让要交什么税", "timestamp": 3.0,
     "parse_data": {"intent": {"name": "ask_question"}}},
    {"event": "bot", "text": "抱歉，这个问题我在知识库里没有找到可靠的答案", "timestamp": 4.0},
]
CANDIDATES = [{"id": "kb-tax-010", "question": "个人股权转让个税", "category": "税务", "score": 0.41}]


@pytest.fixture
def handoffs():
    requests = []

    def request_handoff(req):
        requests.append(req)
        return HandoffReceipt(ticket_id="T-0001", status="queued", department="税务",
                              queue_position=2, estimated_wait_s=240, in_service_hours=True,
                              created=True, helpers_on_duty=1)

    deps.use_handoff(request_handoff)
    yield requests
    deps.use_handoff(None)


async def test_online_handoff_pauses_and_carries_the_conversation(handoffs, tracker, dispatcher):
    t = tracker("转人工", intent="request_human", events=HISTORY,
                slots={"last_question": "股权转让要交什么税", "company": "上海宝丰贸易有限公司",
                       "candidates": CANDIDATES, "handoff_topic": None})
    out = await ActionHandoff().run(dispatcher, t, {})
    [req] = handoffs
    assert req.channel == "online_helper" and req.conversation_id == "conv-1"
    assert req.topic == "股权转让要交什么税" and req.company == "上海宝丰贸易有限公司"
    assert req.summary == "咨询：股权转让要交什么税（企业：上海宝丰贸易有限公司）"
    assert [t["role"] for t in req.last_turns] == ["user", "bot", "user", "bot", "user"]
    assert req.last_turns[-1]["text"] == "转人工"
    assert req.candidates[0].id == "kb-tax-010" and req.candidates[0].category == "税务"
    assert req.intent == "request_human"
    assert any(e["event"] == "pause" for e in out)
    assert {"event": "slot", "name": "handoff_ticket_id", "value": "T-0001",
            "timestamp": None} in out
    assert "T-0001" in dispatcher.messages[0]["text"] and "2 位" in dispatcher.messages[0]["text"]


async def test_same_turn_retried_makes_the_same_request_id(handoffs, tracker, dispatcher):
    t = tracker("转人工", intent="request_human", events=HISTORY)
    await ActionHandoff().run(dispatcher, t, {})
    await ActionHandoff().run(dispatcher, t, {})
    assert handoffs[0].request_id == handoffs[1].request_id


async def test_skipped_slots_are_empty(handoffs, tracker, dispatcher):
    t = tracker("跳过", intent="inform", slots={"handoff_topic": "-", "company": "-"})
    await ActionHandoff().run(dispatcher, t, {})
    assert handoffs[0].company == "" and handoffs[0].topic == ""
    assert handoffs[0].summary == "咨询：未说明具体事项"


async def test_12345_call_back_pauses_until_the_call(handoffs, tracker, dispatcher):
    t = tracker("明天上午", intent="inform", events=HISTORY,
                slots={"phone": "13812345678", "time_window": "2025-06-12（周四）09:00–12:00"})
    out = await ActionRequest12345Call().run(dispatcher, t, {})
    [req] = handoffs
    assert req.channel == "hotline_12345" and req.phone == "13812345678"
    assert req.time_window.endswith("09:00–12:00")
    assert req.summary == "咨询：股权转让要交什么税"
    assert out[-1]["event"] == "pause"
    assert "138****5678" in dispatcher.messages[0]["text"]


async def test_failed_handoff_is_polite_and_does_not_pause(tracker, dispatcher):
    def broken(req):
        raise ConnectionError("redis down")

    deps.use_handoff(broken)
    try:
        out = await ActionHandoff().run(dispatcher, tracker("转人工", intent="request_human"), {})
    finally:
        deps.use_handoff(None)
    assert not any(e["event"] == "pause" for e in out)
    assert "12345" in dispatcher.messages[0]["text"]


def test_summary_is_one_short_line(tracker):
    long = tracker("x", events=[{"event": "user", "text": "问" * 300, "timestamp": 1.0,
                                 "parse_data": {"intent": {"name": "ask_question"}}}])
    line = summary_of(long, "", "")
    assert len(line) == 80 and "\n" not in line and line.endswith("…")


@pytest.mark.parametrize("in_hours, on_duty, expected", [
    (False, 0, "不是服务时间"), (True, 0, "暂时都不在线"), (True, 3, "2 位")])
async def test_the_receipt_decides_what_the_user_is_told(in_hours, on_duty, expected, tracker,
                                                         dispatcher):
    def request_handoff(req):
        return HandoffReceipt(ticket_id="T-9", status="queued", department="税务", queue_position=2,
                              estimated_wait_s=240, in_service_hours=in_hours, created=True,
                              helpers_on_duty=on_duty)

    deps.use_handoff(request_handoff)
    try:
        await ActionHandoff().run(dispatcher, tracker("转人工", intent="request_human"), {})
    finally:
        deps.use_handoff(None)
    assert expected in dispatcher.messages[0]["text"]
    if expected != "2 位":
        assert "留言" in dispatcher.messages[0]["text"]


async def test_visitor_id_comes_from_the_channel_metadata(handoffs, tracker, dispatcher):
    t = tracker("转人工", intent="request_human")
    t.latest_message["metadata"] = {"visitor_id": "v-123"}
    await ActionHandoff().run(dispatcher, t, {})
    assert handoffs[0].visitor_id == "v-123"
