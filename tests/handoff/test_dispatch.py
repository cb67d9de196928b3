"""request_handoff, claims, reclaim, cap, positions: on a real Redis and SQL (SQLite, and
PostgreSQL when XIAOBAO_TEST_POSTGRES_URL is set)."""
from __future__ import annotations

import threading
import time
import uuid

import pytest
from sqlalchemy import func, select

from handoff import dispatch, queue, relay
from handoff.requests import Candidate, HandoffRequest
from handoff.store import Ticket, Transition
from handoff.tickets import NotAllowed, TicketClosed, UnknownTicket
from xiaobao.db import session_scope
from xiaobao.events import Event

from .conftest import make_helper

CENTRAL = "综合窗口"
CROSS = "区行政服务中心"  # where 跨省通办 is routed


def req(conversation_id: str | None = None, request_id: str | None = None, category: str = "跨省通办",
        **kw) -> HandoffRequest:
    return HandoffRequest(
        request_id=request_id or uuid.uuid4().hex,
        conversation_id=conversation_id or f"conv-{uuid.uuid4().hex[:8]}",
        channel=kw.pop("channel", "online_helper"),
        candidates=[Candidate(id="kb-1", question="什么是跨省通办", category=category, score=0.8),
                    Candidate(id="kb-2", question="随申办", category="一网通办与随申办", score=0.4)],
        last_turns=[{"role": "user", "text": "我要转人工"}], intent="ask_human", **kw)


def on_duty(engine, r, name, depts=(CROSS,), roles=("helper",), cap=None):
    helper = make_helper(engine, name, list(depts), roles)
    dispatch.set_helper_status(helper, "on_duty", cap=cap, engine=engine, redis=r)
    return helper


def test_request_lands_on_intake_and_department_stream(engine, r, config):
    receipt = dispatch.request_handoff(req(), engine=engine, redis=r, config=config)
    assert receipt.created and receipt.status == "queued"
    assert receipt.department == CROSS
    assert receipt.queue_position == 1 and receipt.estimated_wait_s > 0
    intake = r.xrange("xiaobao:intake:online_helper")
    assert [e[1]["ticket_id"] for e in intake] == [receipt.ticket_id]
    dept = r.xrange(queue.queue_key("online_helper", CROSS, False))
    assert [e[1]["ticket_id"] for e in dept] == [receipt.ticket_id]
    with session_scope(engine) as s:
        t = s.get(Ticket, receipt.ticket_id)
        assert t.status == "queued" and t.context["intent"] == "ask_human"
        assert s.scalar(select(func.count()).select_from(Event)
                        .where(Event.kind == "handoff_requested")) == 1
    assert relay.get_mode(receipt.ticket_id and t.conversation_id, engine=engine, redis=r).mode \
        == "waiting"


def test_unknown_category_stays_at_central_desk(engine, r, config):
    receipt = dispatch.request_handoff(req(category="没有这个分类"), engine=engine, redis=r,
                                       config=config)
    assert receipt.department == CENTRAL


def test_retried_request_and_second_request_make_one_ticket(engine, r, config):
    first = req()
    a = dispatch.request_handoff(first, engine=engine, redis=r, config=config)
    b = dispatch.request_handoff(first, engine=engine, redis=r, config=config)
    c = dispatch.request_handoff(req(conversation_id=first.conversation_id), engine=engine,
                                 redis=r, config=config)
    assert a.ticket_id == b.ticket_id == c.ticket_id
    assert (a.created, b.created, c.created) == (True, False, False)
    with session_scope(engine) as s:
        assert s.scalar(select(func.count()).select_from(Ticket)) == 1
    assert r.xlen(queue.queue_key("online_helper", CROSS, False)) == 1


