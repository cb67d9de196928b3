"""1,000 tickets across 10 concurrent helpers: every one delivered once, none lost, FIFO
within a priority (on a private Redis and the test database)."""
from __future__ import annotations

import threading
import time
import uuid

from sqlalchemy import func, select

from handoff import claims, duty, outbox
from handoff.requests import Candidate, HandoffRequest, request_handoff
from handoff.store import Ticket, Transition
from xiaobao.db import session_scope

from .conftest import make_helper

DEPT = "区行政服务中心"


def test_thousand_tickets_ten_helpers(ctx):
    n, n_helpers = 1000, 10
    order: dict[str, tuple[int, int]] = {}  # ticket -> (priority rank, creation index)
    started = time.perf_counter()
    for i in range(n):
        complaint = i % 10 == 3  # 100 priority tickets interleaved with normal ones
        receipt = request_handoff(HandoffRequest(
            request_id=uuid.uuid4().hex, conversation_id=f"load-{i}", channel="online_helper",
            complaint=complaint,
            candidates=[Candidate(id="kb", question="q", category="跨省通办", score=0.9)]),
            ctx=ctx)
        order[receipt.ticket_id] = (0 if complaint else 1, i)
    created_s = time.perf_counter() - started

    helpers = []
    for k in range(n_helpers):
        h = make_helper(ctx.engine, f"load-h{k}", [DEPT])
        duty.set_helper_status(h, "on_duty", cap=n, ctx=ctx)
        helpers.append(h)
    claimed: dict[str, list[str]] = {h.username: [] for h in helpers}
    errors: list[BaseException] = []
    barrier = threading.Barrier(n_helpers)

    def work(h):
        try:
            barrier.wait()
            while (t := claims.claim_next_ticket(h, ctx=ctx)):
                claimed[h.username].append(t.id)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    started = time.perf_counter()
    threads = [threading.Thread(target=work, args=(h,)) for h in helpers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    claim_s = time.perf_counter() - started
    print(f"\n1000 tickets: created in {created_s:.1f}s, claimed by 10 helpers in {claim_s:.1f}s "
          f"({n / claim_s:.0f} tickets/s)")

    assert not errors, errors[:3]
    every = [tid for ids in claimed.values() for tid in ids]
    assert len(every) == n and set(every) == set(order)  # all delivered, none twice
    assert all(claimed.values()), "every helper should have had work"
    for ids in claimed.values():  # each helper's deliveries follow queue order
        keys = [order[tid] for tid in ids]
        assert keys == sorted(keys)
    with session_scope(ctx.engine) as s:
        assert s.scalar(select(func.count()).select_from(Ticket)
                        .where(Ticket.status == "claimed")) == n
        assert s.scalar(select(func.count()).select_from(Transition)
                        .where(Transition.to_status == "claimed")) == n
    assert outbox.pending(ctx) == 0  # every change was published
