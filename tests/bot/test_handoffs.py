"""The handoff actions against the real handoff: a HandoffContext on a migrated SQLite database
and a private Redis. What the user is told comes from the real receipt."""
import dataclasses
import datetime as dt

import pytest
from sqlalchemy import select

from bot.actions.handoffs import ActionHandoff, ActionRequest12345Call, summary_of, trigger_of
from handoff import duty
from handoff.context import HandoffContext
from handoff.queue import queue_key
from handoff.store import Call, Ticket
from tests.bot.conftest import FakeServices
from xiaobao.accounts import Account
from xiaobao.clock import ServiceCalendar
from xiaobao.db import make_engine, session_scope
from xiaobao.enums import Channel

HISTORY = [
    {"event": "user", "text": "你好", "timestamp": 1.0,
     "parse_data": {"intent": {"name": "greet"}}},
    {"event": "bot", "text": "您好！我是企业管家小宝", "timestamp": 2.0},
    {"event": "user", "text": "股权转让要交什么税", "timestamp": 3.0,
     "parse_data": {"intent": {"name": "ask_question"}}},
    {"event": "bot", "text": "抱歉，这个问题我在知识库里没有找到可靠的答案", "timestamp": 4.0},
]
# 税务发票 routes to 区税务局 (handoff/config.yaml).
CANDIDATES = [{"id": "kb-tax-010", "question": "个人股权转让个税", "category": "税务发票",
               "score": 0.41}]
TAX = "区税务局"
ALWAYS_OPEN = ServiceCalendar(weekly={d: ((dt.time(0), dt.time.max),) for d in range(1, 8)})
NEVER_OPEN = ServiceCalendar()
CALL_BACK = {"phone": "13812345678", "time_window": "2025-06-12（周四）09:00–12:00"}


@pytest.fixture
def ctx(engine, r, config) -> HandoffContext:
    """The real handoff on the test database and Redis, open around the clock (so what the user
    is told does not depend on when the test runs)."""
    return HandoffContext(engine=engine, redis=r, config=config.replace(hours=ALWAYS_OPEN))


@pytest.fixture
def services(engine, ctx, kb) -> FakeServices:
    return FakeServices(engine=engine, handoff=ctx, retriever=kb)


def tickets(engine) -> list[Ticket]:
    with session_scope(engine) as s:
        rows = list(s.scalars(select(Ticket).order_by(Ticket.created_at)))
        for row in rows:
            s.expunge(row)
    return rows


def stream(r, channel: Channel, department: str, high: bool = False) -> list[str]:
    """The ticket ids waiting in a department stream."""
    return [fields["ticket_id"] for _id, fields in r.xrange(queue_key(channel, department, high))]


def put_on_duty(ctx: HandoffContext, username: str, department: str) -> None:
    with session_scope(ctx.engine) as s:
        account = Account(username=username, display_name=username, password_hash="x",
                          roles=["helper"], departments=[department], active=True)
        s.add(account)
        s.flush()
        s.expunge(account)
    duty.set_helper_status(account, duty.ON_DUTY, ctx=ctx)


async def test_online_handoff_pauses_and_carries_the_conversation(services, ctx, engine, r,
                                                                   tracker, dispatcher):
    put_on_duty(ctx, "helper-tax", TAX)
    t = tracker("转人工", intent="request_human", events=HISTORY,
                slots={"last_question": "股权转让要交什么税", "company": "上海宝丰贸易有限公司",
                       "candidates": CANDIDATES, "handoff_topic": None})
    out = await ActionHandoff(services).run(dispatcher, t, {})
    [ticket] = tickets(engine)
    assert ticket.channel == Channel.ONLINE_HELPER and ticket.conversation_id == "conv-1"
    assert ticket.department == TAX and ticket.status == "queued"
    assert ticket.topic == "股权转让要交什么税" and ticket.company == "上海宝丰贸易有限公司"
    assert ticket.summary == "咨询：股权转让要交什么税（企业：上海宝丰贸易有限公司）"
    turns = ticket.context["last_turns"]
    assert [turn["role"] for turn in turns] == ["user", "bot", "user", "bot", "user"]
    assert turns[-1]["text"] == "转人工"
    assert ticket.context["candidates"][0] == {"id": "kb-tax-010", "question": "个人股权转让个税",
                                               "category": "税务发票", "score": 0.41}
    assert ticket.context["intent"] == "request_human"
    assert stream(r, Channel.ONLINE_HELPER, TAX) == [ticket.id]
    assert any(e["event"] == "pause" for e in out)
    assert {"event": "slot", "name": "handoff_ticket_id", "value": ticket.id,
            "timestamp": None} in out
    text = dispatcher.messages[0]["text"]
    assert ticket.id in text and "排在第 1 位" in text


