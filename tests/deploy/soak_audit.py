"""The soak's audit and its table (tests/bench/soak.py): the clients' own logs against the
record (the database, Redis's queues and ``xiaobao report``)."""
from __future__ import annotations

import datetime as dt
import io
import json
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from handoff import queue
from handoff.store import Ticket
from handoff.tickets import FINAL_STATES, OWNED_STATES, WAITING_STATES
from tests.bench.load import Ledger
from tests.bench.reconcile import reconcile
from tests.bot.stack import REPO, XIAOBAO
from tests.deploy.layout import Layout
from xiaobao.db import session_scope

GRACE_S = 15.0  # errors are allowed from a fault's start until its component is back + this
SHANGHAI = dt.timezone(dt.timedelta(hours=8))
RECOVERY_BUDGET_S = 15.0
LOST_WORDS = ("missing", "is not recorded", "0 recorded", "never given")
DUPLICATE_WORDS = ("twice", "unexpected", "recorded 2", "recorded 3", "never sent")


@dataclass
class Fault:
    kind: str  # gateway | rasa | redis | notifier | postgres
    target: str
    start: float
    back: float | None = None  # the component itself back (restarted, promoted)
    promoted_s: float | None = None  # redis: the Sentinels named the replica
    served_s: float | None = None  # the first client success that started after the fault

    @property
    def back_s(self) -> float | None:
        return None if self.back is None else round(self.back - self.start, 1)

    @property
    def recovery_s(self) -> float | None:
        """What the clients saw: the promotion for Redis, else the first success after it."""
        return self.promoted_s if self.kind == "redis" else self.served_s

    def covers(self, at: float) -> bool:
        return self.start <= at <= (self.back or time.monotonic()) + GRACE_S


