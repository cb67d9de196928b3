"""End to end through the trained model: `rasa run` (REST channel) → the action server →
the real retriever over the seed knowledge base → the real handoff queue in Redis."""
from __future__ import annotations

import datetime as dt
import uuid

import httpx
import pytest
import yaml
from sqlalchemy import select

from handoff.config import packaged_config
from handoff.queue import queue_key
from knowledge_base.card import card_lines
from knowledge_base.schema import EntryData
from tests.bot.stack import REPO, TOKEN, BotStack
from xiaobao.enums import Channel

pytestmark = pytest.mark.rasa


@pytest.fixture
def stack(bot_stack: BotStack) -> BotStack:
    return bot_stack


def seed_entry(entry_id: str) -> dict:
    for path in sorted((REPO / "knowledge_base" / "seed").glob("*.yaml")):
        for entry in yaml.safe_load(path.read_text("utf-8")) or []:
            if entry["id"] == entry_id:
                return entry
    raise KeyError(entry_id)


def texts(replies: list[dict]) -> str:
    return "\n".join(r.get("text", "") for r in replies)


def sender() -> str:
    return f"e2e-{uuid.uuid4().hex[:10]}"


def test_a_chinese_question_gets_the_answer_with_its_source(stack):
    entry = seed_entry("kb-startup-001")
    replies = stack.say(sender(), entry["question"])
    reply = texts(replies)
    assert entry["answer"].splitlines()[0][:40] in reply
    # The knowledge base's answer card, line for line: source, entry point, validity, review.
    for line in card_lines(EntryData.model_validate(entry)):
        assert line in reply
    assert entry.get("long_term") or "长期有效" not in reply
    buttons = [b["title"] for r in replies for b in r.get("buttons", [])]
    assert buttons == ["有帮助", "没帮助", "转人工"]


def test_transfer_to_a_human_queues_a_request_with_the_conversation(stack):
    from handoff.store import Ticket
    from xiaobao.db import make_engine, session_scope

    conv = sender()
    stack.say(conv, "营业执照丢了怎么补办")
    asked = texts(stack.say(conv, "转人工"))
    assert "企业名称" in asked  # the topic is the question just asked; only the company is asked
    done = texts(stack.say(conv, "上海宝丰贸易有限公司"))
    assert "工单号" in done

    engine = make_engine(stack.db_url)
    with session_scope(engine) as s:
        [ticket] = s.scalars(select(Ticket).where(Ticket.conversation_id == conv)).all()
        assert ticket.channel == Channel.ONLINE_HELPER
        turns = ticket.context["last_turns"]
        assert {"role": "user", "text": "营业执照丢了怎么补办"} in turns
        assert turns[-1] == {"role": "user", "text": "上海宝丰贸易有限公司"}
        assert ticket.context["candidates"], "retrieval's candidates travel with the request"
        key = queue_key(ticket.channel, ticket.department, bool(ticket.priority))
        ticket_id = ticket.id
    engine.dispose()
    # Routed in SQL, then queued on its department's stream.
    assert [f["ticket_id"] for _id, f in stack.redis().xrange(key)].count(ticket_id) == 1

    # The conversation is paused: Rasa stays silent while the helper has it.
    assert stack.say(conv, "在吗") == []


def _next_open_morning() -> dt.date:
    from xiaobao.clock import opening_spans

    config = packaged_config()  # the stack runs with the packaged handoff configuration
    day = dt.date.today() + dt.timedelta(days=1)
    while not any(start < dt.time(12) for start, _ in opening_spans(day, config)):
        day += dt.timedelta(days=1)
    return day


