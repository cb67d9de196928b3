"""`make bench`: every benchmark in one run, full size, printed as one report."""
from __future__ import annotations

import json
import sys
import time

from tests.bench import (
    bench_bot,
    bench_faq_peer,
    bench_handoff,
    bench_kb,
    bench_layout,
    bench_load,
    bench_policies,
    bench_policy_batch,
    bench_policy_chat,
    bench_retrieval,
    bench_turns,
)

BENCHES = {"retrieval": bench_retrieval, "kb": bench_kb, "handoff": bench_handoff,
           "bot": bench_bot, "load": bench_load, "layout": bench_layout,
           # faq_peer: Rasa's ResponseSelector FAQ, edit → answer
           "faq_peer": bench_faq_peer, "policies": bench_policies,
           # the chat turn of a 政策体检 at 5 conversations (its own stack)
           "policy_chat": bench_policy_chat,
           # every policy over the register, the impact view, one changed enterprise, Dask
           "policy_batch": bench_policy_batch,
           # a turn's cost against its number (the tracker's window), alone and 10 at once
           "turns": bench_turns}


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    only = [a for a in argv if not a.startswith("--")] or list(BENCHES)
    report = {}
    for name in only:
        t0 = time.perf_counter()
        print(f"== {name} ...", file=sys.stderr, flush=True)
        report[name] = BENCHES[name].run(quick=quick)
        report[name]["bench_wall_s"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(report, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
