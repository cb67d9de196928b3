"""The conversation service: one user message from arrival to answer, whoever answers it.

Every message is checked and normalised first (:mod:`api.user_text`, against what the bot's
last reply offered, :mod:`api.offered`), before Rasa or a helper sees it:

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

import hashlib
import logging
import re
import uuid
from dataclasses import dataclass, field

import redis as redis_lib
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from api import fallback, rasa_client, typed_answers
from api.errors import ApiError
from api.metrics import (
    CHAT_MESSAGES,
    RASA_FAILURES,
    rasa_failure_label,
)
from api.offered import TICKET_FIELD, free_text_of, offered_to, reask, store_offered
from api.services import Services
from api.user_text import UserText, check_user_text
from handoff import left_messages, outbox, rating_prompt, relay, views
from handoff.context import Returned
from handoff.tickets import TicketClosed
from xiaobao import clock, conversations
from xiaobao.db import session_scope
from xiaobao.enums import Mode, Speaker
from xiaobao.events import EventKind, record_event
from xiaobao.phone import PHONE_NOTICE

log = logging.getLogger("api.conversation")

_PHONE_ASK = re.compile(r"(留下|提供|告诉我|输入).{0,12}(电话|手机号)")
BOT_UNAVAILABLE = ("抱歉，小宝暂时无法回复，您的消息已保存。请稍后再试，或点击“转人工”。"
                   " / The assistant is unavailable right now; your message was saved.")
BOT_NO_REPLY = ("抱歉，小宝这次没能给出回复，您的消息已保存。请换个说法再试，或点击“转人工”。"
                " / The assistant could not reply; your message was saved.")
BOT_MESSAGES_EVENT = "bot_messages"  # published on the relay channel for the user's page


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

def client_id_of(conversation_id: str, message_id: str | None) -> str | None:
    """The record's ``client_id`` of a message the page sent with its own ``message_id``:
    scoped to the conversation (a hash of both), so no page can claim another's id."""
    if not message_id:
        return None
    digest = hashlib.sha256(f"{conversation_id}\n{message_id}".encode()).hexdigest()
    return "web-" + digest[:48]


def record_user_turn(services: Services, conversation_id: str, text: UserText,
                     client_id: str | None = None) -> int:
    """The user's turn in the record; its id. Once per ``client_id``: a resend (the page's, or
    the gateway's own retry after the database dropped it) finds the turn already kept."""
    try:
        with session_scope(services.engine) as s:
            if (seen := conversations.by_client_id(s, client_id)) is not None:
                return seen.pk
            extra = {"payload": text.payload} if text.payload else {}
            m = conversations.append(s, conversation_id, Speaker.USER, text.shown,
                                     client_id=client_id, **extra)
            record_event(s, EventKind.MESSAGE_RECEIVED, conversation_id=conversation_id,
                         actor="user", message_pk=m.pk, mode=Mode.BOT.value)
            return m.pk
    except IntegrityError:  # the same message, kept by a resend at the same moment
        with session_scope(services.engine) as s:
            if (seen := conversations.by_client_id(s, client_id)) is not None:
                return seen.pk
        raise


def record_bot_turns(services: Services, conversation_id: str, messages: list[dict], *,
                     rating_prompt_of: str = "") -> None:
    """The bot's turns in the record; each message gets its row's id (``id``), by which the
    page shows it once however it arrives (reply, live push, catching up after a reconnect).
    ``rating_prompt_of``: they ask for that closed ticket's rating, marked in the same
    transaction (:mod:`handoff.rating_prompt`)."""
    with session_scope(services.engine) as s:
        if rating_prompt_of:
            rating_prompt.mark_asked(s, rating_prompt_of)
        for message in messages:
            custom = message.get("custom") or {}
            extra = {key: custom[key] for key in (typed_answers.FREE_TEXT, typed_answers.REASK)
                     if custom.get(key)}  # so the record can stand in for Redis
            m = conversations.append(s, conversation_id, message["role"], message["text"],
                                     buttons=message["buttons"], **extra)
            message["id"] = m.pk


def record_failure(services: Services, conversation_id: str, kind: str) -> None:
    with session_scope(services.engine) as s:
        record_event(s, EventKind.BOT_FAILURE, conversation_id=conversation_id,
                     actor="gateway", failure=kind)


