"""Which enterprise is signed in on the browser of a conversation, for the bot's actions.

Rasa and its action server see only the conversation id; the USCC comes from the enterprise's
session cookie, which only the gateway reads. So the gateway writes it here (Redis) as each
message arrives — and deletes it when the message came without a signed-in enterprise — and
the 政策体检 action reads it by the conversation id. Nothing the browser sends in the text or
metadata ever names the enterprise. The key lives as long as an idle enterprise session.
"""
from __future__ import annotations

import redis

_PREFIX = "xiaobao:conversation-enterprise:"


def _key(conversation_id: str) -> str:
    return _PREFIX + conversation_id


def remember(client: redis.Redis, conversation_id: str, uscc: str, ttl_s: int) -> None:
    client.set(_key(conversation_id), uscc, ex=max(1, int(ttl_s)))


def forget(client: redis.Redis, conversation_id: str) -> None:
    client.delete(_key(conversation_id))


def signed_in_uscc(client: redis.Redis | None, conversation_id: str) -> str | None:
    """The USCC the gateway noted for this conversation, or None (anonymous, or no Redis)."""
    if client is None or not conversation_id:
        return None
    value = client.get(_key(conversation_id))
    if isinstance(value, bytes):
        value = value.decode()
    return value or None
