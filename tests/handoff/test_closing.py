"""Closing: who may close, what a closed ticket refuses, and what a close leaves behind (mode,
stream entry, calls). Every path's hand-back to the bot is in test_transitions."""
from __future__ import annotations

import pytest

from handoff import calls, claims, closing, queue, relay, transfer
from handoff.requests import request_handoff
from handoff.store import Call, ConversationMode, Ticket
from handoff.tickets import HandoffError, IllegalTransition, NotAllowed, TicketClosed, UnknownTicket
from xiaobao.db import session_scope

from .conftest import CENTRAL, CROSS, TAX, on_duty, req


def test_unknown_and_closed_ticket_ids(ctx):
    helper = on_duty(ctx, "h1")
    with pytest.raises(UnknownTicket):
        closing.resolve_ticket("nope", helper, ctx=ctx)
    receipt = request_handoff(req(), ctx=ctx)
    claims.claim_next_ticket(helper, ctx=ctx)
    closing.resolve_ticket(receipt.ticket_id, helper, "已解答", ctx=ctx)
    with pytest.raises(TicketClosed):
        closing.resolve_ticket(receipt.ticket_id, helper, ctx=ctx)
    with pytest.raises(TicketClosed):
        closing.mark_unresolved(receipt.ticket_id, helper, ctx=ctx)
    with pytest.raises(TicketClosed):
        closing.abandon_ticket(receipt.ticket_id, ctx=ctx)
    with pytest.raises(TicketClosed):
        transfer.transfer_ticket(receipt.ticket_id, helper, CENTRAL, ctx=ctx)


def test_resolve_returns_the_conversation_to_the_bot(ctx, r):
    helper = on_duty(ctx, "h1")
    receipt = request_handoff(req(), ctx=ctx)
    ticket = claims.claim_next_ticket(helper, ctx=ctx)
    relay.send_helper_message(ticket.id, helper, "您好", ctx=ctx)
    assert relay.get_mode(ticket.conversation_id, ctx=ctx).mode == "human"
    info = closing.resolve_ticket(receipt.ticket_id, helper, "已解答", ctx=ctx)
    assert (info.status, info.note) == ("resolved", "已解答") and info.closed_at is not None
    assert relay.get_mode(ticket.conversation_id, ctx=ctx).mode == "bot"
    assert r.get(queue.mode_key(ticket.conversation_id)) == "bot|"
    with session_scope(ctx.engine) as s:
        t = s.get(Ticket, receipt.ticket_id)
        assert t.open_conversation_id is None
        assert s.get(ConversationMode, t.conversation_id).mode == "bot"
    # the conversation may open a new ticket afterwards
    assert request_handoff(req(conversation_id=ticket.conversation_id), ctx=ctx).created


def test_only_the_holder_or_a_leader_of_the_department_closes(ctx):
    a, b = on_duty(ctx, "ha"), on_duty(ctx, "hb")
    other_leader = on_duty(ctx, "taxboss", depts=(TAX,), roles=("leader",))
    receipt = request_handoff(req(), ctx=ctx)
    claims.claim_next_ticket(a, ctx=ctx)
    for who in (b, other_leader):
        with pytest.raises(NotAllowed):
            closing.resolve_ticket(receipt.ticket_id, who, ctx=ctx)
        with pytest.raises(NotAllowed):
            closing.mark_unresolved(receipt.ticket_id, who, ctx=ctx)
    leader = on_duty(ctx, "boss", roles=("leader",))
    info = closing.mark_unresolved(receipt.ticket_id, leader, "转线下窗口", ctx=ctx)
    assert (info.status, info.helper) == ("unresolved", "ha")


def test_a_waiting_ticket_cannot_be_resolved_but_may_be_abandoned(ctx, r):
    helper = on_duty(ctx, "h1")
    receipt = request_handoff(req(), ctx=ctx)
    with pytest.raises(HandoffError):  # nobody holds it
        closing.resolve_ticket(receipt.ticket_id, helper, ctx=ctx)
    with pytest.raises(HandoffError):
        closing.close_ticket(receipt.ticket_id, "claimed", ctx=ctx, actor="x")
    assert closing.abandon_ticket(receipt.ticket_id, ctx=ctx).status == "abandoned"
    assert not queue.is_enqueued(r, receipt.ticket_id)  # its stream entry is gone
    assert claims.claim_next_ticket(helper, ctx=ctx) is None


def test_illegal_close_is_refused(ctx):
    receipt = request_handoff(req(), ctx=ctx)
    with pytest.raises(IllegalTransition):
        closing.close_ticket(receipt.ticket_id, "resolved", ctx=ctx, actor="cli",
                             expect=frozenset({"queued"}))


def test_closing_a_hotline_ticket_cancels_its_pending_call(ctx):
    receipt = request_handoff(req(channel="hotline_12345", phone="13812345678"), ctx=ctx)
    with session_scope(ctx.engine) as s:
        assert s.get(Call, receipt.call_id).status in ("requested", "scheduled")
    closing.abandon_ticket(receipt.ticket_id, ctx=ctx)
    assert calls.get_call(receipt.call_id, ctx=ctx).status == "cancelled"


def test_a_leader_closing_a_colleagues_ticket_sees_the_phone_masked(ctx):
    a = on_duty(ctx, "ha")
    leader = on_duty(ctx, "boss", depts=(CROSS,), roles=("leader",))
    receipt = request_handoff(req(phone="13812345678"), ctx=ctx)
    claims.claim_next_ticket(a, ctx=ctx)
    info = closing.resolve_ticket(receipt.ticket_id, leader, ctx=ctx)
    assert info.phone == "138****5678"
