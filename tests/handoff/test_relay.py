"""Live messages: across processes over pub/sub, every message in the transcript in order and
once, refused on closed tickets, limited to 2,000 characters, HTML kept as text."""
from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid

import pytest

from handoff import dispatch, relay
from handoff.requests import Candidate, HandoffRequest
from handoff.tickets import HandoffError, NotAllowed, TicketClosed
from xiaobao.settings import REPO_ROOT

from .conftest import make_helper

DEPT = "区行政服务中心"


def open_chat(engine, r, config, name="ha"):
    helper = make_helper(engine, name, [DEPT])
    dispatch.set_helper_status(helper, "on_duty", engine=engine, redis=r, config=config)
    conv = f"chat-{uuid.uuid4().hex[:8]}"
    dispatch.request_handoff(HandoffRequest(
        request_id=uuid.uuid4().hex, conversation_id=conv, channel="online_helper",
        candidates=[Candidate(id="kb", question="q", category="跨省通办", score=0.9)]),
        engine=engine, redis=r, config=config)
    ticket = dispatch.claim_next_ticket(helper, engine=engine, redis=r, config=config)
    return helper, conv, ticket


async def test_user_and_helper_on_different_processes_talk(engine, r, config, redis_server):
    helper, conv, ticket = open_chat(engine, r, config)
    events = relay.subscribe(conv, redis_url=redis_server.url)
    assert (await events.__anext__())["type"] == "subscribed"
    # the helper's gateway is another process: same database and Redis, nothing shared in memory
    code = (
        "import sys; from xiaobao.db import make_engine; import redis;"
        "from handoff import relay;"
        "from types import SimpleNamespace as NS;"
        f"e = make_engine({str(engine.url.render_as_string(hide_password=False))!r});"
        f"r = redis.Redis.from_url({redis_server.url!r}, decode_responses=True);"
        f"relay.send_helper_message({ticket.id!r}, NS(username='ha'), '您好，请讲', "
        "engine=e, redis=r)")
    await asyncio.to_thread(subprocess.run, [sys.executable, "-c", code], check=True,
                            cwd=REPO_ROOT, timeout=60)
    got = await asyncio.wait_for(events.__anext__(), 10)
    assert (got["type"], got["role"], got["text"]) == ("message", "helper", "您好，请讲")
    relay.send_user_message(conv, "我想问跨省通办", engine=engine, redis=r)
    got = await asyncio.wait_for(events.__anext__(), 10)
    assert (got["role"], got["text"]) == ("user", "我想问跨省通办")
    dispatch.resolve_ticket(ticket.id, helper, "已解答", engine=engine, redis=r, config=config)
    got = await asyncio.wait_for(events.__anext__(), 10)
    assert got["type"] == "resolved"
    await events.aclose()
    assert relay.get_mode(conv, engine=engine, redis=r).mode == "bot"


def test_transcript_in_order_and_once(engine, r, config):
    helper, conv, ticket = open_chat(engine, r, config)
    relay.send_helper_message(ticket.id, helper, "1", engine=engine, redis=r, message_id="m1")
    relay.send_user_message(conv, "2", engine=engine, redis=r, message_id="m2")
    relay.send_user_message(conv, "2", engine=engine, redis=r, message_id="m2")  # resent
    relay.send_helper_message(ticket.id, helper, "1", engine=engine, redis=r, message_id="m1")
    for i in range(3, 20):
        if i % 2:
            relay.send_helper_message(ticket.id, helper, str(i), engine=engine, redis=r)
        else:
            relay.send_user_message(conv, str(i), engine=engine, redis=r)
    live = [m["text"] for m in relay.transcript(conv, engine=engine) if m["role"] != "bot"]
    assert live == [str(i) for i in range(1, 20)]


def test_closed_ticket_refuses_messages_and_user_returns_to_bot(engine, r, config):
    helper, conv, ticket = open_chat(engine, r, config)
    relay.send_helper_message(ticket.id, helper, "您好", engine=engine, redis=r)
    dispatch.resolve_ticket(ticket.id, helper, engine=engine, redis=r, config=config)
    with pytest.raises(TicketClosed):
        relay.send_helper_message(ticket.id, helper, "还有吗", engine=engine, redis=r)
    with pytest.raises(TicketClosed):
        relay.send_user_message(conv, "谢谢", engine=engine, redis=r)
    assert relay.get_mode(conv, engine=engine, redis=r).mode == "bot"


def test_other_helper_cannot_write_on_a_ticket(engine, r, config):
    _helper, _conv, ticket = open_chat(engine, r, config)
    other = make_helper(engine, "hx", [DEPT])
    with pytest.raises(NotAllowed):
        relay.send_helper_message(ticket.id, other, "插话", engine=engine, redis=r)


@pytest.mark.parametrize("text", ["", "   ", "长" * 2001])
def test_bad_messages_are_refused(engine, r, config, text):
    helper, conv, ticket = open_chat(engine, r, config)
    with pytest.raises(HandoffError) as err:
        relay.send_user_message(conv, text, engine=engine, redis=r)
    assert "/" in err.value.message
    with pytest.raises(HandoffError):
        relay.send_helper_message(ticket.id, helper, text, engine=engine, redis=r)
    assert [m for m in relay.transcript(conv, engine=engine) if m["role"] != "bot"] == []


def test_html_is_stored_as_text_and_2000_chars_pass(engine, r, config):
    helper, conv, ticket = open_chat(engine, r, config)
    evil = "<script>alert('x')</script><b>粗体</b>&amp;"
    relay.send_user_message(conv, evil, engine=engine, redis=r)
    relay.send_helper_message(ticket.id, helper, "长" * 2000, engine=engine, redis=r)
    texts = [m["text"] for m in relay.transcript(conv, engine=engine) if m["role"] != "bot"]
    assert texts == [evil, "长" * 2000]
