"""The user's chat over HTTP and the WebSocket (api/routes/chat.py), against a stand-in Rasa.

What happens to a message is the conversation service's job (tests/api/test_conversation.py);
here: the visitor cookie, what Rasa receives, the record of the turns, the history, the
polite errors, and the socket.
"""
import json

import pytest
from sqlalchemy import select

from api.fallback import NOTICE as FALLBACK_NOTICE
from api.offered import offered_key
from api.user_text import ESCAPED_SLASH
from tests.api.support import (
    DEPT,
    RATING_QUESTION,
    SAME_ORIGIN,
    conversation_of,
    hand_off,
    stored_messages,
)
from xiaobao.db import session_scope
from xiaobao.events import Event
from xiaobao.phone import PHONE_NOTICE

BUTTONS = [{"title": "转人工", "payload": "/request_human"},
           {"title": "满意", "payload": '/rate_service{"rating": "满意"}'}]


def events(client, kind):
    with session_scope(client.app.state.services.engine) as session:
        return [(e.conversation_id, e.data) for e in
                session.scalars(select(Event).where(Event.kind == kind).order_by(Event.pk))]


def user_turns(client) -> list:
    """The user's turns as the record keeps them (the one messages table)."""
    return [m for m in stored_messages(client.app.state.services.engine) if m.role == "user"]


def test_first_message_sets_a_long_lived_visitor_cookie_naming_the_conversation(client, rasa):
    rasa.replies = [{"recipient_id": "x", "text": "您好！我是小宝"}]
    response = client.post("/api/chat/messages", json={"text": "你好"})
    assert response.status_code == 200
    secret = response.cookies["xiaobao_visitor"]
    assert len(secret) >= 16
    assert "max-age=31536000" in response.headers["set-cookie"].lower()
    assert "httponly" in response.headers["set-cookie"].lower()
    body = response.json()
    # The conversation id (Rasa's sender) is derived from the cookie's secret, never the secret.
    conversation_id = conversation_of(client)
    assert body["conversation_id"] == conversation_id != secret and body["mode"] == "bot"
    assert [{k: v for k, v in m.items() if k != "id"} for m in body["messages"]] == [
        {"role": "bot", "text": "您好！我是小宝", "buttons": []}]
    assert body["messages"][0]["id"] == stored_messages(client.app.state.services.engine)[-1].pk
    assert rasa.received[-1] == {"sender": conversation_id, "message": "你好",
                                 "metadata": {"visitor_id": conversation_id,
                                              "client_ip": "testclient"}}


def test_the_visitor_id_travels_to_rasa_as_message_metadata(client, rasa):
    """The handoff action reads ``metadata.visitor_id`` to name the returning visitor (the id
    the visitor cookie names; the cookie's secret itself never reaches Rasa)."""
    client.get("/")  # the portal sets the cookie
    visitor = conversation_of(client)
    client.post("/api/chat/messages", json={"text": "营业执照怎么办"})
    client.post("/api/chat/messages", json={"text": "谢谢"})
    assert [r["metadata"] for r in rasa.received] == [{"visitor_id": visitor,
                                                       "client_ip": "testclient"}] * 2
    assert {r["sender"] for r in rasa.received} == {visitor}
    assert client.cookies["xiaobao_visitor"] not in json.dumps(rasa.received)


def test_same_browser_keeps_its_conversation(client, rasa):
    first = client.post("/api/chat/messages", json={"text": "你好"}).json()["conversation_id"]
    second = client.post("/api/chat/messages", json={"text": "营业执照怎么办"}).json()
    assert second["conversation_id"] == first
    assert [r["sender"] for r in rasa.received] == [first, first]


def test_message_is_normalised_before_rasa_sees_it(client, rasa):
    client.post("/api/chat/messages", json={"text": "  營業執照　怎麼辦？ＡＢＣ１２３ 😀 "})
    assert rasa.received[-1]["message"] == "营业执照 怎么办?ABC123"


def test_people_see_what_the_user_typed_while_rasa_gets_the_normal_form(client, rasa):
    body = client.post("/api/chat/messages", json={"text": "好的，谢谢！\x07"}).json()
    assert rasa.received[-1]["message"] == "好的,谢谢!"
    (stored,) = user_turns(client)
    assert stored.text == "好的，谢谢！" and stored.ticket_id is None  # a bot-mode turn
    assert stored.conversation_id == body["conversation_id"]
    (received,) = events(client, "message_received")
    assert received[0] == body["conversation_id"]


