"""request_handoff: routing, idempotency, priority, validation; on a real Redis and SQL (SQLite,
and PostgreSQL when XIAOBAO_TEST_POSTGRES_URL is set)."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from handoff import claims, closing, outbox, queue, relay
from handoff.requests import HandoffRequest, request_handoff
from handoff.store import Call, ConversationMode, Ticket
from handoff.tickets import HandoffError
from xiaobao.db import session_scope

from .conftest import CENTRAL, CROSS, count_events, on_duty, req, stream_ticket_ids


def test_request_lands_on_its_department_stream(ctx, r):
    receipt = request_handoff(req(), ctx=ctx)
    assert receipt.created and receipt.status == "queued"
    assert receipt.department == CROSS
    assert receipt.queue_position == 1 and receipt.estimated_wait_s > 0
    # no intake stream: the ticket goes straight to its department's stream
    assert not r.keys("xiaobao:intake:*")
    assert stream_ticket_ids(r, queue.queue_key("online_helper", CROSS, False)) == \
        [receipt.ticket_id]
    assert queue.is_enqueued(r, receipt.ticket_id)
    with session_scope(ctx.engine) as s:
        t = s.get(Ticket, receipt.ticket_id)
        assert t.status == "queued" and t.context["intent"] == "ask_human"
        assert t.context["last_turns"] == [{"role": "user", "text": "我要转人工"}]
        conv = t.conversation_id
        assert s.get(ConversationMode, conv).mode == "waiting"
    assert count_events(ctx.engine, "handoff_requested") == 1
    assert relay.get_mode(conv, ctx=ctx).mode == "waiting"
    assert r.get(queue.mode_key(conv)) == f"waiting|{receipt.ticket_id}"
    assert outbox.pending(ctx) == 0  # everything published after the commit


def test_unknown_category_stays_at_central_desk(ctx):
    receipt = request_handoff(req(category="没有这个分类"), ctx=ctx)
    assert receipt.department == CENTRAL


def test_retried_request_and_second_request_make_one_ticket(ctx, r):
    first = req()
    a = request_handoff(first, ctx=ctx)
    b = request_handoff(first, ctx=ctx)
    c = request_handoff(req(conversation_id=first.conversation_id), ctx=ctx)
    assert a.ticket_id == b.ticket_id == c.ticket_id
    assert (a.created, b.created, c.created) == (True, False, False)
    with session_scope(ctx.engine) as s:
        assert s.scalar(select(func.count()).select_from(Ticket)) == 1
    assert r.xlen(queue.queue_key("online_helper", CROSS, False)) == 1


def test_concurrent_requests_for_one_conversation_make_one_ticket(ctx, r):
    conv = "conv-race"
    receipts, errors = [], []

    def go():
        try:
            receipts.append(request_handoff(req(conversation_id=conv), ctx=ctx))
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
    assert r.xlen(queue.queue_key("online_helper", CROSS, False)) == 1


def test_retry_after_redis_lost_the_entry_still_reaches_a_helper(ctx, r):
    # Redis losing its data is healed by recovery (the next claim runs it), not by the retry;
    # a Redis *failure* during the request is healed by the retry (see test_outbox).
    first = req()
    a = request_handoff(first, ctx=ctx)
    r.flushall()
    b = request_handoff(first, ctx=ctx)
    assert b.ticket_id == a.ticket_id and not b.created
    helper = on_duty(ctx, "h1")
    got = claims.claim_next_ticket(helper, ctx=ctx)
    assert got is not None and got.id == a.ticket_id


@pytest.mark.parametrize("bad", [
    {"channel": "fax"}, {"request_id": ""}, {"conversation_id": ""},
    {"summary": "长" * 2001}, {"phone": "1" * 40}, {"phone": "12345"},
    {"visitor_id": "v" * 97},
    # 12345 calls back a callable number only: none, a foreign number, a non-canonical form
    {"channel": "hotline_12345"}, {"channel": "hotline_12345", "phone": "010-62345678"},
    {"channel": "hotline_12345", "phone": "138 1234 5678"},
    {"channel": "hotline_12345", "phone": "12012345678"}])
def test_bad_requests_are_refused_clearly(ctx, bad):
    fields = {"request_id": "r1", "conversation_id": "c1", "channel": "online_helper"}
    fields.update(bad)
    with pytest.raises(HandoffError) as err:
        request_handoff(HandoffRequest(**fields), ctx=ctx)
    assert "/" in err.value.message  # Chinese, then English
    with session_scope(ctx.engine) as s:
        assert s.scalar(select(func.count()).select_from(Ticket)) == 0
    assert outbox.pending(ctx) == 0


def test_max_chars_comes_from_the_context(ctx):
    with pytest.raises(HandoffError):
        request_handoff(req(summary="长" * 11), ctx=ctx.replace(max_chars=10))
    assert request_handoff(req(summary="长" * 10), ctx=ctx.replace(max_chars=10)).created


@pytest.mark.parametrize("phone", ["13812345678", "021-62345678"])
def test_hotline_request_with_a_callable_phone_creates_the_call(ctx, r, phone):
    receipt = request_handoff(req(channel="hotline_12345", phone=phone), ctx=ctx)
    assert receipt.created and receipt.call_id
    assert stream_ticket_ids(r, queue.queue_key("hotline_12345", CROSS, False)) == \
        [receipt.ticket_id]
    with session_scope(ctx.engine) as s:
        call = s.get(Call, receipt.call_id)
        assert (call.ticket_id, call.phone) == (receipt.ticket_id, phone)


def test_priority_after_unresolved_and_for_complaints(ctx, r):
    helper = on_duty(ctx, "h1")
    conv = "conv-repeat"
    first = request_handoff(req(conversation_id=conv), ctx=ctx)
    normal = request_handoff(req(), ctx=ctx)
    got = claims.claim_next_ticket(helper, ctx=ctx)
    assert got.id == first.ticket_id
    closing.mark_unresolved(got.id, helper, "材料不全", ctx=ctx)
    again = request_handoff(req(conversation_id=conv), ctx=ctx)
    complaint = request_handoff(req(complaint=True), ctx=ctx)
    assert again.priority and complaint.priority and not normal.priority
    assert again.queue_position == 1 and complaint.queue_position == 2
    assert stream_ticket_ids(r, queue.queue_key("online_helper", CROSS, True)) == \
        [again.ticket_id, complaint.ticket_id]
    order = [claims.claim_next_ticket(helper, ctx=ctx).id for _ in range(3)]
    assert order == [again.ticket_id, complaint.ticket_id, normal.ticket_id]


def test_out_of_hours_request_is_queued_and_offers_a_message(ctx):
    import datetime as dt
    from zoneinfo import ZoneInfo

    sunday = dt.datetime(2026, 3, 15, 10, tzinfo=ZoneInfo("Asia/Shanghai"))
    on_duty(ctx, "h1")
    receipt = request_handoff(req(), ctx=ctx, now=sunday)
    assert receipt.status == "queued" and not receipt.in_service_hours
    assert receipt.helpers_on_duty == 1 and receipt.offer_message


def test_new_tickets_count_against_the_visitors_and_phones_limits(ctx):
    """3 new handoffs an hour per visitor, 2 call-backs a day per phone; a retry is free."""
    from xiaobao.limits import LimitExceeded

    limited = ctx.replace(handoffs_per_visitor_per_hour=2, callbacks_per_phone_per_day=1)
    first = req(conversation_id="conv-limit-1", visitor_id="visitor-x")
    request_handoff(first, ctx=limited)
    request_handoff(first, ctx=limited)  # the same request again: no cost
    closing.abandon_ticket(request_handoff(first, ctx=limited).ticket_id, ctx=limited)
    request_handoff(req(conversation_id="conv-limit-2", visitor_id="visitor-x"), ctx=limited)
    with pytest.raises(LimitExceeded) as err:
        request_handoff(req(conversation_id="conv-limit-3", visitor_id="visitor-x"), ctx=limited)
    assert err.value.status == 429 and err.value.retry_after_s > 0

    call = dict(channel="hotline_12345", phone="13812345678", time_window="明天上午")
    request_handoff(req(conversation_id="conv-call-1", visitor_id="v1", **call), ctx=limited)
    with pytest.raises(LimitExceeded):
        request_handoff(req(conversation_id="conv-call-2", visitor_id="v2", **call), ctx=limited)
