"""Escalation to the leader's queue: after twice the service level, and at once for complaints."""
from __future__ import annotations

import time

import pytest

from handoff import claims, duty, escalation, relay
from handoff.requests import request_handoff
from handoff.tickets import NotAllowed

from .conftest import CROSS, make_helper, req


def test_escalation_after_twice_the_service_level_and_for_complaints(ctx):
    c = ctx.replace(config=ctx.config.replace(service_level_s={"online_helper": 0.5}))
    leader = make_helper(c.engine, "boss", [CROSS], roles=("leader",))
    helper = make_helper(c.engine, "ha", [CROSS])
    complaint = request_handoff(req(complaint=True), ctx=c)
    slow = request_handoff(req(), ctx=c)
    assert [e["ticket"]["id"] for e in escalation.leader_queue(leader, ctx=c)] == \
        [complaint.ticket_id]
    time.sleep(1.1)
    queue_now = escalation.leader_queue(leader, ctx=c)
    assert {e["ticket"]["id"] for e in queue_now} == {complaint.ticket_id, slow.ticket_id}
    assert queue_now[0]["history"][0]["to"] == "queued"
    assert {e["reason"] for e in queue_now} == {"complaint", "waiting"}
    with pytest.raises(NotAllowed):
        escalation.leader_queue(helper, ctx=c)
    duty.set_helper_status(leader, "on_duty", ctx=c)
    taken = claims.claim_ticket(slow.ticket_id, leader, ctx=c)
    assert taken.helper == "boss"
    relay.send_helper_message(slow.ticket_id, leader, "我是值班领导", ctx=c)
    assert slow.ticket_id not in {e["ticket"]["id"] for e in escalation.leader_queue(leader, ctx=c)}
