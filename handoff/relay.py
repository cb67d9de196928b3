"""Live messages between a user and a helper, across gateway processes.

Each message is written to the SQL transcript first (its primary key is its place in the
conversation, ``message_id`` makes a resend harmless), then published on the conversation's
Redis channel ``xiaobao:relay:<conversation_id>``, which every gateway holding that user's or
that helper's socket listens to. Pub/sub may drop a message for a listener that is
reconnecting; the transcript does not, so a client re-reads it after reconnecting.
"""
from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import redis as redis_lib
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from handoff import queue
from handoff.store import (
    ConversationMode,
    TranscriptMessage,
    aware,
    get_ticket,
    move_ticket,
    open_ticket_for,
    set_mode,
    utcnow,
)
from handoff.tickets import (
    CLAIMED,
    FINAL_STATES,
    IN_CONVERSATION,
    OWNED_STATES,
    HandoffError,
    NotAllowed,
    TicketClosed,
)
from xiaobao.db import get_engine, session_scope
from xiaobao.events import record_event
from xiaobao.settings import get_settings

MAX_CHARS = 2000


def relay_channel(conversation_id: str) -> str:
    return f"xiaobao:relay:{conversation_id}"


@dataclass(frozen=True)
class ConversationState:
    mode: str  # bot | waiting | human
    ticket_id: str


def cache_mode(r: redis_lib.Redis, conversation_id: str, mode: str, ticket_id: str) -> None:
    r.set(queue.mode_key(conversation_id), f"{mode}|{ticket_id}")


def get_mode(conversation_id: str, *, engine: Engine | None = None,
             redis: redis_lib.Redis | None = None) -> ConversationState:
    """Who answers this conversation now. Redis first; on a miss SQL, which is the record."""
    r = redis if redis is not None else queue.connect()
    cached = r.get(queue.mode_key(conversation_id))
    if cached:
        mode, _, ticket_id = queue._s(cached).partition("|")
        return ConversationState(mode, ticket_id)
    with session_scope(engine or get_engine()) as s:
        row = s.get(ConversationMode, conversation_id)
        state = ConversationState(row.mode, row.ticket_id) if row else ConversationState("bot", "")
    cache_mode(r, conversation_id, state.mode, state.ticket_id)
    return state


def publish_event(r: redis_lib.Redis, conversation_id: str, payload: dict) -> None:
    r.publish(relay_channel(conversation_id), json.dumps(payload, ensure_ascii=False))


def _check_text(text: str) -> str:
    if not isinstance(text, str) or not text.strip():
        raise HandoffError("消息不能为空。 / The message is empty.")
    if len(text) > MAX_CHARS:
        raise HandoffError(f"消息不能超过{MAX_CHARS}字（当前{len(text)}字）。 / Messages are "
                           f"limited to {MAX_CHARS} characters.")
    return text


def _as_dict(m: TranscriptMessage) -> dict:
    return {"type": "message", "pk": m.pk, "ticket_id": m.ticket_id,
            "conversation_id": m.conversation_id, "role": m.role, "author": m.author,
            "text": m.text, "message_id": m.message_id or "", "at": aware(m.at).isoformat()}


def _existing(engine: Engine, message_id: str | None) -> dict | None:
    if not message_id:
        return None
    with session_scope(engine) as s:
        m = s.scalar(select(TranscriptMessage).where(TranscriptMessage.message_id == message_id))
        return _as_dict(m) if m else None


def send_user_message(conversation_id: str, text: str, *, message_id: str | None = None,
                      engine: Engine | None = None,
                      redis: redis_lib.Redis | None = None) -> dict:
    """The user's message to whoever holds their ticket (or the queue, while waiting).

    Refused (TicketClosed) when the conversation has no open ticket: after resolution the
    user talks to the bot again, never to the previous helper.
    """
    _check_text(text)
    engine = engine or get_engine()
    r = redis if redis is not None else queue.connect()
    if (seen := _existing(engine, message_id)) is not None:
        return seen
    try:
        with session_scope(engine) as s:
            t = open_ticket_for(s, conversation_id)
            if t is None:
                raise TicketClosed("当前没有进行中的人工服务，消息将由小宝回答。 / This "
                                   "conversation has no open ticket.")
            m = TranscriptMessage(ticket_id=t.id, conversation_id=conversation_id, role="user",
                                  author="", text=text, message_id=message_id or None,
                                  at=utcnow())
            s.add(m)
            s.flush()
            out = _as_dict(m)
    except IntegrityError:
        if (seen := _existing(engine, message_id)) is not None:
            return seen
        raise
    publish_event(r, conversation_id, out)
    return out