def test_concurrent_requests_for_one_conversation_make_one_ticket(engine, r, config):
    conv = "conv-race"
    receipts, errors = [], []

    def go():
        try:
            receipts.append(dispatch.request_handoff(req(conversation_id=conv), engine=engine,
                                                     redis=r, config=config))
        except Exception as exc:  # noqa: BLE001 - the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=go) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len({x.ticket_id for x in receipts}) == 1
    assert sum(x.created for x in receipts) == 1


def test_retry_after_redis_lost_the_entry_requeues_it(engine, r, config):
    first = req()
    a = dispatch.request_handoff(first, engine=engine, redis=r, config=config)
    r.flushall()
    b = dispatch.request_handoff(first, engine=engine, redis=r, config=config)
    assert b.ticket_id == a.ticket_id and not b.created
    assert queue.is_enqueued(r, a.ticket_id)


@pytest.mark.parametrize("bad", [
    {"channel": "fax"}, {"request_id": ""}, {"conversation_id": ""},
    {"summary": "长" * 2001}, {"phone": "1" * 40}])
def test_bad_requests_are_refused_clearly(engine, r, config, bad):
    fields = {"request_id": "r1", "conversation_id": "c1", "channel": "online_helper"}
    fields.update(bad)
    with pytest.raises(dispatch.HandoffError) as err:
        dispatch.request_handoff(HandoffRequest(**fields), engine=engine, redis=r, config=config)
    assert "/" in err.value.message  # Chinese, then English
    with session_scope(engine) as s:
        assert s.scalar(select(func.count()).select_from(Ticket)) == 0


def test_priority_after_unresolved_and_for_complaints(engine, r, config):
    helper = on_duty(engine, r, "h1")
    conv = "conv-repeat"
    first = dispatch.request_handoff(req(conversation_id=conv), engine=engine, redis=r,
                                     config=config)
    normal = dispatch.request_handoff(req(), engine=engine, redis=r, config=config)
    got = dispatch.claim_next_ticket(helper, engine=engine, redis=r, config=config)
    assert got.id == first.ticket_id
    dispatch.mark_unresolved(got.id, helper, "材料不全", engine=engine, redis=r, config=config)
    again = dispatch.request_handoff(req(conversation_id=conv), engine=engine, redis=r,
                                     config=config)
    complaint = dispatch.request_handoff(req(complaint=True), engine=engine, redis=r,
                                         config=config)
    assert again.priority and complaint.priority and not normal.priority
    assert again.queue_position == 1 and complaint.queue_position == 2
    order = [dispatch.claim_next_ticket(helper, engine=engine, redis=r, config=config).id
             for _ in range(3)]
    assert order == [again.ticket_id, complaint.ticket_id, normal.ticket_id]


