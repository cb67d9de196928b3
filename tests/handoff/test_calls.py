"""12345 three-way calls through the simulator: a full call, no_answer with one retry,
unreachable after two, forged / stale / replayed call-backs refused, and no call for a ticket
that is no longer open."""
from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from handoff import call_adapters, call_signing, calls, claims, closing, relay
from handoff.config import CallSettings
from handoff.requests import Candidate, HandoffRequest, request_handoff
from handoff.store import Call, Ticket, Transition, move_call
from handoff.tickets import WAITING_STATES, HandoffError
from xiaobao.clock import next_open, utcnow
from xiaobao.db import session_scope

from .conftest import on_duty

OPEN = dt.datetime(2026, 3, 10, 10, tzinfo=ZoneInfo("Asia/Shanghai"))  # a Tuesday morning
CLOSED = dt.datetime(2026, 10, 2, 10, tzinfo=ZoneInfo("Asia/Shanghai"))  # 国庆
SECRET = "test-callback-secret"
MARKET = "区市场监管局"  # where 企业开办与变更 is routed


def later(config):
    """An opening time after any retry the real clock has scheduled."""
    return next_open(dt.datetime.now(ZoneInfo("Asia/Shanghai")) + dt.timedelta(days=1), config)


def hotline(ctx, phone="13912345678", conv=None):
    receipt = request_handoff(HandoffRequest(
        request_id=uuid.uuid4().hex, conversation_id=conv or f"call-{uuid.uuid4().hex[:6]}",
        channel="hotline_12345", phone=phone, topic="开办企业",
        candidates=[Candidate(id="kb", question="q", category="企业开办与变更", score=0.9)]),
        ctx=ctx, now=OPEN)
    assert receipt.call_id
    return receipt


def statuses(engine, call_id):
    with session_scope(engine) as s:
        return [t.to_status for t in s.scalars(select(Transition)
                                                .where(Transition.subject_id == call_id)
                                                .order_by(Transition.pk))]


def simulator(ctx, script):
    def deliver(body, headers):
        return calls.handle_callback(body, headers, ctx=ctx, secret=SECRET)
    return call_adapters.SimulatorAdapter(deliver=deliver, script=script, secret=SECRET)


def retry_at_once(ctx):
    return ctx.replace(config=ctx.config.replace(calls=CallSettings(
        max_attempts=2, retry_delay_s=0, callback_max_age_s=300)))


def test_full_call_through_the_simulator(ctx):
    receipt = hotline(ctx)
    sim = simulator(ctx, {1: ["ringing", "answered", "three_way_connected", "completed"]})
    calls.start_call(receipt.call_id, sim, ctx=ctx, now=OPEN)
    assert calls.get_call(receipt.call_id, ctx=ctx).external_id.startswith("sim-")
    sim.play(3)
    with session_scope(ctx.engine) as s:
        conv = s.get(Ticket, receipt.ticket_id).conversation_id
        assert s.get(Ticket, receipt.ticket_id).status == "in_conversation"
    assert relay.get_mode(conv, ctx=ctx).mode == "human"
    sim.play()
    assert calls.get_call(receipt.call_id, ctx=ctx).status == "completed"
    assert statuses(ctx.engine, receipt.call_id) == [
        "requested", "scheduled", "dialling", "ringing", "answered", "three_way_connected",
        "completed"]
    with session_scope(ctx.engine) as s:
        assert s.get(Ticket, receipt.ticket_id).status == "resolved"
    assert relay.get_mode(conv, ctx=ctx).mode == "bot"


def test_no_answer_is_retried_once(ctx):
    c = retry_at_once(ctx)
    receipt = hotline(c)
    sim = simulator(c, {1: ["ringing", "no_answer"],
                        2: ["ringing", "answered", "three_way_connected", "completed"]})
    calls.start_call(receipt.call_id, sim, ctx=c, now=OPEN)
    sim.play()
    info = calls.get_call(receipt.call_id, ctx=c)
    assert (info.status, info.attempts) == ("scheduled", 1)
    assert calls.start_due_calls(sim, ctx=c, now=later(c.config)) == [receipt.call_id]
    sim.play()
    info = calls.get_call(receipt.call_id, ctx=c)
    assert (info.status, info.attempts) == ("completed", 2)
    assert statuses(c.engine, receipt.call_id).count("no_answer") == 1


