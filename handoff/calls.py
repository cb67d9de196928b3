"""12345 three-way calls (云导办 + 12345 三方通话) through an adapter, with signed call-backs.

There is no telephone line here, so a call goes through a :class:`CallAdapter`: the queue calls
``start_call`` and the telephony side reports progress by posting signed status call-backs
(``ringing``, ``answered``, ``three_way_connected``, ``completed``, ``no_answer``, ``failed``) to
:func:`handle_callback`. A real CTI/SIP integration is one more adapter; nothing here changes.

The adapter and its simulator: :mod:`handoff.call_adapters`; the call-backs' signature:
:mod:`handoff.call_signing`.

An adapter that raises, or does not return within ``ctx.call_adapter_timeout_s``, ends the
attempt like a ``no_answer``: retried once after ``retry_delay_s``, then the call has
``failed`` and the ticket is unresolved. Call-backs name the call, not the attempt, so a real
adapter should give the provider ``(call.id, call.attempts)`` as its idempotency key.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import re
import threading
from collections import deque
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from handoff import outbox, transitions
from handoff.call_adapters import CallAdapter, CallInfo
from handoff.call_signing import verify
from handoff.config import HandoffConfig
from handoff.context import HandoffContext
from handoff.store import Call, Ticket, get_ticket, move_call, new_id, record_transition
from handoff.tickets import (
    ANSWERED,
    CALL_FINAL_STATES,
    CALL_TRANSITIONS,
    CANCELLED,
    CLAIMED,
    COMPLETED,
    DIALLING,
    FAILED,
    IN_CONVERSATION,
    NO_ANSWER,
    OPEN_STATES,
    REQUESTED,
    RESOLVED,
    RINGING,
    SCHEDULED,
    THREE_WAY_CONNECTED,
    UNREACHABLE,
    UNRESOLVED,
    WAITING_STATES,
    HandoffError,
)
from xiaobao.clock import aware, is_open, next_open, utcnow
from xiaobao.db import session_scope
from xiaobao.events import EventKind, record_event
from xiaobao.phone import is_callable

log = logging.getLogger(__name__)
CALLBACK_STATUSES = (RINGING, ANSWERED, THREE_WAY_CONNECTED, COMPLETED, NO_ANSWER, FAILED)


class DialFailed(HandoffError):
    """The adapter raised or timed out; the call is rescheduled or failed (already saved)."""

    code = "dial_failed"
    status = 502


def _info(c: Call) -> CallInfo:
    return CallInfo(c.id, c.ticket_id, c.status, c.attempts, c.phone, aware(c.scheduled_for),
                    c.external_id)




# The bot's form writes a window as "2026-12-01（周二）14:00–16:00" (bot.actions.validators).
_WINDOW_START = re.compile(r"(\d{4}-\d{2}-\d{2})\D{0,12}?(\d{1,2}:\d{2})")


def window_start(time_window: str, config: HandoffConfig) -> dt.datetime | None:
    """The start of a booked call-back window (Shanghai time), or None when the text names
    none: the 响应率's clock of a 12345 call-back starts there, not at the booking."""
    m = _WINDOW_START.search(time_window or "")
    if m is None:
        return None
    try:
        day, start = dt.date.fromisoformat(m.group(1)), dt.time.fromisoformat(
            m.group(2).zfill(5))
    except ValueError:
        return None
    return dt.datetime.combine(day, start, tzinfo=ZoneInfo(config.hours.timezone))

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


def get_call(call_id: str, *, ctx: HandoffContext) -> CallInfo:
    with session_scope(ctx.engine) as s:
        c = s.get(Call, call_id)
        if c is None:
            raise HandoffError(f"找不到通话 {call_id}。 / Unknown call {call_id!r}.")
        return _info(c)


