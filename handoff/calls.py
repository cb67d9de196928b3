"""12345 three-way calls (云导办 + 12345 三方通话) through an adapter, with signed call-backs.

There is no telephone line here, so a call goes through a :class:`CallAdapter`: the queue calls
``start_call`` and the telephony side reports progress by posting signed status call-backs
(``ringing``, ``answered``, ``three_way_connected``, ``completed``, ``no_answer``, ``failed``) to
:func:`handle_callback`. A real CTI/SIP integration is one more adapter; nothing here changes.

Signature: ``X-Xiaobao-Timestamp`` (unix seconds), ``X-Xiaobao-Nonce`` and
``X-Xiaobao-Signature`` = hex HMAC-SHA256 of ``"<timestamp>.<nonce>.".encode() + body`` with
``settings.call_callback_secret``. Stale or future timestamps are refused, and a nonce is
accepted once (kept in Redis for the freshness window, so a replay is refused).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import redis as redis_lib
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from handoff import queue, relay
from handoff.config import HandoffConfig, default_config
from handoff.hours import is_open, next_open
from handoff.store import (
    Call,
    Ticket,
    aware,
    get_ticket,
    move_call,
    new_id,
    record_transition,
    set_mode,
    utcnow,
)
from handoff.tickets import (
    ANSWERED,
    CALL_FINAL_STATES,
    CANCELLED,
    COMPLETED,
    DIALLING,
    FAILED,
    IN_CONVERSATION,
    NO_ANSWER,
    REQUESTED,
    RESOLVED,
    RINGING,
    SCHEDULED,
    THREE_WAY_CONNECTED,
    UNREACHABLE,
    UNRESOLVED,
    HandoffError,
)
from xiaobao.db import get_engine, session_scope
from xiaobao.events import record_event
from xiaobao.settings import get_settings

CALLBACK_STATUSES = (RINGING, ANSWERED, THREE_WAY_CONNECTED, COMPLETED, NO_ANSWER, FAILED)
TS_HEADER, NONCE_HEADER, SIG_HEADER = "X-Xiaobao-Timestamp", "X-Xiaobao-Nonce", \
    "X-Xiaobao-Signature"


class CallbackRejected(HandoffError):
    code = "callback_rejected"
    status = 401


@dataclass(frozen=True)
class CallInfo:
    id: str
    ticket_id: str
    status: str
    attempts: int
    phone: str
    scheduled_for: dt.datetime | None
    external_id: str


def _info(c: Call) -> CallInfo:
    return CallInfo(c.id, c.ticket_id, c.status, c.attempts, c.phone, aware(c.scheduled_for),
                    c.external_id)


class CallAdapter(Protocol):
    """The telephony side. ``start_call`` returns the provider's call id at once; progress
    arrives later as signed call-backs."""

    def start_call(self, call: CallInfo, ticket_phone: str) -> str: ...


# --- signing ------------------------------------------------------------------------------------

def sign(body: bytes, *, secret: str | None = None, timestamp: int | None = None,
         nonce: str | None = None) -> dict[str, str]:
    """Headers for a call-back body (what a provider, or the simulator, sends)."""
    secret = secret or get_settings().call_callback_secret
    ts = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or secrets.token_hex(16)
    mac = hmac.new(secret.encode(), f"{ts}.{nonce}.".encode() + body, hashlib.sha256).hexdigest()
    return {TS_HEADER: ts, NONCE_HEADER: nonce, SIG_HEADER: mac}


def verify(body: bytes, headers: dict[str, str], *, redis: redis_lib.Redis,
           secret: str | None = None, max_age_s: float = 300, now: float | None = None) -> None:
    """Raise CallbackRejected unless signed with our secret, fresh, and never seen before."""
    h = {k.lower(): v for k, v in headers.items()}
    ts, nonce, mac = h.get(TS_HEADER.lower()), h.get(NONCE_HEADER.lower()), \
        h.get(SIG_HEADER.lower())
    if not ts or not nonce or not mac or len(nonce) > 128:
        raise CallbackRejected("回调缺少签名。 / Missing signature headers.")
    secret = secret or get_settings().call_callback_secret
    expected = hmac.new(secret.encode(), f"{ts}.{nonce}.".encode() + body,
                        hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, mac):
        raise CallbackRejected("回调签名无效。 / Bad signature.")
    try:
        age = (time.time() if now is None else now) - int(ts)
    except ValueError:
        raise CallbackRejected("回调时间戳无效。 / Bad timestamp.") from None
    if abs(age) > max_age_s:
        raise CallbackRejected("回调已过期。 / Call-back is not fresh.")
    # SET NX: the first delivery wins; a replay within the window finds the nonce taken.
    if not redis.set(f"xiaobao:call-nonce:{nonce}", "1", nx=True, px=int(max_age_s * 2000)):
        raise CallbackRejected("重复的回调。 / Replayed call-back.")


# --- the call's life ----------------------------------------------------------------------------

def create_call(s: Session, ticket: Ticket, config: HandoffConfig,
                now: dt.datetime | None = None) -> Call:
    """A call for a hotline ticket, in the caller's transaction; scheduled only inside hours."""
    call = Call(id=new_id(), ticket_id=ticket.id, status=REQUESTED, phone=ticket.phone,
                attempts=0, scheduled_for=next_open(now, config).astimezone(dt.UTC),
                created_at=utcnow(), updated_at=utcnow())
    s.add(call)
    s.flush()
    record_transition(s, "call", call.id, "", REQUESTED, "bot")
    if is_open(now, config):
        move_call(s, call, SCHEDULED, "system")
    return call


