"""The policy editors' files: import (all or nothing, with a dry run) and export, as the
knowledge base's (api/routes/kb_files.py) — YAML, JSON Lines or XLSX with conditions as a JSON
column. Over the web a file cannot publish: an item it says is published arrives in review,
for a second editor (``xiaobao policy import`` on the command line honours it)."""
from __future__ import annotations

import tempfile
from pathlib import Path as FilePath
from typing import Annotated

from fastapi import File, Response, UploadFile

from api.deps import PolicyEditorAccount, ServicesDep, SessionDep
from api.errors import ApiError
from api.policy_schemas import MEDIA_TYPES, ExportFormat, policies_router
from api.uploads import base_name, upload_on_disk
from policies import store
from xiaobao import clock

router = policies_router()


@router.post("/import")
def import_file(services: ServicesDep, session: SessionDep, me: PolicyEditorAccount,
                file: Annotated[UploadFile, File(description="YAML, JSONL or XLSX")],
                dry_run: bool = False) -> dict:
    """Import a file, all or nothing: any bad row → 422 listing every row, field and reason,
    and nothing written. ``dry_run``: what would be created, updated or left unchanged."""
    if FilePath(base_name(file)).suffix.lower() not in store.FORMATS:
        raise ApiError(422, "unsupported_file_type", "不支持的文件类型，请使用 .yaml .jsonl "
                                                     ".xlsx / unsupported file type")
    with upload_on_disk(file, services.settings.max_upload_bytes) as path:
        report = store.import_files(session, [path], me.username, dry_run=dry_run,
                                    files_publish=False)
    rows = len(report.created) + len(report.updated) + len(report.unchanged)
    return {"dry_run": dry_run, "rows": rows, **report.to_dict()}


@router.get("/export", response_class=Response, responses={200: {
    "description": "The items as a file", "content": {t: {} for t in MEDIA_TYPES.values()}}})
def export_file(session: SessionDep, _: PolicyEditorAccount,
                format: ExportFormat = "yaml") -> Response:
    """Every item as a file to download, in an import's format."""
    filename = f"policies-{clock.today():%Y%m%d}.{format}"
    with tempfile.TemporaryDirectory() as tmp:
        path = FilePath(tmp) / filename
        store.export(session, path)
        content = path.read_bytes()
    return Response(content, media_type=MEDIA_TYPES[format],
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
