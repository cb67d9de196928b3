"""一企一档 over the web, for staff only: one enterprise's record (a reason is required, and
the read is logged with who, when and why), its history, and the register's imports and
exports (registrars; each logged). An import that changes facts re-runs the batch, so the
newly eligible are found the same day (entitlements.runs)."""
from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path as FilePath
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Path, Query, Response, UploadFile

from api.deps import CurrentAccount, ServicesDep, SessionDep
from api.errors import ApiError, error_responses
from api.uploads import base_name, upload_on_disk
from enterprises import importing, register
from entitlements.runs import run_batch
from xiaobao import clock, policy

router = APIRouter(prefix="/api/register", tags=["register"],
                   responses=error_responses(400, 401, 403, 404, 409, 413, 422))
Uscc = Annotated[str, Path(min_length=1, max_length=40)]
Reason = Annotated[str, Query(max_length=200, description="why this record is read (logged)")]
MEDIA = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


@router.get("/enterprises/{uscc}")
def read_enterprise(session: SessionDep, me: CurrentAccount, uscc: Uscc,
                    reason: Reason = "") -> dict:
    """One enterprise's current facts, each with its source and as-of date, and the
    enterprise's own word where it differs."""
    policy.require_register_read(me, reason)
    return register.read_profile(session, uscc, actor=me.username, reason=reason).to_dict()


@router.get("/enterprises/{uscc}/history")
def enterprise_history(session: SessionDep, me: CurrentAccount, uscc: Uscc,
                       reason: Reason = "") -> dict:
    """Every value ever stored for the enterprise, in the order loaded (a logged read)."""
    policy.require_register_read(me, reason)
    found = register.read_profile(session, uscc, actor=me.username, reason=reason)
    return {"uscc": found.uscc, "history": register.history(session, found.uscc)}


@router.post("/import")
def import_register(services: ServicesDep, session: SessionDep, me: CurrentAccount,
                    file: Annotated[UploadFile, File(description="XLSX, CSV or JSON Lines")],
                    source: Annotated[str, Form(max_length=32)],
                    as_of: Annotated[dt.date | None, Form()] = None,
                    dry_run: Annotated[bool, Form()] = False) -> dict:
    """All or nothing: any bad row → 422 listing every row, column and reason, nothing
    stored. A stored import re-runs the batch over the register (work items, notifications)."""
    policy.require_register_manage(me)
    if FilePath(base_name(file)).suffix.lower() not in importing.FORMATS:
        raise ApiError(422, "unsupported_file_type", "不支持的文件类型，请使用 .xlsx .csv "
                                                     ".jsonl / unsupported file type")
    with upload_on_disk(file, services.settings.max_upload_bytes) as path:
        report = importing.import_files(session, [path], source=source, by=me.username,
                                        as_of=as_of, dry_run=dry_run)
    out = report.to_dict()
    if not dry_run and report.facts_added:
        out["batch"] = run_batch(session, by=me.username, trigger="facts_changed").to_dict()
    return out


@router.get("/export", response_class=Response, responses={200: {
    "description": "The register as a file", "content": {t: {} for t in MEDIA.values()}}})
def export_register(session: SessionDep, me: CurrentAccount,
                    format: Literal["csv", "xlsx", "jsonl"] = "xlsx") -> Response:
    """Every enterprise's current values in the import's columns (the export is logged)."""
    policy.require_register_manage(me)
    filename = f"register-{clock.today():%Y%m%d}.{format}"
    with tempfile.TemporaryDirectory() as tmp:
        path = FilePath(tmp) / filename
        importing.export(session, path, by=me.username)
        content = path.read_bytes()
    return Response(content, media_type=MEDIA[format],
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
