"""A scripted day of the centre (Tuesday 2026-12-01, Asia/Shanghai), built with the real
package functions — handoff requests, claims, messages, transfers, closes, 12345 call
statuses, ratings, 差评 reviews and rectification — with the bot's events written as
``bot/actions/answer.py`` writes them. Each step happens "now"; :class:`Clock` then moves what
it wrote to the scripted time (events, the ticket's creation and close, a 差评's opening).

What happens (times Shanghai; the expected rates are worked out in test_scenario.py):

======  ===================================================================================
V1      question answered (税务发票), 有帮助; the bot rated 非常满意
V2      question only suggested (社会保险), the user clicks a suggestion
V3      question abstained (企业开办与变更) → T1
V4      answered (许可审批), 没帮助, asked again, answered, 没帮助 → T2
V5      answered (税务发票), 没帮助, no handoff; the bot rated 基本满意
V6      asks straight for a 12345 call-back (no question) → T3
T1      10:00 queued, 10:01 claimed (ann), 10:02 first response, 10:10 resolved;
        rated 不满意 then again 满意 (the second replaces the first)
T2      11:00 queued, 11:05 claimed (ann), 11:06 first response (late), 11:10 transferred to
        区税务局, 11:20 claimed (bob), 11:21 answered, 11:40 resolved; rated 非常不满意,
        reviewed 不属实 (upheld)
T3      12345 booked 09:30 for the window 14:00–16:00; 14:25 dialled, 14:30 answered, 14:31
        three-way connected, 14:40 completed (resolved); rated 不满意, reviewed 属实,
        contacted 16:00, fixed 12-02 10:00, followed up 12-03 10:00; the same visitor asks
        again on the same topic on 12-04 (T6)
T4      15:00 queued, 15:02 abandoned (before the service level)
T5      15:10 queued, 15:11 claimed, 15:12 first response, 15:30 unresolved; rated 非常不满意,
        reviewed 不属实, overturned by the leader, never rectified
T7      16:00 queued, 16:05 abandoned (after the service level, no response)
T8      16:58:30 queued, 12-02 09:00:30 claimed, 09:01 first response (150 s of service
        time), 09:10 resolved
T0      11-30 23:50 queued, 23:51 claimed, 23:52 answered — the day before
T9      12-02 00:10 queued (16:10 UTC on 12-01), 00:20 abandoned — the day after
======  ===================================================================================
"""
from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, select, update

from handoff import calls, claims, closing, relay, transfer
from handoff.call_adapters import SimulatorAdapter
from handoff.calls import window_start
from handoff.config import HandoffConfig, packaged_config
from handoff.context import HandoffContext
from handoff.requests import Candidate, HandoffRequest, request_handoff
from handoff.store import Ticket
from ratings import cases
from ratings.cases import BadRatingCase
from ratings.record import record_rating
from xiaobao.accounts import Account
from xiaobao.db import session_scope
from xiaobao.events import Event, EventKind, record_event

SH = ZoneInfo("Asia/Shanghai")
CONFIG = packaged_config()
DAY = dt.date(2026, 12, 1)  # a Tuesday
NOW = dt.datetime(2026, 12, 31, tzinfo=SH)  # when the report is made: every timer has run
PERMITS, TAX, SOCIAL = "区市场监管局", "区税务局", "区社保中心"
SUPERVISOR = SimpleNamespace(username="sam", roles=["supervisor"], departments=[])
LEADER = SimpleNamespace(username="lee", roles=["leader"], departments=[PERMITS])
_FINAL_EVENTS = {EventKind.TICKET_RESOLVED.value, EventKind.TICKET_UNRESOLVED.value,
                 EventKind.TICKET_ABANDONED.value}


def at(day: int, hh: int, mm: int = 0, ss: int = 0, month: int = 12) -> dt.datetime:
    return dt.datetime(2026, month, day, hh, mm, ss, tzinfo=SH)


