"""留言咨询, escalation to the leader's queue, masking and retention."""
from __future__ import annotations

import datetime as dt
import time
import uuid

import pytest
from sqlalchemy import func, select

from handoff import dispatch, escalation, messages, privacy, relay
from handoff.requests import Candidate, HandoffRequest
from handoff.store import Ticket, TranscriptMessage, utcnow
from handoff.tickets import HandoffError, NotAllowed
from xiaobao.db import session_scope

from .conftest import make_helper

DEPT = "区行政服务中心"


def request(engine, r, config, conv=None, **kw):
    return dispatch.request_handoff(HandoffRequest(
        request_id=uuid.uuid4().hex, conversation_id=conv or f"m-{uuid.uuid4().hex[:8]}",
        channel="online_helper",
        candidates=[Candidate(id="kb", question="q", category="跨省通办", score=0.9)], **kw),
        engine=engine, redis=r, config=config)


def test_nobody_on_duty_suggests_a_message(engine, r, config):
    receipt = request(engine, r, config)
    assert receipt.helpers_on_duty == 0 and receipt.offer_message


def test_leave_message_answer_and_find_it_on_return(engine, r, config):
    receipt = request(engine, r, config, conv="conv-msg", visitor_id="v-1")
    left = messages.leave_message("conv-msg", "营业执照地址变更要带什么？", phone="13812345678",
                                  visitor_id="v-1", engine=engine, redis=r, config=config)
    assert left.department == DEPT and left.phone == "13812345678"
    with session_scope(engine) as s:
        assert s.get(Ticket, receipt.ticket_id).status == "abandoned"
    assert relay.get_mode("conv-msg", engine=engine, redis=r).mode == "bot"
    helper = make_helper(engine, "ha", [DEPT])
    listed = messages.open_messages([DEPT], engine=engine)
    assert [m.id for m in listed] == [left.id] and listed[0].phone == "138****5678"
    outsider = make_helper(engine, "tax", ["区税务局"])
    with pytest.raises(NotAllowed):
        messages.answer_message(left.id, outsider, "答复", engine=engine, redis=r)
    messages.answer_message(left.id, helper, "带上营业执照正本和新地址证明。", engine=engine, redis=r)
    with pytest.raises(HandoffError):
        messages.answer_message(left.id, helper, "再答一次", engine=engine, redis=r)
    back = messages.answers_for(visitor_id="v-1", engine=engine)
    assert [(m.status, m.answer) for m in back] == [("answered", "带上营业执照正本和新地址证明。")]
    callback = messages.request_callback(left.id, engine=engine, redis=r, config=config)
    assert callback.call_id and callback.department == DEPT
    assert messages.request_callback(left.id, engine=engine, redis=r, config=config).ticket_id \
        == callback.ticket_id


def test_bad_messages(engine, r, config):
    with pytest.raises(HandoffError):
        messages.leave_message("c", "", engine=engine, redis=r, config=config)
    with pytest.raises(HandoffError):
        messages.leave_message("c", "长" * 2001, engine=engine, redis=r, config=config)
    with pytest.raises(HandoffError):
        messages.leave_message("c", "问题", phone="12345", engine=engine, redis=r, config=config)
    left = messages.leave_message("c", "问题", engine=engine, redis=r, config=config)
    with pytest.raises(HandoffError):  # no phone, no call-back
        messages.request_callback(left.id, engine=engine, redis=r, config=config)


def test_escalation_after_twice_the_service_level_and_for_complaints(engine, r, config):
    cfg = config.replace(service_level_s={"online_helper": 0.5})
    leader = make_helper(engine, "boss", [DEPT], roles=("leader",))
    helper = make_helper(engine, "ha", [DEPT])
    complaint = request(engine, r, cfg, complaint=True)
    slow = request(engine, r, cfg)
    assert [e["ticket"]["id"] for e in escalation.leader_queue(leader, engine=engine,
                                                               config=cfg)] == [complaint.ticket_id]
    time.sleep(1.1)
    queue_now = escalation.leader_queue(leader, engine=engine, config=cfg)
    assert {e["ticket"]["id"] for e in queue_now} == {complaint.ticket_id, slow.ticket_id}
    assert queue_now[0]["history"][0]["to"] == "queued"
    with pytest.raises(NotAllowed):
        escalation.leader_queue(helper, engine=engine, config=cfg)
    dispatch.set_helper_status(leader, "on_duty", engine=engine, redis=r, config=cfg)
    taken = dispatch.claim_ticket(slow.ticket_id, leader, engine=engine, redis=r, config=cfg)
    assert taken.helper == "boss"
    relay.send_helper_message(slow.ticket_id, leader, "我是值班领导", engine=engine, redis=r)
    assert slow.ticket_id not in {e["ticket"]["id"] for e in
                                  escalation.leader_queue(leader, engine=engine, config=cfg)}


@pytest.mark.parametrize("raw,masked", [
    ("13812341234", "138****1234"), ("电话+86 138 1234 1234谢谢", "电话138****1234谢谢"),
    ("021-66781234", "021-****1234"), ("订单号 2026112800001", "订单号 2026112800001")])
def test_mask_phone(raw, masked):
    assert privacy.mask_phone(raw) == masked


def test_purge_expired_transcripts(engine, r, config):
    helper = make_helper(engine, "ha", [DEPT])
    dispatch.set_helper_status(helper, "on_duty", engine=engine, redis=r, config=config)
    old = request(engine, r, config, phone="13812345678")
    dispatch.claim_next_ticket(helper, engine=engine, redis=r, config=config)
    relay.send_helper_message(old.ticket_id, helper, "您好", engine=engine, redis=r)
    dispatch.resolve_ticket(old.ticket_id, helper, engine=engine, redis=r, config=config)
    live = request(engine, r, config)
    report = privacy.purge_expired_transcripts(30, engine=engine,
                                               now=utcnow() + dt.timedelta(days=31))
    assert report["tickets"] == 1
    with session_scope(engine) as s:
        assert s.scalar(select(func.count()).select_from(TranscriptMessage)
                        .where(TranscriptMessage.ticket_id == old.ticket_id)) == 0
        assert s.get(Ticket, old.ticket_id).phone == ""
        assert s.get(Ticket, live.ticket_id).status == "queued"
    assert privacy.purge_expired_transcripts(30, engine=engine)["tickets"] == 0
