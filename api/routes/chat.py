"""The user's chat: REST ``POST /api/chat/messages`` and WebSocket ``/ws/chat``.

A long-lived visitor cookie names the browser, and its value is the conversation
id (Rasa's sender id), so a returning user finds their conversation. Every
message is checked and normalised here, before Rasa or a helper sees it:

* over ``max_message_chars`` (2,000) or empty / only emoji: refused with a clear message;
* text starting with ``/`` reaches Rasa as a command only when it equals a button
  payload the bot offered in its last reply to this conversation (kept in Redis);
  anything else has its slash replaced by a full-width one, which Rasa's
  ``RegexMessageHandler`` does not parse, so a typed ``/request_human{"phone": "x"}``
  is just text;
* the conversation's mode decides the route: bot → Rasa's REST channel; a ticket open
  (human mode) → the handoff relay to the helper.

Every user message is written to SQL before it is routed, so a failure of Rasa or
of the action endpoint loses nothing: the user gets a polite error.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import re
import secrets
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import quote

import httpx
from fastapi import APIRouter, FastAPI, Request, Response, WebSocket, WebSocketDisconnect
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from api.errors import ApiError, error_response
from api.metrics import CHAT_MESSAGES, CHAT_REFUSED, RASA_FAILURES, RASA_LATENCY
from handoff import dispatch, messages, relay
from handoff.privacy import PHONE_NOTICE
from handoff.store import Call, LeftMessage, Ticket
from handoff.tickets import TicketClosed
from retrieval.normalize import has_searchable_text, normalize, strip_controls
from xiaobao.accounts import Account
from xiaobao.db import session_scope
from xiaobao.events import Event, record_event
from xiaobao.settings import Settings

router = APIRouter(tags=["chat"])
log = logging.getLogger("api.chat")

_VISITOR_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
OFFERED_TTL_S = 24 * 3600
# Rasa's RegexMessageHandler strips whitespace and then parses a leading "/" as an intent;
# the full-width solidus reads the same to a person and is never parsed.
ESCAPED_SLASH = "／"
_PHONE_ASK = re.compile(r"(留下|提供|告诉我|输入).{0,12}(电话|手机号)")
BOT_UNAVAILABLE = ("抱歉，小宝暂时无法回复，您的消息已保存。请稍后再试，或点击“转人工”。"
                   " / The assistant is unavailable right now; your message was saved.")
BOT_NO_REPLY = ("抱歉，小宝这次没能给出回复，您的消息已保存。请换个说法再试，或点击“转人工”。"
                " / The assistant could not reply; your message was saved.")


USER_MESSAGE_PREFIX = "web-"  # message ids of user messages the gateway relays to a helper


def offered_key(conversation_id: str) -> str:
    return f"xiaobao:chat:offered:{conversation_id}"


# --- visitor cookie ------------------------------------------------------------------------------

def visitor_id_from_cookies(cookies: dict[str, str], settings: Settings) -> str | None:
    value = cookies.get(settings.visitor_cookie, "")
    return value if _VISITOR_RE.match(value) else None


def new_visitor_id() -> str:
    return secrets.token_urlsafe(16)  # 128 random bits: the conversation cannot be guessed


def set_visitor_cookie(response: Response, settings: Settings, visitor_id: str) -> None:
    response.set_cookie(settings.visitor_cookie, visitor_id, max_age=settings.visitor_max_age_s,
                        httponly=True, samesite="lax", secure=settings.secure_cookies)


def ensure_visitor(request: Request, response: Response) -> str:
    """The visitor's id from the cookie, or a new one set on the response."""
    settings = request.app.state.settings
    visitor_id = visitor_id_from_cookies(request.cookies, settings) or new_visitor_id()
    set_visitor_cookie(response, settings, visitor_id)  # refreshed: the cookie stays long-lived
    return visitor_id


# --- checking a message --------------------------------------------------------------------------

@dataclass(frozen=True)
class UserText:
    for_route: str  # what Rasa receives
    shown: str  # what the transcript and the page show (a button's title for a click)
    payload: str = ""  # the offered button payload, when the message is a click