@dataclass
class Errors:
    """Client-visible errors, (when, who, kind), from every thread."""

    seen: list[tuple[float, str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, who: str, kind: str) -> None:
        with self.lock:
            self.seen.append((time.monotonic(), who, kind))


def _find(tree: Any, key: str) -> Any:
    """The first value of ``key`` anywhere in a JSON tree."""
    if isinstance(tree, dict):
        if key in tree:
            return tree[key]
        tree = list(tree.values())
    if isinstance(tree, list):
        for item in tree:
            found = _find(item, key)
            if found is not None:
                return found
    return None


def reported_ratings(layout: Layout) -> int:
    """The ratings ``xiaobao report`` counts (满意率's denominator) over today and yesterday."""
    today = dt.datetime.now(SHANGHAI).date()
    out = subprocess.run([str(XIAOBAO), "report", "--from", str(today - dt.timedelta(days=1)),
                          "--to", str(today), "--json"], cwd=REPO, env=layout.gateway_env("a"),
                         capture_output=True, text=True, timeout=120, check=True).stdout
    found = _find(json.loads(out), "satisfaction_rate")
    return int(found["denominator"]) if found else 0


def stuck_tickets(layout: Layout) -> list[str]:
    """Tickets in no final state without an owner (claimed, in conversation: a helper) or a
    timer (waiting: its entry in the Redis queue, which the wait timer and the claims read)."""
    engine = layout.engine()
    with session_scope(engine) as s:
        tickets = [(t.id, t.status, t.helper) for t in s.scalars(select(Ticket))]
    engine.dispose()
    r = layout.redis.client()
    try:
        stuck = []
        for ticket_id, status, helper in tickets:
            if status in FINAL_STATES:
                continue
            if status in OWNED_STATES and helper:
                continue
            if status in WAITING_STATES and r.exists(queue.ticket_key(ticket_id)):
                continue
            stuck.append(f"{ticket_id} {status} helper={helper!r}")
        return stuck
    finally:
        r.close()


def audit(layout: Layout, ledger: Ledger, seen: list[tuple[float, str, str]], faults: list,
          edits: list[dict], began: float) -> dict:
    """Every figure of the table, and ``failures``: what broke a promise (empty when none)."""
    rec = reconcile(ledger, layout.db_url)
    problems = rec["examples"] + rec["after_error_examples"]
    lost = [p for p in problems if any(w in p for w in LOST_WORDS)]
    duplicated = [p for p in problems if p not in lost and any(w in p for w in DUPLICATE_WORDS)]
    turn_errors = [(t.started_s + t.ms / 1000, "visitor",
                    f"http {t.status}" if t.status else "no answer")
                   for t in ledger.turns if t.status != 200]
    errors = sorted([*seen, *turn_errors])
    outside = [e for e in errors if not any(f.covers(e[0]) for f in faults)]
    for fault in faults:  # the first client success that started after the fault
        after = [t.started_s + t.ms / 1000 for t in ledger.turns
                 if t.status == 200 and t.started_s >= fault.start]
        fault.served_s = round(min(after) - fault.start, 2) if after else None
    acknowledged = [e for e in edits if e["acknowledged"]]
    unanswered = [e["marker"] for e in acknowledged
                  if set(e["answered_by"]) != set(layout.gateways)]
    ratings_acknowledged = {(r.conversation_id, r.ticket_id) for r in ledger.ratings if r.asked}
    in_report = reported_ratings(layout)
    stuck = stuck_tickets(layout)
    slow = [f for f in faults if f.recovery_s is None or f.recovery_s > RECOVERY_BUDGET_S]
    failures = ([f"lost: {p}" for p in lost] + [f"duplicated: {p}" for p in duplicated]
                + [f"discrepancy: {p}" for p in problems if p not in lost + duplicated]
                + [f"stuck ticket {s}" for s in stuck]
                + [f"edit {m} not answered by every gateway" for m in unanswered]
                + [f"error outside every fault window at +{e[0] - began:.1f} s: {e[1]} {e[2]}"
                   for e in outside]
                + [f"{f.kind} {f.target}: recovery {f.recovery_s} s" for f in slow])
    if in_report < len(ratings_acknowledged):
        failures.append(f"ratings: {len(ratings_acknowledged)} acknowledged, {in_report} in "
                        "xiaobao report")
    return {
        "faults": [{"kind": f.kind, "target": f.target, "at_s": round(f.start - began, 1),
                    "back_s": f.back_s, "promoted_s": f.promoted_s, "recovery_s": f.recovery_s}
                   for f in faults],
        "turns": len(ledger.turns), "turns_ok": sum(t.status == 200 for t in ledger.turns),
        "handoffs": len(ledger.receipts), "helper_messages": len(ledger.helper_messages),
        "ratings_acknowledged": len(ratings_acknowledged), "ratings_in_report": in_report,
        "edits": len(edits), "edits_acknowledged": len(acknowledged),
        "edits_unanswered": len(unanswered), "lost": len(lost), "duplicated": len(duplicated),
        "discrepancies": rec["discrepancies"] + rec["after_errors"], "stuck_tickets": len(stuck),
        "errors": dict(Counter(f"{who}: {kind}" for _t, who, kind in errors)),
        "error_times_s": [round(e[0] - began, 1) for e in errors],
        "errors_outside_windows": len(outside), "reconcile_counts": rec["counts"],
        "failures": failures,
    }


def table(result: dict, title: str = "soak") -> str:
    """The printed table (rich), also returned as text for docs/operations.md."""
    console = Console(record=True, width=110, file=io.StringIO())  # printed by the caller
    faults = Table(title=f"{title}: faults injected ({len(result['faults'])})")
    for column in ("fault", "at (s)", "back (s)", "promoted (s)", "clients served again (s)"):
        faults.add_column(column)
    for f in result["faults"]:
        faults.add_row(f"{f['kind']} {f['target']}", str(f["at_s"]), str(f["back_s"]),
                       str(f["promoted_s"] or "—"), str(f["recovery_s"]))
    if not result.get("postgres"):
        faults.add_row("PostgreSQL: not run", "—", "—", "—", "—")
    figures = Table(title=f"{title}: {result.get('minutes')} min, audit")
    figures.add_column("figure")
    figures.add_column("value")
    for key in ("turns", "turns_ok", "handoffs", "helper_messages", "ratings_acknowledged",
                "ratings_in_report", "edits", "edits_acknowledged", "edits_unanswered", "lost",
                "duplicated", "discrepancies", "stuck_tickets", "errors_outside_windows"):
        figures.add_row(key, str(result[key]))
    figures.add_row("errors by kind", ", ".join(f"{k} ×{n}" for k, n in result["errors"].items())
                    or "none")
    figures.add_row("errors at (s)", " ".join(map(str, result["error_times_s"])) or "—")
    figures.add_row("machine", f"{result.get('cpus')} cores, load {result.get('loadavg')}")
    console.print(faults)
    console.print(figures)
    return console.export_text()
