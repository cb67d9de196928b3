"""What consoles and users see: positions, overviews, my tickets, context packs (with the
conversation before the handoff), phone masking."""
from __future__ import annotations

import pytest

from handoff import claims, closing, relay, views
from handoff.requests import request_handoff
from handoff.store import Ticket
from handoff.tickets import NotAllowed, UnknownTicket
from xiaobao import conversations
from xiaobao.db import session_scope

from .conftest import CROSS, TAX, make_helper, on_duty, req


def test_positions_move_up_as_the_queue_moves(ctx):
    helper = on_duty(ctx, "h1")
    receipts = [request_handoff(req(), ctx=ctx) for _ in range(3)]
    assert [x.queue_position for x in receipts] == [1, 2, 3]
    with session_scope(ctx.engine) as s:
        last_conv = s.get(Ticket, receipts[2].ticket_id).conversation_id
    before = views.queue_position(last_conv, ctx=ctx)
    claims.claim_next_ticket(helper, ctx=ctx)
    after = views.queue_position(last_conv, ctx=ctx)
    assert (before.position, after.position) == (3, 2)
    assert after.estimated_wait_s < before.estimated_wait_s
    mine = views.queue_status(receipts[0].ticket_id, ctx=ctx)
    assert (mine.position, mine.estimated_wait_s, mine.helper) == (0, 0, "h1")
    assert views.queue_position("no-such-conversation", ctx=ctx) is None
    with pytest.raises(UnknownTicket):
        views.queue_status("nope", ctx=ctx)
    overview = {(q.channel, q.department): q for q in views.queue_overview([CROSS], ctx=ctx)}
    q = overview[("online_helper", CROSS)]
    assert (q.waiting, q.in_progress, q.helpers_on_duty) == (2, 1, 1)
    assert q.oldest_wait_s >= 0
    assert overview[("hotline_12345", CROSS)].waiting == 0
    everything = views.queue_overview(ctx=ctx)
    assert {q.department for q in everything} == set(ctx.config.departments)


def test_my_tickets(ctx):
    a, b = on_duty(ctx, "ha"), on_duty(ctx, "hb")
    receipts = [request_handoff(req(), ctx=ctx) for _ in range(2)]
    claims.claim_next_ticket(a, ctx=ctx)
    claims.claim_next_ticket(a, ctx=ctx)
    assert [t.id for t in views.my_tickets(a, ctx=ctx)] == [x.ticket_id for x in receipts]
    assert views.my_tickets(b, ctx=ctx) == []


def test_phone_is_masked_except_for_the_handling_helper(ctx):
    a, b = on_duty(ctx, "ha"), on_duty(ctx, "hb")
    receipt = request_handoff(req(phone="13812345678"), ctx=ctx)
    mine = claims.claim_next_ticket(a, ctx=ctx)
    assert mine.phone == "13812345678"
    assert views.context_pack(receipt.ticket_id, a, ctx=ctx)["ticket"]["phone"] == "13812345678"
    assert views.context_pack(receipt.ticket_id, b, ctx=ctx)["ticket"]["phone"] == \
        "138****5678"
    landline = request_handoff(req(phone="021-62345678"), ctx=ctx)
    assert views.context_pack(landline.ticket_id, b, ctx=ctx)["ticket"]["phone"] == \
        "021****5678"


def test_context_pack_refuses_other_departments_and_shows_supervisors(ctx):
    outsider = make_helper(ctx.engine, "tax", [TAX])
    supervisor = make_helper(ctx.engine, "sup", [], roles=("supervisor",))
    receipt = request_handoff(req(), ctx=ctx)
    with pytest.raises(NotAllowed):
        views.context_pack(receipt.ticket_id, outsider, ctx=ctx)
    pack = views.context_pack(receipt.ticket_id, supervisor, ctx=ctx)
    assert pack["ticket"]["id"] == receipt.ticket_id
    assert pack["intent"] == "ask_human"
    assert [c["id"] for c in pack["candidates"]] == ["kb-1", "kb-2"]