def get_call(call_id: str, *, engine: Engine | None = None) -> CallInfo:
    with session_scope(engine or get_engine()) as s:
        c = s.get(Call, call_id)
        if c is None:
            raise HandoffError(f"找不到通话 {call_id}。 / Unknown call {call_id!r}.")
        return _info(c)


def start_call(call_id: str, adapter: CallAdapter, *, actor: str = "system",
               engine: Engine | None = None, config: HandoffConfig | None = None,
               now: dt.datetime | None = None) -> CallInfo:
    """Dial a scheduled call through ``adapter``; refused outside service hours."""
    engine = engine or get_engine()
    config = config or default_config()
    if not is_open(now, config):
        raise HandoffError("当前不在服务时间，通话将在服务时间内安排。 / Outside service hours.")
    with session_scope(engine) as s:
        c = s.get(Call, call_id)
        if c is None:
            raise HandoffError(f"找不到通话 {call_id}。 / Unknown call {call_id!r}.")
        if c.status == REQUESTED:
            move_call(s, c, SCHEDULED, "system")
        if not move_call(s, c, DIALLING, actor, attempts=c.attempts + 1):
            raise HandoffError(f"通话{call_id}状态已变化。 / Call {call_id} changed meanwhile.")
        s.flush()
        info = _info(s.get(Call, call_id))
        t = get_ticket(s, c.ticket_id)
        phone = t.phone
    external = adapter.start_call(info, phone)
    with session_scope(engine) as s:
        c = s.get(Call, call_id)
        c.external_id = external or c.external_id
        return _info(c)


def start_due_calls(adapter: CallAdapter, *, engine: Engine | None = None,
                    config: HandoffConfig | None = None,
                    now: dt.datetime | None = None) -> list[str]:
    """Dial every call whose time has come (first try, or a retry after no answer)."""
    engine = engine or get_engine()
    config = config or default_config()
    if not is_open(now, config):
        return []
    moment = (now or utcnow()).astimezone(dt.UTC)
    with session_scope(engine) as s:
        due = [c.id for c in s.scalars(select(Call).where(Call.status.in_((REQUESTED, SCHEDULED))))
               if c.scheduled_for is None or aware(c.scheduled_for) <= moment]
    started = []
    for call_id in due:
        try:
            start_call(call_id, adapter, engine=engine, config=config, now=now)
            started.append(call_id)
        except HandoffError:
            continue
    return started


def apply_status(call_id: str, status: str, *, engine: Engine | None = None,
                 redis: redis_lib.Redis | None = None, config: HandoffConfig | None = None,
                 note: str = "") -> CallInfo:
    """One status report from the telephony side. A ``no_answer`` is retried once (back to
    ``scheduled`` after ``retry_delay_s``), then ends as ``unreachable``; the ticket follows:
    three-way connected -> in conversation, completed -> resolved, unreachable/failed ->
    unresolved (reported to the helpers)."""
    if status not in CALLBACK_STATUSES:
        raise HandoffError(f"未知的通话状态：{status}。 / Unknown call status {status!r}.")
    engine = engine or get_engine()
    r = redis if redis is not None else queue.connect()
    config = config or default_config()
    ticket_event: tuple[str, str] | None = None
    with session_scope(engine) as s:
        c = s.get(Call, call_id)
        if c is None:
            raise HandoffError(f"找不到通话 {call_id}。 / Unknown call {call_id!r}.")
        if c.status == status:
            return _info(c)  # a duplicate report from the provider: already applied
        if not move_call(s, c, status, "12345", note):
            raise HandoffError(f"通话{call_id}状态已变化。 / Call {call_id} changed meanwhile.")
        c = s.get(Call, call_id)
        if status == NO_ANSWER:
            if c.attempts < config.calls.max_attempts:
                retry_at = utcnow() + dt.timedelta(seconds=config.calls.retry_delay_s)
                move_call(s, c, SCHEDULED, "system", "未接通，稍后重拨 / retry",
                          scheduled_for=retry_at)
            else:
                move_call(s, c, UNREACHABLE, "system", "两次未接通 / unreachable")
        c = s.get(Call, call_id)
        t = s.get(Ticket, c.ticket_id)
        record_event(s, "call_status", conversation_id=t.conversation_id if t else "",
                     ticket_id=c.ticket_id, actor="12345", status=c.status, attempts=c.attempts)
        ticket_event = _follow_ticket(s, t, c.status)
        info = _info(c)
    if ticket_event and t is not None:
        mode, kind = ticket_event
        relay.cache_mode(r, t.conversation_id, mode, "" if mode == "bot" else t.id)
        if mode == "bot":
            queue.release_ticket(r, t.id)
        relay.publish_event(r, t.conversation_id, {"type": kind, "ticket_id": t.id,
                                                   "call_id": call_id, "status": info.status})
    return info


