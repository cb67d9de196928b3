"""The conversation service: one user message from arrival to answer, whoever answers it.

Every message is checked and normalised here, before Rasa or a helper sees it:

* over ``settings.max_message_chars`` or empty / only emoji: refused with a clear message;
* typed text that selects one of the offered buttons (its title or a close variant), or fills
  the free-text field a prompt invites (the 差评 reason), reaches Rasa as that payload
  (:mod:`api.typed_answers`); the record keeps what the user typed;
* text starting with ``/`` reaches Rasa as a command only when it equals a button payload the
  bot offered in its last reply to this conversation (kept in Redis); anything else has its
  slash replaced by a full-width one, which Rasa's ``RegexMessageHandler`` does not parse, so
  a typed ``/request_human{"phone": "x"}`` is just text;
* the conversation's mode decides the route: bot → Rasa; a ticket open → the helper, through
  :mod:`handoff.relay`.

Every turn — the user's, the bot's, the helper's — is a row of the conversation's one record
(:mod:`xiaobao.conversations`), written before it is routed, so a failure of Rasa or of the
action endpoint loses nothing. While Rasa is unavailable the gateway answers from the knowledge
base itself (:mod:`api.fallback`); only a failure of that too gives the user a polite error.
When a ticket closes, whatever closed it, :func:`return_to_bot` (the handoff context's hook)
resumes the bot, which asks for the 好差评 rating.

Redis down costs the chat no turn: the offered payloads are read from the record's last bot
reply, the mode from SQL (:func:`handoff.relay.get_mode`), rate limits let messages through,
and ticket changes wait in the handoff outbox.
"""
from __future__ import annotations

import json
import logging
import re
import uuid
from dataclasses import dataclass, field

import redis as redis_lib
from starlette.concurrency import run_in_threadpool

from api import fallback, rasa_client, typed_answers
from api.errors import ApiError
from api.metrics import (
    CHAT_MESSAGES,
    CHAT_REFUSED,
    RASA_FAILURES,
    REDIS_DEGRADED,
    TYPED_ANSWERS,
    rasa_failure_label,
)
from api.services import Services
from handoff import left_messages, outbox, relay, views
from handoff.context import Returned
from handoff.tickets import TicketClosed
from retrieval.normalize import has_searchable_text, normalize, strip_controls
from xiaobao import conversations
from xiaobao.db import session_scope
from xiaobao.enums import Mode, Speaker
from xiaobao.events import EventKind, record_event
from xiaobao.phone import PHONE_NOTICE

log = logging.getLogger("api.conversation")

OFFERED_TTL_S = 24 * 3600
# Rasa's RegexMessageHandler strips whitespace and then parses a leading "/" as an intent;
# the full-width solidus reads the same to a person and is never parsed.
ESCAPED_SLASH = "／"
_PHONE_ASK = re.compile(r"(留下|提供|告诉我|输入).{0,12}(电话|手机号)")
BOT_UNAVAILABLE = ("抱歉，小宝暂时无法回复，您的消息已保存。请稍后再试，或点击“转人工”。"
                   " / The assistant is unavailable right now; your message was saved.")
BOT_NO_REPLY = ("抱歉，小宝这次没能给出回复，您的消息已保存。请换个说法再试，或点击“转人工”。"
                " / The assistant could not reply; your message was saved.")
BOT_MESSAGES_EVENT = "bot_messages"  # published on the relay channel for the user's page


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


# --- checking a message --------------------------------------------------------------------------

@dataclass(frozen=True)
class UserText:
    for_route: str  # what Rasa receives
    shown: str  # what the record and the page show (a button's title for a click)
    payload: str = ""  # the offered button payload, when the message is a click