async def test_same_turn_retried_makes_one_ticket(services, engine, tracker, dispatcher):
    t = tracker("转人工", intent="request_human", events=HISTORY)
    await ActionHandoff(services).run(dispatcher, t, {})
    await ActionHandoff(services).run(dispatcher, t, {})
    [ticket] = tickets(engine)
    assert all(ticket.id in m["text"] for m in dispatcher.messages)
    assert ticket.request_id.startswith("bot-")


async def test_skipped_slots_are_empty(services, engine, tracker, dispatcher):
    t = tracker("跳过", intent="inform", slots={"handoff_topic": "-", "company": "-"})
    await ActionHandoff(services).run(dispatcher, t, {})
    [ticket] = tickets(engine)
    assert ticket.company == "" and ticket.topic == ""
    assert ticket.summary == "咨询：未说明具体事项"
    assert ticket.department == "综合窗口"  # no candidate: the central desk


async def test_a_complaint_is_queued_ahead(services, engine, r, tracker, dispatcher):
    t = tracker("我要投诉窗口态度", intent="request_human")
    await ActionHandoff(services).run(dispatcher, t, {})
    [ticket] = tickets(engine)
    assert ticket.complaint and ticket.priority == 1
    assert stream(r, Channel.ONLINE_HELPER, "综合窗口", high=True) == [ticket.id]


async def test_12345_call_back_pauses_until_the_call(services, engine, r, tracker, dispatcher):
    t = tracker("明天上午", intent="inform", events=HISTORY,
                slots={**CALL_BACK, "candidates": CANDIDATES})
    out = await ActionRequest12345Call(services).run(dispatcher, t, {})
    [ticket] = tickets(engine)
    assert ticket.channel == Channel.HOTLINE_12345 and ticket.phone == "13812345678"
    assert ticket.time_window.endswith("09:00–12:00")
    assert ticket.summary == "咨询：股权转让要交什么税"
    with session_scope(engine) as s:
        [call] = s.scalars(select(Call).where(Call.ticket_id == ticket.id)).all()
        assert call.phone == "13812345678"
    assert stream(r, Channel.HOTLINE_12345, TAX) == [ticket.id]
    assert out[-1]["event"] == "pause"
    text = dispatcher.messages[0]["text"]
    assert "138****5678" in text and "13812345678" not in text and ticket.id in text


@pytest.mark.parametrize("slots", [
    {**CALL_BACK, "phone": "138 1234 5678"},  # not the form's canonical number
    {**CALL_BACK, "phone": "010-12345678"},  # not a Shanghai landline
    {**CALL_BACK, "phone": None},
    {**CALL_BACK, "phone": "-"},  # skipped
    {**CALL_BACK, "time_window": None},
    {**CALL_BACK, "time_window": "  "},
    {**CALL_BACK, "time_window": "明天" * 101},
])
async def test_12345_call_back_without_a_callable_number_or_time_books_nothing(
        slots, services, engine, r, tracker, dispatcher):
    t = tracker("明天上午", intent="inform", events=HISTORY, slots=slots)
    out = await ActionRequest12345Call(services).run(dispatcher, t, {})
    assert tickets(engine) == []
    assert r.keys("xiaobao:queue:*") == []
    assert not any(e["event"] == "pause" for e in out)
    assert {"event": "slot", "name": "phone", "value": None, "timestamp": None} in out
    [msg] = dispatcher.messages
    assert "抱歉" in msg["text"] and "没有为您预约" in msg["text"]
    assert [b["payload"] for b in msg["buttons"]] == ["/request_12345_call", "/request_human"]


async def test_12345_call_back_accepts_a_shanghai_landline(services, engine, tracker, dispatcher):
    t = tracker("明天上午", intent="inform", slots={**CALL_BACK, "phone": "021-62345678"})
    await ActionRequest12345Call(services).run(dispatcher, t, {})
    [ticket] = tickets(engine)
    assert ticket.phone == "021-62345678"
    assert "021****5678" in dispatcher.messages[0]["text"]


async def test_failed_handoff_is_polite_and_does_not_pause(services, engine, tracker, dispatcher):
    """The handoff refuses a conversation id longer than 96 characters (HandoffError)."""
    t = tracker("转人工", intent="request_human", sender_id="c" * 97)
    out = await ActionHandoff(services).run(dispatcher, t, {})
    assert tickets(engine) == []
    assert not any(e["event"] == "pause" for e in out)
    assert "12345" in dispatcher.messages[0]["text"]


