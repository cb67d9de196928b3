"""Soak of the production layout (tests/deploy/layout.py: two gateways, two Rasa servers, one
Redis and database, nginx in front): a few conversations through nginx for some minutes,
gateway A killed half-way and started again, every error counted.

``run(quick)``: 1 minute (quick) or 10 minutes, 4 conversations. Reports turns, turns/s,
latency, errors by kind (and how many fell in the failover window), each conversation's
record checked against what it sent (a turn answered but missing from the history is "lost"),
and the processes' memory at the end.
"""
from __future__ import annotations

import collections
import tempfile
import threading
import time
from pathlib import Path

import httpx
import redis

from tests.bench import pct
from tests.bench.bench_bot import QUESTIONS
from tests.bot.stack import rss_mb
from tests.deploy.layout import Layout, start_layout
from xiaobao.conversations import conversation
from xiaobao.db import session_scope

CONVERSATIONS = 4


class Conversation(threading.Thread):
    """One visitor through nginx: a question, its answer, the next question."""

    def __init__(self, layout: Layout, index: int, stop: threading.Event) -> None:
        super().__init__(name=f"soak-{index}", daemon=True)
        self.layout, self.index, self.stop = layout, index, stop
        self.sent: list[str] = []
        self.latencies_ms: list[float] = []
        self.errors: list[tuple[float, str]] = []  # (when it was seen, kind)
        self.conversation_id = ""

    def run(self) -> None:
        client = self.layout.client(self.layout.public, timeout=60)
        try:
            client.get("/")
            turn = 0
            while not self.stop.is_set():
                text = QUESTIONS[(self.index + turn) % len(QUESTIONS)]
                turn += 1
                began = time.monotonic()
                try:
                    response = client.post("/api/chat/messages", json={"text": text})
                except httpx.HTTPError as exc:
                    self.errors.append((time.monotonic(), type(exc).__name__))
                    continue
                if response.status_code != 200:
                    self.errors.append((time.monotonic(), f"http_{response.status_code}"))
                    continue
                self.sent.append(text)
                self.conversation_id = response.json()["conversation_id"]
                self.latencies_ms.append((time.monotonic() - began) * 1000)
                if not response.json()["messages"]:
                    self.errors.append((time.monotonic(), "no_reply"))
            self.check_record()
        finally:
            client.close()

    def check_record(self) -> None:
        """Every answered message is in the record, in order ("lost" otherwise). A message
        whose request failed may be there too: it was written before the bot was asked."""
        engine = self.layout.engine()
        with session_scope(engine) as session:
            recorded = iter([m.text for m in conversation(session, self.conversation_id)
                             if m.role == "user"])
        engine.dispose()
        if not all(text in recorded for text in self.sent):  # a subsequence of the record
            self.errors.append((time.monotonic(), "lost"))


REDIS_STATS = ("total_commands_processed", "total_net_input_bytes", "total_net_output_bytes")


def redis_stats(layout: Layout) -> dict[str, int]:
    client = layout.redis.client()
    try:
        info = client.info("stats")
    finally:
        client.close()
    return {k: int(info[k]) for k in REDIS_STATS}


def tracker_sizes(layout: Layout) -> list[int]:
    """Bytes Redis uses for each Rasa tracker (``MEMORY USAGE``)."""
    trackers = redis.Redis(port=layout.redis.port, db=1)
    try:
        return [int(trackers.memory_usage(key) or 0)
                for key in trackers.scan_iter("xiaobao:tracker:*", count=1000)]
    finally:
        trackers.close()


def run(quick: bool = False) -> dict:
    minutes = 1 if quick else 10
    with tempfile.TemporaryDirectory() as tmp:
        layout = start_layout(Path(tmp))
        try:
            stop = threading.Event()
            talks = [Conversation(layout, i, stop) for i in range(CONVERSATIONS)]
            redis_before = redis_stats(layout)
            began = time.monotonic()
            for talk in talks:
                talk.start()
            time.sleep(minutes * 30)
            killed_at = time.monotonic()
            layout.kill_gateway("a")
            layout.start_gateway("a")
            layout.wait_gateway("a")
            back_at = time.monotonic()
            time.sleep(max(0.0, began + minutes * 60 - time.monotonic()))
            stop.set()
            for talk in talks:
                talk.join(120)
            wall_s = time.monotonic() - began
            redis_after = redis_stats(layout)
            trackers = tracker_sizes(layout)
            memory = {f"gateway_{n}": round(rss_mb(s.proc.pid)) for n, s in
                      layout.gateways.items()}
            memory.update({f"rasa_{n}": round(rss_mb(s.proc.pid)) for n, s in
                           layout.rasas.items()})
        finally:
            layout.stop()
    latencies = [ms for talk in talks for ms in talk.latencies_ms]
    errors = [e for talk in talks for e in talk.errors]
    report = {
        "start_s": round(layout.start_s, 1),
        "minutes": minutes, "conversations": CONVERSATIONS,
        "turns": len(latencies),
        "turns_per_s": round(len(latencies) / wall_s, 2),
        "turn_ms": {"p50": pct(latencies, 50), "p95": pct(latencies, 95)} if latencies else {},
        "errors": dict(collections.Counter(kind for _, kind in errors)),
        "errors_in_failover": sum(killed_at <= at <= back_at + 1 for at, _ in errors),
        "failover_restart_s": round(back_at - killed_at, 1),
        "rss_mb": memory,
        # Commands and bytes per turn: the figures that say when one Redis core is not enough.
        "redis_per_turn": {k: round((redis_after[k] - redis_before[k]) / max(1, len(latencies)),
                                    1) for k in REDIS_STATS},
        # Rasa keeps each conversation's tracker in Redis for record_exp (endpoints.yml, the
        # retention period): what it costs per turn sizes Redis's memory.
        "redis_trackers": {"count": len(trackers), "kb": round(sum(trackers) / 1024, 1),
                           "kb_per_turn": round(sum(trackers) / 1024 / max(1, len(latencies)),
                                                2)},
    }
    print(f"[bench_layout] {report['turns']} turns in {minutes} min "
          f"({report['turns_per_s']} turns/s), p50 {report['turn_ms'].get('p50')} ms "
          f"p95 {report['turn_ms'].get('p95')} ms; errors {report['errors']} "
          f"({report['errors_in_failover']} while gateway A restarted)")
    return report


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run(quick="--quick" in sys.argv), ensure_ascii=False, indent=1))
