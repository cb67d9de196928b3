"""Live messages between a user and a helper, across gateway processes.

Each message is a turn of the conversation's record (:mod:`xiaobao.conversations`, written
first; ``client_id`` makes a resend harmless), then published through the outbox on the
conversation's Redis channel ``xiaobao:relay:<conversation_id>``, which every gateway holding
that user's or that helper's socket listens to. Pub/sub may drop a message for a listener
that is reconnecting; the record does not, so a client re-reads it after reconnecting.
"""
from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator
from dataclasses import dataclass

import redis as redis_lib
import redis.asyncio as aredis
from sqlalchemy.exc import IntegrityError

from handoff import outbox, queue, transitions
from handoff.context import HandoffContext
from handoff.outbox import relay_channel
from handoff.store import ConversationMode, get_ticket, open_ticket_for
from handoff.tickets import (
    CLAIMED,
    FINAL_STATES,
    IN_CONVERSATION,
    OWNED_STATES,
    HandoffError,
    NotAllowed,
    TicketClosed,
)
from xiaobao import conversations
from xiaobao.clock import utcnow
from xiaobao.db import session_scope
from xiaobao.enums import Mode, Speaker
from xiaobao.events import EventKind, record_event

__all__ = ["relay_channel", "get_mode", "send_user_message", "send_helper_message",
           "transcript", "subscribe", "publish_event"]
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConversationState:
    mode: str  # a xiaobao.enums.Mode
    ticket_id: str


def get_mode(conversation_id: str, *, ctx: HandoffContext) -> ConversationState:
    """Who answers this conversation now. Redis first; on a miss, or while Redis is down, SQL,
    which is the record (the outbox refreshes the cache when Redis is back)."""
    try:
        cached = ctx.redis.get(queue.mode_key(conversation_id))
    except redis_lib.RedisError as exc:
        log.warning("mode of %s read from SQL: Redis unavailable (%s)", conversation_id, exc)
        return _mode_in_sql(conversation_id, ctx)
    if cached:
        mode, _, ticket_id = queue._s(cached).partition("|")
        return ConversationState(mode, ticket_id)
    state = _mode_in_sql(conversation_id, ctx)
    try:
        queue.set_mode(ctx.redis, conversation_id, state.mode, state.ticket_id)
    except redis_lib.RedisError as exc:
        log.warning("mode of %s not cached: Redis unavailable (%s)", conversation_id, exc)
    return state


def _mode_in_sql(conversation_id: str, ctx: HandoffContext) -> ConversationState:
    with session_scope(ctx.engine) as s:
        row = s.get(ConversationMode, conversation_id)
        return ConversationState(row.mode, row.ticket_id) if row else \
            ConversationState(Mode.BOT.value, "")


def publish_event(ctx: HandoffContext, conversation_id: str, payload: dict) -> None:
    """A live event that changes no record (a 留言's answer, the bot's words after a close)."""
    ctx.redis.publish(relay_channel(conversation_id), json.dumps(payload, ensure_ascii=False))


def _check_text(text: str, max_chars: int) -> str:
    if not isinstance(text, str) or not text.strip():
        raise HandoffError("消息不能为空。 / The message is empty.")
    if len(text) > max_chars:
        raise HandoffError(f"消息不能超过{max_chars}字（当前{len(text)}字）。 / Messages are "
                           f"limited to {max_chars} characters.")
    return text


def _existing(ctx: HandoffContext, client_id: str | None) -> dict | None:
    if not client_id:
        return None
    with session_scope(ctx.engine) as s:
        m = conversations.by_client_id(s, client_id)
        return conversations.view(m).to_dict() if m else None