def check_user_text(raw: str, offered: dict[str, str], max_chars: int) -> UserText:
    """Refuse, normalise and de-fang one user message (see the module docstring)."""
    stripped = raw.strip()
    if len(stripped) > max_chars:
        CHAT_REFUSED.labels("too_long").inc()
        raise ApiError(413, "message_too_long",
                       f"消息太长了：最多{max_chars}个字，您输入了{len(stripped)}个字，请分几次发送。"
                       f" / Message too long: at most {max_chars} characters, got {len(stripped)}.")
    if stripped in offered:
        return UserText(for_route=stripped, shown=offered[stripped] or stripped, payload=stripped)
    text = normalize(stripped)
    if not text or not has_searchable_text(text):
        CHAT_REFUSED.labels("empty").inc()
        raise ApiError(422, "empty_message",
                       "请输入文字内容（消息不能为空，也不能只有表情或符号）。"
                       " / Please type some text: the message is empty or only emoji/symbols.")
    if text.startswith("/"):
        text = ESCAPED_SLASH + text[1:]
    # Rasa gets the normalised text; people (helper, transcript) get what the user typed,
    # less control characters: "好的，谢谢" stays full-width for a Chinese reader.
    return UserText(for_route=text, shown=strip_controls(stripped))


# --- what the conversation remembers --------------------------------------------------------------

def load_offered(redis, conversation_id: str) -> dict[str, str]:
    return redis.hgetall(offered_key(conversation_id)) or {}


def store_offered(redis, conversation_id: str, messages: list[dict]) -> None:
    """Remember the payloads of the bot's last reply (and only those) for the slash guard."""
    offered = {b["payload"]: b.get("title", "") for m in messages for b in m.get("buttons", [])
               if b.get("payload")}
    key = offered_key(conversation_id)
    with redis.pipeline(transaction=True) as pipe:
        pipe.delete(key)
        if offered:
            pipe.hset(key, mapping=offered)
            pipe.expire(key, OFFERED_TTL_S)
        pipe.execute()


def record_message(engine, conversation_id: str, role: str, text: str, **data: object) -> None:
    with session_scope(engine) as session:
        record_event(session, "chat_message", conversation_id=conversation_id, actor=role,
                     role=role, text=text, **data)


def conversation_history(engine, conversation_id: str, limit: int = 200) -> list[dict]:
    """What the user sees on return: bot turns (event log) and live turns (ticket transcripts).

    Ticket transcripts also hold copies of the bot turns made when the ticket was opened;
    only messages sent live are taken from them (user messages carry the gateway's id prefix).
    """
    with session_scope(engine) as session:
        rows = session.scalars(
            select(Event).where(Event.conversation_id == conversation_id,
                                Event.kind == "chat_message")
            .order_by(Event.pk.desc()).limit(limit)).all()
        messages = [{"role": e.data.get("role", e.actor), "text": e.data.get("text", ""),
                     "buttons": e.data.get("buttons", []), "at": aware(e.at)}
                    for e in rows]
        names = {}
        for m in relay.transcript(conversation_id, engine=engine)[-limit:]:
            live_user = m["role"] == "user" and m["message_id"].startswith(USER_MESSAGE_PREFIX)
            if m["role"] == "helper" or live_user:
                if m["role"] == "helper" and m["author"] not in names:
                    account = session.scalar(select(Account).where(Account.username == m["author"]))
                    names[m["author"]] = account.display_name if account else ""
                messages.append({"role": m["role"], "text": m["text"], "buttons": [],
                                 "author": names.get(m["author"], ""),
                                 "at": dt.datetime.fromisoformat(m["at"])})
    messages.sort(key=lambda m: m["at"])
    for m in messages:
        m["at"] = m["at"].isoformat()
    return messages[-limit:]


def aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


# --- Rasa ----------------------------------------------------------------------------------------

class BotUnavailable(Exception):
    def __init__(self, kind: str):
        super().__init__(kind)
        self.kind = kind


