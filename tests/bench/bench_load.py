"""Chat load benchmark: turns/s and p50/p95/p99 against concurrency on a real stack, with the
reconciliation of everything sent against the SQL record (tests/bench/load.py, reconcile.py).

``run(quick)``: full, concurrency 1, 5, 10 and 20 for 30 s each, saved as
``bench-results/throughput.json`` and the plot ``bench-results/throughput.png`` (the stack's
home, with its database, logs and the generator's ledger, in ``bench-results/stack/``); quick (the
gate in tests/bench/test_gates.py), 5 concurrent users for 20 s with more handoffs in the mix,
nothing saved.
"""
from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
from pathlib import Path

from tests.bench.load import HANDOFF_HEAVY, run_curve, summary_lines
from tests.bot.stack import REPO

RESULTS = REPO / "bench-results"
FULL_LEVELS, FULL_SECONDS = [1, 5, 10, 20], 30
QUICK_LEVELS, QUICK_SECONDS = [5], 20


def plot(result: dict, path: Path) -> None:
    """turns/s, and p50/p95/p99 latency, against concurrency; the knee marked."""
    import matplotlib

    matplotlib.use("Agg")  # no display: write the file only
    import matplotlib.pyplot as plt

    levels = result["levels"]
    x = [lv["concurrency"] for lv in levels]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    left.plot(x, [lv["turns_per_s"] for lv in levels], "o-", label="all turns")
    left.plot(x, [lv["bot_turns_per_s"] for lv in levels], "s--", label="bot turns")
    left.set(xlabel="concurrent conversations", ylabel="turns/s", title="Throughput",
             ylim=(0, None))
    for lv in levels:  # failed turns, where there were any
        failed = lv["errors_5xx"] + lv["no_response"]
        if failed:
            left.annotate(f"{failed} failed", (lv["concurrency"], lv["turns_per_s"]),
                          textcoords="offset points", xytext=(0, 8), ha="center",
                          color="firebrick", fontsize=8)
    for q, style in (("p50", "o-"), ("p95", "s-"), ("p99", "^-")):
        right.plot(x, [lv[f"{q}_ms"] for lv in levels], style, label=q)
    right.set(xlabel="concurrent conversations", ylabel="turn latency (ms, client side)",
              title="Latency", ylim=(0, None))
    knee = result.get("knee") or {}
    for ax in (left, right):
        if knee:
            ax.axvline(knee["concurrency"], color="grey", linestyle=":",
                       label=f"knee (c={knee['concurrency']})")
        ax.set_xticks(x)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(f"POST /api/chat/messages, realistic mix ({result['date']}, "
                 f"{result['commit']})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                          capture_output=True, text=True)
    return done.stdout.strip() or "unknown"


def run(quick: bool = False) -> dict:
    if quick:
        result = run_curve(QUICK_LEVELS, QUICK_SECONDS, mix=HANDOFF_HEAVY)
    else:
        # The stack's home stays (database, logs, ledger) to look into what the numbers say.
        shutil.rmtree(RESULTS / "stack", ignore_errors=True)
        result = run_curve(FULL_LEVELS, FULL_SECONDS, keep=RESULTS / "stack")
    result["date"] = dt.date.today().isoformat()
    result["commit"] = _commit()
    if not quick:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "throughput.json").write_text(
            json.dumps(result, ensure_ascii=False, indent=1), "utf-8")
        plot(result, RESULTS / "throughput.png")
    print("[bench_load]\n" + "\n".join(summary_lines(result))
          + f"\nknee: {result['knee']}; reconciliation: "
          f"{result['reconciliation']['discrepancies']} discrepancies, "
          f"{result['reconciliation']['after_errors']} more after failed requests")
    return result


if __name__ == "__main__":
    import sys

    print(json.dumps(run(quick="--quick" in sys.argv), ensure_ascii=False, indent=1))
