"""The outbox: committed changes survive Redis being down and are published exactly once when
it returns; the bot's hand-back is retried until the hook says done."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from handoff import claims, closing, outbox, queue, relay
from handoff.context import Returned
from handoff.outbox import OutboxRow
from handoff.requests import request_handoff
from handoff.store import ConversationMode, Ticket
from handoff.tickets import HandoffError
from xiaobao.db import session_scope

from .conftest import CROSS, ReturnRecorder, count_events, expire_outbox_claims, on_duty, req

NORMAL = queue.queue_key("online_helper", CROSS, False)


def rows(ctx, conversation_id=None) -> list[OutboxRow]:
    with session_scope(ctx.engine) as s:
        q = select(OutboxRow).order_by(OutboxRow.pk)
        if conversation_id is not None:
            q = q.where(OutboxRow.conversation_id == conversation_id)
        out = list(s.scalars(q))
        for row in out:
            s.expunge(row)
        return out


def test_request_with_redis_down_commits_and_waits_then_drains_once(ctx, r, redis_down):
    down = ctx.replace(redis=redis_down)
    receipt = request_handoff(req(conversation_id="conv-down"), ctx=down)
    assert receipt.created and receipt.status == "queued" and receipt.queue_position == 1
    with session_scope(ctx.engine) as s:
        assert s.get(Ticket, receipt.ticket_id).status == "queued"
        assert s.get(ConversationMode, "conv-down").mode == "waiting"
    assert count_events(ctx.engine, "handoff_requested", receipt.ticket_id) == 1
    assert sorted(row.kind for row in rows(ctx, "conv-down")) == ["enqueue", "mode"]
    assert not r.exists(NORMAL) and not r.exists(queue.mode_key("conv-down"))

    # Redis returns: the timer's drain publishes every row, once
    assert outbox.drain(ctx) == 2
    assert outbox.pending(ctx) == 0
    assert outbox.drain(ctx) == 0
    assert [f["ticket_id"] for _id, f in r.xrange(NORMAL)] == [receipt.ticket_id]
    assert r.get(queue.mode_key("conv-down")) == f"waiting|{receipt.ticket_id}"
    helper = on_duty(ctx, "h1")
    got = claims.claim_next_ticket(helper, ctx=ctx)
    assert got is not None and got.id == receipt.ticket_id
    assert claims.claim_next_ticket(helper, ctx=ctx) is None


def test_request_with_redis_down_and_helpers_on_duty_still_gets_its_receipt(ctx, redis_down):
    on_duty(ctx, "h1")
    receipt = request_handoff(req(), ctx=ctx.replace(redis=redis_down))
    assert receipt.created and receipt.helpers_on_duty == 0 and receipt.offer_message
    assert outbox.pending(ctx) == 2


def test_retried_request_after_redis_returns_publishes_what_waited_once(ctx, r, redis_down):
    first = req()
    a = request_handoff(first, ctx=ctx.replace(redis=redis_down))
    b = request_handoff(first, ctx=ctx)  # the bot retries once Redis answers again
    c = request_handoff(first, ctx=ctx)
    assert a.ticket_id == b.ticket_id == c.ticket_id and not b.created
    assert outbox.pending(ctx) == 0
    assert [f["ticket_id"] for _id, f in r.xrange(NORMAL)] == [a.ticket_id]


def test_changes_of_a_conversation_keep_their_order(ctx, r, redis_down):
    # queued then abandoned while Redis is down: once published, the mode is the last one
    down = ctx.replace(redis=redis_down)
    receipt = request_handoff(req(conversation_id="conv-order"), ctx=down)
    closing.abandon_ticket(receipt.ticket_id, ctx=down)
    kinds = [row.kind for row in rows(ctx, "conv-order")]
    assert kinds[:2] == ["mode", "enqueue"] and kinds[-1] == "returned"
    outbox.drain(ctx)
    assert r.get(queue.mode_key("conv-order")) == "bot|"
    assert not queue.is_enqueued(r, receipt.ticket_id)
    assert r.xlen(NORMAL) == 0  # enqueued, then released: nobody will be offered it
    assert [row.kind for row in rows(ctx, "conv-order")] == ["returned"]  # no hook here


def test_hook_saying_not_yet_is_retried_later(ctx):
    not_yet = ReturnRecorder(answer=False)
    c = ctx.replace(on_returned=not_yet)
    receipt = request_handoff(req(conversation_id="conv-hook"), ctx=c)
    closing.abandon_ticket(receipt.ticket_id, ctx=c)
    assert not_yet.calls == [Returned("conv-hook", receipt.ticket_id, "abandoned")]
    [row] = rows(ctx, "conv-hook")
    assert (row.kind, row.attempts) == ("returned", 1)
    assert outbox.drain(c) == 0  # backing off: not yet
    assert len(not_yet.calls) == 1

    expire_outbox_claims(ctx.engine)
    assert outbox.drain(c) == 0
    assert len(not_yet.calls) == 2
    [row] = rows(ctx, "conv-hook")
    assert row.attempts == 2

    def broken(_returned):
        raise RuntimeError("Rasa is restarting")

    expire_outbox_claims(ctx.engine)
    assert outbox.drain(ctx.replace(on_returned=broken)) == 0  # an error is a "not yet" too
    [row] = rows(ctx, "conv-hook")
    assert row.attempts == 3

    done = ReturnRecorder(answer=True)
    expire_outbox_claims(ctx.engine)
    assert outbox.drain(ctx.replace(on_returned=done)) == 1
    assert done.calls == [Returned("conv-hook", receipt.ticket_id, "abandoned")]
    assert rows(ctx, "conv-hook") == []
    assert outbox.drain(ctx.replace(on_returned=done)) == 0
    assert len(done.calls) == 1


def test_without_a_hook_the_hand_back_waits_for_a_gateway(ctx):
    receipt = request_handoff(req(conversation_id="conv-nohook"), ctx=ctx)
    closing.abandon_ticket(receipt.ticket_id, ctx=ctx)
    assert [row.kind for row in rows(ctx, "conv-nohook")] == ["returned"]
    assert outbox.drain(ctx) == 0  # nobody here can hand it back
    gateway = ReturnRecorder()
    assert outbox.drain(ctx.replace(on_returned=gateway)) == 1
    assert gateway.calls == [Returned("conv-nohook", receipt.ticket_id, "abandoned")]


def test_two_drains_at_once_publish_each_row_once(ctx, r, redis_down):
    down = ctx.replace(redis=redis_down)
    receipts = [request_handoff(req(), ctx=down) for _ in range(12)]
    for x in receipts[:6]:
        closing.abandon_ticket(x.ticket_id, ctx=down)
    waiting = outbox.pending(ctx)
    assert waiting == 12 * 2 + 6 * 4  # (mode, enqueue) each; (release, mode, relay, returned)

    hook = ReturnRecorder()
    gateway = ctx.replace(on_returned=hook)
    barrier = threading.Barrier(2)
    published, errors = [], []

    def go():
        try:
            barrier.wait()
            published.append(outbox.drain(gateway))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    pubsub = r.pubsub(ignore_subscribe_messages=True)
    pubsub.psubscribe(relay.relay_channel("*"))
    pubsub.get_message(timeout=1)
    threads = [threading.Thread(target=go) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert sum(published) == waiting and outbox.pending(ctx) == 0
    # each ticket entered its stream once; the abandoned ones were released again
    entries = [f["ticket_id"] for _id, f in r.xrange(NORMAL)]
    assert sorted(entries) == sorted(x.ticket_id for x in receipts[6:])
    # each abandoned conversation was handed back once and told once
    assert sorted(h.ticket_id for h in hook.calls) == sorted(x.ticket_id for x in receipts[:6])
    events = []
    while (m := pubsub.get_message(timeout=0.5)) is not None:
        events.append(m)
    pubsub.close()
    assert len(events) == 6


def test_a_refused_change_leaves_nothing_to_publish(ctx):
    receipt = request_handoff(req(), ctx=ctx)
    helper = on_duty(ctx, "h1")
    with pytest.raises(HandoffError):
        closing.resolve_ticket(receipt.ticket_id, helper, ctx=ctx)  # nobody holds it yet
    assert outbox.pending(ctx) == 0
    with session_scope(ctx.engine) as s:
        assert s.get(Ticket, receipt.ticket_id).status == "queued"
