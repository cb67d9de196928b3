"""留言咨询: leave a message (closing a waiting ticket), answer it once, find it on return, ask
for a 12345 call-back."""
from __future__ import annotations

import json

import pytest

from handoff import left_messages, relay
from handoff.requests import request_handoff
from handoff.store import Ticket
from handoff.tickets import HandoffError, NotAllowed
from xiaobao.db import session_scope

from .conftest import CENTRAL, CROSS, TAX, make_helper, req


def test_nobody_on_duty_suggests_a_message(ctx):
    receipt = request_handoff(req(), ctx=ctx)
    assert receipt.helpers_on_duty == 0 and receipt.offer_message


def test_leave_message_answer_and_find_it_on_return(ctx, r):
    receipt = request_handoff(req(conversation_id="conv-msg", visitor_id="v-1"), ctx=ctx)
    left = left_messages.leave_message("conv-msg", "营业执照地址变更要带什么？",
                                       phone="138 1234 5678", visitor_id="v-1", ctx=ctx)
    # the number is kept in its canonical form; the user who left it sees it whole
    assert left.department == CROSS and left.phone == "13812345678"
    with session_scope(ctx.engine) as s:
        assert s.get(Ticket, receipt.ticket_id).status == "abandoned"
    assert relay.get_mode("conv-msg", ctx=ctx).mode == "bot"
    helper = make_helper(ctx.engine, "ha", [CROSS])
    listed = left_messages.open_messages([CROSS], ctx=ctx)
    assert [m.id for m in listed] == [left.id] and listed[0].phone == "138****5678"
    outsider = make_helper(ctx.engine, "tax", [TAX])
    with pytest.raises(NotAllowed):
        left_messages.answer_message(left.id, outsider, "答复", ctx=ctx)
    pubsub = r.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(relay.relay_channel("conv-msg"))
    pubsub.get_message(timeout=1)
    answered = left_messages.answer_message(left.id, helper, "带上营业执照正本和新地址证明。",
                                            ctx=ctx)
    assert (answered.status, answered.answered_by) == ("answered", "ha")
    event = pubsub.get_message(timeout=2)
    pubsub.close()
    assert event and json.loads(event["data"])["type"] == "message_answered"
    with pytest.raises(HandoffError):
        left_messages.answer_message(left.id, helper, "再答一次", ctx=ctx)
    assert left_messages.open_messages([CROSS], ctx=ctx) == []
    back = left_messages.answers_for(visitor_id="v-1", ctx=ctx)
    assert [(m.status, m.answer) for m in back] == [("answered", "带上营业执照正本和新地址证明。")]
    callback = left_messages.request_callback(left.id, ctx=ctx)
    assert callback.call_id and callback.department == CROSS
    assert left_messages.request_callback(left.id, ctx=ctx).ticket_id == callback.ticket_id
    with session_scope(ctx.engine) as s:
        t = s.get(Ticket, callback.ticket_id)
        assert (t.channel, t.phone, t.request_id) == (
            "hotline_12345", "13812345678", left_messages.callback_request_id(left.id))


def test_message_without_a_ticket_goes_to_the_given_or_central_department(ctx):
    central = left_messages.leave_message("c1", "问题", ctx=ctx)
    assert central.department == CENTRAL
    tax = left_messages.leave_message("c2", "发票问题", department=TAX, ctx=ctx)
    assert tax.department == TAX
    with pytest.raises(HandoffError):
        left_messages.leave_message("c3", "问题", department="没有这个部门", ctx=ctx)


def test_bad_messages(ctx):
    with pytest.raises(HandoffError):
        left_messages.leave_message("c", "", ctx=ctx)
    with pytest.raises(HandoffError):
        left_messages.leave_message("c", "长" * 2001, ctx=ctx)
    with pytest.raises(HandoffError):
        left_messages.leave_message("c", "问题", phone="12345", ctx=ctx)
    with pytest.raises(HandoffError):  # not a number 12345 calls back
        left_messages.leave_message("c", "问题", phone="010-62345678", ctx=ctx)
    left = left_messages.leave_message("c", "问题", ctx=ctx)
    with pytest.raises(HandoffError):  # no phone, no call-back
        left_messages.request_callback(left.id, ctx=ctx)
    helper = make_helper(ctx.engine, "ha", [CENTRAL])
    with pytest.raises(HandoffError):
        left_messages.answer_message(left.id, helper, "   ", ctx=ctx)
    with pytest.raises(HandoffError):
        left_messages.answer_message("nope", helper, "答复", ctx=ctx)
