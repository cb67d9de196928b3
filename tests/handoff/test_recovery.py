"""Redis loses everything mid-way: recovery restores every open ticket and every mode."""
from __future__ import annotations

import uuid

from handoff import claims, closing, duty, outbox, queue, recovery, relay
from handoff.requests import Candidate, HandoffRequest, request_handoff
from handoff.store import Ticket
from xiaobao.db import session_scope

from .conftest import make_helper

DEPT = "区行政服务中心"


def _req(i: int, complaint: bool = False) -> HandoffRequest:
    return HandoffRequest(request_id=uuid.uuid4().hex, conversation_id=f"rec-{i}",
                          channel="online_helper", complaint=complaint,
                          candidates=[Candidate(id="kb", question="q", category="跨省通办",
                                                score=0.9)])


def test_flush_mid_way_then_recover(ctx):
    r = ctx.redis
    a = make_helper(ctx.engine, "ha", [DEPT])
    b = make_helper(ctx.engine, "hb", [DEPT])
    for h in (a, b):
        duty.set_helper_status(h, "on_duty", cap=50, ctx=ctx)
    receipts = [request_handoff(_req(i, complaint=(i % 7 == 0)), ctx=ctx) for i in range(30)]
    talking = claims.claim_next_ticket(a, ctx=ctx)
    relay.send_helper_message(talking.id, a, "您好，我是帮办", ctx=ctx)
    relay.send_user_message(talking.conversation_id, "你好", ctx=ctx)
    resolved = claims.claim_next_ticket(a, ctx=ctx)
    closing.resolve_ticket(resolved.id, a, ctx=ctx)
    waiting_ids = {x.ticket_id for x in receipts} - {talking.id, resolved.id}

    r.flushall()  # Redis keeps nothing on disk here: this is a restart
    assert relay.get_mode(talking.conversation_id, ctx=ctx).mode == "human"
    r.flushall()

    report = recovery.recover(ctx)
    assert report.requeued == len(waiting_ids) and report.owned == 1
    assert report.modes_restored == len(waiting_ids) + 1
    assert report.outbox_published == 0 and not report.skipped
    again = recovery.recover(ctx)  # idempotent
    assert again.requeued == 0 and again.already_queued == len(waiting_ids)

    # modes: waiting users still wait, the user with a helper is still with the helper
    assert r.get(queue.mode_key(talking.conversation_id)) == f"human|{talking.id}"
    for x in receipts:
        if x.ticket_id in waiting_ids:
            with session_scope(ctx.engine) as s:
                conv = s.get(Ticket, x.ticket_id).conversation_id
            assert relay.get_mode(conv, ctx=ctx).mode == "waiting"
    # the conversation continues, the transcript is complete
    relay.send_user_message(talking.conversation_id, "还在吗", ctx=ctx)
    relay.send_helper_message(talking.id, a, "在的", ctx=ctx)
    texts = [m["text"] for m in relay.transcript(talking.conversation_id, ctx=ctx)]
    assert texts == ["您好，我是帮办", "你好", "还在吗", "在的"]
    # the helper holding a ticket was given grace, not swept away
    assert duty.sweep_gone_helpers(ctx=ctx) == []

    got = []
    while (t := claims.claim_next_ticket(b, ctx=ctx)):
        got.append(t)
    assert {t.id for t in got} == waiting_ids and len(got) == len(waiting_ids)
    flags = [t.priority for t in got]
    assert flags == sorted(flags, reverse=True) and sum(flags) == 3  # complaints 14, 21, 28 first


def test_recover_on_empty_redis_and_database_is_harmless(ctx):
    report = recovery.recover(ctx)
    assert (report.requeued, report.owned, report.skipped) == (0, 0, False)
    assert ctx.redis.exists(queue.queue_key("online_helper", DEPT, True))
    assert not recovery.ensure_recovered(ctx)  # marker set: nothing to do


def test_concurrent_recovery_is_skipped(ctx):
    ctx.redis.set(recovery.LOCK_KEY, "someone-else", px=300)
    report = recovery.recover(ctx, lock_timeout_s=1)
    assert report.skipped


def test_recover_publishes_what_the_outbox_kept(ctx, redis_down):
    down = ctx.replace(redis=redis_down)
    receipt = request_handoff(_req(1), ctx=down)  # committed; Redis never heard of it
    assert outbox.pending(ctx) > 0
    report = recovery.recover(ctx)
    assert report.outbox_published > 0 and outbox.pending(ctx) == 0
    assert report.requeued == 0 and report.already_queued == 1
    assert ctx.redis.xlen(queue.queue_key("online_helper", DEPT, False)) == 1
    assert relay.get_mode("rec-1", ctx=ctx).ticket_id == receipt.ticket_id


def test_redis_restart_under_a_running_gateway_heals_at_the_next_claim(ctx):
    r = ctx.redis
    recovery.recover(ctx)  # what start-up did
    receipts = [request_handoff(_req(100 + i), ctx=ctx) for i in range(5)]
    r.flushall()  # Redis restarts; the gateway keeps running and nobody calls recover()
    late = request_handoff(_req(200), ctx=ctx)
    helper = make_helper(ctx.engine, "hc", [DEPT])
    duty.set_helper_status(helper, "on_duty", cap=50, ctx=ctx)
    got = []
    while (t := claims.claim_next_ticket(helper, ctx=ctx)):
        got.append(t.id)
    # every ticket comes back once; the ones recovered keep their order among themselves (the
    # one queued after the restart is already in the stream, so it is not behind them)
    assert sorted(got) == sorted([x.ticket_id for x in receipts] + [late.ticket_id])
    assert [t for t in got if t != late.ticket_id] == [x.ticket_id for x in receipts]