def test_12345_call_back_asks_again_for_a_wrong_phone(stack):
    conv = sender()
    assert "联系电话" in texts(stack.say(conv, "让12345给我回个电话"))
    wrong = texts(stack.say(conv, "138 1234 567"))
    assert "11位" in wrong
    assert "时间" in texts(stack.say(conv, "13812345678"))
    day = _next_open_morning()
    done = texts(stack.say(conv, f"{day.month}月{day.day}日上午"))
    assert "已为您预约12345热线回电" in done and "138****5678" in done
    from handoff.store import Ticket
    from xiaobao.db import make_engine, session_scope

    engine = make_engine(stack.db_url)
    with session_scope(engine) as s:
        [ticket] = s.scalars(select(Ticket).where(Ticket.conversation_id == conv)).all()
        assert ticket.channel == Channel.HOTLINE_12345 and ticket.phone == "13812345678"
        key = queue_key(ticket.channel, ticket.department, bool(ticket.priority))
        ticket_id = ticket.id
    engine.dispose()
    assert ticket_id in [f["ticket_id"] for _id, f in stack.redis().xrange(key)]
    # Paused until the call: Rasa stays silent (the gateway sends the user's words to the helper).
    assert stack.say(conv, "谢谢") == []


def test_a_form_can_be_cancelled(stack):
    conv = sender()
    stack.say(conv, "我要12345回电")
    assert "已取消" in texts(stack.say(conv, "算了不办了"))
    assert "您好" in texts(stack.say(conv, "你好"))


@pytest.mark.parametrize("text", ["😀😀😀", "。。。", "公司变更address要带啥材料", "a" * 30])
def test_odd_input_gets_a_polite_reply(stack, text):
    replies = stack.say(sender(), text)
    # Rasa sends a message's custom part (api.typed_answers' marks) as a reply of its own.
    shown = [r for r in replies if set(r) - {"recipient_id", "custom"}]
    assert shown and all(r.get("text") for r in shown)


def test_it_says_it_is_an_assistant(stack):
    reply = texts(stack.say(sender(), "你是机器人吗"))
    assert "智能助手" in reply and "转人工" in reply


def test_rating_after_a_conversation(stack):
    conv = sender()
    reply = texts(stack.say(conv, "非常满意"))
    assert "感谢您的评价（非常满意）" in reply
    from xiaobao.db import make_engine, session_scope
    from xiaobao.events import Event

    engine = make_engine(stack.db_url)
    with session_scope(engine) as s:
        [event] = s.scalars(select(Event).where(Event.conversation_id == conv)).all()
        assert event.kind == "rating" and event.actor == "user"
        assert {k: event.data[k] for k in ("rating", "target", "case", "replaces")} == {
            "rating": "非常满意", "target": "bot", "case": f"bot:{conv}", "replaces": None}
    engine.dispose()


def test_a_bad_rating_asks_why_and_a_reason_button_records_it(stack):
    """Through the trained model: 不满意 alone is recorded with its reason pending and offers
    reason buttons; the button's payload (whose ``reason`` Rasa drops as an unknown entity)
    completes the 差评 with that reason on its work order; a typed level with words records
    those words."""
    from ratings.cases import BadRatingCase
    from xiaobao.db import make_engine, session_scope
    from xiaobao.events import Event

    conv, typed = sender(), sender()
    [asked] = [r for r in stack.say(conv, "不满意") if r.get("buttons")]
    assert "原因" in asked["text"]
    button = asked["buttons"][0]
    assert "已记录您的评价（不满意）" in texts(stack.say(conv, button["payload"]))
    assert "已记录您的评价（非常不满意）" in texts(stack.say(typed, "非常不满意，窗口让我跑了三次"))
    engine = make_engine(stack.db_url)
    with session_scope(engine) as s:
        rated = {e.conversation_id: e.data["reason"] for e in s.scalars(
            select(Event).where(Event.kind.in_(["rating", "rating_reason"]),
                                Event.conversation_id.in_([conv, typed])).order_by(Event.pk))}
        assert rated == {conv: button["title"], typed: "窗口让我跑了三次"}
        cases = {c.case_key: c.reason for c in s.scalars(select(BadRatingCase))}
        assert cases[f"bot:{conv}"] == button["title"]
    engine.dispose()


def test_each_answer_is_logged(stack):
    from xiaobao.db import make_engine, session_scope
    from xiaobao.events import Event

    conv = sender()
    stack.say(conv, "增值税发票怎么申领")
    engine = make_engine(stack.db_url)
    with session_scope(engine) as s:
        kinds = [e.kind for e in s.scalars(select(Event).where(Event.conversation_id == conv))]
    engine.dispose()
    assert kinds == ["bot_answer"]