class Clock:
    """Moves what the last steps wrote to a scripted time."""

    def __init__(self, engine: Engine, config: HandoffConfig = CONFIG):
        self.engine, self.config = engine, config
        self.last_pk = self._max_pk()

    def _max_pk(self) -> int:
        with session_scope(self.engine) as s:
            return int(s.scalar(select(func.max(Event.pk))) or 0)

    def at(self, when: dt.datetime) -> None:
        """Every event written since the last call happened at ``when``; so did the creation
        of a ticket queued, the close of a ticket closed, the opening of a 差评 case opened."""
        utc = when.astimezone(dt.UTC)
        with session_scope(self.engine) as s:
            for e in s.scalars(select(Event).where(Event.pk > self.last_pk)):
                e.at = utc
                if e.kind == EventKind.HANDOFF_REQUESTED:
                    s.execute(update(Ticket).where(Ticket.id == e.ticket_id)
                              .values(created_at=utc, queued_at=utc))
                elif e.kind == EventKind.TICKET_QUEUED:
                    ticket = s.get(Ticket, e.ticket_id)
                    start = window_start(ticket.time_window, self.config) if ticket else None
                    clock_from = max(utc, start.astimezone(dt.UTC)) if start else utc
                    e.data = {**e.data, "clock_from": clock_from.isoformat()}
                elif e.kind in _FINAL_EVENTS:
                    s.execute(update(Ticket).where(Ticket.id == e.ticket_id)
                              .values(closed_at=utc))
                elif e.kind == EventKind.BAD_RATING_OPENED:
                    s.execute(update(BadRatingCase).where(
                        BadRatingCase.id == e.data["case_id"]).values(opened_at=utc))
        self.last_pk = self._max_pk()


@dataclass
class Scenario:
    engine: Engine
    ctx: HandoffContext
    tickets: dict[str, str] = field(default_factory=dict)  # name → ticket id
    visits: dict[str, str] = field(default_factory=dict)  # name → conversation id
    cases: dict[str, int] = field(default_factory=dict)  # ticket name → 差评 case id


def helper(engine: Engine, username: str, departments: list[str]) -> Account:
    with session_scope(engine) as s:
        account = Account(username=username, display_name=username, password_hash="x",
                          roles=["helper"], departments=departments, active=True)
        s.add(account)
        s.flush()
        s.expunge(account)
    return account


def category_of(department: str) -> str:
    return next(c for c, d in CONFIG.routing.items() if d == department)


def bot_event(engine: Engine, kind: EventKind, conversation_id: str, **data: object) -> None:
    """An event as the bot's actions write it (``bot/actions/answer.py``)."""
    with session_scope(engine) as s:
        record_event(s, kind, conversation_id=conversation_id, actor="bot", **data)


def question(engine: Engine, conversation_id: str, decision: str, category: str,
             entry_id: str = "kb-x") -> None:
    bot_event(engine, EventKind.BOT_ANSWER, conversation_id, decision=decision,
              entry_id=entry_id, query="问题", score=0.5, category=category)


def feedback(engine: Engine, conversation_id: str, helpful: bool) -> None:
    bot_event(engine, EventKind.ANSWER_FEEDBACK, conversation_id, entry_id="kb-x",
              helpful=helpful)


def hand_off(ctx: HandoffContext, conversation_id: str, category: str, *, trigger: str,
             channel: str = "online_helper", time_window: str = "") -> str:
    """The bot's handoff action's request (``bot/actions/handoffs.py``)."""
    receipt = request_handoff(HandoffRequest(
        request_id=uuid.uuid4().hex, conversation_id=conversation_id, channel=channel,
        topic="咨询", phone="13812345678" if channel == "hotline_12345" else "",
        time_window=time_window, trigger=trigger, visitor_id=conversation_id,
        candidates=[Candidate(id="kb-x", question="问题", category=category, score=0.4)]),
        ctx=ctx)
    return receipt.ticket_id


def rate(engine: Engine, conversation_id: str, rating: str, *, ticket_id: str = "",
         reason: str = "") -> int | None:
    """A rating as the rating action records it; the 差评 case it opened, if any."""
    department = handler = ""
    with session_scope(engine) as s:
        if ticket_id:
            t = s.get(Ticket, ticket_id)
            department, handler = t.department, t.helper or ""
        event = record_rating(s, conversation_id, rating, ticket_id=ticket_id, reason=reason,
                              department=department, handler=handler)
        case = s.scalar(select(BadRatingCase.id).where(
            BadRatingCase.rating_event_pk == event.pk))
    return case


def case_step(clock: Clock, when: dt.datetime, step, *args: object) -> None:
    """One step of a 差评 work order (:mod:`ratings.cases`), done at ``when`` (given in
    UTC, as the gateway's ``utcnow()``: SQLite keeps the wall time without its offset)."""
    with session_scope(clock.engine) as s:
        step(s, *args, at=when.astimezone(dt.UTC))
    clock.at(when)


