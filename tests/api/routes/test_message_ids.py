"""Every message carries its stable id (the record's primary key) wherever a page gets it — the
history, the reply to a turn, the live pushes of the chat and the console — and a page whose
socket dropped re-reads what came after the last id it showed (``GET /api/chat/history?after=``,
``GET /api/helper/tickets/{id}/messages?after=``): nothing said meanwhile is missing, nothing
comes twice. The pages' side: tests/js/timeline.test.js and tests/api/test_reconnect_browser.py.
"""
import json

import pytest

from api.routes import chat
from tests.api.routes.test_console import helper_client, user  # noqa: F401  (fixtures)
from tests.api.support import OTHER, RATING_QUESTION, conversation_of, hand_off, stored_messages


def rows_of(client) -> list:
    return stored_messages(client.app.state.services.engine, conversation_of(client))


def claimed(user, helper_client) -> tuple:  # noqa: F811
    ticket_id = hand_off(user)
    ann = helper_client("ann")
    assert ann.post("/api/helper/claim", json={}).json()["ticket"]["id"] == ticket_id
    return ticket_id, ann


def helper_says(ann, ticket_id: str, text: str) -> dict:
    sent = ann.post(f"/api/helper/tickets/{ticket_id}/messages", json={"text": text})
    assert sent.status_code == 200, sent.text
    return sent.json()["message"]


def test_the_history_and_the_reply_carry_the_records_ids(client, rasa):
    rasa.replies = [{"text": "您好！"}, {"text": "请问办理什么？"}]
    reply = client.post("/api/chat/messages", json={"text": "你好"}).json()
    rows = rows_of(client)
    assert [m.text for m in rows] == ["你好", "您好！", "请问办理什么？"]
    assert reply["user_message_id"] == rows[0].pk
    assert [m["id"] for m in reply["messages"]] == [rows[1].pk, rows[2].pk]
    history = client.get("/api/chat/history").json()
    assert [m["id"] for m in history["messages"]] == [m.pk for m in rows]
    assert history["more"] is False


def test_after_an_id_the_history_has_only_what_came_later_in_order(client, rasa):
    rasa.replies = [{"text": "您好！"}]
    for text in ("一", "二", "三"):
        client.post("/api/chat/messages", json={"text": text})
    ids = [m.pk for m in rows_of(client)]
    assert len(ids) == 6
    later = client.get("/api/chat/history", params={"after": ids[2]}).json()["messages"]
    assert [m["id"] for m in later] == ids[3:]
    assert [(m["role"], m["text"]) for m in later] == [("bot", "您好！"), ("user", "三"),
                                                       ("bot", "您好！")]
    assert client.get("/api/chat/history", params={"after": ids[-1]}).json()["messages"] == []
    everything = client.get("/api/chat/history", params={"after": 0}).json()["messages"]
    assert [m["id"] for m in everything] == ids


def test_after_reads_in_pages_oldest_first(client, rasa, monkeypatch):
    monkeypatch.setattr(chat, "HISTORY_PAGE", 4)
    rasa.replies = [{"text": "好的"}]
    for n in range(5):
        client.post("/api/chat/messages", json={"text": f"第{n}句"})
    ids = [m.pk for m in rows_of(client)]
    first = client.get("/api/chat/history", params={"after": 0}).json()
    assert [m["id"] for m in first["messages"]] == ids[:4] and first["more"] is True
    second = client.get("/api/chat/history",
                        params={"after": first["messages"][-1]["id"]}).json()
    assert [m["id"] for m in second["messages"]] == ids[4:8] and second["more"] is True
    third = client.get("/api/chat/history",
                       params={"after": second["messages"][-1]["id"]}).json()
    assert [m["id"] for m in third["messages"]] == ids[8:] and third["more"] is False
    # Without ``after``: the last page, as the portal loads it (never "more").
    last = client.get("/api/chat/history").json()
    assert [m["id"] for m in last["messages"]] == ids[-4:] and last["more"] is False


@pytest.mark.parametrize("after", ["-1", "abc", "1.5", str(2**63)])
def test_a_bad_after_is_refused(client, after):
    response = client.get("/api/chat/history", params={"after": after})
    assert response.status_code == 422


def test_after_never_reads_another_conversation(app, client, rasa):
    from fastapi.testclient import TestClient

    from tests.api.support import SAME_ORIGIN

    rasa.replies = [{"text": "您好！"}]
    client.post("/api/chat/messages", json={"text": "我的问题"})
    with TestClient(app, headers=SAME_ORIGIN) as other:
        other.post("/api/chat/messages", json={"text": "别人的问题"})
        theirs = other.get("/api/chat/history", params={"after": 0}).json()["messages"]
    assert [m["text"] for m in theirs] == ["别人的问题", "您好！"]
    mine = client.get("/api/chat/history", params={"after": 0}).json()["messages"]
    assert [m["text"] for m in mine] == ["我的问题", "您好！"]


