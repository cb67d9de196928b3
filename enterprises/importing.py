"""`enterprises import` and `export`: the register's facts in and out of XLSX, CSV (UTF-8 or
GB18030) and JSON Lines.

A file has a column ``uscc``, optionally ``name`` and ``as_of`` (the row's as-of date, else
the import's), and one column per field of the policy dictionary; an empty cell says nothing.
Import is all-or-nothing: every row of every file is checked first and every problem listed
(file, row, column, the reason in Chinese), and only a clean set is written, in the caller's
one transaction. It is idempotent: a fact already stored with the same value, source and
as-of date is not stored again. Export writes each enterprise's current values in the same
columns, so an export imports back.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from enterprises import audit, register, sources
from enterprises.models import Enterprise
from enterprises.uscc import normalise_uscc, uscc_problem
from policies.facts import FactError, Facts, Interval, fact_json, parse_date, parse_value
from policies.fields import NUMERIC, Dictionary, default_dictionary
from policies.store import RowError
from xiaobao import tabular
from xiaobao.clock import today
from xiaobao.errors import XiaobaoError

FORMATS = {".csv": "csv", ".xlsx": "xlsx", ".jsonl": "jsonl", ".ndjson": "jsonl"}
RESERVED = ("uscc", "name", "as_of")


class RegisterImportError(XiaobaoError, ValueError):
    """An import refused: every bad row in ``errors`` (the first 100) and how many in all."""

    status = 422
    code = "import_failed"

    def __init__(self, errors: list[RowError]) -> None:
        shown = errors[:tabular.MAX_ERRORS]
        super().__init__(f"导入失败，共 {len(errors)} 处错误，未写入任何数据 / import failed "
                         f"with {len(errors)} error(s); nothing was written\n"
                         + "\n".join(str(e) for e in shown))
        self.errors, self.total = shown, len(errors)

    def details(self) -> dict:
        return {"errors": [e.to_dict() for e in self.errors], "total_errors": self.total}


@dataclass
class ImportReport:
    batch: str
    rows: int = 0
    created: list[str] = field(default_factory=list)  # enterprises new to the register
    facts_added: int = 0
    facts_unchanged: int = 0
    dry_run: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"batch": self.batch, "rows": self.rows, "created": self.created,
                "facts_added": self.facts_added, "facts_unchanged": self.facts_unchanged,
                "dry_run": self.dry_run}


@dataclass(frozen=True)
class CheckedRow:
    file: str
    row: int
    uscc: str
    name: str
    as_of: dt.date
    facts: Facts


# --- reading ---------------------------------------------------------------------------------

def decode_text(raw: bytes) -> str:
    """UTF-8 (with or without BOM) when it decodes as such, else GB18030 (what Excel and WPS
    on a Chinese Windows save as "CSV"); GB18030 text is almost never valid UTF-8."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("gb18030")


