"""A chat message sent again with the page's own id is kept once (issue 21, "Database faults").

The portal gives each message an id and keeps it through its resends after a failure
(api/static/outgoing.js); the gateway's own retry while the database is unreachable resends
the same way (api/routes/chat.py ``db_retried``). The fault itself, with real processes:
tests/api/test_faults_database.py.
"""
from fastapi.testclient import TestClient

from api.conversation import client_id_of
from tests.api.support import SAME_ORIGIN, conversation_of, stored_messages


def user_rows(client) -> list:
    return [m for m in stored_messages(client.app.state.services.engine, conversation_of(client))
            if m.role == "user"]


def test_a_resend_with_the_same_id_is_kept_once(client, rasa):
    first = client.post("/api/chat/messages", json={"text": "你好", "message_id": "m-abc-1"})
    again = client.post("/api/chat/messages", json={"text": "你好", "message_id": "m-abc-1"})
    assert first.status_code == again.status_code == 200, again.text
    rows = user_rows(client)
    assert [m.text for m in rows] == ["你好"]
    assert first.json()["user_message_id"] == again.json()["user_message_id"] == rows[0].pk
    assert rows[0].client_id == client_id_of(conversation_of(client), "m-abc-1")
    other = client.post("/api/chat/messages", json={"text": "你好", "message_id": "m-abc-2"})
    assert other.json()["user_message_id"] != rows[0].pk
    assert len(user_rows(client)) == 2
    plain = client.post("/api/chat/messages", json={"text": "你好"})  # no id: kept each time
    assert plain.status_code == 200 and len(user_rows(client)) == 3


def test_the_same_id_in_another_conversation_is_another_message(app, client, rasa):
    assert client.post("/api/chat/messages",
                       json={"text": "甲", "message_id": "m-same"}).status_code == 200
    with TestClient(app, headers=SAME_ORIGIN) as stranger:
        sent = stranger.post("/api/chat/messages", json={"text": "乙", "message_id": "m-same"})
        assert sent.status_code == 200, sent.text
        assert [m.text for m in user_rows(stranger)] == ["乙"]
    assert [m.text for m in user_rows(client)] == ["甲"]


def test_a_malformed_id_is_refused(client, rasa):
    client.get("/")  # the visitor cookie
    for bad in ("", "有中文", "x" * 65, "a b"):
        sent = client.post("/api/chat/messages", json={"text": "你好", "message_id": bad})
        assert sent.status_code == 422, bad
        assert sent.json()["error"]["code"] == "invalid_request"
    assert user_rows(client) == []


def test_over_the_socket_a_resend_is_kept_once(client, rasa):
    client.get("/")
    with client.websocket_connect("/ws/chat", headers=SAME_ORIGIN) as ws:
        replies = []
        for _ in range(2):
            ws.send_json({"text": "你好", "message_id": "m-ws-1"})
            while (reply := ws.receive_json())["type"] != "reply":
                pass
            replies.append(reply)
        ws.send_json({"text": "你好", "message_id": 7})  # not a string: refused
        while (refused := ws.receive_json())["type"] not in ("reply", "error"):
            pass
    assert refused["type"] == "error" and refused["error"]["code"] == "invalid_request"
    assert replies[0]["user_message_id"] == replies[1]["user_message_id"]
    assert [m.text for m in user_rows(client)] == ["你好"]