def test_a_page_away_reads_what_the_helper_said_meanwhile_once_in_order(user, helper_client):  # noqa: F811
    ticket_id, ann = claimed(user, helper_client)
    first = helper_says(ann, ticket_id, "您好，我是帮办。")
    seen = user.get("/api/chat/history").json()["messages"]
    assert seen[-1]["id"] == first["id"] and seen[-1]["text"] == "您好，我是帮办。"
    # The page is away (no socket): the helper goes on, the user's message goes over REST.
    away = [helper_says(ann, ticket_id, "请问是哪家企业？"),
            helper_says(ann, ticket_id, "需要带营业执照。")]
    sent = user.post("/api/chat/messages", json={"text": "好的"}).json()
    assert sent["mode"] == "human" and sent["messages"] == []
    back = user.get("/api/chat/history", params={"after": seen[-1]["id"]}).json()["messages"]
    assert [(m["id"], m["role"], m["text"]) for m in back] == [
        (away[0]["id"], "helper", "请问是哪家企业？"),
        (away[1]["id"], "helper", "需要带营业执照。"),
        (sent["user_message_id"], "user", "好的")]


def test_live_pushes_carry_the_ids_the_history_has(user, rasa, helper_client):  # noqa: F811
    ticket_id, ann = claimed(user, helper_client)
    with user.websocket_connect("/ws/chat") as ws:
        assert ws.receive_json()["subscribed"] is True
        sent = helper_says(ann, ticket_id, "您好，请讲")
        pushed = ws.receive_json()
        assert pushed["type"] == "message" and pushed["message"]["id"] == sent["id"]
        ws.send_text(json.dumps({"text": "我想办执照"}))
        reply = ws.receive_json()
        assert reply["type"] == "reply" and reply["user_message_id"]
        ann.post(f"/api/helper/tickets/{ticket_id}/resolve", json={})
        for _ in range(6):
            event = ws.receive_json()
            if event["type"] == "message" and event["message"]["role"] == "bot":
                break
    asked = event["message"]
    assert asked["text"] == RATING_QUESTION
    history = {m["id"]: m for m in user.get("/api/chat/history").json()["messages"]}
    assert history[sent["id"]]["text"] == "您好，请讲"
    assert history[reply["user_message_id"]]["text"] == "我想办执照"
    assert history[asked["id"]]["text"] == RATING_QUESTION
    assert list(history) == sorted(history)


def test_the_console_rereads_a_tickets_messages_after_an_id(user, helper_client):  # noqa: F811
    ticket_id, ann = claimed(user, helper_client)
    first = helper_says(ann, ticket_id, "您好")
    pack = ann.get(f"/api/helper/tickets/{ticket_id}").json()
    assert pack["transcript"][-1]["id"] == first["id"] == pack["transcript"][-1]["pk"]
    # The console is away: the user writes twice (one with a phone number).
    for text in ("在吗", "我的电话13812345678"):
        assert user.post("/api/chat/messages", json={"text": text}).json()["mode"] == "human"
    url = f"/api/helper/tickets/{ticket_id}/messages"
    back = ann.get(url, params={"after": first["id"]}).json()["messages"]
    assert [(m["role"], m["text"]) for m in back] == [("user", "在吗"),
                                                      ("user", "我的电话13812345678")]
    assert [m["id"] for m in back] == sorted(m["id"] for m in back)
    assert back[0]["id"] > first["id"]
    assert ann.get(url, params={"after": back[-1]["id"]}).json()["messages"] == []
    everything = ann.get(url).json()["messages"]
    assert [m["text"] for m in everything] == ["您好", "在吗", "我的电话13812345678"]
    # A colleague of the department who does not hold it sees the number masked, as in the pack.
    bob = helper_client("bob")
    masked = bob.get(url, params={"after": first["id"]}).json()["messages"]
    assert "13812345678" not in masked[1]["text"]
    # Another department's helper reads nothing of it; a bad id is refused.
    tom = helper_client("tom", departments=(OTHER,))
    assert tom.get(url).status_code == 403
    assert ann.get(url, params={"after": -1}).status_code == 422
    assert ann.get(url, params={"after": 2**63}).status_code == 422
    assert ann.get("/api/helper/tickets/T-nope/messages").status_code == 404


def test_the_console_socket_carries_message_ids(user, helper_client):  # noqa: F811
    ticket_id, ann = claimed(user, helper_client)
    with ann.websocket_connect("/ws/console") as ws:
        assert ws.receive_json()["type"] == "snapshot"
        assert ws.receive_json()["event"] == {"type": "subscribed"}
        user.post("/api/chat/messages", json={"text": "在吗"})
        for _ in range(10):
            event = ws.receive_json()
            if event["type"] == "event":
                break
    row = rows_of(user)[-1]
    assert row.text == "在吗"
    assert event["event"]["id"] == event["event"]["pk"] == row.pk
