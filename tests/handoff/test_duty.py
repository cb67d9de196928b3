"""Helpers on duty: status, heartbeats, who counts as on duty, and the sweep that puts back the
tickets of helpers who went away."""
from __future__ import annotations

import time

import pytest

from handoff import claims, duty, queue, relay
from handoff.requests import request_handoff
from handoff.tickets import HandoffError, NotAllowed

from .conftest import CROSS, TAX, make_helper, on_duty, req


def test_helper_without_heartbeat_loses_tickets_to_the_queue(ctx):
    c = ctx.replace(config=ctx.config.replace(heartbeat_ttl_s=0.3))
    a, b = on_duty(c, "ha"), on_duty(c, "hb")
    receipt = request_handoff(req(), ctx=c)
    claims.claim_next_ticket(a, ctx=c)
    relay.send_helper_message(receipt.ticket_id, a, "您好", ctx=c)
    time.sleep(0.5)  # a's heartbeat expires; b stays alive
    duty.helper_heartbeat(b, ctx=c)
    assert duty.sweep_gone_helpers(ctx=c) == [receipt.ticket_id]
    assert duty.sweep_gone_helpers(ctx=c) == []  # once
    got = claims.claim_next_ticket(b, ctx=c)
    assert got.id == receipt.ticket_id and got.priority


def test_status_heartbeat_and_who_is_on_duty(ctx, r):
    a = make_helper(ctx.engine, "ha", [CROSS])
    assert duty.helper_state(a, ctx=ctx) == {"status": "away", "cap": ctx.config.concurrency_cap}
    duty.set_helper_status(a, "on_duty", cap=5, ctx=ctx)
    assert duty.helper_state(a, ctx=ctx) == {"status": "on_duty", "cap": 5}
    assert duty.helpers_on_duty(CROSS, ctx=ctx) == ["ha"]
    assert duty.helpers_on_duty(TAX, ctx=ctx) == []
    # on duty but silent: not counted
    r.delete(queue.alive_key("ha"))
    assert duty.helpers_on_duty(CROSS, ctx=ctx) == []
    duty.helper_heartbeat(a, ctx=ctx)
    assert duty.helpers_on_duty(CROSS, ctx=ctx) == ["ha"]
    duty.set_helper_status(a, "away", ctx=ctx)
    assert duty.helpers_on_duty(CROSS, ctx=ctx) == []
    assert not r.exists(queue.alive_key("ha"))
    # an editor is never on duty for tickets
    editor = make_helper(ctx.engine, "ed", [CROSS], roles=("editor",))
    with pytest.raises(NotAllowed):
        duty.set_helper_status(editor, "on_duty", ctx=ctx)
    with pytest.raises(HandoffError):
        duty.set_helper_status(a, "lunch", ctx=ctx)


def test_claimed_unanswered_without_stream_entry_is_requeued_after_service_level(ctx):
    # taken by name (no stream entry: XAUTOCLAIM cannot see it), then never answered
    # A service level of a second: the sweep right after the claim must come inside it, which
    # 0.3 s did not leave room for on a loaded machine.
    c = ctx.replace(config=ctx.config.replace(service_level_s={"online_helper": 1.0}))
    a, b = on_duty(c, "ha"), on_duty(c, "hb")
    receipt = request_handoff(req(), ctx=c)
    claims.claim_ticket(receipt.ticket_id, a, ctx=c)
    assert duty.sweep_gone_helpers(ctx=c) == []
    time.sleep(1.2)
    duty.helper_heartbeat(a, ctx=c)
    assert duty.sweep_gone_helpers(ctx=c) == [receipt.ticket_id]
    assert claims.claim_next_ticket(b, ctx=c).id == receipt.ticket_id


def test_sweep_respects_min_interval(ctx, r):
    # The helper goes away by losing the heartbeat key, not by a short TTL: a TTL short enough
    # to wait for also ran out between claiming and the first sweep on a slow CI machine.
    a = on_duty(ctx, "ha")
    receipt = request_handoff(req(), ctx=ctx)
    claims.claim_next_ticket(a, ctx=ctx)
    assert duty.sweep_gone_helpers(ctx=ctx) == []  # the clock starts; the helper is alive
    r.delete(queue.alive_key("ha"))
    assert duty.sweep_gone_helpers(ctx=ctx, min_interval_s=60) == []
    assert duty.sweep_gone_helpers(ctx=ctx) == [receipt.ticket_id]
