"""The Rasa server, as the gateway talks to it: one turn through the REST channel, and handing
a paused conversation back to the bot after its ticket closed.

``ask`` is async (the chat's request path); ``resume`` is synchronous because it runs in the
handoff outbox's publisher, in a worker thread, with the services' own ``httpx.Client``.
"""
from __future__ import annotations

import time
from urllib.parse import quote

import httpx

from api.metrics import RASA_FAILURES, RASA_LATENCY
from xiaobao.settings import Settings

RATING_RESPONSE = "utter_ask_rating"


class BotUnavailable(Exception):
    def __init__(self, kind: str):
        super().__init__(kind)
        self.kind = kind


async def ask(http: httpx.AsyncClient, settings: Settings, conversation_id: str, text: str,
              *, visitor_id: str = "") -> list[dict]:
    """One turn through Rasa's REST channel; raises :class:`BotUnavailable` on any failure.

    The visitor id travels as message metadata, so a handoff knows the returning visitor.
    """
    url = f"{settings.rasa_url.rstrip('/')}/webhooks/rest/webhook"
    body = {"sender": conversation_id, "message": text,
            "metadata": {"visitor_id": visitor_id or conversation_id}}
    started = time.perf_counter()
    try:
        response = await http.post(url, json=body, timeout=settings.rasa_timeout_s)
    except httpx.TimeoutException:
        raise BotUnavailable("timeout") from None
    except httpx.HTTPError:
        raise BotUnavailable("unreachable") from None
    finally:
        RASA_LATENCY.observe(time.perf_counter() - started)
    if response.status_code != 200:
        raise BotUnavailable(f"status_{response.status_code}")
    try:
        replies = response.json()
    except ValueError:
        raise BotUnavailable("bad_json") from None
    if not isinstance(replies, list):
        raise BotUnavailable("bad_json")
    return replies


def resume(http: httpx.Client, settings: Settings, conversation_id: str, *,
           ask_rating: bool) -> list[dict]:
    """Resume the paused conversation (``ConversationResumed``) and, when asked, have the bot
    ask for the 好差评 rating; returns the bot's replies. Raises BotUnavailable."""
    base = f"{settings.rasa_url.rstrip('/')}/conversations/{quote(conversation_id, safe='')}"
    params = {"token": settings.rasa_token}
    try:
        response = http.post(f"{base}/tracker/events", params=params, json=[{"event": "resume"}])
        response.raise_for_status()
        if not ask_rating:
            return []
        response = http.post(f"{base}/execute", params=params, json={"name": RATING_RESPONSE})
        response.raise_for_status()
        replies = response.json().get("messages", [])
    except (httpx.HTTPError, ValueError, AttributeError) as exc:
        RASA_FAILURES.labels("resume").inc()
        raise BotUnavailable(f"resume: {exc}") from None
    return replies if isinstance(replies, list) else []