def check_user_text(raw: str, offered: dict[str, str], max_chars: int) -> UserText:
    """Refuse, normalise and de-fang one user message (see the module docstring)."""
    stripped = raw.strip()
    if len(stripped) > max_chars:
        CHAT_REFUSED.labels("too_long").inc()
        raise ApiError(413, "message_too_long",
                       f"消息太长了：最多{max_chars}个字，您输入了{len(stripped)}个字，请分几次发送。"
                       f" / Message too long: at most {max_chars} characters, got {len(stripped)}.")
    buttons = {p: t for p, t in offered.items() if p.startswith("/")}
    if stripped in buttons:
        return UserText(for_route=stripped, shown=buttons[stripped] or stripped, payload=stripped)
    text = normalize(stripped)
    if not text or not has_searchable_text(text):
        CHAT_REFUSED.labels("empty").inc()
        raise ApiError(422, "empty_message",
                       "请输入文字内容（消息不能为空，也不能只有表情或符号）。"
                       " / Please type some text: the message is empty or only emoji/symbols.")
    typed = typed_answer(stripped, text, buttons, offered.get(FREE_TEXT_FIELD))
    if typed:
        return typed
    if text.startswith("/"):
        text = ESCAPED_SLASH + text[1:]
    # Rasa gets the normalised text; people (helper, record) get what the user typed, less
    # control characters: "好的，谢谢" stays full-width for a Chinese reader.
    return UserText(for_route=text, shown=strip_controls(stripped))


def typed_answer(stripped: str, text: str, buttons: dict[str, str],
                 free_text: str | None) -> UserText | None:
    """A typed answer to the last reply's prompt as the payload it stands for, else None."""
    if text.startswith("/"):
        return None
    shown = strip_controls(stripped)
    chosen = typed_answers.button_for(text, buttons)
    if chosen:
        TYPED_ANSWERS.labels("button").inc()
        return UserText(for_route=chosen, shown=shown, payload=chosen)
    if free_text and not (typed_answers.asks_for_a_person(text)
                          or typed_answers.is_new_question(text)):
        try:
            template = json.loads(free_text)
        except ValueError:
            return None
        payload = typed_answers.free_text_payload(template, shown) \
            if isinstance(template, dict) else None
        if payload:
            TYPED_ANSWERS.labels("free_text").inc()
            return UserText(for_route=payload, shown=shown, payload=payload)
    return None


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