def start_call(call_id: str, adapter: CallAdapter, *, ctx: HandoffContext, actor: str = "system",
               now: dt.datetime | None = None) -> CallInfo:
    """Dial a scheduled call through ``adapter``; refused outside service hours, for a ticket
    that is no longer open, and for a number 12345 does not call back."""
    if not is_open(now, ctx.config):
        raise HandoffError("当前不在服务时间，通话将在服务时间内安排。 / Outside service hours.")
    refused = False
    with session_scope(ctx.engine) as s:
        c = s.get(Call, call_id)
        if c is None:
            raise HandoffError(f"找不到通话 {call_id}。 / Unknown call {call_id!r}.")
        t = get_ticket(s, c.ticket_id)
        if t.status not in OPEN_STATES or not is_callable(t.phone):
            # Defence in depth: the ticket closed (or its number is not ours to dial) after
            # the call was booked; the call is cancelled, never dialled. (Refused after the
            # commit: raising here would roll the cancellation back.)
            if c.status not in CALL_FINAL_STATES:
                move_call(s, c, CANCELLED, "system", "工单已结束或号码无效 / ticket closed")
            refused = True
        else:
            if c.status == REQUESTED:
                move_call(s, c, SCHEDULED, "system")
            if not move_call(s, c, DIALLING, actor, attempts=c.attempts + 1):
                raise HandoffError(f"通话{call_id}状态已变化。 / Call {call_id} changed "
                                   f"meanwhile.")
            record_event(s, EventKind.CALL_STATUS, conversation_id=t.conversation_id,
                         ticket_id=t.id, actor=actor, status=DIALLING, attempts=c.attempts)
            s.flush()
            info = _info(s.get_one(Call, call_id))
            phone = t.phone
    if refused:
        raise HandoffError(f"通话{call_id}已取消。 / Call {call_id} was cancelled.")
    try:
        external = _dial(adapter, info, phone, ctx.call_adapter_timeout_s)
    except Exception as exc:
        reason = "timeout" if isinstance(exc, TimeoutError) else type(exc).__name__
        log.warning("12345 call %s attempt %s: adapter %s", call_id, info.attempts, reason)
        after = _after_failed_dial(info, reason, ctx=ctx)
        if after.status in (SCHEDULED, FAILED):
            raise DialFailed(f"12345拨号失败（{reason}），" + (
                "稍后重拨。" if after.status == SCHEDULED else "通话失败。")
                + f" / Dialling call {call_id} failed ({reason}).") from exc
        return after  # call-backs moved it on meanwhile: the dial went through after all
    with session_scope(ctx.engine) as s:
        c = s.get_one(Call, call_id)
        c.external_id = external or c.external_id
        return _info(c)


