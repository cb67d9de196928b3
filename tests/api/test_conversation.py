"""The conversation service (api/conversation.py): checking a message, the bot's replies as the
page shows them, the offered payloads, the conversation's state, and the hand-back to the bot
after a ticket closes — by every path that closes one, seen through the gateway.
"""
from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from api import conversation, offered, user_text
from api.errors import ApiError
from api.services import Services
from handoff import call_adapters, calls, outbox
from handoff.requests import request_handoff
from handoff.store import Ticket
from tests.api.support import (
    DEPT,
    RATING_QUESTION,
    SAME_ORIGIN,
    conversation_of,
    expire_outbox_claims,
    hand_back_calls,
    hand_off,
    handoff_request,
    one_hand_back,
)
from xiaobao.db import session_scope
from xiaobao.phone import PHONE_NOTICE
from xiaobao.settings import REPO_ROOT

OPEN = dt.datetime(2026, 12, 1, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))  # a Tuesday morning
RATE = '/rate_service{"rating": "满意"}'


# --- checking a message --------------------------------------------------------------------------

def test_check_user_text_normalises_for_rasa_and_keeps_what_people_read():
    checked = user_text.check_user_text("  好的，谢谢！\x07 ", {}, 2000)
    assert checked == user_text.UserText(for_route="好的,谢谢!", shown="好的，谢谢！")


def test_check_user_text_refuses_too_long_and_empty_messages():
    with pytest.raises(ApiError) as too_long:
        user_text.check_user_text("问" * 11, {}, 10)
    assert (too_long.value.status, too_long.value.code) == (413, "message_too_long")
    assert "最多10个字" in too_long.value.message and "11" in too_long.value.message
    assert user_text.check_user_text("问" * 10, {}, 10).shown == "问" * 10
    for empty in ("", "  ", "😀🎉", "\u200b"):
        with pytest.raises(ApiError) as refused:
            user_text.check_user_text(empty, {}, 10)
        assert (refused.value.status, refused.value.code) == (422, "empty_message")


def test_check_user_text_passes_only_offered_payloads_as_commands():
    offered = {RATE: "满意", "/request_human": ""}
    click = user_text.check_user_text(RATE, offered, 2000)
    assert click == user_text.UserText(for_route=RATE, shown="满意", payload=RATE)
    # Without a title, the payload is what the record shows.
    assert user_text.check_user_text("/request_human", offered, 2000).shown == "/request_human"
    typed = user_text.check_user_text('/rate_service{"rating": "非常满意"}', offered, 2000)
    assert typed.for_route.startswith(user_text.ESCAPED_SLASH) and typed.payload == ""
    assert user_text.check_user_text("／request_human", {}, 2000).for_route == \
        user_text.ESCAPED_SLASH + "request_human"


def test_bot_messages_shape_the_replies_and_put_the_privacy_notice_first():
    replies = [
        "not a reply",
        {"text": "请留下您的手机号，工作人员将回电。"},
        {"text": "", "buttons": [{"title": "满意", "payload": RATE}, "junk"]},
        {"text": "", "custom": {"card": 1}},  # Rasa's json_message: the message before's
        {"text": ""},  # nothing to show
    ]
    assert conversation.bot_messages(replies) == [
        {"role": "notice", "text": PHONE_NOTICE, "buttons": []},
        {"role": "bot", "text": "请留下您的手机号，工作人员将回电。", "buttons": []},
        {"role": "bot", "text": "", "buttons": [{"title": "满意", "payload": RATE}],
         "custom": {"card": 1}},
    ]
    # A custom reply with nothing before it is a message of its own.
    assert conversation.bot_messages([{"custom": {"card": 2}}]) == [
        {"role": "bot", "text": "", "buttons": [], "custom": {"card": 2}}]


