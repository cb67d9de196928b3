"""The user's chat: REST ``POST /api/chat/messages`` and WebSocket ``/ws/chat``.

A long-lived visitor cookie holds a random secret; the conversation id (Rasa's sender id) is
derived from it with the server's key (:func:`api.deps.conversation_id_of`), so a returning
user finds their conversation and nobody who only saw the id can open it. What happens to a
message is the conversation service's job (:mod:`api.conversation`); this module maps HTTP
and the socket onto it.
"""
from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Literal, TypeVar

import redis
from fastapi import APIRouter, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError
from starlette.concurrency import run_in_threadpool

from api import conversation, offered
from api.chat_enterprise import note_signed_in
from api.deps import (
    ClientIp,
    ServicesDep,
    VisitorId,
    conversation_id_from_cookies,
    conversation_over,
    enforce_limit,
    new_visitor_secret,
    set_visitor_cookie,
    visitor,
    websocket_client_ip,
)
from api.errors import (
    ApiError,
    SendFailed,
    database_unavailable,
    error_response,
    error_responses,
)
from api.services import Services
from bot.actions import rating
from handoff import relay
from xiaobao.db import session_scope
from xiaobao.enums import Mode, Rating, Speaker
from xiaobao.events import EventKind, record_event
from xiaobao.limits import LimitExceeded

router = APIRouter(tags=["chat"], responses=error_responses(400, 403, 413, 422, 429, 503))
log = logging.getLogger("api.chat")
QUEUE_PUSH_S = 2.0
LIVE_RETRY_S = 2.0


MESSAGE_ID = r"^[A-Za-z0-9_.:-]{1,64}$"
# The database dropped a turn (PostgreSQL restarting, a connection cut): tried again after
# these pauses when the page gave the message its id (a resend is then harmless), else —
# and after the last — 503 "发送失败，请重试", the page keeping the text to send again.
DB_RETRY_DELAYS_S = (0.5, 1.5)
T = TypeVar("T")


class MessageIn(BaseModel):
    # A hard cap far above the limit, so the limit's own clear message is what users see.
    text: str = Field(max_length=100_000)
    # The page's own id of this message (kept through its resends): the record keeps it once.
    message_id: str | None = Field(default=None, pattern=MESSAGE_ID)


async def db_retried(call: Callable[[], Awaitable[T]], *, safe: bool, what: str) -> T:
    """``call()``, again after :data:`DB_RETRY_DELAYS_S` while the database is unreachable when
    ``safe`` (a read, or a message with its id), else — and after the last — :class:`SendFailed`:
    never a 500, never a message answered as sent that the record does not hold."""
    delays = DB_RETRY_DELAYS_S if safe else ()
    for attempt in range(len(delays) + 1):
        try:
            return await call()
        except DBAPIError as exc:
            if not database_unavailable(exc):
                raise
            log.warning("%s failed (attempt %d): database unavailable (%s)",
                        what, attempt + 1, type(exc).__name__)
            if attempt == len(delays):
                raise SendFailed from exc
            await asyncio.sleep(delays[attempt])
    raise AssertionError("unreachable")


async def send_turn(services: Services, http, conversation_id: str, text: str, *,
                    ip: str, cookies, message_id: str | None) -> conversation.TurnResult:
    """One user message, REST or socket, retried while the database is unreachable when it
    is safe to (``message_id``)."""
    async def turn() -> conversation.TurnResult:
        await run_in_threadpool(note_signed_in, services, conversation_id, cookies)
        return await conversation.handle_user_message(services, http, conversation_id, text,
                                                      client_ip=ip, message_id=message_id)

    return await db_retried(turn, safe=bool(message_id), what=f"message of {conversation_id}")


async def check_chat_limits(services: Services, conversation_id: str, ip: str) -> None:
    """Each message counts against its conversation's and its address's per-minute limits
    (``LimitExceeded`` over either)."""
    settings = services.settings
    await enforce_limit(services, "chat_visitor", conversation_id,
                        settings.chat_per_visitor_per_minute, 60, "发送消息")
    await enforce_limit(services, "chat_ip", ip, settings.chat_per_ip_per_minute, 60, "发送消息")