async def ask_rasa(http: httpx.AsyncClient, settings: Settings, conversation_id: str,
                   text: str) -> list[dict]:
    """One turn through Rasa's REST channel; raises :class:`BotUnavailable` on any failure."""
    url = f"{settings.rasa_url.rstrip('/')}/webhooks/rest/webhook"
    started = time.perf_counter()
    try:
        response = await http.post(url, json={"sender": conversation_id, "message": text},
                                   timeout=settings.rasa_timeout_s)
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
        if text and _PHONE_ASK.search(text):
            out.append({"role": "notice", "text": PHONE_NOTICE, "buttons": []})
        message = {"role": "bot", "text": text, "buttons": buttons}
        if custom:
            message["custom"] = custom
        if text or buttons or custom:
            out.append(message)
    return out


# --- the conversation's mode (handoff) ------------------------------------------------------------

def conversation_state(app: FastAPI, conversation_id: str) -> dict:
    """``{"mode": "bot"|"waiting"|"human", "ticket": {...} | None}`` from the handoff module."""
    engine, redis = app.state.engine, app.state.redis
    mode = relay.get_mode(conversation_id, engine=engine, redis=redis).mode
    if mode == "bot":
        return {"mode": "bot", "ticket": None}
    status = dispatch.queue_position(conversation_id, engine=engine, redis=redis)
    if status is None:  # the ticket closed between the two reads
        return {"mode": "bot", "ticket": None}
    return {"mode": mode, "ticket": ticket_for_user(engine, status)}


def ticket_for_user(engine, status: dispatch.QueueStatus) -> dict:
    """What the user may know of their ticket: place, wait, department, channel (online helper
    or a 12345 call-back), the helper's name."""
    helper_name = ""
    with session_scope(engine) as session:
        channel = session.scalar(select(Ticket.channel).where(Ticket.id == status.ticket_id))
        if status.helper:
            account = session.scalar(select(Account).where(Account.username == status.helper))
            helper_name = account.display_name if account else ""
    return {"id": status.ticket_id, "status": status.status, "department": status.department,
            "channel": channel or "online_helper",
            "queue_position": status.position, "estimated_wait_s": status.estimated_wait_s,
            "helpers_on_duty": status.helpers_on_duty, "helper_name": helper_name}


# --- one user message, for REST and WebSocket alike ------------------------------------------------

@dataclass
class TurnResult:
    conversation_id: str
    mode: str
    messages: list[dict] = field(default_factory=list)
    ticket: dict | None = None

    def to_dict(self) -> dict:
        return {"conversation_id": self.conversation_id, "mode": self.mode,
                "messages": self.messages, "ticket": self.ticket}


async def handle_user_message(app: FastAPI, conversation_id: str, raw: str) -> TurnResult:
    settings: Settings = app.state.settings
    redis = app.state.redis
    offered = await run_in_threadpool(load_offered, redis, conversation_id)
    user_text = check_user_text(raw, offered, settings.max_message_chars)
    state = await run_in_threadpool(conversation_state, app, conversation_id)

    if state["mode"] != "bot":
        CHAT_MESSAGES.labels("helper").inc()
        try:
            await run_in_threadpool(
                relay.send_user_message, conversation_id, user_text.shown,
                message_id=f"{USER_MESSAGE_PREFIX}{uuid.uuid4().hex}",
                engine=app.state.engine, redis=redis)
        except TicketClosed:
            # Resolved between the mode read and the send: the bot answers, as after resolution.
            state = {"mode": "bot", "ticket": None}
        else:
            return TurnResult(conversation_id, state["mode"], [], state["ticket"])

    CHAT_MESSAGES.labels("bot").inc()
    extra = {"payload": user_text.payload} if user_text.payload else {}
    await run_in_threadpool(record_message, app.state.engine, conversation_id, "user",
                            user_text.shown, **extra)
    try:
        replies = await ask_rasa(app.state.http, settings, conversation_id, user_text.for_route)
        messages = bot_messages(replies)
        if not messages and await resume_bot(app, conversation_id, ask_rating=False) is not None:
            # A paused Rasa conversation answers nothing: its ticket was closed by a path
            # that could not resume it (Rasa down then, the CLI). Resume, and ask again.
            messages = bot_messages(
                await ask_rasa(app.state.http, settings, conversation_id, user_text.for_route))
        if not messages:
            raise BotUnavailable("empty_reply")
    except BotUnavailable as exc:
        RASA_FAILURES.labels(exc.kind).inc()
        log.warning("bot turn failed for %s: %s", conversation_id, exc.kind)
        await run_in_threadpool(_record_failure, app.state.engine, conversation_id, exc.kind)
        message = BOT_NO_REPLY if exc.kind == "empty_reply" else BOT_UNAVAILABLE
        raise ApiError(503, "bot_unavailable", message) from None

    await run_in_threadpool(store_offered, redis, conversation_id, messages)
    for message in messages:
        await run_in_threadpool(record_message, app.state.engine, conversation_id,
                                message["role"], message["text"], buttons=message["buttons"])
    state = await run_in_threadpool(conversation_state, app, conversation_id)
    return TurnResult(conversation_id, state["mode"], messages, state["ticket"])