def _rasa_keys(stack: BotStack, conv: str) -> list[str]:
    """Rasa's tracker and lock keys for ``conv`` (Redis db 1, endpoints.yml)."""
    import redis

    client = redis.Redis(port=stack.redis_port, db=1, decode_responses=True)
    try:
        return client.keys(f"*{conv}*")
    finally:
        client.close()


def _ratings(stack: BotStack, conv: str) -> list[str]:
    from xiaobao.db import make_engine, session_scope
    from xiaobao.events import Event

    engine = make_engine(stack.db_url)
    with session_scope(engine) as s:
        kinds = [e.kind for e in s.scalars(select(Event).where(Event.conversation_id == conv))]
    engine.dispose()
    return kinds


@pytest.mark.parametrize("signature", [None, "", "sha256=" + "0" * 64, "wrong-key"])
def test_an_unsigned_or_wrongly_signed_turn_is_refused_and_reaches_no_tracker(stack, signature):
    """Only a gateway may talk to Rasa (bot/channels.py): a forged 非常满意 or /request_human
    without the HMAC of its body under XIAOBAO_RASA_TOKEN is answered 401 and writes nothing."""
    import json

    from bot.signing import sign

    conv = sender()
    for text in ("非常满意", '/request_human{"topic": "营业执照"}'):
        body = json.dumps({"sender": conv, "message": text}).encode()
        if signature == "wrong-key":
            signature = sign("not-the-rasa-token-0123456789", body)
        refused = stack.post_webhook(body, signature, timeout=60)
        assert refused.status_code == 401, refused.text
        assert refused.json()["error"]["code"] == "bad_signature"
    # A body signed for another body is refused too (the HMAC covers the raw body).
    other = json.dumps({"sender": conv, "message": "非常满意"}).encode()
    assert stack.post_webhook(other, sign(TOKEN, other + b" "), timeout=60).status_code == 401
    assert _rasa_keys(stack, conv) == []
    assert _ratings(stack, conv) == []
    # The open REST channel is not served at all.
    opened = httpx.post(f"{stack.rasa_url}/webhooks/rest/webhook",
                        json={"sender": conv, "message": "非常满意"}, timeout=60)
    assert opened.status_code == 404
    assert _rasa_keys(stack, conv) == []


def test_the_gateways_signed_turn_is_answered(stack):
    """api.rasa_client signs with the settings' rasa_token: Rasa answers and the rating is
    recorded (so the refusals above are the signature's, not a broken channel's)."""
    import asyncio

    from api import rasa_client
    from xiaobao.settings import Settings

    conv = sender()
    settings = Settings(rasa_url=stack.rasa_url, rasa_token=TOKEN, rasa_timeout_s=120)

    async def ask() -> list[dict]:
        async with httpx.AsyncClient() as http:
            return await rasa_client.ask(http, settings, conv, "非常满意")

    assert "感谢您的评价（非常满意）" in texts(asyncio.run(ask()))
    assert _rasa_keys(stack, conv)
    assert _ratings(stack, conv) == ["rating"]


# --- typed answers through the gateway (api.typed_answers) ---------------------------------------

def _record_of(stack: BotStack, conv: str) -> tuple[list[tuple], list[str]]:
    """The ratings and reasons recorded for ``conv``, and the user's turns as the record keeps
    them."""
    from xiaobao import conversations
    from xiaobao.db import make_engine, session_scope
    from xiaobao.events import Event

    engine = make_engine(stack.db_url)
    with session_scope(engine) as s:
        rated = [(e.kind, e.data.get("rating"), e.data.get("reason")) for e in s.scalars(
            select(Event).where(Event.conversation_id == conv,
                                Event.kind.in_(["rating", "rating_reason"])).order_by(Event.pk))]
        said = [m.text for m in conversations.conversation(s, conv) if m.role == "user"]
    engine.dispose()
    return rated, said


def _chat(user: httpx.Client, text: str) -> list[dict]:
    response = user.post("/api/chat/messages", json={"text": text})
    assert response.status_code == 200, response.text
    return response.json()["messages"]


def _conversation(user: httpx.Client) -> str:
    return user.get("/api/chat/history").json()["conversation_id"]


RATING_LEVELS = ("非常满意", "满意", "基本满意", "不满意", "非常不满意")


