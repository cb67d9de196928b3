"""A turn's cost against the turn's number: long conversations through the gateway.

Rasa's own Redis store read, merged (O(n²)) and wrote the whole tracker on every turn, so the
50th turn cost ~9× the first (77 → 715 ms p50, one conversation, 2026-12-07); the store now
keeps a window (bot/tracker_window.py). Two runs on one stack (tests/bot/stack.py):
one conversation alone, and ``CONVERSATIONS`` at once, each its own browser, back to back;
p50 per block of five turns, and turns/s of the concurrent run.
"""
from __future__ import annotations

import statistics
import tempfile
import threading
import time
from pathlib import Path

from tests.bench import pct
from tests.bench.bench_bot import QUESTIONS
from tests.bot.stack import BotStack, start_stack

CONVERSATIONS = 10
BLOCK = 5


def conversation(stack: BotStack, turns: int, offset: int, out: list[float]) -> None:
    """One browser: ``turns`` questions back to back; each turn's latency (ms) into ``out``."""
    client = stack.browser()
    for i in range(turns):
        began = time.perf_counter()
        client.post("/api/chat/messages",
                    json={"text": QUESTIONS[(offset + i) % len(QUESTIONS)]}).raise_for_status()
        out.append((time.perf_counter() - began) * 1000)


def by_block(runs: list[list[float]]) -> dict[str, float]:
    """p50 (ms) of each block of five turns, over every conversation."""
    turns = min(len(r) for r in runs)
    return {f"{b + 1}-{b + BLOCK}": round(statistics.median(
        [ms for r in runs for ms in r[b:b + BLOCK]]), 1) for b in range(0, turns, BLOCK)}


def run(quick: bool = False) -> dict:
    turns, many = (20, 4) if quick else (50, CONVERSATIONS)
    stack = start_stack(Path(tempfile.mkdtemp(prefix="xiaobao-turns-")))
    try:
        alone: list[float] = []
        conversation(stack, turns, 0, alone)
        runs: list[list[float]] = [[] for _ in range(many)]
        threads = [threading.Thread(target=conversation, args=(stack, turns, i, runs[i]))
                   for i in range(many)]
        began = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - began
    finally:
        stack.stop()
    blocks = by_block([alone])
    first, last = list(blocks.values())[0], list(blocks.values())[-1]
    result = {
        "turns": turns, "alone_p50_by_turn_ms": blocks,
        "alone_last_over_first": round(last / first, 2),
        "concurrent": {"conversations": many, "turns_per_s": round(many * turns / wall, 1),
                       "p50_by_turn_ms": by_block(runs),
                       "p95_ms": round(pct([ms for r in runs for ms in r], 95), 1)},
    }
    print(f"[bench_turns] alone, p50 by turn: {blocks} "
          f"(last/first {result['alone_last_over_first']}); {many} at once: "
          f"{result['concurrent']['turns_per_s']} turns/s, "
          f"p50 by turn {result['concurrent']['p50_by_turn_ms']}")
    return result


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run(quick="--quick" in sys.argv), ensure_ascii=False, indent=1))
