"""Handoff benchmark: request -> visible to a helper (p50/p95), claim throughput, request rate.

Runs on a private redis-server (never the shared one) and a temporary SQLite database.
``run(quick=True)`` is the small version.
"""
from __future__ import annotations

import queue as queue_mod
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path

DEPT = "区行政服务中心"


def _helper(engine, username: str, departments: list[str]):
    """An on-duty-able helper account row (no password needed by the queue)."""
    from xiaobao.accounts import Account
    from xiaobao.db import session_scope

    with session_scope(engine) as s:
        account = Account(username=username, display_name=username, password_hash="x",
                          roles=["helper"], departments=list(departments), active=True)
        s.add(account)
        s.flush()
        s.expunge(account)
    return account


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def _req(i: int):
    from handoff.requests import Candidate, HandoffRequest

    return HandoffRequest(request_id=uuid.uuid4().hex, conversation_id=f"bench-{uuid.uuid4().hex}",
                          channel="online_helper", topic=f"问题{i}",
                          candidates=[Candidate(id="kb", question="q", category="跨省通办",
                                                score=0.9)])


def run(quick: bool = False) -> dict:
    from handoff.claims import claim_next_ticket
    from handoff.config import packaged_config
    from handoff.context import HandoffContext
    from handoff.duty import set_helper_status
    from handoff.requests import request_handoff
    from tests.redis_server import RedisServer
    from xiaobao.db import make_engine, upgrade

    n_latency = 40 if quick else 300
    n_claim = 200 if quick else 1000
    helpers_n = 10
    results: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(Path(tmp))
        try:
            r = server.client()
            engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
            upgrade(engine)
            # No abuse limits (the default of a bare context; stated here): every request of a
            # load test comes from one place.
            ctx = HandoffContext(engine=engine, redis=r, config=packaged_config(),
                                 handoffs_per_visitor_per_hour=0, callbacks_per_phone_per_day=0)

            # 1. request -> visible: one helper waiting in a blocking claim
            watcher = _helper(engine, "bench-watch", [DEPT])
            set_helper_status(watcher, "on_duty", cap=10**6, ctx=ctx)
            seen: queue_mod.Queue = queue_mod.Queue()
            stop = threading.Event()

            def watch():
                while not stop.is_set():
                    t = claim_next_ticket(watcher, block_ms=500, ctx=ctx)
                    if t is not None:
                        seen.put((t.id, time.perf_counter()))

            thread = threading.Thread(target=watch, daemon=True)
            thread.start()
            time.sleep(0.2)
            latencies, request_s = [], []
            for i in range(n_latency):
                t0 = time.perf_counter()
                receipt = request_handoff(_req(i), ctx=ctx)
                request_s.append(time.perf_counter() - t0)
                ticket_id, t1 = seen.get(timeout=10)
                assert ticket_id == receipt.ticket_id
                latencies.append((t1 - t0) * 1000)
            stop.set()
            thread.join(5)
            results["request_to_visible_ms_p50"] = round(statistics.median(latencies), 1)
            results["request_to_visible_ms_p95"] = round(_pct(latencies, 95), 1)
            results["request_handoff_ms_p50"] = round(statistics.median(request_s) * 1000, 1)

            # 2. claim throughput: n_claim waiting tickets, 10 helpers at once
            for i in range(n_claim):
                request_handoff(_req(i), ctx=ctx)
            helpers = []
            for k in range(helpers_n):
                h = _helper(engine, f"bench-h{k}", [DEPT])
                set_helper_status(h, "on_duty", cap=10**6, ctx=ctx)
                helpers.append(h)
            counts = [0] * helpers_n
            barrier = threading.Barrier(helpers_n)

            def work(k):
                barrier.wait()
                while claim_next_ticket(helpers[k], ctx=ctx):
                    counts[k] += 1

            started = time.perf_counter()
            threads = [threading.Thread(target=work, args=(k,)) for k in range(helpers_n)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.perf_counter() - started
            assert sum(counts) == n_claim, (sum(counts), n_claim)
            results["claim_tickets"] = n_claim
            results["claim_throughput_per_s"] = round(n_claim / elapsed, 1)
            results["claim_helpers"] = helpers_n
            engine.dispose()
            r.close()
        finally:
            server.stop()
    for key, value in results.items():
        print(f"handoff {key}: {value}")
    return results


if __name__ == "__main__":
    import sys

    run(quick="--quick" in sys.argv)