@pytest.mark.parametrize("text", ["", "   ", "😀😀🎉", "\u200b\u200b"])
def test_empty_or_emoji_only_messages_are_refused(client, rasa, text):
    response = client.post("/api/chat/messages", json={"text": text})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "empty_message"
    assert "请输入文字内容" in response.json()["error"]["message"]
    assert rasa.received == []


def test_message_over_2000_characters_is_refused_with_a_clear_message(client, rasa):
    response = client.post("/api/chat/messages", json={"text": "问" * 2001})
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == "message_too_long"
    assert "最多2000个字" in error["message"] and "2001" in error["message"]
    assert rasa.received == []
    assert client.post("/api/chat/messages", json={"text": "问" * 2000}).status_code == 200


def test_typed_rasa_command_is_escaped(client, rasa):
    client.post("/api/chat/messages", json={"text": '/request_human{"phone": "x"}'})
    sent = rasa.received[-1]["message"]
    assert not sent.startswith("/")
    assert sent == ESCAPED_SLASH + 'request_human{"phone": "x"}'


def test_full_width_slash_command_is_escaped_too(client, rasa):
    # NFKC folds "／" to "/", so the escape has to happen after normalisation.
    client.post("/api/chat/messages", json={"text": "／request_human"})
    assert rasa.received[-1]["message"] == ESCAPED_SLASH + "request_human"


def test_offered_button_payload_is_forwarded_verbatim(client, rasa):
    rasa.replies = [{"text": "需要转人工吗？", "buttons": BUTTONS}]
    body = client.post("/api/chat/messages", json={"text": "你好"}).json()
    assert body["messages"][0]["buttons"] == BUTTONS
    rasa.replies = [{"text": "感谢您的评价"}]
    client.post("/api/chat/messages", json={"text": '/rate_service{"rating": "满意"}'})
    assert rasa.received[-1]["message"] == '/rate_service{"rating": "满意"}'
    # The record shows the button's title, not the payload.
    last = user_turns(client)[-1]
    assert last.text == "满意"
    assert last.data["payload"] == '/rate_service{"rating": "满意"}'


def test_only_the_last_replys_payloads_are_accepted(client, rasa):
    rasa.replies = [{"text": "需要转人工吗？", "buttons": BUTTONS}]
    client.post("/api/chat/messages", json={"text": "你好"})
    rasa.replies = [{"text": "好的"}]  # no buttons: nothing is offered any more
    client.post("/api/chat/messages", json={"text": "/request_human"})
    assert rasa.received[-1]["message"] == "/request_human"
    client.post("/api/chat/messages", json={"text": "/request_human"})
    assert rasa.received[-1]["message"] == ESCAPED_SLASH + "request_human"


def test_payload_offered_to_another_conversation_is_not_accepted(client, rasa, redis_client):
    redis_client.hset(offered_key("someone-else-entirely"), "/request_human", "转人工")
    client.post("/api/chat/messages", json={"text": "/request_human"})
    assert rasa.received[-1]["message"] == ESCAPED_SLASH + "request_human"


def test_payload_with_extra_text_is_not_a_payload(client, rasa):
    rasa.replies = [{"text": "需要转人工吗？", "buttons": BUTTONS}]
    client.post("/api/chat/messages", json={"text": "你好"})
    client.post("/api/chat/messages", json={"text": '/request_human{"phone": "13800000000"}'})
    assert rasa.received[-1]["message"].startswith(ESCAPED_SLASH)


def test_rasa_down_the_gateway_answers_and_keeps_the_message(client, rasa, services,
                                                              monkeypatch, seeded_retriever):
    """The gateway's degraded mode (api/fallback.py; tests/api/test_faults.py end to end)."""
    services.use_retriever(seeded_retriever)
    monkeypatch.setattr(services, "settings",
                        services.settings.model_copy(update={"rasa_url": "http://127.0.0.1:9"}))
    response = client.post("/api/chat/messages", json={"text": "营业执照怎么办"})
    assert response.status_code == 200
    notice, reply = response.json()["messages"]
    assert notice["role"] == "notice" and notice["text"] == FALLBACK_NOTICE
    assert reply["role"] == "bot" and reply["text"]
    conv = conversation_of(client)
    assert (conv, "营业执照怎么办") in [(m.conversation_id, m.text) for m in user_turns(client)]
    assert events(client, "bot_failure")[-1] == (conv, {"failure": "unreachable"})


