"""Knowledge gaps for editors: what users asked that the knowledge base could not answer,
grouped by meaning, each group with a prefilled new entry (:mod:`retrieval.gaps`)."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query

from api.deps import GapsReaderAccount, ServicesDep
from api.errors import ApiError, error_responses
from retrieval import gaps

router = APIRouter(prefix="/api/kb", tags=["knowledge base"],
                   responses=error_responses(401, 403, 422))

DEFAULT_DAYS = 30


def _midnight(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    """The start of ``day`` in the centre's time zone, as UTC (the calendar's ends clamp)."""
    try:
        return dt.datetime.combine(day, dt.time.min, tzinfo=tz).astimezone(dt.UTC)
    except OverflowError:
        edge = dt.datetime.min if day.year == dt.MINYEAR else dt.datetime.max
        return edge.replace(tzinfo=dt.UTC)


def _days_before(day: dt.date, days: int) -> dt.date:
    return day - dt.timedelta(days=days) if day.toordinal() > days else dt.date.min


@router.get("/gaps")
def knowledge_gaps(services: ServicesDep, _: GapsReaderAccount,
                   from_: dt.date | None = Query(None, alias="from",
                                                 description="First day, YYYY-MM-DD"),
                   to: dt.date | None = Query(None, description="Last day (included)")) -> dict:
    """Questions the bot abstained on, only suggested for, that got 没帮助, or that ended in a
    handoff, between ``from`` and ``to`` (the centre's calendar days; default: the last 30),
    clustered by meaning. At most the newest ``limit`` questions are clustered (``truncated``
    says when there were more). Sync on purpose: embedding and clustering run in the worker
    thread pool, off the event loop."""
    tz = ZoneInfo(services.config.hours.timezone)
    last = to or dt.datetime.now(tz).date()
    first = from_ or _days_before(last, DEFAULT_DAYS - 1)
    if first > last:
        raise ApiError(422, "invalid_range",
                       f"开始日期（{first}）晚于结束日期（{last}）。 / "
                       f"'from' ({first}) is after 'to' ({last}).")
    until = _midnight(last + dt.timedelta(days=1), tz) if last < dt.date.max \
        else dt.datetime.max.replace(tzinfo=dt.UTC)
    questions = gaps.collect(services.engine, _midnight(first, tz), until,
                             limit=gaps.MAX_QUESTIONS + 1)
    truncated = len(questions) > gaps.MAX_QUESTIONS
    questions = questions[:gaps.MAX_QUESTIONS]
    clusters = gaps.cluster(questions, services.retriever) if questions else []
    return {
        "from": first.isoformat(), "to": last.isoformat(), "questions": len(questions),
        "limit": gaps.MAX_QUESTIONS, "truncated": truncated,
        "note": (f"问题较多，只归类了最近的{gaps.MAX_QUESTIONS}个。 / Only the newest "
                 f"{gaps.MAX_QUESTIONS} questions were clustered.") if truncated else "",
        "clusters": [c.to_dict() for c in clusters],
    }