def read_table(path: Path) -> tuple[list[str] | None, list[tuple[int, Any]]]:
    """(header, [(row number, row)]) — a row is a dict, or the Exception that makes it
    unreadable; header None for JSON Lines (each line names its own columns). ValueError
    (bilingual) when the file itself cannot be read."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"不支持的文件类型 {path.suffix or '(无扩展名)'}，请使用 .xlsx .csv "
                         ".jsonl / unsupported file type")
    raw = path.read_bytes()
    if fmt == "xlsx":
        try:
            header, rows = tabular.read_xlsx_rows(raw)
        except tabular.TableTooLarge:
            raise
        except Exception:  # noqa: BLE001 - openpyxl's many ways to find a zip is no workbook
            raise ValueError("无法解析文件：不是有效的 XLSX / not a valid XLSX") from None
        return header, [(n, dict(zip(header, cells, strict=False))) for n, cells in rows]
    text = decode_text(raw)
    if fmt == "csv":
        try:
            first = next(csv.reader(io.StringIO(text, newline="")), [])
            return [h.strip() for h in first], tabular.read_csv_rows(text)
        except csv.Error as exc:
            raise ValueError(f"无法解析 CSV / not a valid CSV: {str(exc)[:80]}") from None
    out: list[tuple[int, Any]] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if len(out) >= tabular.MAX_ROWS or len(line) > tabular.MAX_CELLS:
            raise tabular.TableTooLarge(f"行数超过 {tabular.MAX_ROWS} 或行过长 / more than "
                                        f"{tabular.MAX_ROWS} rows, or a line too long")
        try:
            item = json.loads(line)
        except ValueError:
            item = ValueError("不是有效的 JSON / not valid JSON")
        if not isinstance(item, (dict, Exception)):
            item = ValueError("每行应为一个对象 / each line must be an object")
        out.append((number, item))
    return None, out


# --- checking --------------------------------------------------------------------------------

def _given(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def _column_problem(name: str, dictionary: Dictionary) -> str | None:
    if name in RESERVED:
        return None
    if name not in dictionary:
        return "未知字段（不在政策字段字典中）/ unknown field"
    if dictionary[name].derived:
        return "该字段由其他字段计算得出，不能导入 / a derived field is computed, not imported"
    return None


def _cell(value: Any, numeric: bool) -> Any:
    if isinstance(value, str):
        value = value.strip()
        if numeric and value.startswith("{"):  # a band exported as {"gte": …, "lt": …}
            try:
                return json.loads(value)
            except ValueError:
                return value
    return value


def _uscc_of(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return normalise_uscc(value)


def check_row(file: str, number: int, row: dict, *, as_of: dt.date, day: dt.date,
              dictionary: Dictionary) -> tuple[CheckedRow | None, list[RowError]]:
    """One row typed, or every problem in it."""
    errors: list[RowError] = []

    def bad(column: str, reason: str) -> None:
        errors.append(RowError(file, number, column, reason))

    uscc = _uscc_of(row.get("uscc"))
    if not _given(row.get("uscc")):
        bad("uscc", "缺少统一社会信用代码 / the uscc is missing")
    elif (problem := uscc_problem(uscc)) is not None:
        bad("uscc", problem)
    row_as_of = as_of
    if _given(row.get("as_of")):
        try:
            row_as_of = parse_date(row["as_of"])
        except ValueError:
            bad("as_of", "数据日期格式应为 YYYY-MM-DD / as_of must be YYYY-MM-DD")
    if row_as_of > day:
        bad("as_of", f"数据日期 {row_as_of} 晚于今天 / the as-of date is in the future")
    facts: Facts = {}
    for column, value in row.items():
        name = str(column).strip() if column is not None else ""
        if name in RESERVED or not _given(value):
            continue
        if not name:
            bad("(无列名)", "有值的单元格没有列名 / a value without a column name")
            continue
        if (problem := _column_problem(name, dictionary)) is not None:
            bad(name, problem)
            continue
        f = dictionary[name]
        try:
            typed = parse_value(f, _cell(value, f.type in NUMERIC))
        except FactError as exc:
            bad(name, exc.message)
            continue
        if f.type == "date" and typed > day:
            bad(name, f"{f.label} {typed} 晚于今天 / a date in the future")
            continue
        facts[name] = typed
    if errors:
        return None, errors
    name = str(row.get("name") or "").strip()[:200]
    return CheckedRow(file, number, uscc, name, row_as_of, facts), []


def check_files(paths: list[Path], *, as_of: dt.date, day: dt.date,
                dictionary: Dictionary) -> tuple[list[CheckedRow], list[RowError]]:
    checked: list[CheckedRow] = []
    errors: list[RowError] = []
    for path in paths:
        try:
            header, rows = read_table(path)
        except (UnicodeDecodeError, ValueError, OSError) as exc:
            errors.append(RowError(path.name, 0, "文件", str(getattr(exc, "message", exc))))
            continue
        if header is not None:
            if "uscc" not in header:
                errors.append(RowError(path.name, 1, "uscc", "缺少 uscc 列 / no uscc column"))
            errors += [RowError(path.name, 1, h, p) for h in header
                       if h and (p := _column_problem(h, dictionary)) is not None]
            if errors:
                continue  # the header's problems would repeat on every row
        for number, row in rows:
            if isinstance(row, Exception):
                errors.append(RowError(path.name, number, "行", str(row)))
                continue
            if None in row:  # a CSV row with more cells than the header has columns
                errors.append(RowError(path.name, number, "行", "单元格多于表头的列 / more "
                                                              "cells than columns"))
                continue
            found, bad = check_row(path.name, number, row, as_of=as_of, day=day,
                                   dictionary=dictionary)
            errors += bad
            if found is not None:
                checked.append(found)
    return checked, errors + conflicts(checked)


def conflicts(rows: list[CheckedRow]) -> list[RowError]:
    """A USCC given again with another value of a field (or another name) than before."""
    first: dict[str, CheckedRow] = {}
    errors = []
    for row in rows:
        seen = first.setdefault(row.uscc, row)
        if seen is row:
            continue
        where = f"与 {seen.file} 第{seen.row}行的同一企业"
        for name in sorted(set(seen.facts) & set(row.facts)):
            if register.value_text(seen.facts[name]) != register.value_text(row.facts[name]):
                errors.append(RowError(row.file, row.row, name, f"{where}取值冲突 / conflicts "
                                                                "with an earlier row"))
        if seen.name and row.name and seen.name != row.name:
            errors.append(RowError(row.file, row.row, "name", f"{where}名称不同 / another name "
                                                              "for the same USCC"))
    return errors


# --- the import and the export ---------------------------------------------------------------

def import_files(session: Session, paths: list[Path], *, source: str, by: str,
                 as_of: dt.date | None = None, dry_run: bool = False,
                 day: dt.date | None = None,
                 dictionary: Dictionary | None = None) -> ImportReport:
    """Every file checked, then all facts written or none (RegisterImportError listing every
    bad row); ``dry_run`` reports what would be written and writes nothing. A written import
    is one register_audit row."""
    day = day or today()
    as_of = as_of or day
    if source not in sources.known_sources():
        raise register.RegisterError(422, "unknown_source", f"未知的数据来源“{source[:20]}”，可选："
                                     f"{'、'.join(sources.known_sources())} / unknown source")
    if as_of > day:
        raise register.RegisterError(422, "future_as_of", f"数据日期 {as_of} 晚于今天 / "
                                                          "--as-of is in the future")
    rows, errors = check_files(paths, as_of=as_of, day=day,
                               dictionary=dictionary or default_dictionary())
    if errors:
        raise RegisterImportError(errors)
    report = ImportReport(batch=uuid.uuid4().hex, rows=len(rows), dry_run=dry_run)
    usccs = {r.uscc for r in rows}
    names = register.existing_names(session, usccs)
    known = register.existing_keys(session, usccs)
    keys: list[register.FactKey] = []
    for row in rows:
        if row.uscc not in names:
            names[row.uscc] = row.name
            report.created.append(row.uscc)
            if not dry_run:
                session.add(Enterprise(uscc=row.uscc, name=row.name))
        elif row.name and names[row.uscc] != row.name:
            names[row.uscc] = row.name
            if not dry_run:
                session.get_one(Enterprise, row.uscc).name = row.name
        added = register.new_facts(row.uscc, row.facts, source, row.as_of, known)
        keys += added
        report.facts_unchanged += len(row.facts) - len(added)
    report.facts_added = len(keys)
    if not dry_run:
        try:
            session.flush()
        except IntegrityError:  # another import created one of these enterprises meanwhile
            raise register.RegisterError(
                409, "concurrent_import", "另一项导入同时写入了相同企业，本次未写入，请重试。 / "
                "Another import wrote the same enterprises meanwhile; nothing was written, "
                "retry.") from None
        register.write_facts(session, keys, by=by, batch=report.batch)
        audit.record(session, by, "import", reason=f"导入 {source}",
                     detail={"files": [p.name for p in paths], "source": source,
                             "as_of": as_of.isoformat(), **report.to_dict(),
                             "created": len(report.created)})
    return report


def _shown(value: Any, fmt: str) -> Any:
    if fmt == "jsonl":
        return fact_json(value)
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, Interval):
        return json.dumps(fact_json(value))
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def export(session: Session, path: Path, *, by: str, day: dt.date | None = None,
           dictionary: Dictionary | None = None) -> int:
    """Every enterprise's current values to ``path`` (by its extension), in import's columns;
    how many. Logged in register_audit."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise register.RegisterError(422, "unsupported_file_type", "导出文件须为 .xlsx .csv "
                                     ".jsonl / export to .xlsx, .csv or .jsonl")
    dictionary = dictionary or default_dictionary()
    columns = ["uscc", "name", *(f.name for f in dictionary.base_fields())]
    rows = [{"uscc": r["uscc"], "name": r["name"],
             **{k: _shown(v, fmt) for k, v in r["facts"].items() if k in columns}}
            for r in register.records(session, day, dictionary=dictionary)]
    if fmt == "jsonl":
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    elif fmt == "csv":
        with path.open("w", encoding="utf-8-sig", newline="") as out:
            tabular.write_csv(out, columns, rows)
    else:
        with path.open("wb") as out:
            tabular.write_xlsx(out, "enterprises", columns,
                               ([r.get(c) for c in columns] for r in rows))
    audit.record(session, by, "export", reason="导出登记簿",
                 detail={"file": path.name, "format": fmt, "enterprises": len(rows)})
    return len(rows)