def test_context_pack_shows_bot_turns_then_live_turns_and_masks_phones(ctx):
    conv = "conv-pack"
    with session_scope(ctx.engine) as s:
        # an earlier, unrelated conversation's turn must not show
        conversations.append(s, "conv-other", "user", "别的会话")
        conversations.append(s, conv, "user", "跨省通办怎么办理？")
        conversations.append(s, conv, "bot", "您可以通过随申办申请跨省通办。")
        conversations.append(s, conv, "user", "我的电话是13812345678，转人工")
    receipt = request_handoff(req(conversation_id=conv, phone="13812345678"), ctx=ctx)
    a = on_duty(ctx, "ha", display_name="王帮办")
    colleague = on_duty(ctx, "hb")
    claims.claim_next_ticket(a, ctx=ctx)
    relay.send_helper_message(receipt.ticket_id, a, "您好，我是王帮办", ctx=ctx)
    relay.send_user_message(conv, "请打 021-62345678 或 13812345678 找我", ctx=ctx)
    pack = views.context_pack(receipt.ticket_id, a, ctx=ctx)
    turns = pack["transcript"]
    assert [(m["role"], m["text"]) for m in turns] == [
        ("user", "跨省通办怎么办理？"),
        ("bot", "您可以通过随申办申请跨省通办。"),
        ("user", "我的电话是13812345678，转人工"),
        ("helper", "您好，我是王帮办"),
        ("user", "请打 021-62345678 或 13812345678 找我")]
    assert [m["ticket_id"] for m in turns] == ["", "", "", receipt.ticket_id, receipt.ticket_id]
    assert [m["pk"] for m in turns] == sorted(m["pk"] for m in turns)
    assert (turns[3]["author"], turns[3]["author_name"]) == ("ha", "王帮办")
    assert set(turns[0]) == {"id", "pk", "role", "author", "author_name", "text", "ticket_id", "at"}

    seen_by_colleague = views.context_pack(receipt.ticket_id, colleague, ctx=ctx)["transcript"]
    assert [m["text"] for m in seen_by_colleague] == [
        "跨省通办怎么办理？",
        "您可以通过随申办申请跨省通办。",
        "我的电话是138****5678，转人工",
        "您好，我是王帮办",
        "请打 021****5678 或 138****5678 找我"]
    assert [m["pk"] for m in seen_by_colleague] == [m["pk"] for m in turns]

    # after the close, the bot's next turns belong to the conversation, not to this ticket
    closing.resolve_ticket(receipt.ticket_id, a, ctx=ctx)
    with session_scope(ctx.engine) as s:
        conversations.append(s, conv, "bot", "请您对本次服务进行评价")
    assert views.context_pack(receipt.ticket_id, a, ctx=ctx)["transcript"] == turns
    assert [m["text"] for m in relay.transcript(conv, ctx=ctx)][-1] == "请您对本次服务进行评价"
    assert [m["text"] for m in relay.transcript(ctx=ctx, ticket_id=receipt.ticket_id)] == [
        "您好，我是王帮办", "请打 021-62345678 或 13812345678 找我"]


ID_NUMBER = "110101199003074578"
CREDIT_CODE = "91310113MA1GL1234X"
PERSONAL = f"电话13812345678，身份证{ID_NUMBER}，公司代码{CREDIT_CODE}"
MASKED = "电话138****5678，身份证11**************78，公司代码91**************4X"


def test_a_non_holder_sees_the_tickets_recent_turns_and_transcript_masked(ctx):
    conv = "conv-personal"
    with session_scope(ctx.engine) as s:
        conversations.append(s, conv, "user", PERSONAL)
    receipt = request_handoff(req(conversation_id=conv, phone="13812345678",
                                  last_turns=[{"role": "user", "text": PERSONAL}]), ctx=ctx)
    a, b = on_duty(ctx, "ha"), on_duty(ctx, "hb")
    claims.claim_next_ticket(a, ctx=ctx)
    mine = views.context_pack(receipt.ticket_id, a, ctx=ctx)
    assert mine["ticket"]["context"]["last_turns"][0]["text"] == PERSONAL
    assert mine["transcript"][0]["text"] == PERSONAL
    theirs = views.context_pack(receipt.ticket_id, b, ctx=ctx)
    assert theirs["ticket"]["context"]["last_turns"][0]["text"] == MASKED
    assert theirs["transcript"][0]["text"] == MASKED
    for text in (str(theirs["ticket"]), str(theirs["transcript"])):
        assert "13812345678" not in text and ID_NUMBER not in text and CREDIT_CODE not in text