def conversation_history(services: Services, conversation_id: str, limit: int = 200,
                         after: int | None = None) -> list[dict]:
    """What the user sees on return: the last ``limit`` turns of the conversation, in order;
    with ``after`` (a message's id) the first ``limit`` turns after that one, for a page
    catching up after its socket dropped. Each carries its id (the record's key)."""
    with session_scope(services.engine) as s:
        if after is None:
            rows = conversations.conversation(s, conversation_id, limit=limit)
        else:
            rows = conversations.conversation(s, conversation_id, after_pk=after, limit=limit,
                                              oldest=True)
        names = views.display_names(s, {m.author for m in rows if m.author})
        return [{"id": m.pk, "role": m.role, "text": m.text,
                 "buttons": (m.data or {}).get("buttons", []),
                 "author": names.get(m.author, ""), "at": clock.aware(m.at).isoformat()}
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
    user_message_id: int | None = None  # the user's turn in the record (None: not kept)

    def to_dict(self) -> dict:
        return {"conversation_id": self.conversation_id, "mode": self.mode,
                "messages": self.messages, "ticket": self.ticket,
                "user_message_id": self.user_message_id}


async def handle_user_message(services: Services, http, conversation_id: str,
                              raw: str, *, client_ip: str = "",
                              message_id: str | None = None) -> TurnResult:
    """``client_ip`` (:func:`api.deps.client_ip`) reaches whatever books a ticket or a 12345
    call-back for this turn (the bot's actions, the fallback) for its per-address limits.
    ``message_id``, the page's own id of the message, makes sending it again harmless: the
    record keeps it once (:func:`client_id_of`)."""
    settings = services.settings
    client_id = client_id_of(conversation_id, message_id)
    offered = await run_in_threadpool(offered_to, services, conversation_id, raw)
    user_text = check_user_text(raw, offered, settings.max_message_chars)
    state = await run_in_threadpool(conversation_state, services, conversation_id)

    if state["mode"] != Mode.BOT:
        CHAT_MESSAGES.labels("helper").inc()
        try:
            sent = await run_in_threadpool(
                lambda: relay.send_user_message(conversation_id, user_text.shown,
                                                ctx=services.handoff,
                                                message_id=client_id
                                                or f"web-{uuid.uuid4().hex}"))
        except TicketClosed:
            # Resolved between the mode read and the send: the bot answers, as after resolution.
            state = {"mode": Mode.BOT.value, "ticket": None}
        else:
            return TurnResult(conversation_id, state["mode"], [], state["ticket"],
                              user_message_id=sent["id"])

    CHAT_MESSAGES.labels("bot").inc()
    user_message_id = await run_in_threadpool(record_user_turn, services, conversation_id,
                                              user_text, client_id)
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

    again = reask(offered, messages, bool(user_text.payload))
    if again:
        messages = again
    # A rating prompt's ticket stays while it, or its reason, is asked for.
    rated = offered.get(TICKET_FIELD, "") if again or free_text_of(messages) else ""
    await run_in_threadpool(store_offered, services.redis, conversation_id, messages, rated,
                            bool(again))
    await run_in_threadpool(record_bot_turns, services, conversation_id, messages)
    state = await run_in_threadpool(conversation_state, services, conversation_id)
    return TurnResult(conversation_id, state["mode"], messages, state["ticket"],
                      user_message_id=user_message_id)


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
    the relay. False (retried by the outbox) while Rasa cannot be reached.

    The outbox delivers a hand-back at least once; the question is asked once per ticket
    (:mod:`handoff.rating_prompt`): a delivery after it was recorded changes nothing, one
    while another is asking waits for it."""
    conversation_id, ticket_id = returned.conversation_id, returned.ticket_id
    prompt = rating_prompt.claim(ticket_id, ctx=services.handoff) if ticket_id \
        else rating_prompt.ASK
    if prompt == rating_prompt.DONE:
        return True  # resumed and asked by an earlier delivery of this hand-back
    if prompt == rating_prompt.BUSY:
        return False  # another gateway is handing it back right now: see again later
    try:
        replies = rasa_client.resume(services.rasa_http, services.settings, conversation_id,
                                     ask_rating=True, ticket_id=ticket_id)
    except rasa_client.BotUnavailable as exc:
        log.warning("could not hand %s back to the bot: %s", conversation_id, exc)
        if ticket_id:
            rating_prompt.release(ticket_id, ctx=services.handoff)  # nothing was asked
        return False
    messages = bot_messages(replies)
    try:
        store_offered(services.redis, conversation_id, messages, ticket_id)
    except redis_lib.RedisError as exc:  # the record's last reply stands in (api.offered)
        log.warning("offered buttons of %s not cached: Redis unavailable (%s)",
                    conversation_id, exc)
    record_bot_turns(services, conversation_id, messages, rating_prompt_of=ticket_id)
    if messages:
        try:
            relay.publish_event(services.handoff, conversation_id,
                                {"type": BOT_MESSAGES_EVENT, "messages": messages})
        except redis_lib.RedisError as exc:
            # Done and recorded: the page shows the question from the record when its socket
            # is back (it re-reads after the last message it showed) or it next loads.
            log.warning("bot's words to %s not pushed live: Redis unavailable (%s)",
                        conversation_id, exc)
    return True


# --- 留言 as the portal shows them ---------------------------------------------------------------

def left_messages_for(services: Services, visitor_id: str) -> list[dict]:
    return left_messages.for_visitor(visitor_id, ctx=services.handoff)