def test_two_helpers_claim_at_once_exactly_one_gets_it(engine, r, config):
    helpers = [on_duty(engine, r, f"h{i}") for i in range(2)]
    receipt = dispatch.request_handoff(req(), engine=engine, redis=r, config=config)
    barrier = threading.Barrier(2)
    results = {}

    def claim(h):
        barrier.wait()
        results[h.username] = dispatch.claim_next_ticket(h, engine=engine, redis=r,
                                                         config=config)

    threads = [threading.Thread(target=claim, args=(h,)) for h in helpers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [v for v in results.values() if v is not None]
    assert len(winners) == 1 and winners[0].id == receipt.ticket_id
    with session_scope(engine) as s:
        claims = s.scalar(select(func.count()).select_from(Transition)
                          .where(Transition.subject_id == receipt.ticket_id,
                                 Transition.to_status == "claimed"))
    assert claims == 1


def test_claimed_then_vanished_is_reclaimed_after_service_level(engine, r, config):
    cfg = config.replace(service_level_s={"online_helper": 1.0})
    a, b = on_duty(engine, r, "ha"), on_duty(engine, r, "hb")
    receipt = dispatch.request_handoff(req(), engine=engine, redis=r, config=cfg)
    assert dispatch.claim_next_ticket(a, engine=engine, redis=r, config=cfg).id == \
        receipt.ticket_id
    # a says nothing; before the service level nobody else may take it
    assert dispatch.claim_next_ticket(b, engine=engine, redis=r, config=cfg) is None
    time.sleep(1.2)
    got = dispatch.claim_next_ticket(b, engine=engine, redis=r, config=cfg)
    assert got is not None and got.id == receipt.ticket_id and got.helper == "hb"
    with pytest.raises(NotAllowed):
        relay.send_helper_message(receipt.ticket_id, a, "我来了", engine=engine, redis=r)


def test_answering_helper_keeps_a_long_chat_past_the_service_level(engine, r, config):
    cfg = config.replace(service_level_s={"online_helper": 0.5})
    a, b = on_duty(engine, r, "ha"), on_duty(engine, r, "hb")
    receipt = dispatch.request_handoff(req(), engine=engine, redis=r, config=cfg)
    dispatch.claim_next_ticket(a, engine=engine, redis=r, config=cfg)
    relay.send_helper_message(receipt.ticket_id, a, "您好，请问办理什么业务？", engine=engine, redis=r)
    time.sleep(0.8)
    dispatch.helper_heartbeat(a, redis=r, config=cfg)
    assert dispatch.claim_next_ticket(b, engine=engine, redis=r, config=cfg) is None
    with session_scope(engine) as s:
        t = s.get(Ticket, receipt.ticket_id)
        assert (t.status, t.helper) == ("in_conversation", "ha")


def test_helper_without_heartbeat_loses_tickets_to_the_queue(engine, r, config):
    cfg = config.replace(heartbeat_ttl_s=0.3)
    a, b = on_duty(engine, r, "ha"), on_duty(engine, r, "hb")
    receipt = dispatch.request_handoff(req(), engine=engine, redis=r, config=cfg)
    dispatch.claim_next_ticket(a, engine=engine, redis=r, config=cfg)
    relay.send_helper_message(receipt.ticket_id, a, "您好", engine=engine, redis=r)
    time.sleep(0.5)  # a's heartbeat expires; b stays alive
    dispatch.helper_heartbeat(b, redis=r, config=cfg)
    assert dispatch.sweep_gone_helpers(engine=engine, redis=r, config=cfg) == [receipt.ticket_id]
    got = dispatch.claim_next_ticket(b, engine=engine, redis=r, config=cfg)
    assert got.id == receipt.ticket_id


def test_helper_at_cap_is_offered_nothing(engine, r, config):
    helper = on_duty(engine, r, "h1", cap=2)
    for _ in range(3):
        dispatch.request_handoff(req(), engine=engine, redis=r, config=config)
    assert dispatch.claim_next_ticket(helper, engine=engine, redis=r, config=config)
    assert dispatch.claim_next_ticket(helper, engine=engine, redis=r, config=config)
    assert dispatch.claim_next_ticket(helper, engine=engine, redis=r, config=config) is None


def test_helper_only_gets_and_sees_own_departments(engine, r, config):
    outsider = on_duty(engine, r, "tax", depts=("区税务局",))
    receipt = dispatch.request_handoff(req(), engine=engine, redis=r, config=config)
    assert dispatch.claim_next_ticket(outsider, engine=engine, redis=r, config=config) is None
    with pytest.raises(NotAllowed):
        dispatch.claim_ticket(receipt.ticket_id, outsider, engine=engine, redis=r, config=config)
    with pytest.raises(NotAllowed):
        dispatch.context_pack(receipt.ticket_id, outsider, engine=engine)


def test_away_helper_and_non_helper_are_refused(engine, r, config):
    away = make_helper(engine, "away", [CROSS])
    with pytest.raises(NotAllowed):
        dispatch.claim_next_ticket(away, engine=engine, redis=r, config=config)
    editor = make_helper(engine, "ed", [CROSS], roles=("editor",))
    with pytest.raises(NotAllowed):
        dispatch.claim_next_ticket(editor, engine=engine, redis=r, config=config)


def test_unknown_and_closed_ticket_ids(engine, r, config):
    helper = on_duty(engine, r, "h1")
    with pytest.raises(UnknownTicket):
        dispatch.resolve_ticket("nope", helper, engine=engine, redis=r, config=config)
    receipt = dispatch.request_handoff(req(), engine=engine, redis=r, config=config)
    dispatch.claim_next_ticket(helper, engine=engine, redis=r, config=config)
    dispatch.resolve_ticket(receipt.ticket_id, helper, "已解答", engine=engine, redis=r,
                            config=config)
    with pytest.raises(TicketClosed):
        dispatch.resolve_ticket(receipt.ticket_id, helper, engine=engine, redis=r, config=config)
    with pytest.raises(TicketClosed):
        dispatch.transfer_ticket(receipt.ticket_id, helper, CENTRAL, engine=engine, redis=r,
                                 config=config)


def test_positions_move_up_as_the_queue_moves(engine, r, config):
    helper = on_duty(engine, r, "h1")
    receipts = [dispatch.request_handoff(req(), engine=engine, redis=r, config=config)
                for _ in range(3)]
    assert [x.queue_position for x in receipts] == [1, 2, 3]
    last_conv = None
    with session_scope(engine) as s:
        last_conv = s.get(Ticket, receipts[2].ticket_id).conversation_id
    before = dispatch.queue_position(last_conv, engine=engine, redis=r, config=config)
    dispatch.claim_next_ticket(helper, engine=engine, redis=r, config=config)
    after = dispatch.queue_position(last_conv, engine=engine, redis=r, config=config)
    assert (before.position, after.position) == (3, 2)
    assert after.estimated_wait_s < before.estimated_wait_s
    overview = {(q.channel, q.department): q for q in
                dispatch.queue_overview([CROSS], engine=engine, redis=r, config=config)}
    q = overview[("online_helper", CROSS)]
    assert (q.waiting, q.in_progress, q.helpers_on_duty) == (2, 1, 1)
    assert q.oldest_wait_s >= 0


def test_transfer_moves_ticket_and_transcript(engine, r, config):
    a = on_duty(engine, r, "ha")
    tax = on_duty(engine, r, "tax", depts=("区税务局",))
    receipt = dispatch.request_handoff(req(), engine=engine, redis=r, config=config)
    dispatch.claim_next_ticket(a, engine=engine, redis=r, config=config)
    relay.send_helper_message(receipt.ticket_id, a, "这个问题需要税务处理", engine=engine, redis=r)
    moved = dispatch.transfer_ticket(receipt.ticket_id, a, "区税务局", "发票问题",
                                     engine=engine, redis=r, config=config)
    assert (moved.status, moved.department, moved.helper) == ("transferred", "区税务局", None)
    got = dispatch.claim_next_ticket(tax, engine=engine, redis=r, config=config)
    assert got.id == receipt.ticket_id
    pack = dispatch.context_pack(got.id, tax, engine=engine)
    texts = [m["text"] for m in pack["transcript"]]
    assert "这个问题需要税务处理" in texts and any("发票问题" in t for t in texts)
    assert [h["to"] for h in pack["history"]] == [
        "queued", "claimed", "in_conversation", "transferred", "claimed"]


def test_phone_is_masked_except_for_the_handling_helper(engine, r, config):
    a, b = on_duty(engine, r, "ha"), on_duty(engine, r, "hb")
    receipt = dispatch.request_handoff(req(phone="13812345678"), engine=engine, redis=r,
                                       config=config)
    mine = dispatch.claim_next_ticket(a, engine=engine, redis=r, config=config)
    assert mine.phone == "13812345678"
    assert dispatch.context_pack(receipt.ticket_id, b, engine=engine)["ticket"]["phone"] == \
        "138****5678"