def test_offered_payloads_are_those_of_the_last_reply_only(redis_client):
    offered.store_offered(redis_client, "conv-1", [
        {"role": "bot", "text": "评价", "buttons": [{"title": "满意", "payload": RATE}]}])
    assert offered.load_offered(redis_client, "conv-1") == {RATE: "满意"}
    assert 0 < redis_client.ttl(offered.offered_key("conv-1")) <= offered.OFFERED_TTL_S
    offered.store_offered(redis_client, "conv-1", [{"role": "bot", "text": "好的",
                                                         "buttons": []}])
    assert offered.load_offered(redis_client, "conv-1") == {}
    assert offered.load_offered(redis_client, "conv-2") == {}


# --- the conversation's state --------------------------------------------------------------------

def test_conversation_state_follows_the_ticket(client, rasa, services):
    client.get("/")
    conv = conversation_of(client)
    assert conversation.conversation_state(services, conv) == {"mode": "bot", "ticket": None}
    ticket_id = hand_off(client)
    state = conversation.conversation_state(services, conv)
    assert state["mode"] == "waiting"
    assert {k: state["ticket"][k] for k in ("id", "status", "department", "channel",
                                             "queue_position", "helper_name")} == {
        "id": ticket_id, "status": "queued", "department": DEPT, "channel": "online_helper",
        "queue_position": 1, "helper_name": ""}
    assert "phone" not in state["ticket"]  # what the user may know of their ticket


# --- back to the bot, whatever closed the ticket -------------------------------------------------

@dataclass
class Gateway:
    user: TestClient  # the user's browser; has chatted with the bot
    staff: TestClient  # ann, a helper of DEPT, on duty
    services: Services
    rasa: object

    @property
    def conversation_id(self) -> str:
        return conversation_of(self.user)


@pytest.fixture
def gateway(app, client, rasa, services, make_account) -> Gateway:
    client.post("/api/chat/messages", json={"text": "你好"})
    password = make_account("ann", roles=["helper"], departments=[DEPT], display_name="王帮办")
    staff = TestClient(app, headers=SAME_ORIGIN)
    assert staff.post("/api/auth/login", json={"username": "ann", "password": password}
                      ).status_code == 200
    assert staff.post("/api/helper/status", json={"status": "on_duty"}).status_code == 200
    yield Gateway(user=client, staff=staff, services=services, rasa=rasa)
    staff.close()


def _claimed_and_answered(g: Gateway) -> str:
    ticket_id = hand_off(g.user)
    assert g.staff.post("/api/helper/claim", json={}).json()["ticket"]["id"] == ticket_id
    assert g.staff.post(f"/api/helper/tickets/{ticket_id}/messages",
                        json={"text": "您好，请讲。"}).status_code == 200
    return ticket_id


def by_helper_resolve(g: Gateway) -> tuple[str, bool | None]:
    ticket_id = _claimed_and_answered(g)
    closed = g.staff.post(f"/api/helper/tickets/{ticket_id}/resolve", json={"note": "已解答"})
    assert closed.status_code == 200, closed.text
    assert closed.json()["ticket"]["status"] == "resolved"
    return ticket_id, closed.json()["bot_resumed"]


def by_helper_unresolve(g: Gateway) -> tuple[str, bool | None]:
    ticket_id = _claimed_and_answered(g)
    closed = g.staff.post(f"/api/helper/tickets/{ticket_id}/unresolve",
                          json={"note": "需线下办理"})
    assert closed.status_code == 200, closed.text
    assert closed.json()["ticket"]["status"] == "unresolved"
    return ticket_id, closed.json()["bot_resumed"]


def by_leaving_a_message_while_waiting(g: Gateway) -> tuple[str, bool | None]:
    ticket_id = hand_off(g.user)
    left = g.user.post("/api/chat/leave-message", json={"text": "不等了，留言咨询食品经营许可"})
    assert left.status_code == 201, left.text
    return ticket_id, None


