"""What the bot's last reply offered a conversation: its buttons (payload → title), and the
prompt's free-text template, re-ask sentence and rated ticket — kept in Redis for the next
message (:mod:`api.user_text`), read from the record when Redis is down or lost them.
"""
from __future__ import annotations

import json
import logging

import redis as redis_lib

from api import typed_answers
from api.metrics import REDIS_DEGRADED, TYPED_ANSWERS
from api.services import Services
from xiaobao import conversations
from xiaobao.db import session_scope
from xiaobao.enums import Speaker

log = logging.getLogger("api.offered")

OFFERED_TTL_S = 24 * 3600
# The offered hash's fields besides the buttons (whose payloads start with "/"): a prompt's
# free-text template (JSON), and the ticket a rating prompt rates (for api.fallback).
FREE_TEXT_FIELD = "*free_text"
TICKET_FIELD = "*ticket"
# A prompt's sentence for an answer that selects nothing (``custom.reask``), and the mark that
# it was said once already: the next miss goes to Rasa's reply as it is.
REASK_FIELD = "*reask"
REASKED_FIELD = "*reasked"
BUTTONS_FIELD = "*buttons"  # the buttons in their order (a Redis hash keeps none), JSON


def offered_key(conversation_id: str) -> str:
    return f"xiaobao:chat:offered:{conversation_id}"




def free_text_of(messages: list[dict]) -> dict | None:
    """The free-text template the last reply's prompt carries (``custom.free_text``)."""
    template = custom_of(messages, typed_answers.FREE_TEXT)
    return template if isinstance(template, dict) else None


def custom_of(messages: list[dict], key: str):
    for m in reversed(messages):
        value = (m.get("custom") or {}).get(key)
        if value:
            return value
    return None


def reask(offered: dict[str, str], messages: list[dict], clicked: bool) -> list[dict] | None:
    """The prompt again, once, when a typed answer to it (not ``clicked``: no payload) selected
    nothing and the bot did not understand it either (its reply carries
    ``custom.not_understood``); else None."""
    sentence = offered.get(REASK_FIELD)
    if (clicked or not sentence or offered.get(REASKED_FIELD)
            or not custom_of(messages, typed_answers.NOT_UNDERSTOOD)):
        return None
    custom: dict = {typed_answers.REASK: sentence}
    if offered.get(FREE_TEXT_FIELD):
        try:
            custom[typed_answers.FREE_TEXT] = json.loads(offered[FREE_TEXT_FIELD])
        except ValueError:
            pass
    try:
        buttons = json.loads(offered.get(BUTTONS_FIELD) or "[]")
    except ValueError:
        buttons = []
    if not isinstance(buttons, list) or not buttons:
        buttons = [{"title": t, "payload": p} for p, t in offered.items() if p.startswith("/")]
    TYPED_ANSWERS.labels("reask").inc()
    return [{"role": Speaker.BOT.value, "text": sentence, "buttons": buttons, "custom": custom}]


def load_offered(redis, conversation_id: str) -> dict[str, str]:
    return redis.hgetall(offered_key(conversation_id)) or {}


def offered_to(services: Services, conversation_id: str, raw: str) -> dict[str, str]:
    """The payloads the bot's last reply offered (payload → title), for the slash guard.

    Redis first; a slash message Redis does not know — Redis down, restarted empty, or it
    missed the last reply while down — is checked against the record's last bot reply, whose
    buttons are stored with it, so a 转人工 click never degrades into text."""
    try:
        offered = load_offered(services.redis, conversation_id)
    except redis_lib.RedisError as exc:
        REDIS_DEGRADED.labels("offered_read").inc()
        log.warning("offered payloads of %s read from SQL: Redis unavailable (%s)",
                    conversation_id, exc)
        return offered_in_record(services, conversation_id)  # typed answers need them too
    if raw.strip().startswith("/") and raw.strip() not in offered:
        offered = offered_in_record(services, conversation_id)
    return offered


def offered_in_record(services: Services, conversation_id: str) -> dict[str, str]:
    """The buttons of the record's last bot reply: the bot's and notices' turns after the last
    turn of anyone else."""
    with session_scope(services.engine) as s:
        rows = conversations.conversation(s, conversation_id, limit=10)
        offered: dict[str, str] = {}
        for m in reversed(rows):
            if m.role not in (Speaker.BOT, Speaker.NOTICE):
                break
            for b in (m.data or {}).get("buttons", []):
                if isinstance(b, dict) and b.get("payload"):
                    offered.setdefault(str(b["payload"]), str(b.get("title", "")))
            template = (m.data or {}).get(typed_answers.FREE_TEXT)
            if isinstance(template, dict):
                offered.setdefault(FREE_TEXT_FIELD, json.dumps(template, ensure_ascii=False))
            sentence = (m.data or {}).get(typed_answers.REASK)
            if isinstance(sentence, str):
                offered.setdefault(REASK_FIELD, sentence)
        return offered


def store_offered(redis, conversation_id: str, messages: list[dict], ticket_id: str = "",
                  reasked: bool = False) -> None:
    """Remember the payloads of the bot's last reply (and only those) for the slash guard.
    Redis down: skipped (the record keeps the buttons, :func:`offered_in_record`)."""
    offered = {b["payload"]: b.get("title", "") for m in messages for b in m.get("buttons", [])
               if b.get("payload")}
    template = free_text_of(messages)
    if template:
        offered[FREE_TEXT_FIELD] = json.dumps(template, ensure_ascii=False)
    if ticket_id:
        offered[TICKET_FIELD] = ticket_id
    sentence = custom_of(messages, typed_answers.REASK)
    if isinstance(sentence, str):
        offered[REASK_FIELD] = sentence
        offered[BUTTONS_FIELD] = json.dumps(
            [{"title": t, "payload": p} for p, t in offered.items() if p.startswith("/")],
            ensure_ascii=False)
        if reasked:
            offered[REASKED_FIELD] = "1"
    key = offered_key(conversation_id)
    try:
        with redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            if offered:
                pipe.hset(key, mapping=offered)
                pipe.expire(key, OFFERED_TTL_S)
            pipe.execute()
    except redis_lib.RedisError as exc:
        REDIS_DEGRADED.labels("offered_write").inc()
        log.warning("offered payloads of %s not cached: Redis unavailable (%s)",
                    conversation_id, exc)