def reask(offered: dict[str, str], messages: list[dict], user_text: UserText) -> list[dict] | None:
    """The prompt again, once, when a typed answer to it selected nothing and the bot did not
    understand it either (its reply carries ``custom.not_understood``); else None."""
    sentence = offered.get(REASK_FIELD)
    if (user_text.payload or not sentence or offered.get(REASKED_FIELD)
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


def bot_messages(replies: list[dict]) -> list[dict]:
    """Rasa's replies as the page shows them, with the privacy notice before a phone request."""
    out: list[dict] = []
    for reply in replies:
        if not isinstance(reply, dict):
            continue
        text = str(reply.get("text") or "")
        buttons = [{"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))}
                   for b in reply.get("buttons") or [] if isinstance(b, dict)]
        custom = reply.get("custom") if isinstance(reply.get("custom"), dict) else None
        if custom and not text and not buttons and out and out[-1]["role"] == Speaker.BOT.value:
            # Rasa sends a message's json_message as a reply of its own: it belongs to the
            # message before it (a prompt's free-text template, bot.actions.rating).
            out[-1].setdefault("custom", {}).update(custom)
            continue
        if text and _PHONE_ASK.search(text):
            out.append({"role": Speaker.NOTICE.value, "text": PHONE_NOTICE, "buttons": []})
        message = {"role": Speaker.BOT.value, "text": text, "buttons": buttons}
        if custom:
            message["custom"] = custom
        if text or buttons or custom:
            out.append(message)
    return out


# --- the record -----------------------------------------------------------------------------------

def record_user_turn(services: Services, conversation_id: str, text: UserText) -> None:
    with session_scope(services.engine) as s:
        extra = {"payload": text.payload} if text.payload else {}
        m = conversations.append(s, conversation_id, Speaker.USER, text.shown, **extra)
        record_event(s, EventKind.MESSAGE_RECEIVED, conversation_id=conversation_id,
                     actor="user", message_pk=m.pk, mode=Mode.BOT.value)


def record_bot_turns(services: Services, conversation_id: str, messages: list[dict]) -> None:
    with session_scope(services.engine) as s:
        for message in messages:
            custom = message.get("custom") or {}
            extra = {key: custom[key] for key in (typed_answers.FREE_TEXT, typed_answers.REASK)
                     if custom.get(key)}  # so the record can stand in for Redis
            conversations.append(s, conversation_id, message["role"], message["text"],
                                 buttons=message["buttons"], **extra)


def record_failure(services: Services, conversation_id: str, kind: str) -> None:
    with session_scope(services.engine) as s:
        record_event(s, EventKind.BOT_FAILURE, conversation_id=conversation_id,
                     actor="gateway", failure=kind)


def conversation_history(services: Services, conversation_id: str, limit: int = 200
                         ) -> list[dict]:
    """What the user sees on return: every turn of the conversation, in order."""
    with session_scope(services.engine) as s:
        rows = conversations.conversation(s, conversation_id, limit=limit)
        names = views.display_names(s, {m.author for m in rows if m.author})
        return [{"role": m.role, "text": m.text, "buttons": (m.data or {}).get("buttons", []),
                 "author": names.get(m.author, ""), "at": conversations.aware(m.at).isoformat()}
                for m in rows]


def display_name(services: Services, username: str) -> str:
    with session_scope(services.engine) as s:
        return views.display_names(s, {username}).get(username, "")


# --- the conversation's mode (handoff) ------------------------------------------------------------

def conversation_state(services: Services, conversation_id: str) -> dict:
    """``{"mode": "bot"|"waiting"|"human", "ticket": {...} | None}`` from the handoff module."""
    mode = relay.get_mode(conversation_id, ctx=services.handoff).mode
    if mode == Mode.BOT:
        return {"mode": Mode.BOT.value, "ticket": None}
    status = views.queue_position(conversation_id, ctx=services.handoff)
    if status is None:  # the ticket closed between the two reads
        return {"mode": Mode.BOT.value, "ticket": None}
    return {"mode": mode, "ticket": ticket_for_user(services, status)}


def ticket_for_user(services: Services, status: views.QueueStatus) -> dict:
    """What the user may know of their ticket: place, wait, department, channel (online helper
    or a 12345 call-back), the helper's name."""
    return {"id": status.ticket_id, "status": status.status, "department": status.department,
            "channel": status.channel,
            "queue_position": status.position, "estimated_wait_s": status.estimated_wait_s,
            "helpers_on_duty": status.helpers_on_duty,
            "helper_name": display_name(services, status.helper) if status.helper else ""}


# --- one user message, for REST and WebSocket alike --------------------------------------------

@dataclass
class TurnResult:
    conversation_id: str
    mode: str
    messages: list[dict] = field(default_factory=list)
    ticket: dict | None = None

    def to_dict(self) -> dict:
        return {"conversation_id": self.conversation_id, "mode": self.mode,
                "messages": self.messages, "ticket": self.ticket}


async def handle_user_message(services: Services, http, conversation_id: str,
                              raw: str, *, client_ip: str = "") -> TurnResult:
    """``client_ip`` (:func:`api.deps.client_ip`) reaches whatever books a ticket or a 12345
    call-back for this turn (the bot's actions, the fallback) for its per-address limits."""
    settings = services.settings
    offered = await run_in_threadpool(offered_to, services, conversation_id, raw)
    user_text = check_user_text(raw, offered, settings.max_message_chars)
    state = await run_in_threadpool(conversation_state, services, conversation_id)

    if state["mode"] != Mode.BOT:
        CHAT_MESSAGES.labels("helper").inc()
        try:
            await run_in_threadpool(
                lambda: relay.send_user_message(conversation_id, user_text.shown,
                                                ctx=services.handoff,
                                                message_id=f"web-{uuid.uuid4().hex}"))
        except TicketClosed:
            # Resolved between the mode read and the send: the bot answers, as after resolution.
            state = {"mode": Mode.BOT.value, "ticket": None}
        else:
            return TurnResult(conversation_id, state["mode"], [], state["ticket"])

    CHAT_MESSAGES.labels("bot").inc()
    await run_in_threadpool(record_user_turn, services, conversation_id, user_text)
    try:
        messages = await _ask_rasa(services, http, conversation_id, user_text, client_ip)
    except rasa_client.BotUnavailable as exc:
        if exc.kind != rasa_client.CIRCUIT_OPEN:  # not asked: not a failure of Rasa's
            RASA_FAILURES.labels(rasa_failure_label(exc.kind)).inc()
        log.warning("bot turn failed for %s: %s", conversation_id, exc.kind)
        await run_in_threadpool(record_failure, services, conversation_id, exc.kind)
        # An empty reply is how Rasa's REST channel reports its own failure (its lock or
        # tracker store — Redis — or the action endpoint): answered here like the rest.
        messages = await _fallback(services, conversation_id, user_text, exc.kind, client_ip,
                                   offered.get(TICKET_FIELD, ""))

    again = reask(offered, messages, user_text)
    if again:
        messages = again
    # A rating prompt's ticket stays while it, or its reason, is asked for.
    rated = offered.get(TICKET_FIELD, "") if again or free_text_of(messages) else ""
    await run_in_threadpool(store_offered, services.redis, conversation_id, messages, rated,
                            bool(again))
    await run_in_threadpool(record_bot_turns, services, conversation_id, messages)
    state = await run_in_threadpool(conversation_state, services, conversation_id)
    return TurnResult(conversation_id, state["mode"], messages, state["ticket"])


async def _ask_rasa(services: Services, http, conversation_id: str, text: UserText,
                    client_ip: str = "") -> list[dict]:
    """Rasa's reply as the page shows it; BotUnavailable when there is none."""
    settings, breaker = services.settings, services.rasa_breaker
    replies = await rasa_client.ask(http, settings, conversation_id, text.for_route,
                                    client_ip=client_ip, breaker=breaker)
    messages = bot_messages(replies)
    if not messages and await run_in_threadpool(_hand_back_now, services, conversation_id):
        # A paused conversation answers nothing: its ticket closed and the hand-back
        # still waited in the outbox (Rasa was down then). Handed back now; ask again.
        messages = bot_messages(await rasa_client.ask(http, settings, conversation_id,
                                                      text.for_route, client_ip=client_ip,
                                                      breaker=breaker))
    if not messages:
        raise rasa_client.BotUnavailable("empty_reply")
    return messages


async def _fallback(services: Services, conversation_id: str, text: UserText,
                    failure: str, client_ip: str = "", rated_ticket: str = "") -> list[dict]:
    """The gateway's own answer (:mod:`api.fallback`); the polite 503 if even that fails."""
    try:
        return await run_in_threadpool(lambda: fallback.serve(
            services, conversation_id, text.for_route, text.payload, failure,
            client_ip=client_ip, rated_ticket=rated_ticket))
    except Exception:
        log.exception("fallback answer failed for %s", conversation_id)
        message = BOT_NO_REPLY if failure == "empty_reply" else BOT_UNAVAILABLE
        raise ApiError(503, "bot_unavailable", message) from None


def _hand_back_now(services: Services, conversation_id: str) -> bool:
    if not outbox.pending(services.handoff, conversation_id, kind=outbox.RETURNED):
        return False
    # Rasa has just answered: a hand-back backing off after a failure is retried now.
    outbox.drain(services.handoff, conversation_id=conversation_id, retry_now=True)
    return not outbox.pending(services.handoff, conversation_id, kind=outbox.RETURNED)


# --- back to the bot after a ticket closes -------------------------------------------------------

def return_to_bot(services: Services, returned: Returned) -> bool:
    """The handoff context's hook: resume the paused Rasa conversation and have the bot ask
    for the 好差评 rating; the bot's words join the record and reach the user's page through
    the relay. False (retried by the outbox) while Rasa cannot be reached."""
    conversation_id = returned.conversation_id
    try:
        replies = rasa_client.resume(services.rasa_http, services.settings, conversation_id,
                                     ask_rating=True, ticket_id=returned.ticket_id)
    except rasa_client.BotUnavailable as exc:
        log.warning("could not hand %s back to the bot: %s", conversation_id, exc)
        return False
    messages = bot_messages(replies)
    store_offered(services.redis, conversation_id, messages, returned.ticket_id)
    record_bot_turns(services, conversation_id, messages)
    if messages:
        try:
            relay.publish_event(services.handoff, conversation_id,
                                {"type": BOT_MESSAGES_EVENT, "messages": messages})
        except redis_lib.RedisError as exc:
            # Done and recorded: retrying would resume Rasa and ask for the rating twice.
            # The page shows the question from the record when it next loads.
            log.warning("bot's words to %s not pushed live: Redis unavailable (%s)",
                        conversation_id, exc)
    return True


# --- 留言 as the portal shows them ---------------------------------------------------------------

def left_messages_for(services: Services, visitor_id: str) -> list[dict]:
    return left_messages.for_visitor(visitor_id, ctx=services.handoff)
