"""The dispatch queue's operations: request a handoff, claim, resolve, transfer, positions.

Every operation writes SQL first (the record) and then Redis (the work queue). When Redis
fails after the SQL commit, the ticket is still safe: retrying the same request re-enqueues
it, and :func:`handoff.recovery.recover` re-queues every open ticket at start-up.

Each function takes ``engine``, ``redis`` and ``config`` keywords; left out, they come from
settings (``xiaobao.db.get_engine()``, ``settings.redis_url``, ``handoff/config.yaml``).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Protocol

import redis as redis_lib
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError

from handoff import queue, relay
from handoff.config import HandoffConfig, default_config
from handoff.hours import is_open
from handoff.privacy import visible_phone
from handoff.requests import HandoffReceipt, HandoffRequest
from handoff.routing import route_department
from handoff.store import (
    Call,
    HelperStatus,
    Ticket,
    TranscriptMessage,
    aware,
    get_ticket,
    history,
    move_ticket,
    new_id,
    open_ticket_for,
    record_transition,
    set_mode,
    utcnow,
)
from handoff.tickets import (
    ABANDONED,
    CLAIMED,
    OPEN_STATES,
    OWNED_STATES,
    QUEUED,
    RESOLVED,
    TRANSFERRED,
    UNRESOLVED,
    WAITING_STATES,
    HandoffError,
    NotAllowed,
)
from xiaobao.accounts import Account
from xiaobao.db import get_engine, session_scope
from xiaobao.events import record_event

log = logging.getLogger(__name__)

CHANNELS = ("online_helper", "hotline_12345")
HELPER_ROLES = {"helper", "leader"}
MAX_FIELD_CHARS = 2000


class HelperLike(Protocol):
    """What the queue needs to know of a helper: ``xiaobao.accounts.Account`` fits."""

    username: str
    roles: list[str]
    departments: list[str]


@dataclass(frozen=True)
class TicketInfo:
    """A ticket as a console shows it; ``phone`` is masked unless the viewer handles the ticket."""

    id: str
    conversation_id: str
    channel: str
    department: str
    status: str
    priority: bool
    complaint: bool
    helper: str | None
    topic: str
    company: str
    phone: str
    time_window: str
    summary: str
    note: str
    context: dict
    created_at: dt.datetime
    queued_at: dt.datetime
    claimed_at: dt.datetime | None
    first_response_at: dt.datetime | None
    closed_at: dt.datetime | None

    def to_dict(self) -> dict:
        out = dataclasses.asdict(self)
        for key, value in out.items():
            if isinstance(value, dt.datetime):
                out[key] = value.isoformat()
        return out


@dataclass(frozen=True)
class QueueStatus:
    """What a waiting user sees: their place and an estimate, or who is helping them."""

    ticket_id: str
    status: str
    department: str
    position: int  # 1 = next; 0 once a helper has the ticket
    estimated_wait_s: int
    helper: str | None = None
    helpers_on_duty: int = 0


@dataclass(frozen=True)
class QueueSummary:
    channel: str
    department: str
    waiting: int
    waiting_priority: int
    oldest_wait_s: int
    in_progress: int
    escalated: int
    helpers_on_duty: int


@dataclass
class _Deps:
    engine: Engine
    redis: redis_lib.Redis
    config: HandoffConfig
    extra: dict = field(default_factory=dict)


def _deps(engine: Engine | None, redis: redis_lib.Redis | None,
          config: HandoffConfig | None) -> _Deps:
    return _Deps(engine or get_engine(), redis if redis is not None else queue.connect(),
                 config or default_config())


def ticket_info(ticket: Ticket, viewer: str | None = None) -> TicketInfo:
    return TicketInfo(
        id=ticket.id, conversation_id=ticket.conversation_id, channel=ticket.channel,
        department=ticket.department, status=ticket.status, priority=bool(ticket.priority),
        complaint=bool(ticket.complaint), helper=ticket.helper, topic=ticket.topic,
        company=ticket.company, phone=visible_phone(ticket.phone, viewer, ticket.helper),
        time_window=ticket.time_window, summary=ticket.summary, note=ticket.note,
        context=dict(ticket.context or {}), created_at=aware(ticket.created_at),
        queued_at=aware(ticket.queued_at), claimed_at=aware(ticket.claimed_at),
        first_response_at=aware(ticket.first_response_at), closed_at=aware(ticket.closed_at))


# --- requesting -----------------------------------------------------------------------------------

def _validate(req: HandoffRequest) -> None:
    if req.channel not in CHANNELS:
        raise HandoffError(f"未知的转人工渠道：{req.channel}。 / Unknown channel {req.channel!r}.")
    if not req.request_id or len(req.request_id) > 128:
        raise HandoffError("缺少或过长的请求编号。 / request_id is missing or too long.")
    if not req.conversation_id or len(req.conversation_id) > 96:
        raise HandoffError("缺少或过长的会话编号。 / conversation_id is missing or too long.")
    for name in ("topic", "company", "time_window", "summary"):
        if len(getattr(req, name)) > MAX_FIELD_CHARS:
            raise HandoffError(f"字段 {name} 超过{MAX_FIELD_CHARS}字。 / {name} is too long.")
    if len(req.phone) > 32:
        raise HandoffError("电话号码格式不正确。 / phone is too long.")


def _context(req: HandoffRequest) -> dict:
    return {
        "last_turns": list(req.last_turns)[-20:],
        "candidates": [dataclasses.asdict(c) for c in req.candidates],
        "intent": req.intent,
        "entities": list(req.entities),
    }


def _publish(d: _Deps, ticket: Ticket) -> None:
    """Redis side of a new ticket: the intake (the "1"), then routing to its department (the "N")."""
    queue.add_to_intake(d.redis, ticket.channel, {
        "ticket_id": ticket.id, "conversation_id": ticket.conversation_id,
        "department": ticket.department, "priority": "1" if ticket.priority else "0",
        "request_id": ticket.request_id})
    queue.route_intake(d.redis, ticket.channel)
    relay.cache_mode(d.redis, ticket.conversation_id, "waiting", ticket.id)


def request_handoff(req: HandoffRequest, *, engine: Engine | None = None,
                    redis: redis_lib.Redis | None = None, config: HandoffConfig | None = None,
                    now: dt.datetime | None = None) -> HandoffReceipt:
    """Create (or find) the ticket for ``req`` and queue it; see the module docstring for order.

    Idempotent per ``request_id``; a conversation with an open ticket gets that ticket back.
    Out of hours the ticket is still queued (``in_service_hours`` says so and the caller offers
    留言咨询 through :func:`handoff.messages.leave_message`).
    """
    _validate(req)
    d = _deps(engine, redis, config)
    created = False
    with session_scope(d.engine) as s:
        ticket = s.scalar(select(Ticket).where(Ticket.request_id == req.request_id))
        if ticket is None:
            ticket = open_ticket_for(s, req.conversation_id)
    if ticket is None:
        ticket, created = _create_ticket(d, req)
    if created or (ticket.status in WAITING_STATES and not queue.is_enqueued(d.redis, ticket.id)):
        # A retry after a Redis failure lands here too and repairs the queue.
        _publish(d, ticket)
    return _receipt(d, ticket, created, now)


def _create_ticket(d: _Deps, req: HandoffRequest) -> tuple[Ticket, bool]:
    department = route_department(req.candidates, d.config)
    try:
        with session_scope(d.engine) as s:
            previous = s.scalar(select(Ticket.status).where(
                Ticket.conversation_id == req.conversation_id, Ticket.closed_at.is_not(None))
                .order_by(Ticket.closed_at.desc()).limit(1))
            priority = 1 if (req.complaint or previous == UNRESOLVED) else 0
            stamp = utcnow()
            ticket = Ticket(
                id=new_id(), request_id=req.request_id, conversation_id=req.conversation_id,
                visitor_id=req.visitor_id, open_conversation_id=req.conversation_id,
                channel=req.channel, department=department, priority=priority,
                complaint=req.complaint, status=QUEUED, topic=req.topic, company=req.company,
                phone=req.phone, time_window=req.time_window, summary=req.summary,
                context=_context(req), created_at=stamp, queued_at=stamp)
            s.add(ticket)
            s.flush()
            record_transition(s, "ticket", ticket.id, "", QUEUED, "bot",
                              "complaint" if req.complaint else
                              ("after unresolved ticket" if priority else ""))
            set_mode(s, req.conversation_id, "waiting", ticket.id)
            for turn in list(req.last_turns)[-20:]:
                s.add(TranscriptMessage(ticket_id=ticket.id, conversation_id=req.conversation_id,
                                        role=str(turn.get("role", "user"))[:16],
                                        author="", text=str(turn.get("text", ""))[:MAX_FIELD_CHARS],
                                        at=stamp))
            if req.channel == "hotline_12345":
                from handoff.calls import create_call
                create_call(s, ticket, d.config)
            record_event(s, "handoff_requested", conversation_id=req.conversation_id,
                         ticket_id=ticket.id, actor="bot", channel=req.channel,
                         department=department, priority=bool(priority), complaint=req.complaint)
        return ticket, True
    except IntegrityError:
        # Another process created it first (same request id, or an open ticket for this
        # conversation): theirs is the one.
        with session_scope(d.engine) as s:
            ticket = (s.scalar(select(Ticket).where(Ticket.request_id == req.request_id))
                      or open_ticket_for(s, req.conversation_id))
        if ticket is None:
            raise
        return ticket, False


def _receipt(d: _Deps, ticket: Ticket, created: bool, now: dt.datetime | None) -> HandoffReceipt:
    status = queue_status(ticket.id, engine=d.engine, redis=d.redis, config=d.config)
    call_id = ""
    if ticket.channel == "hotline_12345":
        with session_scope(d.engine) as s:
            call_id = s.scalar(select(Call.id).where(Call.ticket_id == ticket.id)
                               .order_by(Call.created_at.desc()).limit(1)) or ""
    return HandoffReceipt(
        ticket_id=ticket.id, status=status.status, department=ticket.department,
        queue_position=status.position, estimated_wait_s=status.estimated_wait_s,
        in_service_hours=is_open(now, d.config), created=created,
        helpers_on_duty=status.helpers_on_duty, priority=bool(ticket.priority), call_id=call_id)


# --- positions and overview ---------------------------------------------------------------------

def _average_handle_s(d: _Deps) -> float:
    """Mean first-response-to-close time of the last 50 resolved tickets, or the configured guess."""
    with session_scope(d.engine) as s:
        rows = s.execute(select(Ticket.first_response_at, Ticket.closed_at)
                         .where(Ticket.status == RESOLVED, Ticket.first_response_at.is_not(None))
                         .order_by(Ticket.closed_at.desc()).limit(50)).all()
    spans = [(aware(b) - aware(a)).total_seconds() for a, b in rows if a and b]
    if len(spans) >= 5:
        return max(30.0, sum(spans) / len(spans))
    return d.config.average_handle_s


def queue_status(ticket_id: str, *, engine: Engine | None = None,
                 redis: redis_lib.Redis | None = None,
                 config: HandoffConfig | None = None) -> QueueStatus:
    """Place in line (1 = next) and estimated wait for a ticket; 0 once a helper has it."""
    d = _deps(engine, redis, config)
    with session_scope(d.engine) as s:
        t = get_ticket(s, ticket_id)
        position = 0
        if t.status in WAITING_STATES:
            ahead = s.scalar(select(func.count()).select_from(Ticket).where(
                Ticket.channel == t.channel, Ticket.department == t.department,
                Ticket.status.in_(WAITING_STATES), Ticket.id != t.id,
                (Ticket.priority > t.priority)
                | ((Ticket.priority == t.priority) & (Ticket.queued_at <= t.queued_at))))
            position = int(ahead or 0) + 1
        status, department, helper = t.status, t.department, t.helper
    on_duty = len(helpers_on_duty(department, engine=d.engine, redis=d.redis))
    wait = 0
    if position:
        wait = int(math.ceil(position / max(1, on_duty)) * _average_handle_s(d))
    return QueueStatus(ticket_id=ticket_id, status=status, department=department,
                       position=position, estimated_wait_s=wait, helper=helper,
                       helpers_on_duty=on_duty)


def queue_position(conversation_id: str, *, engine: Engine | None = None,
                   redis: redis_lib.Redis | None = None,
                   config: HandoffConfig | None = None) -> QueueStatus | None:
    """The conversation's open ticket's place in line, or None when it has no open ticket."""
    d = _deps(engine, redis, config)
    with session_scope(d.engine) as s:
        t = open_ticket_for(s, conversation_id)
        ticket_id = t.id if t else None
    if ticket_id is None:
        return None
    return queue_status(ticket_id, engine=d.engine, redis=d.redis, config=d.config)


def queue_overview(departments: list[str] | None = None, *, engine: Engine | None = None,
                   redis: redis_lib.Redis | None = None, config: HandoffConfig | None = None,
                   channels: tuple[str, ...] = CHANNELS) -> list[QueueSummary]:
    """Counts and oldest wait per channel and department (all configured departments if None)."""
    d = _deps(engine, redis, config)
    from handoff.recovery import ensure_recovered

    ensure_recovered(d.engine, d.redis, d.config)
    depts = departments if departments is not None else d.config.departments
    now = utcnow()
    out = []
    with session_scope(d.engine) as s:
        rows = s.execute(select(Ticket.channel, Ticket.department, Ticket.status, Ticket.priority,
                                Ticket.complaint, Ticket.queued_at, Ticket.first_response_at)
                         .where(Ticket.status.in_(OPEN_STATES),
                                Ticket.department.in_(depts))).all()
    for channel in channels:
        for dept in depts:
            mine = [r for r in rows if r.channel == channel and r.department == dept]
            waiting = [r for r in mine if r.status in WAITING_STATES]
            oldest = min((aware(r.queued_at) for r in waiting), default=None)
            level = d.config.level(channel) * d.config.escalation_factor
            escalated = [r for r in mine if r.first_response_at is None and (
                r.complaint or (now - aware(r.queued_at)).total_seconds() > level)]
            out.append(QueueSummary(
                channel=channel, department=dept, waiting=len(waiting),
                waiting_priority=sum(1 for r in waiting if r.priority),
                oldest_wait_s=int((now - oldest).total_seconds()) if oldest else 0,
                in_progress=sum(1 for r in mine if r.status in OWNED_STATES),
                escalated=len(escalated),
                helpers_on_duty=len(helpers_on_duty(dept, engine=d.engine, redis=d.redis))))
    return out


# --- helpers: status, heartbeat, departments ----------------------------------------------------

def _departments_of(helper: HelperLike) -> list[str]:
    if not HELPER_ROLES & set(helper.roles or []):
        raise NotAllowed(f"账号 {helper.username} 不是帮办人员。 / {helper.username} is not a "
                         f"helper or leader.")
    if not helper.departments:
        raise NotAllowed(f"账号 {helper.username} 未分配部门。 / {helper.username} has no "
                         f"department.")
    return list(helper.departments)


def set_helper_status(helper: HelperLike, status: str, *, cap: int | None = None,
                      engine: Engine | None = None, redis: redis_lib.Redis | None = None,
                      config: HandoffConfig | None = None) -> None:
    """On duty (``on_duty``) or away (``away``); an away helper is offered no ticket."""
    if status not in ("on_duty", "away"):
        raise HandoffError(f"未知状态：{status}。 / Unknown status {status!r}.")
    _departments_of(helper)
    d = _deps(engine, redis, config)
    with session_scope(d.engine) as s:
        row = s.get(HelperStatus, helper.username)
        if row is None:
            row = HelperStatus(username=helper.username)
            s.add(row)
        row.status, row.updated_at = status, utcnow()
        if cap is not None:
            row.cap = max(1, int(cap))
    if status == "on_duty":
        queue.heartbeat(d.redis, helper.username, d.config.heartbeat_ttl_s)
    else:
        queue.clear_heartbeat(d.redis, helper.username)


def helper_heartbeat(helper: HelperLike, *, redis: redis_lib.Redis | None = None,
                     config: HandoffConfig | None = None) -> None:
    """Call every ~heartbeat_ttl_s/3 while the console is open; silence means "gone away"."""
    d_config = config or default_config()
    queue.heartbeat(redis if redis is not None else queue.connect(), helper.username,
                    d_config.heartbeat_ttl_s)


def helpers_on_duty(department: str, *, engine: Engine | None = None,
                    redis: redis_lib.Redis | None = None) -> list[str]:
    """Usernames of active helpers of ``department`` marked on duty and with a live heartbeat."""
    engine = engine or get_engine()
    r = redis if redis is not None else queue.connect()
    with session_scope(engine) as s:
        names = list(s.scalars(select(HelperStatus.username)
                               .where(HelperStatus.status == "on_duty")))
        if not names:
            return []
        accounts = s.execute(select(Account.username, Account.roles, Account.departments)
                             .where(Account.username.in_(names), Account.active.is_(True))).all()
    members = [a.username for a in accounts
               if department in (a.departments or []) and HELPER_ROLES & set(a.roles or [])]
    live = queue.alive(r, members)
    return [n for n in members if n in live]


def _cap_and_load(d: _Deps, username: str) -> tuple[str, int, int]:
    with session_scope(d.engine) as s:
        row = s.get(HelperStatus, username)
        load = s.scalar(select(func.count()).select_from(Ticket).where(
            Ticket.helper == username, Ticket.status.in_(OWNED_STATES)))
    status = row.status if row else "away"
    cap = (row.cap if row and row.cap else d.config.concurrency_cap)
    return status, cap, int(load or 0)


# --- claiming -----------------------------------------------------------------------------------

_sweep_lock = threading.Lock()
_last_sweep: dict[int, float] = {}


def sweep_gone_helpers(*, engine: Engine | None = None, redis: redis_lib.Redis | None = None,
                       config: HandoffConfig | None = None,
                       min_interval_s: float = 0.0) -> list[str]:
    """Put back in the queue (ahead of normal) every open ticket whose helper has no heartbeat.

    Claiming runs this at most once a second; the gateway may also run it on a timer.
    """
    d = _deps(engine, redis, config)
    with _sweep_lock:
        key = id(d.engine)
        if time.monotonic() - _last_sweep.get(key, 0.0) < min_interval_s:
            return []
        _last_sweep[key] = time.monotonic()
    with session_scope(d.engine) as s:
        owned = s.execute(select(Ticket.id, Ticket.helper, Ticket.status, Ticket.channel,
                                 Ticket.claimed_at, Ticket.first_response_at)
                          .where(Ticket.status.in_(OWNED_STATES))).all()
    live = queue.alive(d.redis, {row.helper for row in owned if row.helper})
    now = utcnow()
    requeued = []
    for row in owned:
        if row.helper not in live:
            note = f"帮办人员{row.helper}已离线，重新排队 / helper gone"
        elif (row.status == CLAIMED and row.first_response_at is None and row.claimed_at
              and (now - aware(row.claimed_at)).total_seconds() > d.config.level(row.channel)
              and not queue.is_enqueued(d.redis, row.id)):
            # Claimed but unanswered with no stream entry (taken by name, or Redis was
            # rebuilt): XAUTOCLAIM cannot see it, so the service level is enforced here.
            note = "未在服务时限内首次响应，重新排队 / no first response within service level"
        else:
            continue
        try:
            if _requeue(d, row.id, row.helper, note):
                requeued.append(row.id)
        except HandoffError:
            continue
    return requeued


def _requeue(d: _Deps, ticket_id: str, helper: str | None, note: str) -> bool:
    with session_scope(d.engine) as s:
        moved = move_ticket(s, ticket_id, QUEUED, "system", note, expect=OWNED_STATES,
                            expect_helper=helper, helper=None, claimed_at=None,
                            first_response_at=None, priority=1)
        if moved is None:
            return False
        set_mode(s, moved.conversation_id, "waiting", moved.id)
        record_event(s, "ticket_requeued", conversation_id=moved.conversation_id,
                     ticket_id=moved.id, actor="system", previous_helper=helper or "")
        channel, department, conversation_id = moved.channel, moved.department, \
            moved.conversation_id
    queue.release_ticket(d.redis, ticket_id)
    queue.enqueue(d.redis, ticket_id, channel, department, True)
    relay.cache_mode(d.redis, conversation_id, "waiting", ticket_id)
    relay.publish_event(d.redis, conversation_id, {"type": "requeued", "ticket_id": ticket_id})
    return True


def _take(d: _Deps, username: str, depts: list[str], channel: str, key: str, entry_id: str,
          ticket_id: str, reclaimed: bool) -> Ticket | None | bool:
    """Try to own the ticket an entry carries. Returns the ticket, None (stale entry, dropped),
    or False (the entry is still valid for someone else: leave it)."""
    with session_scope(d.engine) as s:
        t = s.get(Ticket, ticket_id) if ticket_id else None
        if t is None or t.department not in depts or t.channel != channel:
            moved = None
        elif t.status in WAITING_STATES:
            moved = move_ticket(s, t.id, CLAIMED, username, expect=WAITING_STATES,
                                helper=username, claimed_at=utcnow())
        elif reclaimed and t.status == CLAIMED and t.first_response_at is None:
            if t.helper == username:
                return False
            previous = t.helper
            moved = move_ticket(
                s, t.id, QUEUED, "system",
                f"{previous}未在服务时限内首次响应，收回 / no first response within service level",
                expect={CLAIMED}, expect_helper=previous, helper=None, claimed_at=None)
            if moved is not None:
                moved = move_ticket(s, t.id, CLAIMED, username, expect={QUEUED},
                                    helper=username, claimed_at=utcnow())
        else:
            moved = None
        if moved is not None:
            record_event(s, "ticket_claimed", conversation_id=moved.conversation_id,
                         ticket_id=moved.id, actor=username, reclaimed=reclaimed)
            s.flush()
            s.expunge(moved)
    if moved is None:
        queue.done(d.redis, key, entry_id)
        return None
    d.redis.hset(queue.ticket_key(ticket_id), mapping={"stream": key, "entry": entry_id})
    relay.publish_event(d.redis, moved.conversation_id,
                        {"type": "claimed", "ticket_id": ticket_id, "helper": username})
    return moved


def claim_next_ticket(helper: HelperLike, *, channel: str = "online_helper",
                      block_ms: int = 0, engine: Engine | None = None,
                      redis: redis_lib.Redis | None = None,
                      config: HandoffConfig | None = None) -> TicketInfo | None:
    """Give ``helper`` the next ticket of their departments, or None (empty queue, or at cap).

    Priority streams first; within a priority, tickets another helper claimed but did not
    answer within the service level (XAUTOCLAIM) before new ones (XREADGROUP). With
    ``block_ms`` the call waits that long for a ticket to arrive.
    """
    depts = _departments_of(helper)
    d = _deps(engine, redis, config)
    if channel not in CHANNELS:
        raise HandoffError(f"未知渠道：{channel}。 / Unknown channel {channel!r}.")
    status, cap, load = _cap_and_load(d, helper.username)
    if status != "on_duty":
        raise NotAllowed("请先将状态设为「在岗」再领取工单。 / Set your status to on duty first.")
    if load >= cap:
        return None
    from handoff.recovery import ensure_recovered

    ensure_recovered(d.engine, d.redis, d.config)
    queue.heartbeat(d.redis, helper.username, d.config.heartbeat_ttl_s)
    sweep_gone_helpers(engine=d.engine, redis=d.redis, config=d.config, min_interval_s=1.0)
    min_idle_ms = int(d.config.level(channel) * 1000)
    deadline = time.monotonic() + block_ms / 1000
    keys_by_priority = [[queue.queue_key(channel, dept, high) for dept in depts]
                        for high in (True, False)]
    while True:
        last_ids = {k: _last_id(d.redis, k) for keys in keys_by_priority for k in keys}
        for keys in keys_by_priority:
            for key in keys:
                while (got := queue.reclaim_one(d.redis, key, helper.username, min_idle_ms)):
                    taken = _take(d, helper.username, depts, channel, key, *got, reclaimed=True)
                    if taken is False:
                        break
                    if taken is not None:
                        return ticket_info(taken, helper.username)
            for key in queue.head_age_key(d.redis, keys):
                while (got := queue.read_one(d.redis, key, helper.username)):
                    taken = _take(d, helper.username, depts, channel, key, *got, reclaimed=False)
                    if taken:
                        return ticket_info(taken, helper.username)
        remaining_ms = int((deadline - time.monotonic()) * 1000)
        if remaining_ms <= 0:
            return None
        # Wake on any new entry (plain XREAD delivers nothing to anyone), then claim properly.
        d.redis.xread(last_ids, block=remaining_ms, count=1)


def _last_id(r: redis_lib.Redis, key: str) -> str:
    last = r.xrevrange(key, "+", "-", count=1)
    return queue._s(last[0][0]) if last else "0-0"


def claim_ticket(ticket_id: str, helper: HelperLike, *, engine: Engine | None = None,
                 redis: redis_lib.Redis | None = None,
                 config: HandoffConfig | None = None) -> TicketInfo:
    """Take one named ticket: a leader taking an escalated ticket, or a helper picking from a list.

    A waiting ticket, or a claimed one nobody has answered, may be taken; a live conversation
    is not taken from a helper who is answering.
    """
    depts = _departments_of(helper)
    d = _deps(engine, redis, config)
    with session_scope(d.engine) as s:
        t = get_ticket(s, ticket_id)
        if t.department not in depts:
            raise NotAllowed(f"工单{ticket_id}属于{t.department}，不在您的部门范围内。 / "
                             f"Ticket {ticket_id} belongs to another department.")
        is_leader = "leader" in (helper.roles or [])
        if t.status in WAITING_STATES:
            moved = move_ticket(s, t.id, CLAIMED, helper.username, expect=WAITING_STATES,
                                helper=helper.username, claimed_at=utcnow())
        elif t.status == CLAIMED and t.first_response_at is None and is_leader \
                and t.helper != helper.username:
            previous = t.helper
            moved = move_ticket(s, t.id, QUEUED, helper.username, f"由领导{helper.username}接手",
                                expect={CLAIMED}, expect_helper=previous, helper=None)
            moved = moved and move_ticket(s, t.id, CLAIMED, helper.username, expect={QUEUED},
                                          helper=helper.username, claimed_at=utcnow())
        else:
            moved = move_ticket(s, t.id, CLAIMED, helper.username, expect=WAITING_STATES)
        if moved is None:
            raise HandoffError(f"工单{ticket_id}已被他人领取。 / Ticket {ticket_id} was taken by "
                               f"someone else.")
        record_event(s, "ticket_claimed", conversation_id=moved.conversation_id,
                     ticket_id=moved.id, actor=helper.username, direct=True)
        s.flush()
        s.expunge(moved)
    queue.release_ticket(d.redis, ticket_id)  # no stream entry: the helper answers, or sweep
    queue.heartbeat(d.redis, helper.username, d.config.heartbeat_ttl_s)
    relay.publish_event(d.redis, moved.conversation_id,
                        {"type": "claimed", "ticket_id": ticket_id, "helper": helper.username})
    return ticket_info(moved, helper.username)


# --- closing and transferring -----------------------------------------------------------------------

def _owner_check(t: Ticket, helper: HelperLike) -> None:
    if t.helper == helper.username:
        return
    if "leader" in (helper.roles or []) and t.department in (helper.departments or []):
        return
    raise NotAllowed(f"工单{t.id}不由您处理。 / Ticket {t.id} is not yours.")


def _close(ticket_id: str, new_status: str, actor: HelperLike | None, note: str, event: str,
           d: _Deps, expect: frozenset[str], actor_name: str = "") -> TicketInfo:
    with session_scope(d.engine) as s:
        t = get_ticket(s, ticket_id)
        if actor is not None and t.status not in (RESOLVED, UNRESOLVED, ABANDONED):
            _owner_check(t, actor)
        name = actor.username if actor is not None else actor_name
        moved = move_ticket(s, ticket_id, new_status, name, note, expect=expect,
                            note=note[:MAX_FIELD_CHARS] if note else t.note)
        if moved is None:
            raise HandoffError(f"工单{ticket_id}状态已变化，请刷新。 / Ticket {ticket_id} changed "
                               f"meanwhile; reload.")
        set_mode(s, moved.conversation_id, "bot", "")
        record_event(s, event, conversation_id=moved.conversation_id, ticket_id=moved.id,
                     actor=name, department=moved.department, note=note)
        s.flush()
        s.expunge(moved)
    queue.release_ticket(d.redis, ticket_id)
    relay.cache_mode(d.redis, moved.conversation_id, "bot", "")
    relay.publish_event(d.redis, moved.conversation_id,
                        {"type": new_status, "ticket_id": ticket_id, "note": note})
    return ticket_info(moved, actor.username if actor else None)


def resolve_ticket(ticket_id: str, helper: HelperLike, note: str = "", *,
                   engine: Engine | None = None, redis: redis_lib.Redis | None = None,
                   config: HandoffConfig | None = None) -> TicketInfo:
    """Close as resolved; the conversation returns to the bot (the gateway sends Rasa
    ``ConversationResumed`` on the ``resolved`` relay event, and the bot asks for a rating)."""
    return _close(ticket_id, RESOLVED, helper, note, "ticket_resolved",
                  _deps(engine, redis, config), OWNED_STATES)


def mark_unresolved(ticket_id: str, helper: HelperLike, note: str = "", *,
                    engine: Engine | None = None, redis: redis_lib.Redis | None = None,
                    config: HandoffConfig | None = None) -> TicketInfo:
    """Close as unresolved (final); the user's next handoff is queued with priority."""
    return _close(ticket_id, UNRESOLVED, helper, note, "ticket_unresolved",
                  _deps(engine, redis, config), OWNED_STATES)


