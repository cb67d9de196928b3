"""An export as a file: CSV (UTF-8 with a byte-order mark, or GB18030), XLSX or JSON Lines,
written as the rows come (:mod:`reports.exports`), and logged in the event log.

Spreadsheet cells never run: a text cell that would start a formula (= + - @, tab or carriage
return, also after leading spaces) gets a leading apostrophe in CSV and XLSX
(:func:`xiaobao.tabular.neutral`), and XLSX stores every text as a string, never a formula.
JSON Lines keeps the values as they are (no spreadsheet reads them as formulas), lists as
lists; in CSV and XLSX a list is its items joined by "; ".

Every export, finished or not, appends one ``data_exported`` event: who (``actor``), which
kind, the window, the format and encoding, the departments it was limited to, how many rows
were written and whether it ran to the end (a download cut short says ``complete: false``).
"""
from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import json
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from handoff.config import HandoffConfig
from reports import exports
from reports.window import check_window
from xiaobao.db import session_scope
from xiaobao.errors import XiaobaoError
from xiaobao.events import EventKind, record_event
from xiaobao.tabular import neutral

FORMATS = ("csv", "xlsx", "jsonl")
MEDIA_TYPES = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "jsonl": "application/x-ndjson",
}
# The encodings a CSV may be asked for, and the codec each is written with.
ENCODINGS = {"utf-8": "utf-8-sig", "utf8": "utf-8-sig", "gb18030": "gb18030"}
_FLUSH_CHARS = 64 * 1024
XLSX_MAX_CELL = 32_767  # Excel's limit for one cell's text


class ExportError(XiaobaoError, ValueError):
    """An export asked in a way it cannot be made; ``message`` is Chinese / English."""

    status = 422
    code = "invalid_export"


def format_of(path: Path) -> str:
    """The format a file's extension names (.csv, .xlsx, .jsonl)."""
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise ExportError(f"导出文件须为 .csv、.xlsx 或 .jsonl，收到“{path.name}”。 / Export to "
                          f"a .csv, .xlsx or .jsonl file, not {path.name!r}.")
    return fmt


def check_request(kind: str, fmt: str, encoding: str) -> str:
    """The codec of a valid request; ExportError for an unknown kind, format or encoding."""
    if kind not in exports.KINDS:
        raise ExportError(f"导出内容须为 {'、'.join(exports.KINDS)} 之一。 / What to export is "
                          f"one of {', '.join(exports.KINDS)}.")
    if fmt not in FORMATS:
        raise ExportError(f"导出格式须为 csv、xlsx 或 jsonl，收到“{fmt}”。 / The format is csv, "
                          f"xlsx or jsonl, not {fmt!r}.")
    codec = ENCODINGS.get(encoding.lower())
    if codec is None:
        raise ExportError(f"编码须为 utf-8 或 gb18030，收到“{encoding}”。 / The encoding is "
                          f"utf-8 or gb18030, not {encoding!r}.")
    if fmt != "csv" and codec != ENCODINGS["utf-8"]:
        raise ExportError("只有 CSV 可以选择编码（XLSX 与 JSON Lines 总是 UTF-8）。 / Only a CSV "
                          "takes an encoding (XLSX and JSON Lines are always UTF-8).")
    return codec