async def test_a_database_failure_is_polite_too(services, tracker, dispatcher, tmp_path):
    broken = make_engine(f"sqlite:///{tmp_path / 'no-tables.db'}")  # never migrated
    services.handoff = services.handoff.replace(engine=broken)
    try:
        out = await ActionHandoff(services).run(dispatcher, tracker("转人工",
                                                                    intent="request_human"), {})
    finally:
        broken.dispose()
    assert not any(e["event"] == "pause" for e in out)
    assert "转接暂时没有成功" in dispatcher.messages[0]["text"]


def test_summary_is_one_short_line(tracker):
    long = tracker("x", events=[{"event": "user", "text": "问" * 300, "timestamp": 1.0,
                                 "parse_data": {"intent": {"name": "ask_question"}}}])
    line = summary_of(long, "", "")
    assert len(line) == 80 and "\n" not in line and line.endswith("…")


@pytest.mark.parametrize("hours, helper_on_duty, expected", [
    (NEVER_OPEN, False, "不是服务时间"),
    (ALWAYS_OPEN, False, "暂时都不在线"),
    (ALWAYS_OPEN, True, "排在第 1 位"),
])
async def test_the_receipt_decides_what_the_user_is_told(hours, helper_on_duty, expected,
                                                         services, ctx, tracker, dispatcher):
    services.handoff = ctx.replace(config=ctx.config.replace(hours=hours))
    if helper_on_duty:
        put_on_duty(services.handoff, "helper-desk", "综合窗口")
    t = tracker("转人工", intent="request_human")
    out = await ActionHandoff(services).run(dispatcher, t, {})
    text = dispatcher.messages[0]["text"]
    assert expected in text and "工单号" in text
    assert (expected != "排在第 1 位") == ("留言" in text)
    assert out[-1]["event"] == "pause"


async def test_out_of_hours_names_the_configured_hours(services, ctx, tracker, dispatcher):
    weekly = {d: ((dt.time(10), dt.time(11)),) for d in range(1, 6)}
    closed_now = dataclasses.replace(NEVER_OPEN, weekly=weekly,
                                     holidays=frozenset(dt.date.today() + dt.timedelta(days=n)
                                                        for n in range(-1, 2)))
    services.handoff = ctx.replace(config=ctx.config.replace(hours=closed_now))
    await ActionHandoff(services).run(dispatcher, tracker("转人工", intent="request_human"), {})
    assert "（工作日 10:00–11:00，节假日除外）" in dispatcher.messages[0]["text"]


@pytest.mark.parametrize("metadata, visitor", [
    ({"visitor_id": "v-123"}, "v-123"),
    ({}, "conv-1"),  # the portal's conversation id is its visitor id
    (None, "conv-1"),
])
async def test_visitor_id_comes_from_the_message_metadata(metadata, visitor, services, engine,
                                                          tracker, dispatcher):
    t = tracker("转人工", intent="request_human")
    if metadata is not None:
        t.latest_message["metadata"] = metadata
    await ActionHandoff(services).run(dispatcher, t, {})
    [ticket] = tickets(engine)
    assert ticket.visitor_id == visitor


def _ran(*names: str) -> list[dict]:
    return [{"event": "action", "name": name} for name in names]


@pytest.mark.parametrize("offered,ran,expected", [
    (False, _ran("action_answer_question"), "user"),  # typed 转人工 after an answer
    (True, _ran("action_answer_question"), "abstention"),  # offered after an abstention
    (True, _ran("action_answer_question", "action_record_feedback",
                "validate_handoff_form"), "unhelpful"),  # offered after 没帮助 twice
    (True, [], "user"),
])
def test_the_handoff_says_why(tracker, offered, ran, expected):
    t = tracker("转人工", intent="request_human", slots={"human_offered": offered}, events=ran)
    assert trigger_of(t) == expected


@pytest.mark.parametrize(("typed", "kept"), [
    ("91310113ay4cl12th0", "91310113AY4CL12TH0"),  # valid: normalised
    ("91310113AY4CL12TH1", None),  # check character wrong: left out
])
def test_the_ticket_carries_only_a_valid_credit_code(tracker, typed, kept):
    from bot.actions.handoffs import build_request

    request = build_request(tracker("转人工", intent="request_human", slots={"uscc": typed}),
                            Channel.ONLINE_HELPER)
    codes = [e["value"] for e in request.entities if e["entity"] == "uscc"]
    assert codes == ([kept] if kept else [])