@router.post("/api/chat/messages")
async def post_message(body: MessageIn, request: Request, services: ServicesDep,
                       ip: ClientIp) -> Response:
    settings = services.settings
    secret, conversation_id = await db_retried(
        lambda: run_in_threadpool(visitor, services, request.cookies), safe=True,
        what="visitor of a message")
    await check_chat_limits(services, conversation_id, ip)  # 429 with Retry-After over them
    try:
        result = await send_turn(services, request.app.state.http, conversation_id, body.text,
                                 ip=ip, cookies=request.cookies, message_id=body.message_id)
        response: Response = JSONResponse(result.to_dict())
    except ApiError as exc:
        # A refused or failed first message still leaves its cookie: the message was kept
        # under this conversation, and the user should find it again.
        response = error_response(exc.status, exc.code, exc.message)
    set_visitor_cookie(response, settings, secret)
    return response


class EndIn(BaseModel):
    """结束会话, with the user's 好差评 of it if they wish to give one."""

    rating: Literal["非常满意", "满意", "基本满意", "不满意", "非常不满意"] | None = None
    reason: str = Field(default="", max_length=500)


def _record_end(services: Services, conversation_id: str, body: EndIn) -> bool:
    """The ``conversation_ended`` event, after the rating when one is given (of the ticket the
    last rating prompt named, else of the bot); whether the rating was recorded."""
    rated = False
    if body.rating:
        ticket_id = ""
        try:
            ticket_id = offered.load_offered(services.redis, conversation_id).get(
                offered.TICKET_FIELD, "")
        except redis.RedisError:
            pass
        rated = rating.record(services, conversation_id, ticket_id, Rating(body.rating),
                              body.reason.strip())
    with session_scope(services.engine) as session:
        record_event(session, EventKind.CONVERSATION_ENDED, conversation_id=conversation_id)
    return rated


@router.post("/api/chat/end")
async def end_conversation(request: Request, services: ServicesDep,
                           body: EndIn | None = None) -> Response:
    """结束会话, for a service-hall kiosk or a family computer: the browser gets a new visitor
    secret, so the next person at it starts a new conversation and can read nothing of this
    one (the record keeps it, under its old id, for the rates and any open ticket). A rating
    given with it counts like one given in the chat (a 差评 without a reason too)."""
    settings = services.settings
    old = conversation_id_from_cookies(request.cookies, settings)
    rated = False
    if old:
        rated = await run_in_threadpool(_record_end, services, old, body or EndIn())
    response = JSONResponse({"ok": True, "ended": bool(old), "rated": rated})
    set_visitor_cookie(response, settings, new_visitor_secret())
    return response


HISTORY_PAGE = 200
MAX_ID = 2**31 - 1  # a message id (the record's integer key) fits a 32-bit column


@router.get("/api/chat/history")
async def history(conversation_id: VisitorId, services: ServicesDep,
                  after: int | None = Query(default=None, ge=0, le=MAX_ID)) -> dict:
    """The conversation's last turns, each with its id; ``after=<id>``: the turns after that
    one, oldest first, for a page catching up after its socket dropped (``more``: ask again
    after the last one)."""
    messages = await run_in_threadpool(conversation.conversation_history, services,
                                       conversation_id, HISTORY_PAGE, after)
    state = await run_in_threadpool(conversation.conversation_state, services, conversation_id)
    return {"conversation_id": conversation_id, "mode": state["mode"], "ticket": state["ticket"],
            "messages": messages, "more": after is not None and len(messages) == HISTORY_PAGE}


@router.get("/api/chat/queue")
async def queue_position(conversation_id: VisitorId, services: ServicesDep) -> dict:
    state = await run_in_threadpool(conversation.conversation_state, services, conversation_id)
    return {"conversation_id": conversation_id, "mode": state["mode"], "ticket": state["ticket"]}


