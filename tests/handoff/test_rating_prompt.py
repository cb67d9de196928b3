"""The asking of a closed ticket's 好差评 question, once (handoff/rating_prompt.py), on SQLite
and PostgreSQL: the lease, its expiry, the mark, the release. The gateway's hand-back on every
closing path: tests/api/test_rating_prompt.py."""
from __future__ import annotations

import datetime as dt

from handoff import claims, closing, rating_prompt
from handoff.requests import request_handoff
from xiaobao.clock import utcnow
from xiaobao.db import session_scope

from .conftest import on_duty, req


def closed_ticket(ctx) -> str:
    helper = on_duty(ctx, "h1")
    receipt = request_handoff(req(), ctx=ctx)
    claims.claim_next_ticket(helper, ctx=ctx)
    closing.resolve_ticket(receipt.ticket_id, helper, "已解答", ctx=ctx)
    return receipt.ticket_id


def test_one_asks_others_wait_then_find_it_done(ctx):
    ticket_id = closed_ticket(ctx)
    assert not rating_prompt.asked(ticket_id, ctx=ctx)
    assert rating_prompt.claim(ticket_id, ctx=ctx) == rating_prompt.ASK
    assert rating_prompt.claim(ticket_id, ctx=ctx) == rating_prompt.BUSY
    with session_scope(ctx.engine) as s:
        rating_prompt.mark_asked(s, ticket_id)
    assert rating_prompt.asked(ticket_id, ctx=ctx)
    assert rating_prompt.claim(ticket_id, ctx=ctx) == rating_prompt.DONE
    rating_prompt.release(ticket_id, ctx=ctx)  # asked stays asked
    assert rating_prompt.claim(ticket_id, ctx=ctx) == rating_prompt.DONE


def test_a_lease_runs_out_and_a_release_frees_it_at_once(ctx):
    ticket_id = closed_ticket(ctx)
    assert rating_prompt.claim(ticket_id, ctx=ctx) == rating_prompt.ASK
    later = utcnow() + dt.timedelta(seconds=rating_prompt.LEASE_S - 5)
    assert rating_prompt.claim(ticket_id, ctx=ctx, now=later) == rating_prompt.BUSY
    expired = utcnow() + dt.timedelta(seconds=rating_prompt.LEASE_S + 5)
    assert rating_prompt.claim(ticket_id, ctx=ctx, now=expired) == rating_prompt.ASK
    rating_prompt.release(ticket_id, ctx=ctx)
    assert rating_prompt.claim(ticket_id, ctx=ctx) == rating_prompt.ASK


def test_a_ticket_that_is_gone_has_nothing_to_ask(ctx):
    assert rating_prompt.claim("no-such-ticket", ctx=ctx) == rating_prompt.DONE
    assert not rating_prompt.asked("no-such-ticket", ctx=ctx)