def test_rasa_down_and_no_knowledge_base_gives_a_polite_error(client, rasa, services,
                                                              monkeypatch):
    class Broken:
        def search(self, text, top_k=5):
            raise RuntimeError("index gone")

    services.use_retriever(Broken())
    monkeypatch.setattr(services, "settings",
                        services.settings.model_copy(update={"rasa_url": "http://127.0.0.1:9"}))
    response = client.post("/api/chat/messages", json={"text": "营业执照怎么办"})
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "bot_unavailable" and "您的消息已保存" in error["message"]
    assert "营业执照怎么办" in [m.text for m in user_turns(client)]


def test_rasa_timeout_is_answered_by_the_gateway_and_keeps_the_message(client, rasa, services,
                                                                       seeded_retriever):
    services.use_retriever(seeded_retriever)
    rasa.delay_s = 1.5  # the test settings' timeout is 1 s
    response = client.post("/api/chat/messages", json={"text": "公积金怎么交"})
    assert response.status_code == 200
    assert response.json()["messages"][0]["text"] == FALLBACK_NOTICE
    assert "公积金怎么交" in [m.text for m in user_turns(client)]
    assert events(client, "bot_failure")[-1][1]["failure"] == "timeout"


def test_rasa_error_status_is_answered_by_the_gateway(client, rasa, services, seeded_retriever):
    services.use_retriever(seeded_retriever)
    rasa.status = 500
    response = client.post("/api/chat/messages", json={"text": "你好"})
    assert response.status_code == 200
    assert response.json()["messages"][0]["text"] == FALLBACK_NOTICE
    assert events(client, "bot_failure")[-1][1]["failure"] == "status_500"


def test_empty_reply_is_answered_by_the_gateway(client, rasa, services, seeded_retriever):
    # Rasa answers 200 with no messages when something inside it failed (the action endpoint,
    # its Redis lock or tracker store).
    services.use_retriever(seeded_retriever)
    rasa.replies = []
    response = client.post("/api/chat/messages", json={"text": "你好"})
    assert response.status_code == 200
    assert response.json()["messages"][0]["text"] == FALLBACK_NOTICE
    assert events(client, "bot_failure")[-1][1]["failure"] == "empty_reply"


def test_phone_request_is_preceded_by_a_privacy_notice(client, rasa):
    rasa.replies = [{"text": "好的，请留下您的联系电话（手机号或上海固定电话），"
                             "12345热线将给您回电。"}]
    messages = client.post("/api/chat/messages", json={"text": "12345回电"}).json()["messages"]
    assert [m["role"] for m in messages] == ["notice", "bot"]
    assert messages[0]["text"] == PHONE_NOTICE
    history = client.get("/api/chat/history").json()["messages"]
    assert [m["role"] for m in history] == ["user", "notice", "bot"]  # recorded as shown


def test_html_in_messages_is_kept_as_text(client, rasa):
    client.post("/api/chat/messages", json={"text": "<script>alert(1)</script>营业执照"})
    assert rasa.received[-1]["message"] == "<script>alert(1)</script>营业执照"
    history = client.get("/api/chat/history").json()["messages"]
    assert history[0]["text"] == "<script>alert(1)</script>营业执照"


def test_history_returns_the_conversation_in_order(client, rasa):
    rasa.replies = [{"text": "您好！", "buttons": BUTTONS}]
    client.post("/api/chat/messages", json={"text": "你好"})
    history = client.get("/api/chat/history").json()
    assert [(m["role"], m["text"]) for m in history["messages"]] == [("user", "你好"),
                                                                     ("bot", "您好！")]
    assert history["messages"][1]["buttons"] == BUTTONS
    assert history["mode"] == "bot" and history["ticket"] is None
    assert history["conversation_id"] == conversation_of(client)


