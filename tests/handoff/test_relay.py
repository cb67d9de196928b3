"""Live messages: across processes over pub/sub, every message in the transcript in order and
once, refused on closed tickets, limited to 2,000 characters, HTML kept as text."""
from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid

import pytest
import redis.asyncio as aioredis

from handoff import claims, closing, duty, relay
from handoff.requests import Candidate, HandoffRequest, request_handoff
from handoff.tickets import HandoffError, NotAllowed, TicketClosed
from xiaobao import conversations
from xiaobao.db import session_scope
from xiaobao.settings import REPO_ROOT

from .conftest import make_helper

DEPT = "区行政服务中心"


def open_chat(ctx, name="ha"):
    helper = make_helper(ctx.engine, name, [DEPT])
    duty.set_helper_status(helper, "on_duty", ctx=ctx)
    conv = f"chat-{uuid.uuid4().hex[:8]}"
    request_handoff(HandoffRequest(
        request_id=uuid.uuid4().hex, conversation_id=conv, channel="online_helper",
        candidates=[Candidate(id="kb", question="q", category="跨省通办", score=0.9)]), ctx=ctx)
    ticket = claims.claim_next_ticket(helper, ctx=ctx)
    return helper, conv, ticket


async def test_user_and_helper_on_different_processes_talk(ctx, redis_server):
    helper, conv, ticket = open_chat(ctx)
    client = aioredis.Redis.from_url(redis_server.url)
    events = relay.subscribe(conv, client=client)
    assert (await events.__anext__())["type"] == "subscribed"
    # the helper's gateway is another process: same database and Redis, nothing shared in memory
    code = (
        "from xiaobao.db import make_engine; import redis;"
        "from handoff import relay; from handoff.config import packaged_config;"
        "from handoff.context import HandoffContext;"
        "from types import SimpleNamespace as NS;"
        f"e = make_engine({ctx.engine.url.render_as_string(hide_password=False)!r});"
        f"r = redis.Redis.from_url({redis_server.url!r}, decode_responses=True);"
        "ctx = HandoffContext(engine=e, redis=r, config=packaged_config());"
        f"relay.send_helper_message({ticket.id!r}, NS(username='ha'), '您好，请讲', ctx=ctx)")
    await asyncio.to_thread(subprocess.run, [sys.executable, "-c", code], check=True,
                            cwd=REPO_ROOT, timeout=60)
    got = await asyncio.wait_for(events.__anext__(), 10)
    assert (got["type"], got["role"], got["text"]) == ("message", "helper", "您好，请讲")
    relay.send_user_message(conv, "我想问跨省通办", ctx=ctx)
    got = await asyncio.wait_for(events.__anext__(), 10)
    assert (got["role"], got["text"]) == ("user", "我想问跨省通办")
    closing.resolve_ticket(ticket.id, helper, "已解答", ctx=ctx)
    got = await asyncio.wait_for(events.__anext__(), 10)
    assert (got["type"], got["ticket_id"], got["note"]) == ("resolved", ticket.id, "已解答")
    relay.publish_event(ctx, conv, {"type": "bot", "text": "请您评价"})
    got = await asyncio.wait_for(events.__anext__(), 10)
    assert got == {"type": "bot", "text": "请您评价"}
    await events.aclose()
    await client.aclose()
    assert relay.get_mode(conv, ctx=ctx).mode == "bot"


def test_transcript_in_order_and_once(ctx):
    helper, conv, ticket = open_chat(ctx)
    with session_scope(ctx.engine) as s:  # a bot turn said before the chat started
        conversations.append(s, conv, "bot", "正在为您转接人工")
    a = relay.send_helper_message(ticket.id, helper, "1", ctx=ctx, message_id="m1")
    b = relay.send_user_message(conv, "2", ctx=ctx, message_id="m2")
    assert relay.send_user_message(conv, "2", ctx=ctx, message_id="m2") == b  # resent
    assert relay.send_helper_message(ticket.id, helper, "1", ctx=ctx, message_id="m1") == a
    for i in range(3, 20):
        if i % 2:
            relay.send_helper_message(ticket.id, helper, str(i), ctx=ctx)
        else:
            relay.send_user_message(conv, str(i), ctx=ctx)
    everything = relay.transcript(conv, ctx=ctx)
    assert [m["text"] for m in everything] == ["正在为您转接人工"] + [str(i) for i in range(1, 20)]
    live = relay.transcript(ctx=ctx, ticket_id=ticket.id)
    assert [m["text"] for m in live] == [str(i) for i in range(1, 20)]
    assert {m["ticket_id"] for m in live} == {ticket.id}
    assert [m["role"] for m in live[:2]] == ["helper", "user"]
    # re-read after a reconnect: only what came after the last one seen
    after = relay.transcript(conv, ctx=ctx, after_pk=live[-3]["pk"])
    assert [m["text"] for m in after] == ["18", "19"]
    with pytest.raises(HandoffError):
        relay.transcript(ctx=ctx)


def test_first_helper_message_is_the_first_response(ctx):
    helper, conv, ticket = open_chat(ctx)
    assert relay.get_mode(conv, ctx=ctx).mode == "waiting"
    relay.send_helper_message(ticket.id, helper, "您好", ctx=ctx)
    state = relay.get_mode(conv, ctx=ctx)
    assert (state.mode, state.ticket_id) == ("human", ticket.id)


def test_closed_ticket_refuses_messages_and_user_returns_to_bot(ctx):
    helper, conv, ticket = open_chat(ctx)
    relay.send_helper_message(ticket.id, helper, "您好", ctx=ctx)
    closing.resolve_ticket(ticket.id, helper, ctx=ctx)
    with pytest.raises(TicketClosed):
        relay.send_helper_message(ticket.id, helper, "还有吗", ctx=ctx)
    with pytest.raises(TicketClosed):
        relay.send_user_message(conv, "谢谢", ctx=ctx)
    assert relay.get_mode(conv, ctx=ctx).mode == "bot"


def test_other_helper_cannot_write_on_a_ticket(ctx):
    _helper, _conv, ticket = open_chat(ctx)
    other = make_helper(ctx.engine, "hx", [DEPT])
    with pytest.raises(NotAllowed):
        relay.send_helper_message(ticket.id, other, "插话", ctx=ctx)


@pytest.mark.parametrize("text", ["", "   ", "长" * 2001])
def test_bad_messages_are_refused(ctx, text):
    helper, conv, ticket = open_chat(ctx)
    with pytest.raises(HandoffError) as err:
        relay.send_user_message(conv, text, ctx=ctx)
    assert "/" in err.value.message
    with pytest.raises(HandoffError):
        relay.send_helper_message(ticket.id, helper, text, ctx=ctx)
    assert relay.transcript(conv, ctx=ctx) == []


def test_html_is_stored_as_text_and_2000_chars_pass(ctx):
    helper, conv, ticket = open_chat(ctx)
    evil = "<script>alert('x')</script><b>粗体</b>&amp;"
    relay.send_user_message(conv, evil, ctx=ctx)
    relay.send_helper_message(ticket.id, helper, "长" * 2000, ctx=ctx)
    texts = [m["text"] for m in relay.transcript(conv, ctx=ctx)]
    assert texts == [evil, "长" * 2000]