class Export:
    """One export, checked when made (ExportError, WindowError: 422 before any byte is
    written); :meth:`chunks` streams the file and logs the export when it ends."""

    def __init__(self, engine: Engine, kind: str, first: dt.date, last: dt.date, fmt: str, *,
                 config: HandoffConfig, actor: str, encoding: str = "utf-8",
                 departments: Sequence[str] | None = None, now: dt.datetime | None = None):
        self.codec = check_request(kind, fmt, encoding)
        check_window(first, last)
        self.engine, self.kind, self.first, self.last, self.fmt = engine, kind, first, last, fmt
        self.config, self.actor = config, actor
        self.encoding = "gb18030" if self.codec == "gb18030" else "utf-8"
        self.departments = list(departments) if departments is not None else None
        self.now = now
        self.rows = 0
        self.complete = False

    @property
    def filename(self) -> str:
        return f"{self.kind}-{self.first:%Y%m%d}-{self.last:%Y%m%d}.{self.fmt}"

    @property
    def media_type(self) -> str:
        """The file's media type; a CSV's names its encoding."""
        if self.fmt == "csv":
            return f"{MEDIA_TYPES['csv']}; charset={self.encoding}"
        return MEDIA_TYPES[self.fmt]

    def chunks(self) -> Iterator[bytes]:
        try:
            with session_scope(self.engine) as session:
                source = exports.rows(session, self.kind, self.first, self.last,
                                      config=self.config, departments=self.departments,
                                      now=self.now)
                yield from encoded(self.fmt, exports.COLUMNS[self.kind], self._counted(source),
                                   self.codec, title=self.kind)
            self.complete = True
        finally:
            self._log()

    def write(self, path: Path) -> int:
        """The file at ``path``; how many rows."""
        with path.open("wb") as out:
            for chunk in self.chunks():
                out.write(chunk)
        return self.rows

    def _counted(self, rows: Iterable[exports.Row]) -> Iterator[exports.Row]:
        for row in rows:
            self.rows += 1
            yield row

    def _log(self) -> None:
        with session_scope(self.engine) as session:
            record_event(session, EventKind.DATA_EXPORTED, actor=self.actor[:64],
                         what=self.kind, first=self.first.isoformat(),
                         last=self.last.isoformat(), format=self.fmt,
                         encoding=self.encoding,
                         departments=self.departments, rows=self.rows,
                         complete=self.complete)


# --- the writers ----------------------------------------------------------------------------------

def encoded(fmt: str, columns: Sequence[str], rows: Iterable[exports.Row], codec: str = "utf-8",
            *, title: str = "export") -> Iterator[bytes]:
    """The file's bytes, a chunk at a time (XLSX: once the workbook is complete)."""
    if fmt == "csv":
        return _csv(columns, rows, codec)
    if fmt == "jsonl":
        return _jsonl(columns, rows)
    return _xlsx(columns, rows, title)


def _joined(value: Any) -> Any:
    """A list (the entries answered with, …) as one cell."""
    return "; ".join(str(v) for v in value) if isinstance(value, list) else value


def _text(value: Any) -> Any:
    value = _joined(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else value


def _csv(columns: Sequence[str], rows: Iterable[exports.Row], codec: str) -> Iterator[bytes]:
    encoder = codecs.getincrementalencoder(codec)(errors="replace")  # utf-8-sig: BOM once
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([neutral(_text(row[c])) for c in columns])
        if buffer.tell() >= _FLUSH_CHARS:
            yield encoder.encode(buffer.getvalue())
            buffer.seek(0)
            buffer.truncate()
    yield encoder.encode(buffer.getvalue(), final=True)


def _jsonl(columns: Sequence[str], rows: Iterable[exports.Row]) -> Iterator[bytes]:
    lines: list[str] = []
    size = 0
    for row in rows:
        line = json.dumps({c: row[c] for c in columns}, ensure_ascii=False) + "\n"
        lines.append(line)
        size += len(line)
        if size >= _FLUSH_CHARS:
            yield "".join(lines).encode("utf-8")
            lines, size = [], 0
    yield "".join(lines).encode("utf-8")


def _xlsx(columns: Sequence[str], rows: Iterable[exports.Row], title: str) -> Iterator[bytes]:
    """A write-only workbook (rows go to a temporary file, not memory), then its bytes."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title[:31])

    def cell(value: Any) -> Any:
        value = _joined(value)
        if not isinstance(value, str):
            return value
        text = neutral(ILLEGAL_CHARACTERS_RE.sub("", value))[:XLSX_MAX_CELL]
        out = WriteOnlyCell(sheet, value=text)
        out.data_type = "s"  # a string, even if it looked like a formula
        return out

    sheet.append(list(columns))
    for row in rows:
        sheet.append([cell(row[c]) for c in columns])
    with tempfile.TemporaryFile() as spool:
        book.save(spool)
        spool.seek(0)
        while chunk := spool.read(_FLUSH_CHARS):
            yield chunk