@pytest.mark.parametrize("level", RATING_LEVELS)
def test_typing_a_rating_prompts_title_records_that_level(stack, level):
    """The prompt of the domain (utter_ask_rating) and, for a 差评, the reason prompt of the
    action: typing a title selects it, a free text is the reason, the record holds both."""
    user = stack.browser()
    asked = _chat(user, "我要评价")
    assert [b["title"] for m in asked for b in m["buttons"]] == list(RATING_LEVELS)
    replied = _chat(user, level)
    conv = _conversation(user)
    if level in ("不满意", "非常不满意"):
        [prompt] = [m for m in replied if m["buttons"]]
        assert "原因" in prompt["text"]
        assert _record_of(stack, conv)[0] == [("rating", level, "")]  # counted already
        texts_after = _chat(user, "窗口的人让我来回跑了三趟")
        assert f"已记录您的评价（{level}）" in "".join(m["text"] for m in texts_after)
        assert _record_of(stack, conv) == (
            [("rating", level, ""), ("rating_reason", level, "窗口的人让我来回跑了三趟")],
            ["我要评价", level, "窗口的人让我来回跑了三趟"])
    else:
        assert f"感谢您的评价（{level}）" in "".join(m["text"] for m in replied)
        assert _record_of(stack, conv) == ([("rating", level, "")], ["我要评价", level])


@pytest.mark.parametrize("reason", ["等待时间太长", "问题没有解决", "答复不准确", "服务态度不好"])
def test_typing_a_reason_buttons_title_records_that_reason(stack, reason):
    """The bug this fixes: "等待时间太长", a button's own title, got the out-of-scope reply."""
    user = stack.browser()
    _chat(user, "我要评价")
    _chat(user, "差评")
    replied = _chat(user, reason)
    assert "已记录您的评价（不满意）" in "".join(m["text"] for m in replied)
    assert _record_of(stack, _conversation(user))[0] == [
        ("rating", "不满意", ""), ("rating_reason", "不满意", reason)]


def test_moving_on_to_a_question_keeps_the_rating_and_answers_the_question(stack):
    user = stack.browser()
    _chat(user, "我要评价")
    _chat(user, "1星")
    entry = seed_entry("kb-startup-001")
    replied = _chat(user, entry["question"] + "？")
    assert entry["answer"].splitlines()[0][:40] in "".join(m["text"] for m in replied)
    assert _record_of(stack, _conversation(user))[0] == [("rating", "非常不满意", "")]


def test_an_answer_that_fits_no_level_is_asked_again_once(stack):
    """Off topic after the rating prompt: the bot does not understand it, so the gateway
    re-asks once with the prompt's own sentence and buttons; the second time the bot's reply."""
    user = stack.browser()
    _chat(user, "我要评价")
    again = _chat(user, "今天天气怎么样")
    assert "没能对上评价选项" in "".join(m["text"] for m in again)
    assert [b["title"] for m in again for b in m["buttons"]] == list(RATING_LEVELS)
    second = _chat(user, "今天天气怎么样")
    assert "没能对上评价选项" not in "".join(m["text"] for m in second)
    _chat(user, "我要评价")
    _chat(user, "今天天气怎么样")
    replied = _chat(user, "一般")
    assert "感谢您的评价（基本满意）" in "".join(m["text"] for m in replied)


def test_a_policy_check_up_through_the_gateway_answers_typed_and_clicked(stack):
    """政策体检 on the seed: the question names its field, a typed number and typed band
    titles are taken (api.typed_answers), and the round ends with the results."""
    user = stack.browser()
    asked = _chat(user, "我公司能享受哪些政策")
    for _ in range(6):
        prompt = next((m for m in asked if (m.get("custom") or {}).get("field")), None)
        if prompt is None:
            break
        field = prompt["custom"]["field"]
        titles = [b["title"] for b in prompt["buttons"]]
        typed = "25" if field["type"] in ("integer", "number") else titles[0]
        asked = _chat(user, typed)
    result = next(m for m in asked if (m.get("custom") or {}).get("policy_result"))
    assert "政策体检结果" in result["text"]
    said = _record_of(stack, _conversation(user))[1]
    assert said[0] == "我公司能享受哪些政策" and len(said) >= 2  # what the user typed, kept
