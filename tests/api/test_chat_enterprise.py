"""api.chat_enterprise through the chat route: a message from a browser with a signed-in
enterprise notes its USCC for the conversation (for the bot's 政策体检); after sign-out the
note is gone; a USCC typed in the message or sent anonymously is never noted."""
from __future__ import annotations

from tests.api.routes.test_enterprise_auth import USCC, sign_in
from xiaobao.conversation_enterprise import signed_in_uscc


def test_a_signed_in_browser_is_noted_and_forgotten_on_sign_out(client, rasa, redis_client):
    rasa.replies = [{"recipient_id": "x", "text": "好的"}]
    anonymous = client.post("/api/chat/messages", json={"text": f"我是{USCC}，政策体检"}).json()
    conversation = anonymous["conversation_id"]
    assert signed_in_uscc(redis_client, conversation) is None  # typed: never trusted
    sign_in(client)
    client.post("/api/chat/messages", json={"text": "政策体检"})
    assert signed_in_uscc(redis_client, conversation) == USCC
    assert 0 < redis_client.ttl(f"xiaobao:conversation-enterprise:{conversation}") <= 7200
    assert client.post("/auth/enterprise/logout", json={}).status_code == 200
    client.post("/api/chat/messages", json={"text": "政策体检"})
    assert signed_in_uscc(redis_client, conversation) is None
    assert all("uscc" not in str(r["metadata"]).lower() for r in rasa.received)
