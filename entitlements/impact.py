"""Impact before publishing: what a new or changed policy would do to the register today —
newly eligible, no longer eligible, newly possible — with a few samples explained. The
samples are for policy editors, who are not register readers: the code is masked and no name
is shown, only the facts the rules used and how they decided."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from enterprises.register import records
from policies.batch import batch, impact
from policies.evaluator import policy_from_dict
from policies.facts import fact_json
from policies.store import get_item, last_published
from xiaobao.clock import today

SAMPLES = 5


def masked(uscc: str) -> str:
    """91310113****1234X: enough to tell samples apart, not to look one up."""
    return uscc[:8] + "*" * 5 + uscc[-5:] if len(uscc) == 18 else "*" * len(uscc)


def policy_impact(session: Session, policy_id: str, day: dt.date | None = None,
                  samples: int = SAMPLES) -> dict[str, Any]:
    day = day or today()
    item = get_item(session, policy_id)
    new = policy_from_dict(item.data)
    live = last_published(session, policy_id)
    old = policy_from_dict(live) if live else None
    rows = list(records(session, day))
    moved = impact(old, new, rows, day)
    explained = batch(rows, [new], day)

    def sample(usccs: list[str]) -> list[dict[str, Any]]:
        out = []
        for uscc in usccs[:samples]:
            why = explained.explain(uscc, new.id)
            out.append({"enterprise": masked(uscc), "status": why["status"],
                        "facts": {k: fact_json(v) for k, v in why["facts"].items()},
                        "met": why["met"], "failed": why["failed"], "unknown": why["unknown"]})
        return out

    return {"policy": policy_id, "day": day.isoformat(), "enterprises": len(rows),
            "compared_with": "published" if live else "nothing (a new policy)",
            **{name: {"count": len(usccs), "samples": sample(usccs)} for name, usccs in (
                ("newly_eligible", moved.newly_eligible),
                ("no_longer_eligible", moved.no_longer_eligible),
                ("newly_possible", moved.newly_possible))}}
