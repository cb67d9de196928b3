"""Transfer: the ticket, conversation and all, to another department's queue, ahead of normal."""
from __future__ import annotations

import pytest

from handoff import claims, queue, relay, transfer, views
from handoff.requests import request_handoff
from handoff.tickets import HandoffError, NotAllowed

from .conftest import CROSS, TAX, on_duty, req, stream_ticket_ids


def test_transfer_moves_ticket_and_transcript(ctx, r):
    a = on_duty(ctx, "ha")
    tax = on_duty(ctx, "tax", depts=(TAX,))
    receipt = request_handoff(req(), ctx=ctx)
    claims.claim_next_ticket(a, ctx=ctx)
    relay.send_helper_message(receipt.ticket_id, a, "这个问题需要税务处理", ctx=ctx)
    moved = transfer.transfer_ticket(receipt.ticket_id, a, TAX, "发票问题", ctx=ctx)
    assert (moved.status, moved.department, moved.helper) == ("transferred", TAX, None)
    assert moved.priority
    assert stream_ticket_ids(r, queue.queue_key("online_helper", TAX, True)) == \
        [receipt.ticket_id]
    assert relay.get_mode(moved.conversation_id, ctx=ctx).mode == "waiting"
    got = claims.claim_next_ticket(tax, ctx=ctx)
    assert got.id == receipt.ticket_id
    pack = views.context_pack(got.id, tax, ctx=ctx)
    texts = [m["text"] for m in pack["transcript"]]
    assert "这个问题需要税务处理" in texts and any("发票问题" in t for t in texts)
    system = [m for m in pack["transcript"] if m["role"] == "system"]
    assert len(system) == 1 and system[0]["author"] == "ha" and TAX in system[0]["text"]
    assert [h["to"] for h in pack["history"]] == [
        "queued", "claimed", "in_conversation", "transferred", "claimed"]


def test_transfer_refusals(ctx):
    a, b = on_duty(ctx, "ha"), on_duty(ctx, "hb")
    receipt = request_handoff(req(), ctx=ctx)
    claims.claim_next_ticket(a, ctx=ctx)
    with pytest.raises(HandoffError):
        transfer.transfer_ticket(receipt.ticket_id, a, "没有这个部门", ctx=ctx)
    with pytest.raises(HandoffError):
        transfer.transfer_ticket(receipt.ticket_id, a, CROSS, ctx=ctx)  # its own department
    with pytest.raises(NotAllowed):
        transfer.transfer_ticket(receipt.ticket_id, b, TAX, ctx=ctx)  # not b's ticket
    leader = on_duty(ctx, "boss", roles=("leader",))
    assert transfer.transfer_ticket(receipt.ticket_id, leader, TAX, ctx=ctx).department == TAX
    # a waiting (transferred) ticket cannot be transferred again before someone takes it
    with pytest.raises(HandoffError):
        transfer.transfer_ticket(receipt.ticket_id, leader, CROSS, ctx=ctx)
