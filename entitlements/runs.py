"""One batch run: every published policy over the register (or the enterprises whose facts
changed), turned into the departments' 免申即享 work items and the notifications to push.

A pair that is 免申即享-ready (decided true from authoritative, fresh facts) becomes a work
item for the policy's department and is notified only after the department confirms it; any
other eligible pair is told it may apply, a possible pair is invited to a check-up. Work items
and notifications are keyed by enterprise and policy *version*, so running twice, retrying or
restarting adds nothing: only what is new since the last run is created.
"""
from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from enterprises.register import records
from entitlements.errors import EntitlementError
from entitlements.models import BatchRun, WorkItem
from notifications.models import ELIGIBLE as NOTIFY_ELIGIBLE
from notifications.models import POSSIBLE as NOTIFY_POSSIBLE
from notifications.outbox import NotificationItem, enqueue
from policies.batch import BatchResult, batch
from policies.facts import fact_json
from policies.store import published_policies, published_versions
from xiaobao.clock import today, utcnow


@dataclass
class RunSummary:
    run_id: int
    day: str
    enterprises: int
    policies: int
    eligible: int
    possible: int
    work_items: int  # new
    notifications: int  # new
    result: BatchResult | None = field(default=None, repr=False)  # the pairs themselves

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if k != "result"}


def published_for_run(session: Session, policy_id: str | None = None) -> list[tuple[Any, dict]]:
    """(Policy, stored item) of the published policies, or only ``policy_id`` (404 if it is
    not published)."""
    pairs = list(published_policies(session))
    if policy_id is not None:
        pairs = [(p, d) for p, d in pairs if p.id == policy_id]
        if not pairs:
            raise EntitlementError(f"没有已发布的政策：{policy_id[:60]}。 / No published policy "
                                   "with this id.", status=404, code="policy_not_found")
    return pairs


def evaluate(session: Session, day: dt.date, policy_id: str | None = None,
             usccs: Iterable[str] | None = None) -> tuple[BatchResult, dict[str, dict]]:
    """The batch result over the register (or ``usccs`` only) and each policy's stored item."""
    pairs = published_for_run(session, policy_id)
    rows = list(records(session, day, usccs=None if usccs is None else sorted(set(usccs))))
    return batch(rows, [p for p, _ in pairs], day), {p.id: d for p, d in pairs}


def _why(result: BatchResult, uscc: str, policy_id: str,
         sources: dict[str, dict[str, str]]) -> str:
    explained = result.explain(uscc, policy_id)
    explained["facts"] = {k: fact_json(v) for k, v in explained["facts"].items()}
    explained["sources"] = {k: sources[k] for k in explained["facts"] if k in sources}
    return json.dumps(explained, ensure_ascii=False, sort_keys=True)


def _insert_work_items(session: Session, rows: list[dict]) -> int:
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    new = 0
    for start in range(0, len(rows), 500):  # 500 × 10 parameters: under SQLite's limit
        result = session.execute(insert(WorkItem).values(rows[start:start + 500])
                                 .on_conflict_do_nothing())
        new += max(int(getattr(result, "rowcount", 0) or 0), 0)
    return new


def _existing_items(session: Session, policy_ids: list[str]) -> set[tuple[str, int, str]]:
    return set(session.execute(select(WorkItem.policy_id, WorkItem.policy_version, WorkItem.uscc)
                               .where(WorkItem.policy_id.in_(policy_ids))))


def run_batch(session: Session, *, day: dt.date | None = None, by: str = "",
              trigger: str = "manual", policy_id: str | None = None,
              usccs: Iterable[str] | None = None, notify: bool = True,
              sources: dict[str, dict[str, dict[str, str]]] | None = None) -> RunSummary:
    """Evaluate, record the run, create the new work items and enqueue the new notifications.
    ``sources``: per enterprise, each field's source and as-of date (for the work item's
    why); read from the register when not given."""
    day = day or today()
    result, items = evaluate(session, day, policy_id, usccs)
    versions = published_versions(session)
    run = BatchRun(day=day, trigger=trigger, by=by, policy_id=policy_id or "",
                   enterprise_count=len(result.table), policy_count=len(result.policies),
                   started_at=utcnow())
    session.add(run)
    session.flush()
    if sources is None:
        from enterprises.register import profile

        def source_of(uscc: str) -> dict[str, dict[str, str]]:
            return {k: {"source": v.source, "as_of": v.as_of.isoformat()}
                    for k, v in profile(session, uscc, day).fields.items()}
    else:
        def source_of(uscc: str) -> dict[str, dict[str, str]]:
            return sources.get(uscc, {})

    rule_versions = dict(zip([p.id for p in result.policies], result.versions))
    existing = _existing_items(session, [p.id for p in result.policies])
    work, notes = [], []
    eligible = possible = 0
    for row in result.rows():
        pid, uscc = row["policy"], row["uscc"]
        version = versions[pid][0]
        item = items[pid]
        if row["status"] == "eligible":
            eligible += 1
        else:
            possible += 1
        if row["mianshen_ready"]:
            if (pid, version, uscc) not in existing:
                work.append({"policy_id": pid, "policy_version": version, "uscc": uscc,
                             "rule_version": rule_versions[pid],
                             "department": item.get("department") or "", "run_id": run.id,
                             "why": _why(result, uscc, pid, source_of(uscc)),
                             "status": "pending", "created_at": utcnow(), "decided_by": "",
                             "note": "", "granted_by": ""})
            continue
        kind = NOTIFY_ELIGIBLE if row["status"] == "eligible" else NOTIFY_POSSIBLE
        notes.append(NotificationItem(uscc, pid, version, kind, item.get("title") or pid))
    run.eligible, run.possible = eligible, possible
    run.work_item_count = _insert_work_items(session, work)
    run.notification_count = enqueue(session, notes) if notify and notes else 0
    run.finished_at = utcnow()
    session.flush()
    return RunSummary(run.id, day.isoformat(), run.enterprise_count, run.policy_count,
                      eligible, possible, run.work_item_count, run.notification_count, result)