def by_completed_12345_call(g: Gateway) -> tuple[str, bool | None]:
    receipt = request_handoff(handoff_request(g.conversation_id, channel="hotline_12345",
                                              time_window="今天上午"), ctx=g.services.handoff)
    secret = g.services.settings.call_callback_secret

    def deliver(body: bytes, headers: dict[str, str]):  # the provider's signed call-backs
        return g.user.post("/api/calls/callback", content=body,
                           headers={**headers, "Content-Type": "application/json"})

    adapter = call_adapters.SimulatorAdapter(deliver=deliver, secret=secret)
    calls.start_call(receipt.call_id, adapter, ctx=g.services.handoff, now=OPEN)
    played = adapter.play()
    assert [r.status_code for r in played] == [200, 200, 200, 200]
    assert played[-1].json()["call"]["status"] == "completed"
    return receipt.ticket_id, None


def cli_close(g: Gateway, ticket_id: str, *args: str) -> subprocess.CompletedProcess:
    """``xiaobao handoff close`` in a process of its own, on the app's database and Redis."""
    settings = g.services.settings
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("XIAOBAO_") and k != "REDIS_URL"}
    env.update(XIAOBAO_HOME=str(settings.home), REDIS_URL=settings.redis_url)
    return subprocess.run([str(Path(sys.executable).parent / "xiaobao"), "handoff", "close",
                           ticket_id, *args], cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True, timeout=120, check=False)


def by_the_command_line(g: Gateway) -> tuple[str, bool | None]:
    ticket_id = _claimed_and_answered(g)
    done = cli_close(g, ticket_id, "--note", "领导线下处理", "--by", "lead")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [ticket_id, "resolved"]
    # The command line has no bot to hand back to: the row waits for the gateway.
    assert hand_back_calls(g.rasa, g.conversation_id) == []
    assert outbox.pending(g.services.handoff, g.conversation_id, kind=outbox.RETURNED) == 1
    outbox.drain(g.services.handoff)
    return ticket_id, None


CLOSING_PATHS = [by_helper_resolve, by_helper_unresolve, by_leaving_a_message_while_waiting,
                 by_completed_12345_call, by_the_command_line]
CLOSED_AS = {by_helper_resolve: "resolved", by_helper_unresolve: "unresolved",
             by_leaving_a_message_while_waiting: "abandoned", by_completed_12345_call: "resolved",
             by_the_command_line: "resolved"}


def ticket_status(services: Services, ticket_id: str) -> str:
    with session_scope(services.engine) as s:
        return s.get(Ticket, ticket_id).status


def rating_questions(g: Gateway) -> int:
    history = g.user.get("/api/chat/history").json()
    assert history["mode"] == "bot" and history["ticket"] is None
    asked = [m for m in history["messages"] if m["text"] == RATING_QUESTION]
    if asked:
        assert asked[-1]["role"] == "bot" and history["messages"][-1] == asked[-1]
        assert [b["title"] for b in asked[-1]["buttons"]][0] == "非常满意"
    return len(asked)


@pytest.mark.parametrize("close", CLOSING_PATHS, ids=lambda f: f.__name__)
def test_every_close_hands_the_conversation_back_to_the_bot_once(gateway, close):
    g = gateway
    ticket_id, bot_resumed = close(g)
    assert ticket_status(g.services, ticket_id) == CLOSED_AS[close]
    assert bot_resumed in (True, None)
    assert hand_back_calls(g.rasa, g.conversation_id) == one_hand_back(ticket_id)
    assert outbox.pending(g.services.handoff, g.conversation_id) == 0
    assert rating_questions(g) == 1
    # Whatever drains later finds nothing to hand back again.
    expire_outbox_claims(g.services.engine)
    assert outbox.drain(g.services.handoff) == 0
    assert hand_back_calls(g.rasa, g.conversation_id) == one_hand_back(ticket_id)
    # The rating buttons are offered: a click reaches Rasa as the command.
    g.user.post("/api/chat/messages", json={"text": '/rate_service{"rating": "非常满意"}'})
    assert g.rasa.received[-1]["message"] == '/rate_service{"rating": "非常满意"}'


