"""Knowledge-base files for editors: import (all or nothing, with a dry run) and export."""
from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path as FilePath
from typing import Annotated

from fastapi import File, Response, UploadFile

from api.deps import EditorAccount, ServicesDep
from api.errors import ApiError
from api.kb_schemas import MEDIA_TYPES, ExportFormat, Status, check_policy_ids, kb_router
from api.uploads import base_name, read_upload
from knowledge_base import io, store

router = kb_router("knowledge base")


@router.post("/import")
def import_file(services: ServicesDep, me: EditorAccount,
                file: Annotated[UploadFile, File(description="YAML, JSONL, CSV or XLSX")],
                dry_run: bool = False) -> dict:
    """Import a file, all or nothing: any bad row → 422 listing every row, field and reason,
    and nothing written. ``dry_run``: what would be created, updated or left unchanged."""
    name = base_name(file)
    try:
        io.detect_format(FilePath(name))
    except store.KnowledgeBaseError as exc:
        raise ApiError(422, "unsupported_file_type", exc.message) from None
    data = read_upload(file, services.settings.max_upload_bytes)
    entries = io.parse_entries(FilePath(name), data)
    check_policy_ids(services, {e.id: e.policy_ids for e in entries})
    summary = services.kb.import_entries(entries, me.username, dry_run=dry_run)
    return {"dry_run": dry_run, "rows": len(entries), "created": summary.created,
            "updated": summary.updated, "unchanged": summary.unchanged}


@router.get("/export", response_class=Response, responses={200: {
    "description": "The entries as a file", "content": {t: {} for t in MEDIA_TYPES.values()}}})
def export_file(services: ServicesDep, _: EditorAccount, format: ExportFormat = "xlsx",
                status: Status | None = None) -> Response:
    """Every entry (or those of ``status``) as a file to download, in an import's format."""
    filename = f"knowledge_base-{dt.date.today():%Y%m%d}.{format}"
    with tempfile.TemporaryDirectory() as tmp:
        path = FilePath(tmp) / filename
        services.kb.export(path, status)
        content = path.read_bytes()
    return Response(content, media_type=MEDIA_TYPES[format],
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
