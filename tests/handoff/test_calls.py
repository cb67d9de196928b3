"""12345 three-way calls through the simulator: a full call, no_answer with one retry,
unreachable after two, and forged / stale / replayed call-backs refused."""
from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from handoff import calls, dispatch, relay
from handoff.hours import next_open
from handoff.requests import Candidate, HandoffRequest
from handoff.store import Call, Ticket, Transition
from handoff.tickets import HandoffError
from xiaobao.db import session_scope

OPEN = dt.datetime(2026, 3, 10, 10, tzinfo=ZoneInfo("Asia/Shanghai"))  # a Tuesday morning
CLOSED = dt.datetime(2026, 10, 2, 10, tzinfo=ZoneInfo("Asia/Shanghai"))  # 国庆


def later(config):
    """An opening time after any retry the real clock has scheduled."""
    return next_open(dt.datetime.now(ZoneInfo("Asia/Shanghai")) + dt.timedelta(days=1), config)


def hotline(engine, r, config, phone="13912345678"):
    receipt = dispatch.request_handoff(HandoffRequest(
        request_id=uuid.uuid4().hex, conversation_id=f"call-{uuid.uuid4().hex[:6]}",
        channel="hotline_12345", phone=phone, topic="开办企业",
        candidates=[Candidate(id="kb", question="q", category="企业开办与变更", score=0.9)]),
        engine=engine, redis=r, config=config, now=OPEN)
    assert receipt.call_id
    return receipt


def statuses(engine, call_id):
    with session_scope(engine) as s:
        return [t.to_status for t in s.scalars(select(Transition)
                                                .where(Transition.subject_id == call_id)
                                                .order_by(Transition.pk))]


def simulator(engine, r, config, script):
    def deliver(body, headers):
        return calls.handle_callback(body, headers, engine=engine, redis=r, config=config)
    return calls.SimulatorAdapter(deliver=deliver, script=script)


def test_full_call_through_the_simulator(engine, r, config):
    receipt = hotline(engine, r, config)
    sim = simulator(engine, r, config, {1: ["ringing", "answered", "three_way_connected",
                                            "completed"]})
    calls.start_call(receipt.call_id, sim, engine=engine, config=config, now=OPEN)
    sim.play(3)
    with session_scope(engine) as s:
        conv = s.get(Ticket, receipt.ticket_id).conversation_id
        assert s.get(Ticket, receipt.ticket_id).status == "in_conversation"
    assert relay.get_mode(conv, engine=engine, redis=r).mode == "human"
    sim.play()
    assert calls.get_call(receipt.call_id, engine=engine).status == "completed"
    assert statuses(engine, receipt.call_id) == [
        "requested", "scheduled", "dialling", "ringing", "answered", "three_way_connected",
        "completed"]
    with session_scope(engine) as s:
        assert s.get(Ticket, receipt.ticket_id).status == "resolved"
    assert relay.get_mode(conv, engine=engine, redis=r).mode == "bot"


def test_no_answer_is_retried_once(engine, r, config):
    cfg = config.replace(calls=calls.default_config().calls.__class__(
        max_attempts=2, retry_delay_s=0, callback_max_age_s=300))
    receipt = hotline(engine, r, cfg)
    sim = simulator(engine, r, cfg, {1: ["ringing", "no_answer"],
                                     2: ["ringing", "answered", "three_way_connected",
                                         "completed"]})
    calls.start_call(receipt.call_id, sim, engine=engine, config=cfg, now=OPEN)
    sim.play()
    info = calls.get_call(receipt.call_id, engine=engine)
    assert (info.status, info.attempts) == ("scheduled", 1)
    assert calls.start_due_calls(sim, engine=engine, config=cfg, now=later(cfg)) == \
        [receipt.call_id]
    sim.play()
    info = calls.get_call(receipt.call_id, engine=engine)
    assert (info.status, info.attempts) == ("completed", 2)
    assert statuses(engine, receipt.call_id).count("no_answer") == 1


def test_two_no_answers_make_it_unreachable_and_the_ticket_unresolved(engine, r, config):
    cfg = config.replace(calls=calls.default_config().calls.__class__(
        max_attempts=2, retry_delay_s=0, callback_max_age_s=300))
    receipt = hotline(engine, r, cfg)
    sim = simulator(engine, r, cfg, {1: ["ringing", "no_answer"], 2: ["no_answer"]})
    calls.start_call(receipt.call_id, sim, engine=engine, config=cfg, now=OPEN)
    sim.play()
    calls.start_due_calls(sim, engine=engine, config=cfg, now=later(cfg))
    sim.play()
    assert calls.get_call(receipt.call_id, engine=engine).status == "unreachable"
    with session_scope(engine) as s:
        assert s.get(Ticket, receipt.ticket_id).status == "unresolved"


def test_calls_are_only_dialled_inside_service_hours(engine, r, config):
    receipt = dispatch.request_handoff(HandoffRequest(
        request_id=uuid.uuid4().hex, conversation_id="call-closed", channel="hotline_12345",
        phone="13912345678"), engine=engine, redis=r, config=config, now=CLOSED)
    sim = simulator(engine, r, config, {1: ["completed"]})
    with pytest.raises(HandoffError):
        calls.start_call(receipt.call_id, sim, engine=engine, config=config, now=CLOSED)
    assert calls.start_due_calls(sim, engine=engine, config=config, now=CLOSED) == []
    assert not sim.pending


def test_forged_stale_and_replayed_callbacks_are_refused(engine, r, config):
    receipt = hotline(engine, r, config)
    calls.start_call(receipt.call_id, simulator(engine, r, config, {1: []}), engine=engine,
                     config=config, now=OPEN)
    body = json.dumps({"call_id": receipt.call_id, "status": "ringing"}).encode()

    def send(b, h):
        return calls.handle_callback(b, h, engine=engine, redis=r, config=config)

    with pytest.raises(calls.CallbackRejected):  # wrong secret
        send(body, calls.sign(body, secret="not-the-secret"))
    headers = calls.sign(body)
    tampered = body.replace(b"ringing", b"completed")
    with pytest.raises(calls.CallbackRejected):  # body changed after signing
        send(tampered, headers)
    with pytest.raises(calls.CallbackRejected):  # too old
        send(body, calls.sign(body, timestamp=int(time.time()) - 3600))
    with pytest.raises(calls.CallbackRejected):  # no signature at all
        send(body, {})
    assert calls.get_call(receipt.call_id, engine=engine).status == "dialling"
    assert send(body, headers).status == "ringing"
    with pytest.raises(calls.CallbackRejected):  # the same call-back again
        send(body, headers)
    bad = json.dumps({"call_id": receipt.call_id, "status": "exploded"}).encode()
    with pytest.raises(HandoffError):
        send(bad, calls.sign(bad))
    unknown = json.dumps({"call_id": "nope", "status": "ringing"}).encode()
    with pytest.raises(HandoffError):
        send(unknown, calls.sign(unknown))
    with session_scope(engine) as s:
        assert s.get(Call, receipt.call_id).status == "ringing"
