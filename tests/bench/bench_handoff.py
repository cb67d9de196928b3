"""Handoff benchmark: request -> visible to a helper (p50/p95), claim throughput, request rate.

Runs on a private redis-server (never the shared one) and a temporary SQLite database.
``run(quick=True)`` is the small version.
"""
from __future__ import annotations

import importlib.util
import queue as queue_mod
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEPT = "区行政服务中心"


def _redis_server_class():
    spec = importlib.util.spec_from_file_location("handoff_test_conftest",
                                                  REPO / "tests" / "handoff" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.RedisServer, module.make_helper


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
    from handoff import dispatch
    from handoff.config import default_config
    from xiaobao.db import make_engine, upgrade

    RedisServer, make_helper = _redis_server_class()
    n_latency = 40 if quick else 300
    n_claim = 200 if quick else 1000
    helpers_n = 10
    config = default_config()
    results: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(Path(tmp))
        try:
            r = server.client()
            engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
            upgrade(engine)

            # 1. request -> visible: one helper waiting in a blocking claim
            watcher = make_helper(engine, "bench-watch", [DEPT])
            dispatch.set_helper_status(watcher, "on_duty", cap=10**6, engine=engine, redis=r,
                                       config=config)
            seen: queue_mod.Queue = queue_mod.Queue()
            stop = threading.Event()

            def watch():
                while not stop.is_set():
                    t = dispatch.claim_next_ticket(watcher, block_ms=500, engine=engine, redis=r,
                                                   config=config)
                    if t is not None:
                        seen.put((t.id, time.perf_counter()))

            thread = threading.Thread(target=watch, daemon=True)
            thread.start()
            time.sleep(0.2)
            latencies, request_s = [], []
            for i in range(n_latency):
                t0 = time.perf_counter()
                receipt = dispatch.request_handoff(_req(i), engine=engine, redis=r,
                                                   config=config)
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
                dispatch.request_handoff(_req(i), engine=engine, redis=r, config=config)
            helpers = []
            for k in range(helpers_n):
                h = make_helper(engine, f"bench-h{k}", [DEPT])
                dispatch.set_helper_status(h, "on_duty", cap=10**6, engine=engine, redis=r,
                                           config=config)
                helpers.append(h)
            counts = [0] * helpers_n
            barrier = threading.Barrier(helpers_n)

            def work(k):
                barrier.wait()
                while dispatch.claim_next_ticket(helpers[k], engine=engine, redis=r,
                                                 config=config):
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
        finally:
            server.stop()
    for key, value in results.items():
        print(f"handoff {key}: {value}")
    return results


if __name__ == "__main__":
    import sys

    run(quick="--quick" in sys.argv)