def test_history_has_bot_and_live_turns_in_order_from_the_one_record(app, client, rasa,
                                                                      make_account):
    from fastapi.testclient import TestClient

    rasa.replies = [{"text": "您好！我是小宝"}]
    client.post("/api/chat/messages", json={"text": "营业执照怎么办"})
    ticket_id = hand_off(client)
    password = make_account("ann", roles=["helper"], departments=[DEPT], display_name="王帮办")
    staff = TestClient(app, headers=SAME_ORIGIN)
    staff.post("/api/auth/login", json={"username": "ann", "password": password})
    staff.post("/api/helper/status", json={"status": "on_duty"})
    assert staff.post("/api/helper/claim", json={}).json()["ticket"]["id"] == ticket_id

    def helper_says(text: str) -> None:
        sent = staff.post(f"/api/helper/tickets/{ticket_id}/messages", json={"text": text})
        assert sent.status_code == 200, sent.text

    helper_says("您好，我是王帮办。")
    asked = client.post("/api/chat/messages", json={"text": "需要带什么材料？"})
    assert asked.json()["mode"] == "human"
    helper_says("请带身份证原件。")
    assert staff.post(f"/api/helper/tickets/{ticket_id}/resolve", json={}).json()["bot_resumed"]
    staff.close()

    history = client.get("/api/chat/history").json()
    assert [(m["role"], m["text"], m["author"]) for m in history["messages"]] == [
        ("user", "营业执照怎么办", ""), ("bot", "您好！我是小宝", ""),
        ("helper", "您好，我是王帮办。", "王帮办"),  # the helper's display name
        ("user", "需要带什么材料？", ""), ("helper", "请带身份证原件。", "王帮办"),
        ("bot", RATING_QUESTION, "")]
    stamps = [m["at"] for m in history["messages"]]
    assert stamps == sorted(stamps)
    # One table: bot-mode turns carry no ticket, the live turns carry the ticket's id.
    rows = stored_messages(app.state.services.engine, conversation_of(client))
    assert [(m.text, m.ticket_id) for m in rows] == [
        ("营业执照怎么办", None), ("您好！我是小宝", None), ("您好，我是王帮办。", ticket_id),
        ("需要带什么材料？", ticket_id), ("请带身份证原件。", ticket_id), (RATING_QUESTION, None)]
    assert rows[2].author == "ann"  # the record keeps the username; the page gets the name


def test_history_of_a_new_visitor_is_empty_and_sets_the_cookie(client):
    response = client.get("/api/chat/history")
    assert response.status_code == 200
    assert response.json()["messages"] == [] and response.json()["mode"] == "bot"
    assert response.json()["conversation_id"] == conversation_of(client)


def test_websocket_round_trip(client, rasa):
    client.get("/")  # the page sets the visitor cookie
    rasa.replies = [{"text": "您好！我是小宝"}]
    with client.websocket_connect("/ws/chat") as ws:
        assert ws.receive_json() == {"type": "state", "mode": "bot", "ticket": None,
                                     "subscribed": True}
        ws.send_text(json.dumps({"text": "你好"}))
        reply = ws.receive_json()
        assert reply["type"] == "reply" and reply["messages"][0]["text"] == "您好！我是小宝"
        ws.send_text(json.dumps({"text": "问" * 2001}))
        error = ws.receive_json()
        assert error["type"] == "error" and error["error"]["code"] == "message_too_long"
        ws.send_text("not json")
        assert ws.receive_json()["error"]["code"] == "invalid_request"
        ws.send_text(json.dumps(["text"]))
        assert ws.receive_json()["error"]["code"] == "invalid_request"
    assert rasa.received[-1]["sender"] == conversation_of(client)
    assert rasa.received[-1]["metadata"] == {"visitor_id": conversation_of(client),
                                             "client_ip": "testclient"}


def test_websocket_without_visitor_cookie_is_closed(client):
    from starlette.websockets import WebSocketDisconnect

    with pytest.raises(WebSocketDisconnect) as info, client.websocket_connect("/ws/chat") as ws:
        ws.receive_json()
    assert info.value.code == 4401


def test_ending_the_conversation_leaves_nothing_for_the_next_person(client, rasa):
    """结束会话 at a kiosk: the next person at the browser starts afresh and sees nothing."""
    rasa.replies = [{"recipient_id": "x", "text": "您好！我是小宝"}]
    client.post("/api/chat/messages", json={"text": "我的电话是13812345678"})
    before = conversation_of(client)
    assert client.get("/api/chat/history").json()["messages"]
    ended = client.post("/api/chat/end", json={})
    assert ended.status_code == 200
    assert ended.json() == {"ok": True, "ended": True, "rated": False}
    after = conversation_of(client)
    assert after != before
    history = client.get("/api/chat/history").json()
    assert history["conversation_id"] == after and history["messages"] == []
    assert events(client, "conversation_ended") == [(before, {})]
    assert len(user_turns(client)) == 1  # the record keeps the old conversation


def test_the_portal_offers_to_end_the_conversation(client):
    assert 'id="end-conversation"' in client.get("/").text
    assert "/api/chat/end" in client.get("/static/chat_end.js").text


def _age(client, conversation_id: str, days: float) -> None:
    """Make the conversation's turns ``days`` older, as if the visitor had gone away."""
    import datetime as dt

    from xiaobao.conversations import Message

    with session_scope(client.app.state.services.engine) as s:
        for m in s.scalars(select(Message).where(Message.conversation_id == conversation_id)):
            m.at = m.at - dt.timedelta(days=days)


