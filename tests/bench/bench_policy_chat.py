"""政策体检 in the chat under load: the turn of a check-up at 5 conversations at once.

``run(quick)`` starts its own stack (tests/bot/stack.py: Redis, the gateway with its action
server, `rasa run` on the trained model, the policy seed) and stops it afterwards. Five
browsers (each its own visitor cookie) start a check-up ("我公司能享受哪些政策") at the same
moment and answer every question back to back through ``POST /api/chat/messages`` — a click
on an offered answer (its payload, as the portal sends it), else a typed date, code or number
— until the round's results arrive; then a new visitor. Every turn is timed at the client,
the gateway → Rasa → action → planner (with the priors the earlier answers taught it) →
reply path whole. Goal (issue 23): p95 ≤ 300 ms at 5 conversations on the 2 cores.
"""
from __future__ import annotations

import random
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.bench import pct
from tests.bot.stack import start_stack

CONVERSATIONS = 5
GOAL_P95_MS = 300
START = "我公司能享受哪些政策"
TYPED = {"date": "2019-06-18", "code": "C3921", "integer": "3", "number": "120", "text": "宝山区"}
MAX_TURNS = 12  # a round asks at most 5 questions; a bad answer is asked again


def _answer(prompt: dict, rnd: random.Random) -> str:
    """What a user sends to the question ``prompt``: one of its answers clicked (never
    不知道), else a typed value of the field's type."""
    offered = [b for b in prompt.get("buttons") or [] if b.get("title") != "不知道"]
    if offered:
        return rnd.choice(offered)["payload"]
    return TYPED.get(prompt["custom"]["field"]["type"], "不知道")


def _check_up(stack, rnd: random.Random, timings: list[float], lock: threading.Lock) -> dict:
    """One visitor's check-up round; returns what it saw."""
    user = stack.browser()
    try:
        text, questions = START, 0
        for _ in range(MAX_TURNS):
            t0 = time.perf_counter()
            response = user.post("/api/chat/messages", json={"text": text})
            elapsed = (time.perf_counter() - t0) * 1000
            response.raise_for_status()
            with lock:
                timings.append(elapsed)
            messages = response.json()["messages"]
            if any((m.get("custom") or {}).get("policy_result") for m in messages):
                return {"questions": questions, "finished": True}
            prompt = next((m for m in messages if (m.get("custom") or {}).get("field")), None)
            if prompt is None:
                return {"questions": questions, "finished": False}
            questions += 1
            text = _answer(prompt, rnd)
        return {"questions": questions, "finished": False}
    finally:
        user.close()


def measure(stack, rounds: int, seed: int = 23) -> dict:
    """``rounds`` check-ups for each of the 5 conversations, all at once."""
    timings: list[float] = []
    lock = threading.Lock()
    _check_up(stack, random.Random(0), [], lock)  # warm-up, untimed (first calls load lazily)
    start = threading.Barrier(CONVERSATIONS)

    def conversation(index: int) -> list[dict]:
        rnd = random.Random(seed * 100 + index)
        start.wait()
        return [_check_up(stack, rnd, timings, lock) for _ in range(rounds)]

    t0 = time.perf_counter()
    with ThreadPoolExecutor(CONVERSATIONS) as pool:
        rounds_seen = [r for rs in pool.map(conversation, range(CONVERSATIONS)) for r in rs]
    wall_s = time.perf_counter() - t0
    return {"conversations": CONVERSATIONS, "check_ups": len(rounds_seen),
            "finished": sum(r["finished"] for r in rounds_seen),
            "questions_per_check_up": round(statistics.mean(r["questions"]
                                                            for r in rounds_seen), 1),
            "turns": len(timings), "turns_per_s": round(len(timings) / wall_s, 1),
            "p50_ms": pct(timings, 50), "p95_ms": pct(timings, 95),
            "max_ms": round(max(timings), 1), "goal_p95_ms": GOAL_P95_MS}


def run(quick: bool = False) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        stack = start_stack(Path(tmp))
        try:
            report = measure(stack, 2 if quick else 10)
            report["rasa_start_s"] = round(stack.rasa_start_s, 1)
        finally:
            stack.stop()
    print(f"[bench_policy_chat] {report['turns']} check-up turns at {CONVERSATIONS} "
          f"conversations: p50 {report['p50_ms']} ms, p95 {report['p95_ms']} ms "
          f"(goal p95 ≤ {GOAL_P95_MS} ms), {report['turns_per_s']} turns/s")
    return report


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run(quick="--quick" in sys.argv), ensure_ascii=False, indent=1))