def _dial(adapter: CallAdapter, info: CallInfo, phone: str, timeout_s: float) -> str:
    """``adapter.start_call`` within ``timeout_s``, else TimeoutError. A daemon thread, not an
    executor's: a provider that never answers must hold neither the timer's worker nor the
    process at exit (an executor joins its threads then); its late answer is dropped."""
    answers: list[str] = []
    errors: list[Exception] = []

    def run() -> None:
        try:
            answers.append(adapter.start_call(info, phone))
        except Exception as exc:  # handed to the caller's thread below
            errors.append(exc)

    worker = threading.Thread(target=run, name=f"dial-{info.id[:8]}", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive():
        raise TimeoutError(f"call adapter gave no answer within {timeout_s} s")
    if errors:
        raise errors[0]
    return answers[0] if answers else ""


def _after_failed_dial(info: CallInfo, reason: str, *, ctx: HandoffContext) -> CallInfo:
    """The attempt ``info`` did not go through: retry it like a ``no_answer`` while attempts
    remain, else the call failed and the ticket follows (unresolved, back to the bot). A
    compare-and-set on the attempt still dialling: a call-back or a cancel that came first
    wins, and nothing is written."""
    with outbox.transaction(ctx) as s:
        c = s.get(Call, info.id)
        if c is None or c.status != DIALLING or c.attempts != info.attempts:
            return _info(c) if c is not None else info
        if c.attempts < ctx.config.calls.max_attempts:
            retry_at = utcnow() + dt.timedelta(seconds=ctx.config.calls.retry_delay_s)
            moved = move_call(s, c, SCHEDULED, "system", f"拨号失败（{reason}），稍后重拨 / "
                              f"dial failed, retry", scheduled_for=retry_at)
        else:
            moved = move_call(s, c, FAILED, "system", f"拨号失败（{reason}） / dial failed")
        c = s.get_one(Call, info.id)
        if not moved:
            return _info(c)
        t = s.get(Ticket, c.ticket_id)
        record_event(s, EventKind.CALL_STATUS, conversation_id=t.conversation_id if t else "",
                     ticket_id=c.ticket_id, actor="system", status=c.status,
                     attempts=c.attempts, dial_error=reason)
        _follow_ticket(s, t, c)
        return _info(c)


def start_due_calls(adapter: CallAdapter, *, ctx: HandoffContext,
                    now: dt.datetime | None = None) -> list[str]:
    """Dial every call whose time has come (first try, or a retry after no answer or a
    failed dial); one call's failure does not keep the others from being dialled."""
    if not is_open(now, ctx.config):
        return []
    moment = (now or utcnow()).astimezone(dt.UTC)
    with session_scope(ctx.engine) as s:
        due = [c.id for c in s.scalars(select(Call).where(Call.status.in_((REQUESTED, SCHEDULED))))
               if c.scheduled_for is None or aware(c.scheduled_for) <= moment]
    started = []
    for call_id in due:
        try:
            start_call(call_id, adapter, ctx=ctx, now=now)
            started.append(call_id)
        except HandoffError:
            continue
    return started


def settle_stuck_dials(adapter: CallAdapter, *, ctx: HandoffContext,
                       now: dt.datetime | None = None) -> list[str]:
    """Settle every dial older than ``calls.dial_timeout_s`` that heard nothing back (the
    gateway died during the dial, or a call-back was lost): the provider's own word when it
    has one (:meth:`CallAdapter.call_status`), else the attempt counts as a failed dial —
    retried while attempts remain, then the call has failed and its ticket is unresolved,
    which tells the user and hands the conversation back to the bot. Returns the calls
    settled."""
    moment = (now or utcnow()).astimezone(dt.UTC)
    cutoff = moment - dt.timedelta(seconds=ctx.config.calls.dial_timeout_s)
    with session_scope(ctx.engine) as s:
        stuck = [_info(c) for c in s.scalars(select(Call).where(Call.status == DIALLING))
                 if aware(c.updated_at) <= cutoff]
    settled = []
    for info in stuck:
        try:
            said = adapter.call_status(info)
        except Exception as exc:  # the provider's side is down too: settle without it
            log.warning("12345 call %s: status query failed (%s)", info.id, type(exc).__name__)
            said = None
        steps = _steps(DIALLING, said) if said in CALLBACK_STATUSES else []
        if steps:  # the call-backs that were lost, in order (ringing before answered …)
            for status in steps:
                apply_status(info.id, status, ctx=ctx, note="拨号超时后按话务平台状态补记 / "
                                                            "settled from the provider's status")
        else:
            _after_failed_dial(info, "no word from the telephony side", ctx=ctx)
        settled.append(info.id)
    return settled


def _steps(current: str, target: str | None) -> list[str]:
    """The shortest chain of call-back statuses from ``current`` to ``target`` (empty when
    there is none)."""
    paths: dict[str, list[str]] = {current: []}
    queue = deque([current])
    while queue:
        state = queue.popleft()
        if state == target:
            return paths[state]
        for nxt in sorted(CALL_TRANSITIONS.get(state, ())):
            if nxt in CALLBACK_STATUSES and nxt not in paths:
                paths[nxt] = [*paths[state], nxt]
                queue.append(nxt)
    return []


def apply_status(call_id: str, status: str, *, ctx: HandoffContext, note: str = "") -> CallInfo:
    """One status report from the telephony side. A ``no_answer`` is retried once (back to
    ``scheduled`` after ``retry_delay_s``), then ends as ``unreachable``; the ticket follows:
    three-way connected -> in conversation, completed -> resolved, unreachable/failed ->
    unresolved (and, like every close, the conversation goes back to the bot)."""
    if status not in CALLBACK_STATUSES:
        raise HandoffError(f"未知的通话状态：{status}。 / Unknown call status {status!r}.")
    with outbox.transaction(ctx) as s:
        c = s.get(Call, call_id)
        if c is None:
            raise HandoffError(f"找不到通话 {call_id}。 / Unknown call {call_id!r}.")
        if c.status == status:
            return _info(c)  # a duplicate report from the provider: already applied
        if not move_call(s, c, status, "12345", note):
            raise HandoffError(f"通话{call_id}状态已变化。 / Call {call_id} changed meanwhile.")
        c = s.get_one(Call, call_id)
        if status == NO_ANSWER:
            if c.attempts < ctx.config.calls.max_attempts:
                retry_at = utcnow() + dt.timedelta(seconds=ctx.config.calls.retry_delay_s)
                move_call(s, c, SCHEDULED, "system", "未接通，稍后重拨 / retry",
                          scheduled_for=retry_at)
            else:
                move_call(s, c, UNREACHABLE, "system", "两次未接通 / unreachable")
        c = s.get_one(Call, call_id)
        t = s.get(Ticket, c.ticket_id)
        record_event(s, EventKind.CALL_STATUS, conversation_id=t.conversation_id if t else "",
                     ticket_id=c.ticket_id, actor="12345", status=c.status, attempts=c.attempts)
        _follow_ticket(s, t, c)
        return _info(c)


def _follow_ticket(s: Session, t: Ticket | None, c: Call) -> None:
    """Move the hotline ticket along with its call (through the one transition owner)."""
    if t is None or t.status not in OPEN_STATES:
        return
    relay = {"call_id": c.id, "status": c.status}
    if c.status == THREE_WAY_CONNECTED:
        if t.status in WAITING_STATES:
            transitions.move(s, t.id, CLAIMED, actor="12345", helper=t.helper or "12345",
                             claimed_at=utcnow())
        if s.get_one(Ticket, t.id).status == CLAIMED:
            transitions.move(s, t.id, IN_CONVERSATION, actor="12345", reason="三方通话已接通",
                             relay_data={"type": "call_connected", **relay},
                             first_response_at=utcnow())
    elif c.status in (COMPLETED, UNREACHABLE, FAILED):
        final = RESOLVED if c.status == COMPLETED else UNRESOLVED
        if t.status in WAITING_STATES:
            transitions.move(s, t.id, CLAIMED, actor="12345", helper=t.helper or "12345",
                             claimed_at=utcnow())
        transitions.move(s, t.id, final, actor="12345", reason=f"12345通话{c.status}",
                         event_data={"via": "12345", "call_status": c.status},
                         relay_data={"type": f"call_{c.status}", **relay})


def cancel_call(call_id: str, actor: str, *, ctx: HandoffContext) -> CallInfo:
    with session_scope(ctx.engine) as s:
        c = s.get(Call, call_id)
        if c is None:
            raise HandoffError(f"找不到通话 {call_id}。 / Unknown call {call_id!r}.")
        if c.status in CALL_FINAL_STATES:
            raise HandoffError(f"通话{call_id}已结束。 / Call {call_id} has ended.")
        move_call(s, c, CANCELLED, actor)
        return _info(s.get_one(Call, call_id))


def cancel_open_calls(s: Session, ticket_id: str, actor: str) -> None:
    """In the caller's transaction: a ticket closed by people ends its pending calls."""
    for c in s.scalars(select(Call).where(Call.ticket_id == ticket_id,
                                          Call.status.in_((REQUESTED, SCHEDULED)))):
        move_call(s, c, CANCELLED, actor, "工单已结束 / ticket closed")


def handle_callback(body: bytes, headers: dict[str, str], *, ctx: HandoffContext,
                    secret: str) -> CallInfo:
    """The call-back endpoint's whole job: verify, parse ``{"call_id", "status"}``, apply."""
    verify(body, headers, redis=ctx.redis, secret=secret,
           max_age_s=ctx.config.calls.callback_max_age_s)
    try:
        payload = json.loads(body.decode("utf-8"))
        call_id, status = str(payload["call_id"]), str(payload["status"])
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise HandoffError("回调内容无效。 / Malformed call-back body.") from None
    return apply_status(call_id, status, ctx=ctx, note=str(payload.get("note", ""))[:500])