def _record_failure(engine, conversation_id: str, kind: str) -> None:
    with session_scope(engine) as session:
        record_event(session, "bot_failure", conversation_id=conversation_id, actor="gateway",
                     failure=kind)


# --- routes --------------------------------------------------------------------------------------

class MessageIn(BaseModel):
    # A hard cap far above the limit, so the limit's own clear message is what users see.
    text: str = Field(max_length=100_000)


@router.post("/api/chat/messages")
async def post_message(body: MessageIn, request: Request) -> Response:
    settings = request.app.state.settings
    conversation_id = visitor_id_from_cookies(request.cookies, settings) or new_visitor_id()
    try:
        result = await handle_user_message(request.app, conversation_id, body.text)
        response = JSONResponse(result.to_dict())
    except ApiError as exc:
        # A refused or failed first message still leaves its cookie: the message was kept
        # under this conversation, and the user should find it again.
        response = error_response(exc.status, exc.code, exc.message)
    set_visitor_cookie(response, settings, conversation_id)
    return response


@router.get("/api/chat/history")
async def history(request: Request, response: Response) -> dict:
    conversation_id = ensure_visitor(request, response)
    messages = await run_in_threadpool(conversation_history, request.app.state.engine,
                                       conversation_id)
    state = await run_in_threadpool(conversation_state, request.app, conversation_id)
    return {"conversation_id": conversation_id, "mode": state["mode"], "ticket": state["ticket"],
            "messages": messages}


@router.get("/api/chat/queue")
async def queue_position(request: Request, response: Response) -> dict:
    conversation_id = ensure_visitor(request, response)
    state = await run_in_threadpool(conversation_state, request.app, conversation_id)
    return {"conversation_id": conversation_id, "mode": state["mode"], "ticket": state["ticket"]}


class LeaveMessageIn(BaseModel):
    text: str = Field(max_length=100_000)
    phone: str = Field(default="", max_length=32)


@router.post("/api/chat/leave-message", status_code=201)
async def leave_message(body: LeaveMessageIn, request: Request, response: Response) -> dict:
    """留言咨询: out of hours or with nobody on duty, a message a helper answers later.

    Leaving one while waiting closes the waiting ticket (the user chose not to wait)."""
    conversation_id = ensure_visitor(request, response)
    text = check_user_text(body.text, {}, request.app.state.settings.max_message_chars).shown
    info = await run_in_threadpool(
        messages.leave_message, conversation_id, text, phone=body.phone,
        visitor_id=conversation_id, engine=request.app.state.engine, redis=request.app.state.redis)
    return {"message": info.to_dict(), "notice": PHONE_NOTICE}


@router.get("/api/chat/left-messages")
async def left_messages(request: Request, response: Response) -> dict:
    """The returning user's 留言, with the answers given since and any call-back asked for."""
    conversation_id = ensure_visitor(request, response)
    found = await run_in_threadpool(left_messages_for, request.app.state.engine, conversation_id)
    return {"messages": found, "phone_notice": PHONE_NOTICE}


