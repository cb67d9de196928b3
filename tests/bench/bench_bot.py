"""Bot benchmark: NLU parse latency, full-turn latency (question → answer through the
action and the real retriever), and the Rasa server's start-up time and memory.

``run(quick)`` starts its own stack (tests/bot/stack.py: Redis, the action server,
`rasa run` on the trained model) and stops it afterwards.
"""
from __future__ import annotations

import statistics
import tempfile
import time
import uuid
from pathlib import Path

from tests.bench import pct
from tests.bot.stack import rss_mb, start_stack

QUESTIONS = [
    "营业执照丢了怎么补办", "新公司注册需要哪些材料", "增值税发票怎么申领", "公司怎么给员工交社保",
    "公积金缴存基数怎么调整", "食品经营许可证怎么申请", "稳岗补贴怎么领", "个体户怎么注销",
    "公司地址变更要带什么材料", "高新技术企业认定有什么条件",
]
PHRASES = QUESTIONS + ["你好", "转人工", "让12345给我回电话", "谢谢", "你是机器人吗",
                       "今天天气怎么样"]


def _timed_ms(fn) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def run(quick: bool = False) -> dict:
    rounds = 2 if quick else 10
    with tempfile.TemporaryDirectory() as tmp:
        stack = start_stack(Path(tmp))
        try:
            idle_mb = rss_mb(stack.rasa_proc.pid)
            for text in PHRASES[:3]:  # warm-up: first calls load lazily
                stack.parse(text)
            stack.say(f"bench-warm-{uuid.uuid4().hex[:6]}", QUESTIONS[0])
            parse_ms = [_timed_ms(lambda t=t: stack.parse(t))
                        for _ in range(rounds) for t in PHRASES]
            turn_ms = [_timed_ms(lambda q=q: stack.say(f"bench-{uuid.uuid4().hex[:8]}", q))
                       for _ in range(rounds) for q in QUESTIONS]
            report = {
                "rasa_start_s": round(stack.rasa_start_s, 1),
                "rasa_rss_mb_idle": round(idle_mb),
                "rasa_rss_mb_after": round(rss_mb(stack.rasa_proc.pid)),
                "parse_ms": {"n": len(parse_ms), "p50": pct(parse_ms, 50),
                             "p95": pct(parse_ms, 95),
                             "mean": round(statistics.mean(parse_ms), 1)},
                "turn_ms": {"n": len(turn_ms), "p50": pct(turn_ms, 50), "p95": pct(turn_ms, 95),
                            "mean": round(statistics.mean(turn_ms), 1)},
            }
        finally:
            stack.stop()
    print(f"[bench_bot] rasa start {report['rasa_start_s']} s, "
          f"RSS {report['rasa_rss_mb_idle']} MB idle "
          f"/ {report['rasa_rss_mb_after']} MB after; parse p50 {report['parse_ms']['p50']} ms "
          f"p95 {report['parse_ms']['p95']} ms; full turn p50 {report['turn_ms']['p50']} ms "
          f"p95 {report['turn_ms']['p95']} ms")
    return report


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run(quick="--quick" in sys.argv), ensure_ascii=False, indent=1))