def test_two_no_answers_make_it_unreachable_and_the_ticket_unresolved(ctx):
    c = retry_at_once(ctx)
    receipt = hotline(c)
    sim = simulator(c, {1: ["ringing", "no_answer"], 2: ["no_answer"]})
    calls.start_call(receipt.call_id, sim, ctx=c, now=OPEN)
    sim.play()
    calls.start_due_calls(sim, ctx=c, now=later(c.config))
    sim.play()
    assert calls.get_call(receipt.call_id, ctx=c).status == "unreachable"
    with session_scope(c.engine) as s:
        assert s.get(Ticket, receipt.ticket_id).status == "unresolved"


def test_calls_are_only_dialled_inside_service_hours(ctx):
    receipt = request_handoff(HandoffRequest(
        request_id=uuid.uuid4().hex, conversation_id="call-closed", channel="hotline_12345",
        phone="13912345678"), ctx=ctx, now=CLOSED)
    assert not receipt.in_service_hours
    assert calls.get_call(receipt.call_id, ctx=ctx).status == "requested"
    sim = simulator(ctx, {1: ["completed"]})
    with pytest.raises(HandoffError):
        calls.start_call(receipt.call_id, sim, ctx=ctx, now=CLOSED)
    assert calls.start_due_calls(sim, ctx=ctx, now=CLOSED) == []
    assert not sim.pending
    assert calls.get_call(receipt.call_id, ctx=ctx).status == "requested"


def test_forged_stale_and_replayed_callbacks_are_refused(ctx):
    receipt = hotline(ctx)
    calls.start_call(receipt.call_id, simulator(ctx, {1: []}), ctx=ctx, now=OPEN)
    body = json.dumps({"call_id": receipt.call_id, "status": "ringing"}).encode()

    def send(b, h):
        return calls.handle_callback(b, h, ctx=ctx, secret=SECRET)

    with pytest.raises(call_signing.CallbackRejected):  # wrong secret
        send(body, call_signing.sign(body, secret="not-the-secret"))
    headers = call_signing.sign(body, secret=SECRET)
    tampered = body.replace(b"ringing", b"completed")
    with pytest.raises(call_signing.CallbackRejected):  # body changed after signing
        send(tampered, headers)
    with pytest.raises(call_signing.CallbackRejected):  # too old
        send(body, call_signing.sign(body, secret=SECRET, timestamp=int(time.time()) - 3600))
    with pytest.raises(call_signing.CallbackRejected):  # no signature at all
        send(body, {})
    assert calls.get_call(receipt.call_id, ctx=ctx).status == "dialling"
    assert send(body, headers).status == "ringing"
    with pytest.raises(call_signing.CallbackRejected):  # the same call-back again
        send(body, headers)
    bad = json.dumps({"call_id": receipt.call_id, "status": "exploded"}).encode()
    with pytest.raises(HandoffError):
        send(bad, call_signing.sign(bad, secret=SECRET))
    unknown = json.dumps({"call_id": "nope", "status": "ringing"}).encode()
    with pytest.raises(HandoffError):
        send(unknown, call_signing.sign(unknown, secret=SECRET))
    with session_scope(ctx.engine) as s:
        assert s.get(Call, receipt.call_id).status == "ringing"


def test_the_secret_is_always_given(ctx):
    body = b'{"call_id": "x", "status": "ringing"}'
    with pytest.raises(TypeError):
        call_signing.sign(body)  # type: ignore[call-arg]
    headers = call_signing.sign(body, secret=SECRET)
    with pytest.raises(TypeError):
        call_signing.verify(body, headers, redis=ctx.redis)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        calls.handle_callback(body, headers, ctx=ctx)  # type: ignore[call-arg]
    call_signing.verify(body, headers, redis=ctx.redis, secret=SECRET)


def test_duplicate_status_report_is_harmless(ctx):
    receipt = hotline(ctx)
    calls.start_call(receipt.call_id, simulator(ctx, {1: []}), ctx=ctx, now=OPEN)
    calls.apply_status(receipt.call_id, "ringing", ctx=ctx)
    assert calls.apply_status(receipt.call_id, "ringing", ctx=ctx).status == "ringing"
    assert statuses(ctx.engine, receipt.call_id).count("ringing") == 1


