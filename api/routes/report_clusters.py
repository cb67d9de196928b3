"""工单聚类分析 for supervisors and leaders: the window's tickets and 差评 grouped by meaning
(:mod:`reports.clusters`), so a recurring problem is one line of the dashboard."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query

from api.deps import ReportReaderAccount, ServicesDep
from api.errors import error_responses
from reports import clusters, window
from xiaobao import policy

router = APIRouter(prefix="/api/reports", tags=["reports"],
                   responses=error_responses(401, 403, 422))

DEFAULT_DAYS = 30


@router.get("/clusters")
def problem_clusters(services: ServicesDep, account: ReportReaderAccount,
                     from_: dt.date | None = Query(None, alias="from",
                                                   description="First day, YYYY-MM-DD"),
                     to: dt.date | None = Query(None, description="Last day (included)")
                     ) -> dict:
    """Tickets created and 差评 opened between ``from`` and ``to`` (the centre's calendar days,
    both included; default: the last 30; the rates' window rules), grouped by meaning with the
    knowledge gaps' clustering: each group's size, examples, departments, first and last seen.
    At most the newest ``limit`` items are clustered (``truncated`` says when there were more).
    Sync on purpose: embedding runs in the worker thread pool, off the event loop."""
    tz = ZoneInfo(services.config.hours.timezone)
    last = to or dt.datetime.now(tz).date()
    first = from_ or (last - dt.timedelta(days=DEFAULT_DAYS - 1)
                      if last.toordinal() > DEFAULT_DAYS else last)  # check_window refuses it
    window.check_window(first, last)  # the rates' own rule: one window for the dashboard
    span = window.Window(first, last, tz)
    items = clusters.collect(services.engine, span.start, span.end,
                             limit=clusters.MAX_ITEMS + 1,
                             departments=policy.report_departments(account))
    truncated = len(items) > clusters.MAX_ITEMS
    items = items[:clusters.MAX_ITEMS]
    found = clusters.cluster(items, services.retriever.embedder) if items else []
    return {
        "from": first.isoformat(), "to": last.isoformat(), "items": len(items),
        "tickets": sum(c.tickets for c in found), "bad_ratings": sum(c.bad_ratings for c in found),
        "limit": clusters.MAX_ITEMS, "truncated": truncated,
        "note": (f"工单和差评较多，只归类了最近的{clusters.MAX_ITEMS}条。 / Only the newest "
                 f"{clusters.MAX_ITEMS} tickets and 差评 were clustered.") if truncated else "",
        "clusters": [c.to_dict() for c in found],
    }
