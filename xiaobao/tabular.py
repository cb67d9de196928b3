"""Safe readers and writers for imported and exported tables (YAML, CSV, XLSX).

Every import refuses YAML aliases/anchors (the "billion laughs" bomb), caps rows,
cells, each cell's length and an XLSX's uncompressed size before openpyxl parses
it. Every export neutralises cells a spreadsheet would run as a formula.
"""
from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Iterator
from typing import Any

import yaml

MAX_ROWS = 20_000
MAX_CELLS = 400_000
MAX_CELL_CHARS = 20_000
MAX_XLSX_UNCOMPRESSED = 50 * 1024 * 1024
MAX_XLSX_ENTRY = 20 * 1024 * 1024
MAX_ERRORS = 100

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class TableTooLarge(ValueError):
    """A file over one of the caps, or a YAML file with aliases; the message is bilingual."""


class _NoAliasLoader(yaml.SafeLoader):
    """A SafeLoader that refuses anchors and aliases while composing, before constructing."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise TableTooLarge("YAML 中不允许使用锚点或别名（&/*）/ "
                                "YAML anchors and aliases are not allowed")
        return super().compose_node(parent, index)


def safe_yaml_load(text: str) -> Any:
    """yaml.safe_load without anchors and aliases."""
    return yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - a SafeLoader subclass


def _check_cell(value: Any) -> None:
    if isinstance(value, str) and len(value) > MAX_CELL_CHARS:
        raise TableTooLarge(f"单元格超过 {MAX_CELL_CHARS} 字 / a cell is longer than "
                            f"{MAX_CELL_CHARS} characters")


def _check_counts(rows: int, cells: int) -> None:
    if rows > MAX_ROWS:
        raise TableTooLarge(f"行数超过 {MAX_ROWS} / more than {MAX_ROWS} rows")
    if cells > MAX_CELLS:
        raise TableTooLarge(f"单元格数超过 {MAX_CELLS} / more than {MAX_CELLS} cells")


def read_csv_rows(text: str) -> list[tuple[int, dict[str, Any]]]:
    """[(line number, row)] of a CSV with a header; blank rows are skipped but counted."""
    csv.field_size_limit(MAX_CELL_CHARS + 1)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows: list[tuple[int, dict[str, Any]]] = []
    cells = 0
    try:
        for n, row in enumerate(reader, start=2):
            _check_counts(n - 1, cells)
            values = list(row.values())
            cells += len(values)
            for v in values:
                _check_cell(v)
            if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
                continue
            rows.append((n, row))
    except csv.Error as exc:
        if "field larger" in str(exc):
            raise TableTooLarge(f"单元格超过 {MAX_CELL_CHARS} 字 / a cell is longer than "
                                f"{MAX_CELL_CHARS} characters") from None
        raise
    _check_counts(len(rows), cells)
    return rows


def check_xlsx(raw: bytes) -> None:
    """Refuse an XLSX whose uncompressed parts are over the caps, before parsing it."""
    try:
        infos = zipfile.ZipFile(io.BytesIO(raw)).infolist()
    except zipfile.BadZipFile:
        raise TableTooLarge("无法解析文件：不是有效的 XLSX / "
                            "cannot parse file: not a valid XLSX") from None
    total = sum(i.file_size for i in infos)
    if total > MAX_XLSX_UNCOMPRESSED:
        raise TableTooLarge(f"XLSX 解压后超过 {MAX_XLSX_UNCOMPRESSED // 2**20} MB / "
                            f"XLSX uncompresses to more than {MAX_XLSX_UNCOMPRESSED // 2**20} MB")
    for i in infos:
        name = i.filename.lower()
        if ("sharedstrings" in name or "worksheets/" in name) and i.file_size > MAX_XLSX_ENTRY:
            raise TableTooLarge(f"XLSX 中的表格部分超过 {MAX_XLSX_ENTRY // 2**20} MB / an XLSX "
                                f"part is larger than {MAX_XLSX_ENTRY // 2**20} MB")


def read_xlsx_rows(raw: bytes) -> tuple[list[str], list[tuple[int, tuple[Any, ...]]]]:
    """(header, [(row number, values)]) of the first sheet, blank rows skipped."""
    check_xlsx(raw)
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(raw), read_only=True, data_only=True).worksheets[0]
    it = sheet.iter_rows(values_only=True)
    first = next(it, ())
    for v in first:
        _check_cell(v)
    header = [str(h).strip() if h is not None else "" for h in first]
    rows: list[tuple[int, tuple[Any, ...]]] = []
    cells = 0
    for n, values in enumerate(it, start=2):
        _check_counts(n - 1, cells)
        cells += len(values)
        for v in values:
            _check_cell(v)
        if all(v is None or str(v).strip() == "" for v in values):
            continue
        rows.append((n, values))
    return header, rows


def neutral(value: Any) -> Any:
    """A cell a spreadsheet would run as a formula, as plain text with a leading ' (OWASP's
    CSV injection rule: = + - @ tab or carriage return first, also after leading spaces,
    which some spreadsheets drop before reading the cell)."""
    if isinstance(value, str) and (value.startswith(FORMULA_PREFIXES)
                                   or value.lstrip().startswith(FORMULA_PREFIXES)):
        return "'" + value
    return value


def write_csv(out: Any, fieldnames: list[str], rows: Iterable[dict[str, Any]]) -> None:
    """csv.DictWriter with every formula-like cell neutralised."""
    writer = csv.DictWriter(out, fieldnames=fieldnames)
    writer.writerow({k: neutral(k) for k in fieldnames})
    for row in rows:
        writer.writerow({k: neutral(v) for k, v in row.items()})


def _xlsx_rows(header: list[str], rows: Iterable[list[Any]]) -> Iterator[list[Any]]:
    yield header
    yield from rows


def write_xlsx(out: Any, title: str, header: list[str], rows: Iterable[list[Any]]) -> None:
    """One sheet; a string is always stored as a string, never as a formula."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = title
    for values in _xlsx_rows(header, rows):
        sheet.append(values)
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, str):
                cell.data_type = "s"
    book.save(out)