def build(engine: Engine, redis) -> Scenario:
    ctx = HandoffContext(engine=engine, redis=redis, config=CONFIG)
    sc = Scenario(engine=engine, ctx=ctx)
    clock = Clock(engine)
    ann = helper(engine, "ann", [PERMITS])
    bob = helper(engine, "bob", [TAX])
    conv = {name: f"v-{name.lower()}-{uuid.uuid4().hex[:12]}"
            for name in ("V1", "V2", "V3", "V4", "V5", "V6", "C0", "C4", "C5", "C7", "C8",
                         "C9")}
    sc.visits = conv

    # --- the day before: T0, answered at once ---
    t0 = sc.tickets["T0"] = hand_off(ctx, conv["C0"], category_of(PERMITS), trigger="user")
    clock.at(at(30, 23, 50, month=11))
    claims.claim_ticket(t0, ann, ctx=ctx)
    clock.at(at(30, 23, 51, month=11))
    relay.send_helper_message(t0, ann, "您好", ctx=ctx)
    clock.at(at(30, 23, 52, month=11))

    # --- V6: a 12345 call-back booked for 14:00–16:00 (T3) ---
    t3 = sc.tickets["T3"] = hand_off(ctx, conv["V6"], category_of(SOCIAL), trigger="user",
                                     channel="hotline_12345",
                                     time_window="2026-12-01（周二）14:00–16:00")
    clock.at(at(1, 9, 30))

    # --- V1: answered, 有帮助 ---
    question(engine, conv["V1"], "answer", category_of(TAX))
    clock.at(at(1, 9, 40))
    feedback(engine, conv["V1"], True)
    clock.at(at(1, 9, 41))

    # --- V3: abstained, handed to people (T1) ---
    question(engine, conv["V3"], "abstain", category_of(PERMITS))
    clock.at(at(1, 9, 59))
    t1 = sc.tickets["T1"] = hand_off(ctx, conv["V3"], category_of(PERMITS),
                                     trigger="abstention")
    clock.at(at(1, 10, 0))
    claims.claim_ticket(t1, ann, ctx=ctx)
    clock.at(at(1, 10, 1))
    relay.send_helper_message(t1, ann, "您好，我来帮您", ctx=ctx)
    clock.at(at(1, 10, 2))
    closing.resolve_ticket(t1, ann, "已解答", ctx=ctx)
    clock.at(at(1, 10, 10))
    rate(engine, conv["V3"], "不满意", ticket_id=t1, reason="等得有点久")
    clock.at(at(1, 10, 11))
    rate(engine, conv["V3"], "满意", ticket_id=t1)
    clock.at(at(1, 10, 12))

    # --- V2: suggested, a suggestion clicked ---
    question(engine, conv["V2"], "suggest", category_of(SOCIAL))
    clock.at(at(1, 10, 30))
    bot_event(engine, EventKind.SUGGESTION_CLICKED, conv["V2"], entry_id="kb-y",
              category=category_of(SOCIAL))
    bot_event(engine, EventKind.BOT_ANSWER, conv["V2"], decision="answer", entry_id="kb-y",
              chosen=True, category=category_of(SOCIAL))
    clock.at(at(1, 10, 31))

    # --- V4: answered twice, 没帮助 twice, handed to people (T2), transferred ---
    question(engine, conv["V4"], "answer", category_of(PERMITS))
    clock.at(at(1, 10, 50))
    feedback(engine, conv["V4"], False)
    clock.at(at(1, 10, 51))
    question(engine, conv["V4"], "answer", category_of(PERMITS))
    clock.at(at(1, 10, 55))
    feedback(engine, conv["V4"], False)
    clock.at(at(1, 10, 56))
    t2 = sc.tickets["T2"] = hand_off(ctx, conv["V4"], category_of(PERMITS), trigger="unhelpful")
    clock.at(at(1, 11, 0))
    claims.claim_ticket(t2, ann, ctx=ctx)
    clock.at(at(1, 11, 5))
    relay.send_helper_message(t2, ann, "您好", ctx=ctx)
    clock.at(at(1, 11, 6))
    transfer.transfer_ticket(t2, ann, TAX, "税务问题", ctx=ctx)
    clock.at(at(1, 11, 10))
    claims.claim_ticket(t2, bob, ctx=ctx)
    clock.at(at(1, 11, 20))
    relay.send_helper_message(t2, bob, "您好，税务局", ctx=ctx)
    clock.at(at(1, 11, 21))
    closing.resolve_ticket(t2, bob, "已解答", ctx=ctx)
    clock.at(at(1, 11, 40))
    sc.cases["T2"] = rate(engine, conv["V4"], "非常不满意", ticket_id=t2, reason="转来转去")
    clock.at(at(1, 11, 41))
    case_step(clock, at(1, 13, 30), cases.review, sc.cases["T2"], SUPERVISOR, "不属实",
              "已按规定转办，答复正确")

    # --- V5: answered, 没帮助, no handoff; the bot rated 基本满意 ---
    question(engine, conv["V5"], "answer", category_of(TAX))
    clock.at(at(1, 13, 40))
    feedback(engine, conv["V5"], False)
    clock.at(at(1, 13, 41))
    rate(engine, conv["V5"], "基本满意")
    clock.at(at(1, 13, 42))

    # --- T3: the 12345 call, inside the booked window ---
    call_id = _call_of(engine, t3)
    calls.start_call(call_id, SimulatorAdapter(deliver=lambda body, headers: None), ctx=ctx,
                     now=at(1, 14, 25))
    clock.at(at(1, 14, 25))
    for status, when in (("ringing", at(1, 14, 29)), ("answered", at(1, 14, 30)),
                         ("three_way_connected", at(1, 14, 31)),
                         ("completed", at(1, 14, 40))):
        calls.apply_status(call_id, status, ctx=ctx)
        clock.at(when)
    sc.cases["T3"] = rate(engine, conv["V6"], "不满意", ticket_id=t3, reason="回电晚了半小时")
    clock.at(at(1, 14, 45))
    case_step(clock, at(1, 15, 0), cases.review, sc.cases["T3"], SUPERVISOR, "属实",
              "回电确实延误")
    for stage, note, when in (("contacted", "已电话致歉", at(1, 16, 0)),
                              ("fixed", "调整回电排班", at(2, 10, 0)),
                              ("followed_up", "用户表示认可", at(3, 10, 0))):
        case_step(clock, when, cases.record_rectification, sc.cases["T3"], SUPERVISOR,
                  stage, note)

    # --- V1 rates the bot ---
    rate(engine, conv["V1"], "非常满意")
    clock.at(at(1, 14, 50))

    # --- T4: abandoned within the service level ---
    t4 = sc.tickets["T4"] = hand_off(ctx, conv["C4"], category_of(PERMITS), trigger="user")
    clock.at(at(1, 15, 0))
    closing.abandon_ticket(t4, ctx=ctx)
    clock.at(at(1, 15, 2))

    # --- T5: unresolved; 差评 reviewed 不属实, overturned, never rectified ---
    t5 = sc.tickets["T5"] = hand_off(ctx, conv["C5"], category_of(PERMITS), trigger="user")
    clock.at(at(1, 15, 10))
    claims.claim_ticket(t5, ann, ctx=ctx)
    clock.at(at(1, 15, 11))
    relay.send_helper_message(t5, ann, "您好", ctx=ctx)
    clock.at(at(1, 15, 12))
    closing.mark_unresolved(t5, ann, "需线下办理", ctx=ctx)
    clock.at(at(1, 15, 30))
    sc.cases["T5"] = rate(engine, conv["C5"], "非常不满意", ticket_id=t5, reason="没有解决")
    clock.at(at(1, 15, 31))
    case_step(clock, at(1, 15, 40), cases.review, sc.cases["T5"], SUPERVISOR, "不属实",
              "线下办理是规定")
    case_step(clock, at(1, 15, 50), cases.overturn, sc.cases["T5"], LEADER,
              "应当先帮用户预约")

    # --- T7: abandoned after the service level, never answered ---
    t7 = sc.tickets["T7"] = hand_off(ctx, conv["C7"], category_of(PERMITS), trigger="user")
    clock.at(at(1, 16, 0))
    closing.abandon_ticket(t7, ctx=ctx)
    clock.at(at(1, 16, 5))

    # --- T8: queued just before closing time, answered next morning ---
    t8 = sc.tickets["T8"] = hand_off(ctx, conv["C8"], category_of(PERMITS), trigger="user")
    clock.at(at(1, 16, 58, 30))
    claims.claim_ticket(t8, ann, ctx=ctx)
    clock.at(at(2, 9, 0, 30))
    relay.send_helper_message(t8, ann, "早上好", ctx=ctx)
    clock.at(at(2, 9, 1))
    closing.resolve_ticket(t8, ann, "已解答", ctx=ctx)
    clock.at(at(2, 9, 10))

    # --- T9: just after midnight (still 12-01 in UTC), abandoned ---
    t9 = sc.tickets["T9"] = hand_off(ctx, conv["C9"], category_of(PERMITS), trigger="user")
    clock.at(at(2, 0, 10))
    closing.abandon_ticket(t9, ctx=ctx)
    clock.at(at(2, 0, 20))

    # --- T6: V6's visitor again, same topic, three days after T3 closed ---
    sc.tickets["T6"] = hand_off(ctx, conv["V6"], category_of(SOCIAL), trigger="user")
    clock.at(at(4, 10, 0))
    return sc


def _call_of(engine: Engine, ticket_id: str) -> str:
    from handoff.store import Call

    with session_scope(engine) as s:
        return s.scalar(select(Call.id).where(Call.ticket_id == ticket_id))