def _follow_ticket(s: Session, t: Ticket | None, call_status: str) -> tuple[str, str] | None:
    """Move the hotline ticket along with its call; returns (mode, event) for the user."""
    if t is None or t.status not in ("queued", "claimed", "in_conversation", "transferred"):
        return None
    from handoff.store import move_ticket

    if call_status == THREE_WAY_CONNECTED:
        if t.status in ("queued", "transferred"):
            move_ticket(s, t.id, "claimed", "12345", helper=t.helper or "12345",
                        claimed_at=utcnow())
        if s.get(Ticket, t.id).status == "claimed":
            move_ticket(s, t.id, IN_CONVERSATION, "12345", "三方通话已接通",
                        first_response_at=utcnow())
        set_mode(s, t.conversation_id, "human", t.id)
        return "human", "call_connected"
    if call_status in (COMPLETED, UNREACHABLE, FAILED):
        final = RESOLVED if call_status == COMPLETED else UNRESOLVED
        current = s.get(Ticket, t.id)
        if current.status in ("queued", "transferred"):
            move_ticket(s, t.id, "claimed", "12345", helper=t.helper or "12345",
                        claimed_at=utcnow())
        move_ticket(s, t.id, final, "12345", f"12345通话{call_status}")
        set_mode(s, t.conversation_id, "bot", "")
        record_event(s, "ticket_resolved" if final == RESOLVED else "ticket_unresolved",
                     conversation_id=t.conversation_id, ticket_id=t.id, actor="12345",
                     department=t.department, via="12345", call_status=call_status)
        return "bot", f"call_{call_status}"
    return None


def cancel_call(call_id: str, actor: str, *, engine: Engine | None = None) -> CallInfo:
    with session_scope(engine or get_engine()) as s:
        c = s.get(Call, call_id)
        if c is None:
            raise HandoffError(f"找不到通话 {call_id}。 / Unknown call {call_id!r}.")
        if c.status in CALL_FINAL_STATES:
            raise HandoffError(f"通话{call_id}已结束。 / Call {call_id} has ended.")
        move_call(s, c, CANCELLED, actor)
        return _info(s.get(Call, call_id))


def handle_callback(body: bytes, headers: dict[str, str], *, engine: Engine | None = None,
                    redis: redis_lib.Redis | None = None, config: HandoffConfig | None = None,
                    secret: str | None = None) -> CallInfo:
    """The call-back endpoint's whole job: verify, parse ``{"call_id", "status"}``, apply."""
    r = redis if redis is not None else queue.connect()
    config = config or default_config()
    verify(body, headers, redis=r, secret=secret, max_age_s=config.calls.callback_max_age_s)
    try:
        payload = json.loads(body.decode("utf-8"))
        call_id, status = str(payload["call_id"]), str(payload["status"])
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise HandoffError("回调内容无效。 / Malformed call-back body.") from None
    return apply_status(call_id, status, engine=engine, redis=r, config=config,
                        note=str(payload.get("note", ""))[:500])


# --- the simulator ------------------------------------------------------------------------------

@dataclass
class SimulatorAdapter:
    """Plays a call's call-backs, signed like a provider's, for development and tests.

    ``script`` maps an attempt number (1, 2, …) to the statuses that attempt reports; the
    default answers and completes. ``deliver(body, headers)`` is where call-backs go: in tests
    :func:`handle_callback` directly, in development an HTTP POST to the gateway's endpoint.
    Reports are sent when :meth:`play` is called (or at once when ``autoplay``), so a test can
    look between steps.
    """

    deliver: Callable[[bytes, dict[str, str]], object]
    script: dict[int, list[str]] = field(default_factory=lambda: {
        1: [RINGING, ANSWERED, THREE_WAY_CONNECTED, COMPLETED]})
    secret: str | None = None
    autoplay: bool = False
    pending: list[tuple[str, str]] = field(default_factory=list)

    def start_call(self, call: CallInfo, ticket_phone: str) -> str:
        statuses = self.script.get(call.attempts) or self.script.get(max(self.script), [])
        self.pending.extend((call.id, st) for st in statuses)
        if self.autoplay:
            self.play()
        return f"sim-{call.id[:8]}-{call.attempts}"

    def play(self, steps: int | None = None) -> list[object]:
        out = []
        while self.pending and (steps is None or len(out) < steps):
            call_id, status = self.pending.pop(0)
            body = json.dumps({"call_id": call_id, "status": status}).encode()
            out.append(self.deliver(body, sign(body, secret=self.secret)))
        return out
