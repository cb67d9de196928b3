"""Exports for supervisors and leaders: the conversations, tickets and 差评 cases that started
in a window, as a file streamed while it is read (:mod:`reports.export_files`).

``from`` and ``to`` are dates, both included (Asia/Shanghai); ``format`` is csv (UTF-8 with a
byte-order mark, or ``encoding=gb18030``), xlsx or jsonl. A bad date, a window that ends
before it starts or runs past 366 days, an unknown format, or an encoding for anything but a
CSV is refused with 422 before a byte is sent. A leader's export holds their departments'
work only (:func:`xiaobao.policy.report_departments`); every export is in the event log.
"""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from api.deps import ExportReaderAccount, ServicesDep
from api.errors import error_responses
from reports.export_files import MEDIA_TYPES, Export
from xiaobao import policy

router = APIRouter(prefix="/api/exports", tags=["exports"],
                   responses=error_responses(401, 403, 422))

From = Annotated[dt.date, Query(alias="from", description="First day, YYYY-MM-DD")]
To = Annotated[dt.date, Query(alias="to", description="Last day (included), YYYY-MM-DD")]
Format = Literal["csv", "xlsx", "jsonl"]
Encoding = Annotated[Literal["utf-8", "gb18030"],
                     Query(description="CSV only: utf-8 (with a byte-order mark) or gb18030")]
FILE: dict[int | str, dict[str, Any]] = {200: {
    "description": "The rows as a file (Content-Disposition names it)",
    "content": {t: {} for t in MEDIA_TYPES.values()}}}


def _streamed(kind: str, services: ServicesDep, account: ExportReaderAccount, first: dt.date,
              last: dt.date, fmt: str, encoding: str) -> StreamingResponse:
    export = Export(services.engine, kind, first, last, fmt, config=services.config,
                    actor=account.username, encoding=encoding,
                    departments=policy.report_departments(account))
    return StreamingResponse(export.chunks(), media_type=export.media_type, headers={
        "Content-Disposition": f'attachment; filename="{export.filename}"'})


@router.get("/conversations", response_class=StreamingResponse, responses=FILE)
def conversations(services: ServicesDep, account: ExportReaderAccount, first: From, last: To,
                  format: Format = "csv", encoding: Encoding = "utf-8") -> StreamingResponse:
    """One row per conversation whose first turn is in the window: channel, times, first
    response, helper, department, resolution, rating and reason, the entries answered with."""
    return _streamed("conversations", services, account, first, last, format, encoding)


@router.get("/tickets", response_class=StreamingResponse, responses=FILE)
def tickets(services: ServicesDep, account: ExportReaderAccount, first: From, last: To,
            format: Format = "csv", encoding: Encoding = "utf-8") -> StreamingResponse:
    """One row per handoff ticket created in the window, with the rates' own figures."""
    return _streamed("tickets", services, account, first, last, format, encoding)


@router.get("/complaints", response_class=StreamingResponse, responses=FILE)
def complaints(services: ServicesDep, account: ExportReaderAccount, first: From, last: To,
               format: Format = "csv", encoding: Encoding = "utf-8") -> StreamingResponse:
    """One row per 差评 case opened in the window: review, rectification and timers."""
    return _streamed("complaints", services, account, first, last, format, encoding)
