"""The service rates for supervisors and leaders: the window's figures, a metric by day, and
a file to download (:mod:`reports.rates` computes them; the definitions are in the README).

Every route takes ``from`` and ``to`` (dates, both included, Asia/Shanghai); a window that
ends before it starts, runs past 366 days or leaves 2000–2999 is refused with 422.
"""
from __future__ import annotations

import datetime as dt
import io
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from api.deps import ReportReaderAccount, ServicesDep
from api.errors import error_responses
from reports import facts, rates, window
from xiaobao import policy, tabular

router = APIRouter(prefix="/api/reports", tags=["reports"],
                   responses=error_responses(401, 403, 422))

Breakdown = Literal[facts.BREAKDOWNS]  # type: ignore[valid-type]
Metric = Literal[rates.METRICS]  # type: ignore[valid-type]
From = Annotated[dt.date, Query(alias="from", description="First day, YYYY-MM-DD")]
To = Annotated[dt.date, Query(alias="to", description="Last day (included), YYYY-MM-DD")]
MEDIA_TYPES = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _checked(first: dt.date, last: dt.date) -> None:
    window.check_window(first, last)  # WindowError: 422 invalid_window


@router.get("/summary")
def summary(services: ServicesDep, account: ReportReaderAccount, first: From, last: To,
            by: Breakdown | None = None) -> dict:
    """Every rate and duration of the window; with ``by``, the same figures per key (per
    helper: only the helpers' work in the departments the caller reads)."""
    _checked(first, last)
    return rates.summary(services.engine, first, last, config=services.config, by=by,
                         departments=policy.report_departments(account))


@router.get("/series")
def series(services: ServicesDep, _: ReportReaderAccount, first: From, last: To,
           metric: Metric) -> dict:
    """One metric for every day of the window: ``{"metric", "points": [{"day", "value",
    "numerator", "denominator"}]}``; for a duration ``value`` is the day's p50 in seconds,
    ``p90`` beside it, ``denominator`` how many were measured, ``numerator`` null."""
    _checked(first, last)
    return rates.series(services.engine, first, last, metric, config=services.config)


@router.get("/export", response_class=Response, responses={200: {
    "description": "One row per day (and breakdown key) as a file",
    "content": {t: {} for t in MEDIA_TYPES.values()}}})
def export(services: ServicesDep, _: ReportReaderAccount, first: From, last: To,
           format: Literal["csv", "xlsx"] = "xlsx", by: Breakdown | None = None) -> Response:
    """The figures per day (and per key of ``by`` within each day), flattened: a rate's
    value, numerator and denominator, a duration's p50, p90 and n."""
    _checked(first, last)
    rows = rates.export_rows(services.engine, first, last, config=services.config, by=by)
    content = _csv(rows) if format == "csv" else _xlsx(rows)
    filename = f"service-rates-{first:%Y%m%d}-{last:%Y%m%d}.{format}"
    return Response(content, media_type=MEDIA_TYPES[format],
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _columns(rows: list[dict]) -> list[str]:
    return list(rows[0]) if rows else ["day", "by", "key"]


def _csv(rows: list[dict]) -> bytes:
    """UTF-8 with a byte-order mark, so that Excel shows the Chinese keys."""
    out = io.StringIO()
    tabular.write_csv(out, _columns(rows), rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _xlsx(rows: list[dict]) -> bytes:
    columns = _columns(rows)
    out = io.BytesIO()
    tabular.write_xlsx(out, "service rates", columns, ([row[c] for c in columns] for row in rows))
    return out.getvalue()