def send_helper_message(ticket_id: str, helper: object, text: str, *,
                        message_id: str | None = None, engine: Engine | None = None,
                        redis: redis_lib.Redis | None = None) -> dict:
    """A helper's message on a ticket they hold. The first one is the first response: the
    ticket becomes ``in_conversation``, the user's mode ``human``, and the stream entry is
    acknowledged, so the live chat can run past the service level without being reclaimed."""
    _check_text(text)
    engine = engine or get_engine()
    r = redis if redis is not None else queue.connect()
    username = getattr(helper, "username", helper)
    if (seen := _existing(engine, message_id)) is not None:
        return seen
    first = False
    try:
        with session_scope(engine) as s:
            t = get_ticket(s, ticket_id)
            if t.status in FINAL_STATES:
                raise TicketClosed(f"工单{ticket_id}已结束（{t.status}），不能再发送消息。 / "
                                   f"Ticket {ticket_id} is closed.")
            if t.status not in OWNED_STATES or t.helper != username:
                raise NotAllowed(f"工单{ticket_id}不由您处理，请先领取。 / Ticket {ticket_id} is "
                                 f"not yours; claim it first.")
            conversation_id = t.conversation_id
            if t.status == CLAIMED:
                moved = move_ticket(s, ticket_id, IN_CONVERSATION, username, "首次响应",
                                    expect={CLAIMED}, expect_helper=username,
                                    first_response_at=utcnow())
                if moved is None:
                    raise NotAllowed(f"工单{ticket_id}已被收回。 / Ticket {ticket_id} was "
                                     f"reclaimed.")
                set_mode(s, conversation_id, "human", ticket_id)
                record_event(s, "ticket_first_response", conversation_id=conversation_id,
                             ticket_id=ticket_id, actor=username)
                first = True
            m = TranscriptMessage(ticket_id=ticket_id, conversation_id=conversation_id,
                                  role="helper", author=username, text=text,
                                  message_id=message_id or None, at=utcnow())
            s.add(m)
            s.flush()
            out = _as_dict(m)
    except IntegrityError:
        if (seen := _existing(engine, message_id)) is not None:
            return seen
        raise
    if first:
        queue.release_ticket(r, ticket_id)
        cache_mode(r, conversation_id, "human", ticket_id)
    publish_event(r, conversation_id, out)
    return out


def transcript(conversation_id: str = "", *, ticket_id: str = "", after_pk: int = 0,
               engine: Engine | None = None) -> list[dict]:
    """Messages in order, of a conversation (all its tickets) or of one ticket."""
    if not conversation_id and not ticket_id:
        raise HandoffError("需要会话编号或工单编号。 / Give a conversation or a ticket id.")
    with session_scope(engine or get_engine()) as s:
        q = select(TranscriptMessage).where(TranscriptMessage.pk > after_pk)
        if conversation_id:
            q = q.where(TranscriptMessage.conversation_id == conversation_id)
        if ticket_id:
            q = q.where(TranscriptMessage.ticket_id == ticket_id)
        return [_as_dict(m) for m in s.scalars(q.order_by(TranscriptMessage.pk))]


async def subscribe(conversation_id: str, *, redis_url: str | None = None,
                    client: object | None = None) -> AsyncIterator[dict]:
    """Live events of a conversation: messages, ``claimed``, ``resolved``, ``transferred`` ….

    The first item is ``{"type": "subscribed"}``: from then on nothing published is missed.
    Close the iterator (``aclose()``) to unsubscribe.
    """
    import redis.asyncio as aioredis

    own = client is None
    conn = client or aioredis.Redis.from_url(redis_url or get_settings().redis_url,
                                             decode_responses=True)
    pubsub = conn.pubsub()
    await pubsub.subscribe(relay_channel(conversation_id))
    try:
        yield {"type": "subscribed", "conversation_id": conversation_id}
        while True:
            msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=30.0)
            if msg is None or msg.get("type") != "message":
                continue
            data = msg["data"]
            yield json.loads(data.decode() if isinstance(data, bytes) else data)
    finally:
        await pubsub.unsubscribe(relay_channel(conversation_id))
        await pubsub.aclose()
        if own:
            await conn.aclose()
