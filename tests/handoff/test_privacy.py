"""Phone masking (xiaobao.phone, one format everywhere) and the retention purge."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from handoff import claims, closing, left_messages, privacy, relay
from handoff.requests import request_handoff
from handoff.store import LeftMessage, Ticket, utcnow
from xiaobao import conversations
from xiaobao.db import session_scope
from xiaobao.phone import mask_phone, mask_phones_in, visible_phone

from .conftest import make_helper, on_duty, req


@pytest.mark.parametrize("raw,masked", [
    ("13812341234", "138****1234"), ("021-66781234", "021****1234"), ("", "")])
def test_mask_phone(raw, masked):
    assert mask_phone(raw) == masked


@pytest.mark.parametrize("raw,masked", [
    ("13812341234", "138****1234"), ("电话+86 138 1234 1234谢谢", "电话138****1234谢谢"),
    ("打021-66781234找我", "打021****1234找我"), ("订单号 2026112800001", "订单号 2026112800001")])
def test_mask_phones_in_text(raw, masked):
    assert mask_phones_in(raw) == masked


def test_visible_phone_only_for_the_holder():
    assert visible_phone("13812345678", "ha", "ha") == "13812345678"
    assert visible_phone("13812345678", "hb", "ha") == "138****5678"
    assert visible_phone("13812345678", None, None) == "138****5678"


def test_purge_expired_transcripts(ctx):
    helper = on_duty(ctx, "ha")
    with session_scope(ctx.engine) as s:
        conversations.append(s, "conv-old", "user", "很久以前的问题")
    old = request_handoff(req(conversation_id="conv-old", phone="13812345678"), ctx=ctx)
    claims.claim_next_ticket(helper, ctx=ctx)
    relay.send_helper_message(old.ticket_id, helper, "您好", ctx=ctx)
    closing.resolve_ticket(old.ticket_id, helper, ctx=ctx)
    with session_scope(ctx.engine) as s:
        conversations.append(s, "conv-live", "user", "正在排队的会话")
    live = request_handoff(req(conversation_id="conv-live"), ctx=ctx)
    left = left_messages.leave_message("conv-msg", "留言", phone="13912345678", ctx=ctx)
    left_messages.answer_message(left.id, make_helper(ctx.engine, "hc", [left.department]),
                                 "答复", ctx=ctx)
    report = privacy.purge_expired_transcripts(30, ctx=ctx,
                                               now=utcnow() + dt.timedelta(days=31))
    assert report["tickets"] == 1 and report["left_message_phones_cleared"] == 1
    Message = conversations.Message
    with session_scope(ctx.engine) as s:
        assert s.scalar(select(func.count()).select_from(Message)
                        .where(Message.ticket_id == old.ticket_id)) == 0
        # the bot-mode turn of a closed conversation goes too; the waiting one's stays
        assert s.scalar(select(func.count()).select_from(Message)
                        .where(Message.conversation_id == "conv-old")) == 0
        assert s.scalar(select(func.count()).select_from(Message)
                        .where(Message.conversation_id == "conv-live")) == 1
        assert s.get(Ticket, old.ticket_id).phone == ""
        assert s.get(Ticket, live.ticket_id).status == "queued"
        assert s.get(LeftMessage, left.id).phone == ""
    assert privacy.purge_expired_transcripts(30, ctx=ctx)["tickets"] == 0