def abandon_ticket(ticket_id: str, actor: str = "user", note: str = "", *,
                   engine: Engine | None = None, redis: redis_lib.Redis | None = None,
                   config: HandoffConfig | None = None) -> TicketInfo:
    """The user left (or chose to leave a message): close the ticket, back to the bot."""
    return _close(ticket_id, ABANDONED, None, note, "ticket_abandoned",
                  _deps(engine, redis, config), OPEN_STATES, actor_name=actor)


def transfer_ticket(ticket_id: str, helper: HelperLike, department: str, note: str = "", *,
                    engine: Engine | None = None, redis: redis_lib.Redis | None = None,
                    config: HandoffConfig | None = None) -> TicketInfo:
    """Send the ticket, transcript and all, to another department's queue, ahead of normal."""
    d = _deps(engine, redis, config)
    if department not in d.config.departments:
        raise HandoffError(f"未知部门：{department}。 / Unknown department {department!r}.")
    with session_scope(d.engine) as s:
        t = get_ticket(s, ticket_id)
        _owner_check(t, helper)
        if t.department == department:
            raise HandoffError("不能转给本部门。 / Already in that department.")
        previous = t.department
        moved = move_ticket(s, ticket_id, TRANSFERRED, helper.username,
                            f"{previous} → {department}：{note}", expect=OWNED_STATES,
                            department=department, helper=None, priority=1,
                            queued_at=utcnow(), claimed_at=None, first_response_at=None,
                            note=note[:MAX_FIELD_CHARS])
        if moved is None:
            raise HandoffError(f"工单{ticket_id}状态已变化，请刷新。 / Ticket {ticket_id} changed "
                               f"meanwhile; reload.")
        s.add(TranscriptMessage(ticket_id=moved.id, conversation_id=moved.conversation_id,
                                role="system", author=helper.username,
                                text=f"已转至{department}：{note}"[:MAX_FIELD_CHARS], at=utcnow()))
        set_mode(s, moved.conversation_id, "waiting", moved.id)
        record_event(s, "ticket_transferred", conversation_id=moved.conversation_id,
                     ticket_id=moved.id, actor=helper.username, from_department=previous,
                     to_department=department, note=note)
        s.flush()
        s.expunge(moved)
    queue.release_ticket(d.redis, ticket_id)
    queue.enqueue(d.redis, ticket_id, moved.channel, department, True)
    relay.cache_mode(d.redis, moved.conversation_id, "waiting", ticket_id)
    relay.publish_event(d.redis, moved.conversation_id,
                        {"type": "transferred", "ticket_id": ticket_id, "department": department})
    return ticket_info(moved, helper.username)