def test_closing_the_ticket_cancels_its_scheduled_call(ctx):
    receipt = hotline(ctx)
    assert calls.get_call(receipt.call_id, ctx=ctx).status == "scheduled"
    helper = on_duty(ctx, "h12345", depts=(MARKET,))
    got = claims.claim_next_ticket(helper, ctx=ctx, channel="hotline_12345")
    assert got.id == receipt.ticket_id
    closing.resolve_ticket(receipt.ticket_id, helper, "电话里已说明", ctx=ctx)
    assert calls.get_call(receipt.call_id, ctx=ctx).status == "cancelled"
    sim = simulator(ctx, {1: ["completed"]})
    assert calls.start_due_calls(sim, ctx=ctx, now=OPEN) == []
    assert not sim.pending


def test_start_call_refuses_and_cancels_when_the_ticket_is_no_longer_open(ctx):
    receipt = hotline(ctx)
    # the ticket closes behind the call's back (no cancellation ran)
    with session_scope(ctx.engine) as s:
        t = s.get(Ticket, receipt.ticket_id)
        t.status, t.open_conversation_id = "abandoned", None
    sim = simulator(ctx, {1: ["completed"]})
    with pytest.raises(HandoffError):
        calls.start_call(receipt.call_id, sim, ctx=ctx, now=OPEN)
    assert not sim.pending
    info = calls.get_call(receipt.call_id, ctx=ctx)
    assert (info.status, info.attempts) == ("cancelled", 0)
    assert statuses(ctx.engine, receipt.call_id)[-1] == "cancelled"


# --- a dial that never heard back (the gateway died mid-dial) -------------------------------------

class _SaysAnswered:
    """A provider that knows where its call is."""

    def start_call(self, call, ticket_phone):
        return "ext-1"

    def call_status(self, call):
        return "answered"


def _dialling_since(ctx, call_id, minutes):
    """The call is ``dialling`` and has heard nothing for ``minutes`` (as after a crash)."""
    with session_scope(ctx.engine) as s:
        c = s.get(Call, call_id)
        if c.status == "requested":
            move_call(s, c, "scheduled", "test")
        if c.status == "scheduled":
            move_call(s, c, "dialling", "test", attempts=c.attempts + 1)
        c.updated_at = utcnow() - dt.timedelta(minutes=minutes)


def test_a_stuck_dial_is_retried_then_fails_and_the_ticket_is_unresolved(ctx):
    receipt = hotline(ctx)
    sim = simulator(ctx, {1: []})
    _dialling_since(ctx, receipt.call_id, minutes=1)
    assert calls.settle_stuck_dials(sim, ctx=ctx) == []  # not yet past its timeout
    assert calls.get_call(receipt.call_id, ctx=ctx).status == "dialling"

    _dialling_since(ctx, receipt.call_id, minutes=10)
    assert calls.settle_stuck_dials(sim, ctx=ctx) == [receipt.call_id]
    info = calls.get_call(receipt.call_id, ctx=ctx)
    assert info.status == "scheduled" and info.attempts == 1  # one more attempt remains
    with session_scope(ctx.engine) as s:
        assert s.get(Ticket, receipt.ticket_id).status in WAITING_STATES

    _dialling_since(ctx, receipt.call_id, minutes=10)  # the retry got stuck as well
    assert calls.settle_stuck_dials(sim, ctx=ctx) == [receipt.call_id]
    assert calls.get_call(receipt.call_id, ctx=ctx).status == "failed"
    with session_scope(ctx.engine) as s:
        assert s.get(Ticket, receipt.ticket_id).status == "unresolved"  # the user is told
    assert calls.settle_stuck_dials(sim, ctx=ctx) == []  # settled once


def test_a_stuck_dial_takes_the_providers_word_when_it_has_one(ctx):
    receipt = hotline(ctx)
    _dialling_since(ctx, receipt.call_id, minutes=10)
    assert calls.settle_stuck_dials(_SaysAnswered(), ctx=ctx) == [receipt.call_id]
    assert calls.get_call(receipt.call_id, ctx=ctx).status == "answered"
    # the lost call-backs, in order: ringing is filled in before answered
    assert statuses(ctx.engine, receipt.call_id)[-3:] == ["dialling", "ringing", "answered"]


def test_a_provider_that_cannot_answer_does_not_keep_the_dial_stuck(ctx):
    class Down:
        def call_status(self, call):
            raise ConnectionError("provider down")

    receipt = hotline(ctx)
    _dialling_since(ctx, receipt.call_id, minutes=10)
    assert calls.settle_stuck_dials(Down(), ctx=ctx) == [receipt.call_id]
    assert calls.get_call(receipt.call_id, ctx=ctx).status == "scheduled"