def left_messages_for(engine, visitor_id: str) -> list[dict]:
    """The visitor's 留言 as the portal shows them: ``callback`` is the 12345 call-back's
    ticket (id, status, call status) once one was asked for, else None."""
    found = [m.to_dict() for m in messages.answers_for(visitor_id, visitor_id=visitor_id,
                                                       engine=engine)]
    request_ids = {callback_request_id(m["id"]): m for m in found}
    for m in found:
        m["callback"] = None
    if request_ids:
        with session_scope(engine) as session:
            rows = session.execute(
                select(Ticket.request_id, Ticket.id, Ticket.status, Call.status)
                .outerjoin(Call, Call.ticket_id == Ticket.id)
                .where(Ticket.request_id.in_(list(request_ids)))).all()
        for request_id, ticket_id, ticket_status, call_status in rows:
            request_ids[request_id]["callback"] = {
                "ticket_id": ticket_id, "status": ticket_status, "call_status": call_status or ""}
    return found


def callback_request_id(message_id: str) -> str:
    return f"callback-{message_id}"  # as handoff.messages.request_callback names it


def _own_left_message(engine, visitor_id: str, message_id: str) -> LeftMessage:
    with session_scope(engine) as session:
        message = session.get(LeftMessage, message_id)
        if message is None or visitor_id not in (message.visitor_id, message.conversation_id):
            # Someone else's 留言 is as unknown as a made-up id: ids reveal nothing.
            raise ApiError(404, "unknown_message",
                           f"找不到该留言：{message_id}。 / Unknown message {message_id!r}.")
        session.expunge(message)
        return message


@router.post("/api/chat/left-messages/{message_id}/callback", status_code=201)
async def request_callback(request: Request, response: Response,
                           message_id: str = PathParam(max_length=32)) -> dict:
    """A 12345 call-back about a 留言 that has a phone number, through the three-way call
    flow: dialled within service hours (by the gateway's timer). Asking twice is harmless."""
    app = request.app
    conversation_id = ensure_visitor(request, response)
    message = await run_in_threadpool(_own_left_message, app.state.engine, conversation_id,
                                      message_id)
    if not message.phone:
        raise ApiError(422, "no_phone",
                       "该留言没有留下电话号码，无法安排回电。 / No phone number to call back.")
    receipt = await run_in_threadpool(messages.request_callback, message_id,
                                      engine=app.state.engine, redis=app.state.redis,
                                      config=app.state.handoff_config)
    if receipt.in_service_hours:
        text = "已为您预约12345热线回电，工作人员将尽快拨打您留下的电话。"
    else:
        text = "已为您预约12345热线回电。现在不在服务时间，工作人员将在下一个工作时段拨打您留下的电话。"
    return {"callback": {"ticket_id": receipt.ticket_id, "status": receipt.status,
                         "call_id": receipt.call_id, "created": receipt.created,
                         "in_service_hours": receipt.in_service_hours},
            "notice": text}


@router.websocket("/ws/chat")
async def chat_socket(websocket: WebSocket) -> None:
    """Messages in both directions; pushes helper messages, answers to 留言, and the queue
    position as it moves."""
    app = websocket.app
    conversation_id = visitor_id_from_cookies(websocket.cookies, app.state.settings)
    if conversation_id is None:
        await websocket.close(code=4401, reason="visitor cookie missing; load / first")
        return
    await websocket.accept()
    lock = asyncio.Lock()  # three tasks write to one socket
    shown: dict = {}  # the conversation state the page was last sent

    async def send(payload: dict) -> None:
        async with lock:
            await websocket.send_json(payload)
            if payload["type"] in ("state", "reply"):
                shown["state"] = {"mode": payload["mode"], "ticket": payload["ticket"]}

    pushers = [asyncio.create_task(_push_live_events(websocket, conversation_id, send)),
               asyncio.create_task(_push_queue_moves(app, conversation_id, send, shown))]
    try:
        while True:
            try:
                data = json.loads(await websocket.receive_text())
                text = data["text"] if isinstance(data, dict) else None
                if not isinstance(text, str):
                    raise TypeError
            except (ValueError, KeyError, TypeError):
                await send({"type": "error", "error": {
                    "code": "invalid_request",
                    "message": '请发送 {"text": "..."} / Send {"text": "..."}'}})
                continue
            try:
                result = await handle_user_message(app, conversation_id, text)
            except ApiError as exc:
                await send({"type": "error", "error": {"code": exc.code, "message": exc.message}})
                continue
            await send({"type": "reply", **result.to_dict()})
    except WebSocketDisconnect:
        pass
    finally:
        for pusher in pushers:
            pusher.cancel()


