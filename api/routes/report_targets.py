"""The rates' target lines (:mod:`reports.targets`), for the dashboard and any other reader of
the rates: supervisors, leaders and admin."""
from __future__ import annotations

from fastapi import APIRouter

from api.deps import ReportReaderAccount
from api.errors import error_responses
from reports.targets import TARGETS

router = APIRouter(prefix="/api/reports", tags=["reports"], responses=error_responses(401, 403))


@router.get("/targets")
def rate_targets(_: ReportReaderAccount) -> dict:
    """``{"targets": [{"metric", "label", "value", "direction": "at_least" | "at_most"}]}``:
    ``value`` a share (0.9 is 90%)."""
    return {"targets": [t.to_dict() for t in TARGETS]}
