"""The gateway killed and started again mid-conversation (uvicorn in a process of its own).

The gateway keeps no conversation state of its own: SQL holds the record, Redis the queue and
the cached modes. A restart must not lose or repeat a message, nor change who talks to whom;
after Redis lost everything, the recovery at start-up puts every open ticket back.
"""
from __future__ import annotations

import json
import uuid

import httpx
from websockets.sync.client import connect

from handoff.config import packaged_config
from handoff.requests import Candidate, HandoffRequest, request_handoff
from xiaobao.accounts import create_account
from xiaobao.db import session_scope

DEPT = "区市场监管局"
CATEGORY = next(c for c, d in packaged_config().routing.items() if d == DEPT)


def browser(gateway) -> httpx.Client:
    """A user's browser: loading the portal sets the long-lived visitor cookie."""
    client = httpx.Client(base_url=gateway.base, timeout=10, headers={"Origin": gateway.base})
    assert client.get("/").status_code == 200
    return client


def staff(gateway, username: str) -> httpx.Client:
    with session_scope(gateway.engine) as session:
        create_account(session, username, "correct-horse", roles=["helper"], departments=[DEPT])
    client = httpx.Client(base_url=gateway.base, timeout=10, headers={"Origin": gateway.base})
    assert client.post("/api/auth/login", json={"username": username,
                                                "password": "correct-horse"}).status_code == 200
    assert client.post("/api/helper/status", json={"status": "on_duty"}).status_code == 200
    return client


def hand_off(gateway, user: httpx.Client) -> str:
    """What the bot's handoff action does for this browser's conversation."""
    conversation_id = gateway.conversation_of(user)
    return request_handoff(HandoffRequest(
        request_id=uuid.uuid4().hex, conversation_id=conversation_id, channel="online_helper",
        topic="营业执照办理", summary="用户询问营业执照办理",
        last_turns=[{"role": "user", "text": "营业执照怎么办"}, {"role": "bot", "text": "转人工"}],
        candidates=[Candidate(id="kb-001", question="如何办理营业执照", category=CATEGORY,
                              score=0.4)], visitor_id=conversation_id),
        ctx=gateway.ctx).ticket_id


def say(user: httpx.Client, text: str) -> dict:
    response = user.post("/api/chat/messages", json={"text": text})
    assert response.status_code == 200, response.text
    return response.json()


def reply(helper: httpx.Client, ticket_id: str, text: str) -> None:
    response = helper.post(f"/api/helper/tickets/{ticket_id}/messages",
                           json={"text": text, "message_id": uuid.uuid4().hex})
    assert response.status_code == 200, response.text


def live_lines(helper: httpx.Client, ticket_id: str) -> list[tuple[str, str]]:
    pack = helper.get(f"/api/helper/tickets/{ticket_id}").json()
    return [(m["role"], m["text"]) for m in pack["transcript"] if m["role"] in ("user", "helper")]


def user_socket(gateway, user: httpx.Client):
    cookie = f"xiaobao_visitor={user.cookies['xiaobao_visitor']}"
    return connect(f"ws://127.0.0.1:{gateway.port}/ws/chat",
                   additional_headers={"Cookie": cookie}, origin=gateway.base, open_timeout=10)


def test_conversation_continues_across_a_gateway_restart(gateway_process, redis_client, rasa):
    gateway = gateway_process
    gateway.start()
    user = browser(gateway)
    assert say(user, "你好")["mode"] == "bot"
    ticket_id = hand_off(gateway, user)
    ann = staff(gateway, "ann")
    assert ann.post("/api/helper/claim", json={}).json()["ticket"]["id"] == ticket_id
    reply(ann, ticket_id, "您好，我是帮办人员。")
    assert say(user, "我想办营业执照")["mode"] == "human"
    rasa_turns = len(rasa.received)

    gateway.kill()
    gateway.start()

    # The same browsers, the same cookies: nobody logs in again, nothing is re-sent.
    assert user.get("/api/chat/queue").json()["mode"] == "human"
    with user_socket(gateway, user) as ws:
        first = json.loads(ws.recv(timeout=10))
        assert first["type"] == "state" and first["mode"] == "human"
        assert first["ticket"]["id"] == ticket_id
        reply(ann, ticket_id, "需要带身份证原件。")
        pushed = json.loads(ws.recv(timeout=10))
    assert pushed["type"] == "message" and pushed["message"]["text"] == "需要带身份证原件。"
    assert say(user, "好的谢谢")["mode"] == "human"
    assert len(rasa.received) == rasa_turns  # the bot stayed silent throughout

    # The record: the user's turn with the bot before the handoff, then the live chat.
    expected = [("user", "你好"), ("helper", "您好，我是帮办人员。"),
                ("user", "我想办营业执照"), ("helper", "需要带身份证原件。"), ("user", "好的谢谢")]
    assert live_lines(ann, ticket_id) == expected  # complete, in order, each message once
    history = user.get("/api/chat/history").json()["messages"]
    assert [(m["role"], m["text"]) for m in history] == [("user", "你好"), ("bot", "您好"),
                                                         *expected[1:]]

    resolved = ann.post(f"/api/helper/tickets/{ticket_id}/resolve", json={"note": "已解答"})
    assert resolved.status_code == 200 and resolved.json()["bot_resumed"]
    assert say(user, "还有一个问题")["mode"] == "bot"
    assert len(rasa.received) == rasa_turns + 1


def test_redis_flushed_then_restart_keeps_who_waits_and_who_talks(gateway_process,
                                                                  redis_client, rasa):
    gateway = gateway_process
    gateway.start()
    talking, waiting = browser(gateway), browser(gateway)
    ann = staff(gateway, "ann")
    talking_ticket = hand_off(gateway, talking)
    assert ann.post("/api/helper/claim", json={}).json()["ticket"]["id"] == talking_ticket
    reply(ann, talking_ticket, "您好，请讲。")
    waiting_ticket = hand_off(gateway, waiting)
    assert waiting.get("/api/chat/queue").json()["ticket"]["queue_position"] == 1

    redis_client.flushall()  # Redis keeps nothing on disk: a restart of it looks like this
    gateway.kill()
    gateway.start()  # recovery runs at start-up
    assert ann.post("/api/helper/heartbeat").status_code == 200  # the open console's next beat

    state = waiting.get("/api/chat/queue").json()
    assert state["mode"] == "waiting" and state["ticket"]["id"] == waiting_ticket
    assert state["ticket"]["queue_position"] == 1
    assert talking.get("/api/chat/queue").json()["mode"] == "human"
    turns = len(rasa.received)
    assert say(talking, "我的问题是关于执照的")["mode"] == "human"
    assert say(waiting, "还要等多久")["mode"] == "waiting"
    assert len(rasa.received) == turns  # neither message went to the bot

    # The waiting ticket is back in the stream: the next claim finds it.
    claimed = ann.post("/api/helper/claim", json={}).json()["ticket"]
    assert claimed["id"] == waiting_ticket
    reply(ann, talking_ticket, "好的。")
    assert live_lines(ann, talking_ticket) == [  # no turn with the bot before the handoff
        ("helper", "您好，请讲。"), ("user", "我的问题是关于执照的"), ("helper", "好的。")]
    assert live_lines(ann, waiting_ticket)[-1] == ("user", "还要等多久")