QUEUE_PUSH_S = 2.0


async def _push_queue_moves(app: FastAPI, conversation_id: str, send, shown: dict) -> None:
    """While the user waits, their place in line moves when tickets ahead are claimed or
    leave; those are other conversations' events, so the place is re-read every few seconds
    (only a Redis read while not waiting) and pushed when it differs from what the page shows."""
    engine, redis = app.state.engine, app.state.redis
    while True:
        await asyncio.sleep(QUEUE_PUSH_S)
        mode = (await run_in_threadpool(relay.get_mode, conversation_id, engine=engine,
                                        redis=redis)).mode
        if mode != "waiting":
            continue
        state = await run_in_threadpool(conversation_state, app, conversation_id)
        if state != shown.get("state"):
            await send({"type": "state", **state})


async def _push_live_events(websocket: WebSocket, conversation_id: str, send) -> None:
    """Forward what the handoff relay publishes for this conversation: the helper's messages,
    the bot's messages after a ticket closed, answers to 留言, and state changes (claimed,
    transferred, resolved)."""
    app = websocket.app
    events = relay.subscribe(conversation_id, client=app.state.aredis)
    try:
        async for event in events:
            kind = event.get("type")
            if kind == "message":
                if event.get("role") != "helper":
                    continue  # the user's own messages are already on their page
                name = await run_in_threadpool(display_name, app.state.engine, event["author"])
                await send({"type": "message", "message": {
                    "role": "helper", "text": event["text"], "author": name, "at": event["at"]}})
            elif kind == BOT_MESSAGES_EVENT:
                for message in event.get("messages", []):
                    await send({"type": "message", "message": message})
            elif kind == "message_answered":
                found = await run_in_threadpool(left_messages_for, app.state.engine,
                                                conversation_id)
                for message in found:
                    if message["id"] == event.get("message_id"):
                        await send({"type": "left_message", "message": message})
            else:
                # "subscribed" too: from here on nothing is missed, so the page may trust
                # this state after a reconnect.
                state = await run_in_threadpool(conversation_state, app, conversation_id)
                await send({"type": "state", **state})
    finally:
        await events.aclose()


def display_name(engine, username: str) -> str:
    with session_scope(engine) as session:
        account = session.scalar(select(Account).where(Account.username == username))
        return account.display_name if account else ""


# --- back to the bot after a ticket closes -------------------------------------------------------

BOT_MESSAGES_EVENT = "bot_messages"  # published on the relay channel for the user's page
RATING_RESPONSE = "utter_ask_rating"


async def resume_bot(app: FastAPI, conversation_id: str, *, ask_rating: bool) -> list[dict] | None:
    """Resume the paused Rasa conversation (``ConversationResumed``) and, after a resolution,
    have the bot ask for the 好差评 rating. The bot's messages go to the transcript and, through
    the relay channel, to the user's page. Returns None when Rasa could not be reached."""
    settings: Settings = app.state.settings
    base = f"{settings.rasa_url.rstrip('/')}/conversations/{quote(conversation_id, safe='')}"
    params = {"token": settings.rasa_token}
    try:
        response = await app.state.http.post(f"{base}/tracker/events", params=params,
                                             json=[{"event": "resume"}])
        response.raise_for_status()
        if not ask_rating:
            return []
        response = await app.state.http.post(f"{base}/execute", params=params,
                                             json={"name": RATING_RESPONSE})
        response.raise_for_status()
        replies = response.json().get("messages", [])
    except (httpx.HTTPError, ValueError, AttributeError) as exc:
        RASA_FAILURES.labels("resume").inc()
        log.warning("could not resume %s in Rasa: %s", conversation_id, exc)
        return None
    messages = bot_messages(replies if isinstance(replies, list) else [])
    await run_in_threadpool(store_offered, app.state.redis, conversation_id, messages)
    for message in messages:
        await run_in_threadpool(record_message, app.state.engine, conversation_id,
                                message["role"], message["text"], buttons=message["buttons"])
    if messages:
        await run_in_threadpool(relay.publish_event, app.state.redis, conversation_id,
                                {"type": BOT_MESSAGES_EVENT, "messages": messages})
    return messages
