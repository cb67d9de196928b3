"""Import and export in YAML, JSON Lines, CSV and XLSX.

Import is all-or-nothing: every row is validated first and every problem is
reported with file, row, field and reason; only a clean file is written, in one
transaction, idempotently by ``id``. CSV is read as UTF-8 or GB18030 (what
Chinese Excel writes); lists in CSV and XLSX cells are ``|``-separated.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from sqlalchemy.orm import Session

from knowledge_base import store
from knowledge_base.schema import FIELDS, LIST_FIELDS, EntryData, describe_errors
from xiaobao import tabular

FORMATS = {".yaml": "yaml", ".yml": "yaml", ".jsonl": "jsonl", ".ndjson": "jsonl",
           ".csv": "csv", ".xlsx": "xlsx"}


@dataclass(frozen=True)
class RowError:
    file: str
    row: int  # 1-based: the line (JSONL/CSV/XLSX, header = row 1) or the list item (YAML)
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file} 第{self.row}行 [{self.field}]: {self.reason}"


class ImportFailed(store.KnowledgeBaseError):
    code = "import_failed"
    status = 422

    def __init__(self, errors: list[RowError]):
        self.total = len(errors)
        self.errors = errors[:tabular.MAX_ERRORS]  # the first ones; ``total`` counts them all
        head = (f"导入失败，共 {self.total} 处错误，未写入任何条目 / "
                f"import failed with {self.total} error(s); nothing was written")
        more = (f"\n……另有 {self.total - len(self.errors)} 处错误未列出 / "
                f"{self.total - len(self.errors)} more not shown"
                if self.total > len(self.errors) else "")
        super().__init__(head + "\n" + "\n".join(str(e) for e in self.errors) + more)


def detect_format(path: Path) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise store.KnowledgeBaseError(
            f"不支持的文件类型 {path.suffix or '(无扩展名)'}，请使用 .yaml .jsonl .csv .xlsx / "
            f"unsupported file type {path.suffix!r}")
    return fmt


def _decode_csv(raw: bytes, name: str) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ImportFailed([RowError(name, 0, "file", "文件编码无法识别，请存为 UTF-8 或 GB18030 / "
                                                  "unknown encoding: save as UTF-8 or GB18030")])


def _clean_cell(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # Excel turns numeric ids into floats
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def read_rows(path: Path, data: bytes | None = None) -> list[tuple[int, Any]]:
    """[(row number, raw mapping)] from a file; parse errors become an ImportFailed."""
    fmt = detect_format(path)
    name = path.name
    raw = path.read_bytes() if data is None else data
    try:
        if fmt == "yaml":
            doc = tabular.safe_yaml_load(raw.decode("utf-8-sig")) or []
            if isinstance(doc, dict) and "entries" in doc:
                doc = doc["entries"]
            if not isinstance(doc, list):
                raise ImportFailed([RowError(name, 0, "file", "YAML 顶层应为条目列表 / "
                                                              "YAML must be a list of entries")])
            return list(enumerate(doc, start=1))
        if fmt == "jsonl":
            rows = []
            for n, line in enumerate(raw.decode("utf-8-sig").splitlines(), start=1):
                if line.strip():
                    try:
                        rows.append((n, json.loads(line)))
                    except json.JSONDecodeError as exc:
                        rows.append((n, exc))
            return rows
        if fmt == "csv":
            return list(tabular.read_csv_rows(_decode_csv(raw, name)))
        header, values_rows = tabular.read_xlsx_rows(raw)
        return [(n, {h: _clean_cell(v) for h, v in zip(header, values) if h})
                for n, values in values_rows]
    except ImportFailed:
        raise
    except tabular.TableTooLarge as exc:
        raise ImportFailed([RowError(name, 0, "file", str(exc))]) from None
    except UnicodeDecodeError:
        raise ImportFailed(
            [RowError(name, 0, "file", "文件不是 UTF-8 编码 / file is not UTF-8")]) from None
    except Exception as exc:  # a broken file of any kind: say so, write nothing
        raise ImportFailed(
            [RowError(name, 0, "file", f"无法解析文件 / cannot parse file: {exc}")]) from None


def stable_id(question: str) -> str:
    """The id of a row given without one: the same question gets the same id on re-import."""
    return "kb-q" + hashlib.sha1(question.strip().encode("utf-8")).hexdigest()[:10]


def parse_entries(path: Path, data: bytes | None = None) -> list[EntryData]:
    """Validate every row of a file; raise ImportFailed listing every problem."""
    errors: list[RowError] = []
    entries: list[EntryData] = []
    first_row: dict[str, int] = {}
    for n, raw in read_rows(path, data):
        if isinstance(raw, Exception):
            errors.append(RowError(path.name, n, "line", f"不是合法的 JSON / invalid JSON: {raw}"))
            continue
        if not isinstance(raw, dict):
            errors.append(RowError(path.name, n, "entry",
                                   "应为字段映射 / must be a mapping of fields"))
            continue
        if not all(isinstance(k, (str, int)) for k in raw):  # never str() a nested key
            errors.append(RowError(path.name, n, "entry",
                                   "字段名应为文字 / field names must be text"))
            continue
        # Empty CSV/XLSX cells mean "not given".
        raw = {str(k).strip(): v for k, v in raw.items() if k and v is not None and v != ""}
        bad = [k for k, v in raw.items() if k == "id" and not isinstance(v, (str, int))]
        if bad:
            errors.append(RowError(path.name, n, "id",
                                   "id 应为文字或数字 / id must be text or a number"))
            continue
        if "id" not in raw and isinstance(raw.get("question"), str) and raw["question"].strip():
            raw["id"] = stable_id(raw["question"])  # a plain FAQ list: question and answer only
        try:
            entry = EntryData.model_validate(raw)
        except ValidationError as exc:
            errors.extend(RowError(path.name, n, f, r) for f, r in describe_errors(exc))
            continue
        if entry.id in first_row:
            errors.append(RowError(path.name, n, "id",
                                   f"id 重复（与第{first_row[entry.id]}行相同）/ "
                                   f"duplicate id {entry.id!r}"))
            continue
        first_row[entry.id] = n
        entries.append(entry)
    if errors:
        raise ImportFailed(errors)
    if not entries:
        raise ImportFailed([RowError(path.name, 0, "file",
                                     "文件中没有条目 / the file holds no entries")])
    return entries


def import_file(session: Session, path: Path, actor: str,
                data: bytes | None = None) -> store.ChangeSummary:
    """Validate, then write all entries in the caller's transaction (commit is the caller's)."""
    return store.save_entries(session, parse_entries(path, data), actor, action="import")


def _cell(record: dict, name: str) -> Any:
    value = record[name]
    if name in LIST_FIELDS:
        return "|".join(value)
    return "" if value is None else value


def export_entries(entries: list[EntryData], path: Path) -> None:
    fmt = detect_format(path)
    records = [e.to_record() for e in entries]
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "yaml":
        path.write_text(yaml.safe_dump(records, allow_unicode=True, sort_keys=False), "utf-8")
    elif fmt == "jsonl":
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), "utf-8")
    elif fmt == "csv":
        # utf-8-sig: Excel opens a BOM-marked file as UTF-8 instead of the local code page.
        with path.open("w", encoding="utf-8-sig", newline="") as fh:
            tabular.write_csv(fh, list(FIELDS), ({k: _cell(r, k) for k in FIELDS} for r in records))
    else:
        tabular.write_xlsx(path, "knowledge_base", list(FIELDS),
                           ([_cell(r, k) for k in FIELDS] for r in records))


def export_file(session: Session, path: Path, status: str | None = None) -> int:
    entries = [store.entry_data(e) for e in store.list_entries(session, status=status)]
    export_entries(entries, path)
    return len(entries)