@pytest.mark.parametrize("close", CLOSING_PATHS, ids=lambda f: f.__name__)
def test_a_close_while_rasa_fails_succeeds_and_is_handed_back_once_rasa_recovers(gateway,
                                                                                  close):
    g = gateway
    g.rasa.status = 500
    ticket_id, bot_resumed = close(g)
    assert ticket_status(g.services, ticket_id) == CLOSED_AS[close]  # the close stands
    assert bot_resumed in (False, None)
    assert outbox.pending(g.services.handoff, g.conversation_id, kind=outbox.RETURNED) == 1
    assert [part for part, _ in hand_back_calls(g.rasa, g.conversation_id)] == ["events"]
    assert g.user.get("/api/chat/queue").json() == {
        "conversation_id": g.conversation_id, "mode": "bot", "ticket": None}
    assert rating_questions(g) == 0

    # Rasa answers again; the row's back-off runs out and a drain hands it back, once.
    g.rasa.status = 200
    g.rasa.api_calls.clear()
    expire_outbox_claims(g.services.engine)
    assert outbox.drain(g.services.handoff) >= 1
    assert hand_back_calls(g.rasa, g.conversation_id) == one_hand_back(ticket_id)
    assert outbox.pending(g.services.handoff, g.conversation_id) == 0
    assert rating_questions(g) == 1
    expire_outbox_claims(g.services.engine)
    assert outbox.drain(g.services.handoff) == 0
    assert hand_back_calls(g.rasa, g.conversation_id) == one_hand_back(ticket_id)


def test_the_bot_messages_after_a_close_reach_the_users_socket(gateway):
    g = gateway
    ticket_id = _claimed_and_answered(g)
    with g.user.websocket_connect("/ws/chat") as ws:
        assert ws.receive_json()["mode"] == "human"
        assert g.staff.post(f"/api/helper/tickets/{ticket_id}/unresolve", json={}
                            ).json()["bot_resumed"]
        pushed = [ws.receive_json() for _ in range(2)]
    assert pushed[0] == {"type": "state", "mode": "bot", "ticket": None}
    assert pushed[1]["type"] == "message" and pushed[1]["message"]["role"] == "bot"
    assert pushed[1]["message"]["text"] == RATING_QUESTION


def test_a_users_message_to_a_paused_bot_hands_the_conversation_back_first(gateway):
    """Closed from the command line, no drain yet; Rasa still holds the conversation paused
    (as the handoff action left it) and answers nothing until it is resumed."""
    g = gateway
    ticket_id = _claimed_and_answered(g)
    g.rasa.paused.add(g.conversation_id)
    assert cli_close(g, ticket_id).returncode == 0
    g.rasa.replies = [{"text": "请问还有什么可以帮您？"}]

    sent = g.user.post("/api/chat/messages", json={"text": "还有一个问题"})
    assert sent.status_code == 200, sent.text
    assert sent.json()["mode"] == "bot"
    assert [m["text"] for m in sent.json()["messages"]] == ["请问还有什么可以帮您？"]
    assert hand_back_calls(g.rasa, g.conversation_id) == one_hand_back(ticket_id)
    assert [r["message"] for r in g.rasa.received][-2:] == ["还有一个问题", "还有一个问题"]
    history = [(m["role"], m["text"]) for m in g.user.get("/api/chat/history").json()["messages"]]
    assert history[-3:] == [("user", "还有一个问题"), ("bot", RATING_QUESTION),
                            ("bot", "请问还有什么可以帮您？")]
    assert outbox.pending(g.services.handoff, g.conversation_id) == 0


def test_a_users_message_after_rasa_recovered_does_not_wait_for_the_back_off(gateway):
    """The hand-back failed while Rasa was down (and backs off); Rasa answers again and the
    user writes before the outbox's timer retries: the gateway hands back at once."""
    g = gateway
    g.rasa.paused.add(g.conversation_id)
    g.rasa.status = 500
    by_helper_resolve(g)
    g.rasa.status = 200
    g.rasa.replies = [{"text": "请问还有什么可以帮您？"}]
    sent = g.user.post("/api/chat/messages", json={"text": "还有一个问题"})
    assert sent.status_code == 200, sent.text
    assert [m["text"] for m in sent.json()["messages"]] == ["请问还有什么可以帮您？"]
    assert outbox.pending(g.services.handoff, g.conversation_id) == 0