def send_user_message(conversation_id: str, text: str, *, ctx: HandoffContext,
                      message_id: str | None = None) -> dict:
    """The user's message to whoever holds their ticket (or the queue, while waiting).

    Refused (TicketClosed) when the conversation has no open ticket: after resolution the
    user talks to the bot again, never to the previous helper.
    """
    _check_text(text, ctx.max_chars)
    if (seen := _existing(ctx, message_id)) is not None:
        return seen
    try:
        with outbox.transaction(ctx) as s:
            t = open_ticket_for(s, conversation_id)
            if t is None:
                raise TicketClosed("当前没有进行中的人工服务，消息将由小宝回答。 / This "
                                   "conversation has no open ticket.")
            m = conversations.append(s, conversation_id, Speaker.USER, text, ticket_id=t.id,
                                     client_id=message_id)
            record_event(s, EventKind.MESSAGE_RECEIVED, conversation_id=conversation_id,
                         ticket_id=t.id, actor="user", message_pk=m.pk, mode="human")
            out = conversations.view(m).to_dict()
            outbox.add(s, conversation_id, outbox.RELAY, **out)
    except IntegrityError:
        if (seen := _existing(ctx, message_id)) is not None:
            return seen
        raise
    return out


def send_helper_message(ticket_id: str, helper: object, text: str, *, ctx: HandoffContext,
                        message_id: str | None = None, kb_entry_id: str = "") -> dict:
    """A helper's message on a ticket they hold. The first one is the first response: the
    ticket becomes ``in_conversation``, the user's mode ``human``, and the stream entry is
    acknowledged, so the live chat can run past the service level without being reclaimed.
    ``kb_entry_id`` marks a one-click knowledge-base answer (its event is written with it)."""
    _check_text(text, ctx.max_chars)
    username = getattr(helper, "username", helper)
    if (seen := _existing(ctx, message_id)) is not None:
        return seen
    try:
        with outbox.transaction(ctx) as s:
            t = get_ticket(s, ticket_id)
            if t.status in FINAL_STATES:
                raise TicketClosed(f"工单{ticket_id}已结束（{t.status}），不能再发送消息。 / "
                                   f"Ticket {ticket_id} is closed.")
            if t.status not in OWNED_STATES or t.helper != username:
                raise NotAllowed(f"工单{ticket_id}不由您处理，请先领取。 / Ticket {ticket_id} is "
                                 f"not yours; claim it first.")
            conversation_id = t.conversation_id
            if t.status == CLAIMED:
                moved = transitions.move(s, ticket_id, IN_CONVERSATION, actor=str(username),
                                         reason="首次响应", expect={CLAIMED},
                                         expect_helper=str(username),
                                         first_response_at=utcnow())
                if moved is None:
                    raise NotAllowed(f"工单{ticket_id}已被收回。 / Ticket {ticket_id} was "
                                     f"reclaimed.")
            m = conversations.append(s, conversation_id, Speaker.HELPER, text,
                                     ticket_id=ticket_id, author=str(username),
                                     client_id=message_id,
                                     **({"entry_id": kb_entry_id} if kb_entry_id else {}))
            if kb_entry_id:
                record_event(s, EventKind.HELPER_KB_ANSWER, conversation_id=conversation_id,
                             ticket_id=ticket_id, actor=str(username), message_pk=m.pk,
                             entry_id=kb_entry_id)
            out = conversations.view(m).to_dict()
            outbox.add(s, conversation_id, outbox.RELAY, **out)
    except IntegrityError:
        if (seen := _existing(ctx, message_id)) is not None:
            return seen
        raise
    return out


def transcript(conversation_id: str = "", *, ctx: HandoffContext, ticket_id: str = "",
               after_pk: int = 0) -> list[dict]:
    """Turns in order, of a conversation (bot and live) or of one ticket (live only)."""
    if not conversation_id and not ticket_id:
        raise HandoffError("需要会话编号或工单编号。 / Give a conversation or a ticket id.")
    with session_scope(ctx.engine) as s:
        if ticket_id:
            rows = conversations.of_ticket(s, ticket_id, after_pk=after_pk)
            if conversation_id:
                rows = [m for m in rows if m.conversation_id == conversation_id]
        else:
            rows = conversations.conversation(s, conversation_id, after_pk=after_pk)
        return [conversations.view(m).to_dict() for m in rows]


async def subscribe(conversation_id: str, *, client: aredis.Redis
                    ) -> AsyncGenerator[dict, None]:
    """Live events of a conversation: messages, ``claimed``, ``resolved``, ``transferred`` ….

    ``client`` is an asyncio Redis client (the gateway's). The first item is
    ``{"type": "subscribed"}``: from then on nothing published is missed. Close the iterator
    (``aclose()``) to unsubscribe.
    """
    pubsub = client.pubsub()
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