# --- reading ------------------------------------------------------------------------------------

def my_tickets(helper: HelperLike, *, engine: Engine | None = None) -> list[TicketInfo]:
    """The helper's open tickets, oldest first."""
    with session_scope(engine or get_engine()) as s:
        rows = list(s.scalars(select(Ticket).where(Ticket.helper == helper.username,
                                                   Ticket.status.in_(OWNED_STATES))
                              .order_by(Ticket.claimed_at)))
        return [ticket_info(t, helper.username) for t in rows]


def context_pack(ticket_id: str, viewer: HelperLike, *, engine: Engine | None = None) -> dict:
    """What the helper sees: ticket, transcript, history, intent, entities, top candidates.

    A helper outside the ticket's department gets NotAllowed; the phone number is shown in
    full only to the helper handling the ticket.
    """
    with session_scope(engine or get_engine()) as s:
        t = get_ticket(s, ticket_id)
        if t.department not in (viewer.departments or []) and not (
                {"supervisor", "admin"} & set(viewer.roles or [])):
            raise NotAllowed(f"工单{ticket_id}不在您的部门范围内。 / Ticket {ticket_id} belongs "
                             f"to another department.")
        info = ticket_info(t, viewer.username)
        transcript = [{"pk": m.pk, "role": m.role, "author": m.author,
                       "text": m.text if info.helper == viewer.username else _mask(m.text),
                       "at": aware(m.at).isoformat()}
                      for m in s.scalars(select(TranscriptMessage)
                                         .where(TranscriptMessage.ticket_id == ticket_id)
                                         .order_by(TranscriptMessage.pk))]
        steps = [{"from": h.from_status, "to": h.to_status, "actor": h.actor, "note": h.note,
                  "at": aware(h.at).isoformat()} for h in history(s, ticket_id)]
    ctx = info.context
    return {"ticket": info.to_dict(), "transcript": transcript, "history": steps,
            "intent": ctx.get("intent", ""), "entities": ctx.get("entities", []),
            "candidates": ctx.get("candidates", []), "company": info.company}


def _mask(text: str) -> str:
    from handoff.privacy import mask_phone
    return mask_phone(text)