def test_an_old_cookie_of_an_ended_conversation_shows_nothing_of_it(client, rasa):
    """A cookie copied off a shared computer before 结束会话 reads no phone number back."""
    client.post("/api/chat/messages", json={"text": "我的电话是13812345678"})
    old_cookie = client.cookies.get("xiaobao_visitor")
    before = conversation_of(client)
    client.post("/api/chat/end", json={})
    domain = next(c.domain for c in client.cookies.jar if c.name == "xiaobao_visitor")
    client.cookies.clear()
    client.cookies.set("xiaobao_visitor", old_cookie, domain=domain)
    history = client.get("/api/chat/history")
    assert history.json()["messages"] == [] and history.json()["conversation_id"] != before
    assert "13812345678" not in history.text
    assert client.cookies.get("xiaobao_visitor") != old_cookie  # a new secret, set at once
    client.cookies.clear()
    client.cookies.set("xiaobao_visitor", old_cookie, domain=domain)
    client.post("/api/chat/messages", json={"text": "你好"})
    assert conversation_of(client) != before  # a message starts a new conversation too
    assert [m.text for m in user_turns(client) if m.conversation_id == before] == [
        "我的电话是13812345678"]  # the record keeps the old one, for the rates


def test_an_idle_conversation_is_over_and_the_next_visit_starts_afresh(client, rasa):
    client.post("/api/chat/messages", json={"text": "我的电话是13812345678"})
    before = conversation_of(client)
    idle_days = client.app.state.services.settings.visitor_idle_s / 86400
    _age(client, before, idle_days * 0.9)
    assert client.get("/api/chat/history").json()["conversation_id"] == before  # not yet
    _age(client, before, idle_days * 0.2)
    history = client.get("/api/chat/history").json()
    assert history["conversation_id"] != before and history["messages"] == []
    assert events(client, "conversation_ended") == [(before, {"why": "idle"})]


def test_an_idle_conversation_with_an_open_ticket_goes_on(client, rasa):
    client.post("/api/chat/messages", json={"text": "转人工"})
    before = conversation_of(client)
    hand_off(client)
    _age(client, before, 30)
    assert client.get("/api/chat/history").json()["conversation_id"] == before


def test_kiosk_mode_ends_conversations_after_minutes_and_the_page_clears_itself(client, rasa,
                                                                               monkeypatch):
    services = client.app.state.services
    kiosk = services.settings.model_copy(update={"kiosk_mode": True})
    monkeypatch.setattr(services, "settings", kiosk)
    assert kiosk.visitor_idle_s == kiosk.kiosk_idle_s == 600
    assert f'data-idle-s="{kiosk.kiosk_idle_s}"' in client.get("/").text
    client.post("/api/chat/messages", json={"text": "你好"})
    before = conversation_of(client)
    _age(client, before, 11 / (24 * 60))  # eleven minutes
    assert client.get("/api/chat/history").json()["conversation_id"] != before
    monkeypatch.setattr(services, "settings", kiosk.model_copy(update={"kiosk_mode": False}))
    assert "data-idle-s" not in client.get("/").text


def test_the_socket_of_a_conversation_that_is_over_is_closed(client, rasa):
    from starlette.websockets import WebSocketDisconnect

    client.post("/api/chat/messages", json={"text": "你好"})
    _age(client, conversation_of(client), 30)
    with pytest.raises(WebSocketDisconnect) as closed, \
            client.websocket_connect("/ws/chat", headers=SAME_ORIGIN) as ws:
        ws.receive_json()
    assert closed.value.code == 4401 and "over" in closed.value.reason


@pytest.mark.parametrize(("body", "rated"), [
    ({"rating": "满意"}, ("满意", "")), ({"rating": "非常不满意", "reason": "没人理"},
                                       ("非常不满意", "没人理")),
    ({"rating": "不满意"}, ("不满意", "")), ({}, None)])
def test_ending_with_a_rating_records_it_first(client, rasa, body, rated):
    client.post("/api/chat/messages", json={"text": "你好"})
    before = conversation_of(client)
    ended = client.post("/api/chat/end", json=body)
    assert ended.status_code == 200 and ended.json()["rated"] == (rated is not None)
    got = [(d["rating"], d["reason"]) for c, d in events(client, "rating") if c == before]
    assert got == ([rated] if rated else [])
    assert [c for c, _ in events(client, "conversation_ended")] == [before]


def test_ending_with_an_unknown_rating_is_refused_and_ends_nothing(client, rasa):
    client.post("/api/chat/messages", json={"text": "你好"})
    before = conversation_of(client)
    refused = client.post("/api/chat/end", json={"rating": "超级满意"})
    assert refused.status_code == 422
    assert events(client, "conversation_ended") == [] and conversation_of(client) == before