@router.websocket("/ws/chat")
async def chat_socket(websocket: WebSocket) -> None:
    """Messages in both directions; pushes helper messages, answers to 留言, and the queue
    position as it moves."""
    app = websocket.app
    services: Services = app.state.services
    conversation_id = conversation_id_from_cookies(websocket.cookies, services.settings)
    if conversation_id is None:
        await websocket.close(code=4401, reason="visitor cookie missing; load / first")
        return
    if await run_in_threadpool(conversation_over, services, conversation_id):
        await websocket.close(code=4401, reason="conversation over; load / again")
        return
    ip = websocket_client_ip(websocket)
    await websocket.accept()
    lock = asyncio.Lock()  # three tasks write to one socket
    shown: dict = {}  # the conversation state the page was last sent

    async def send(payload: dict) -> None:
        async with lock:
            await websocket.send_json(payload)
            if payload["type"] in ("state", "reply"):
                shown["state"] = {"mode": payload["mode"], "ticket": payload["ticket"]}

    pushers = [asyncio.create_task(_push_live_events(services, conversation_id, send)),
               asyncio.create_task(_push_queue_moves(services, conversation_id, send, shown))]
    try:
        while True:
            try:
                data = json.loads(await websocket.receive_text())
                text = data["text"] if isinstance(data, dict) else None
                message_id = data.get("message_id") if isinstance(data, dict) else None
                if not isinstance(text, str) or not (
                        message_id is None
                        or (isinstance(message_id, str) and re.match(MESSAGE_ID, message_id))):
                    raise TypeError
            except (ValueError, KeyError, TypeError):
                await send({"type": "error", "error": {
                    "code": "invalid_request",
                    "message": '请发送 {"text": "..."} / Send {"text": "..."}'}})
                continue
            try:
                await check_chat_limits(services, conversation_id, ip)
            except LimitExceeded as exc:  # the socket stays open: the user may write again
                await send({"type": "error", "error": {
                    "code": exc.code, "message": exc.message,
                    "retry_after_s": exc.retry_after_s}})
                continue
            try:
                result = await send_turn(services, app.state.http, conversation_id, text,
                                         ip=ip, cookies=websocket.cookies,
                                         message_id=message_id)
            except ApiError as exc:
                await send({"type": "error", "error": {"code": exc.code, "message": exc.message}})
                continue
            await send({"type": "reply", **result.to_dict()})
    except WebSocketDisconnect:
        pass
    finally:
        for pusher in pushers:
            pusher.cancel()


async def _push_queue_moves(services: Services, conversation_id: str, send, shown: dict) -> None:
    """While the user waits, their place in line moves when tickets ahead are claimed or
    leave; those are other conversations' events, so the place is re-read every few seconds
    (only a Redis read while not waiting) and pushed when it differs from what the page shows."""
    while True:
        await asyncio.sleep(QUEUE_PUSH_S)
        mode = (await run_in_threadpool(
            lambda: relay.get_mode(conversation_id, ctx=services.handoff))).mode
        if mode != Mode.WAITING:
            continue
        state = await run_in_threadpool(conversation.conversation_state, services,
                                        conversation_id)
        if state != shown.get("state"):
            await send({"type": "state", **state})


async def _push_live_events(services: Services, conversation_id: str, send) -> None:
    """:func:`_forward_live_events` for as long as the socket is open: while Redis is down the
    socket still carries the user's messages and their replies, and the subscription is tried
    again every ``LIVE_RETRY_S`` (its ``subscribed`` event then re-sends the state)."""
    last_failure = 0.0
    while True:
        try:
            await _forward_live_events(services, conversation_id, send)
        except redis.RedisError as exc:
            now = time.monotonic()
            if now - last_failure > 3 * LIVE_RETRY_S:  # once an outage, not every retry
                log.warning("live events of %s paused: Redis unavailable (%s)",
                            conversation_id, exc)
            last_failure = now
        await asyncio.sleep(LIVE_RETRY_S)


async def _forward_live_events(services: Services, conversation_id: str, send) -> None:
    """Forward what the handoff relay publishes for this conversation: the helper's messages,
    the bot's messages after a ticket closed, answers to 留言, and state changes (claimed,
    transferred, resolved)."""
    events = relay.subscribe(conversation_id, client=services.aredis)
    try:
        async for event in events:
            kind = event.get("type")
            if kind == "message":
                if event.get("role") != Speaker.HELPER:
                    continue  # the user's own messages are already on their page
                name = await run_in_threadpool(conversation.display_name, services,
                                               event["author"])
                await send({"type": "message", "message": {
                    "id": event.get("id") or event.get("pk"), "role": "helper",
                    "text": event["text"], "author": name, "at": event["at"]}})
            elif kind == conversation.BOT_MESSAGES_EVENT:
                for message in event.get("messages", []):
                    await send({"type": "message", "message": message})
            elif kind == "message_answered":
                found = await run_in_threadpool(conversation.left_messages_for, services,
                                                conversation_id)
                for message in found:
                    if message["id"] == event.get("message_id"):
                        await send({"type": "left_message", "message": message})
            else:
                # "subscribed" too: from here on nothing is missed, so the page may trust
                # this state after a reconnect, and re-reads the record after the last
                # message it shows (``subscribed``) for what was said while it was away.
                state = await run_in_threadpool(conversation.conversation_state, services,
                                                conversation_id)
                extra = {"subscribed": True} if kind == "subscribed" else {}
                await send({"type": "state", **state, **extra})
    finally:
        await events.aclose()
