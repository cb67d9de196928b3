"""The policy store: import, export, status changes and history, as the knowledge base has.

Import is all-or-nothing and idempotent by ``id``: every row is checked first and every problem
reported (row, field, reason, the first 100 and a count); only a clean set is written, in one
transaction; an unchanged item writes nothing. An item's ``status`` in the file is honoured (a
centre may load a reviewed, published set); one without is a draft. Publishing needs a second
person: an item goes ``draft`` → ``in_review`` (submitted) → ``published`` by someone other
than its submitter and the last author of its content (:data:`AUTHORING`). Over the web a
file cannot publish (``files_publish=False``): its published items arrive in review.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from policies.models import PolicyItem, PolicyVersion
from policies.schema import PolicyData, describe_errors
from xiaobao import tabular
from xiaobao.clock import utcnow
from xiaobao.db import session_scope
from xiaobao.errors import XiaobaoError

FORMATS = {".yaml": "yaml", ".yml": "yaml", ".jsonl": "jsonl", ".ndjson": "jsonl",
           ".xlsx": "xlsx"}
SEED = Path(__file__).resolve().parent / "seed"
# XLSX columns holding JSON (a condition tree, a document, windows) or lists (one a line).
JSON_COLUMNS = ("conditions", "document", "windows", "tests", "form")
LIST_COLUMNS = ("materials", "unmodelled")
AUTHORING = ("import", "create", "edit", "rollback")  # the actions that write an item's content
COLUMNS = ("id", "title", "document", "clause", "category", "mode", "department", "benefit",
           "valid_from", "valid_to", "windows", "apply", "materials", "unmodelled",
           "conditions", "status", "checked_on", "source_url", "tests", "form")


class PolicyStoreError(XiaobaoError, ValueError):
    """Refused: ``status``, ``code`` and a sentence in Chinese, then English."""

    def __init__(self, status: int, code: str, message: str,
                 errors: list | None = None, total: int = 0) -> None:
        super().__init__(message, status=status, code=code)
        self.errors, self.total = errors or [], total

    def details(self) -> dict:
        """Every problem (an import's rows, a form's fields, the checks before publishing)."""
        if not self.errors:
            return {}
        return {"errors": [e.to_dict() for e in self.errors],
                "total_errors": self.total or len(self.errors)}


@dataclass(frozen=True)
class RowError:
    file: str
    row: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file} 第{self.row}行 [{self.field}]: {self.reason}"

    def to_dict(self) -> dict:
        return {"file": self.file, "row": self.row, "field": self.field, "reason": self.reason}


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged}


# --- files ----------------------------------------------------------------------------------------

def read_rows(path: Path) -> list[tuple[int, Any]]:
    """(row number, raw item) of a YAML list, JSON Lines or XLSX file; PolicyStoreError when
    the file itself cannot be read."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise PolicyStoreError(422, "unsupported_file_type",
                               f"不支持的文件类型 {path.suffix or '(无扩展名)'}，请使用 .yaml "
                               f".jsonl .xlsx / unsupported file type")
    raw = path.read_bytes()
    try:
        if fmt == "yaml":
            items = tabular.safe_yaml_load(raw.decode("utf-8-sig")) or []
            if not isinstance(items, list):
                raise ValueError("YAML 文件应为事项列表 / a YAML file must be a list of items")
            return list(enumerate(items, 1))
        if fmt == "jsonl":
            out = []
            for number, line in enumerate(raw.decode("utf-8-sig").splitlines(), 1):
                if line.strip():
                    try:
                        out.append((number, json.loads(line)))
                    except ValueError:
                        out.append((number, ValueError("不是有效的 JSON / not valid JSON")))
            return out
        header, rows = tabular.read_xlsx_rows(raw)
        return [(number, _xlsx_item(dict(zip(header, cells, strict=False))))
                for number, cells in rows]
    except (UnicodeDecodeError, tabular.TableTooLarge, ValueError) as exc:
        raise PolicyStoreError(422, "unreadable_file",
                               f"{path.name}: {getattr(exc, 'message', exc)}") from None


def _xlsx_item(row: dict) -> Any:
    item: dict = {}
    for key, value in row.items():
        if key is None or value is None or value == "":
            continue
        if key in JSON_COLUMNS and isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                return ValueError(f"{key} 列不是有效的 JSON / {key}: not valid JSON")
        elif key in LIST_COLUMNS and isinstance(value, str):
            value = [v.strip() for v in value.splitlines() if v.strip()]
        elif hasattr(value, "isoformat"):
            value = value.isoformat()[:10]
        item[str(key)] = value
    return item


def load_file(path: Path) -> list[dict]:
    """The checked items of a file (for ``policy check --policies``); PolicyStoreError listing
    every bad row."""
    items, errors = check_rows(path.name, read_rows(path))
    if errors:
        raise _failed(errors)
    return [i.stored() for i in items]


def check_rows(name: str, rows: list[tuple[int, Any]]) -> tuple[list[PolicyData], list[RowError]]:
    items: list[PolicyData] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    for number, raw in rows:
        if isinstance(raw, Exception):
            errors.append(RowError(name, number, "row", str(raw)))
            continue
        if not isinstance(raw, dict):
            errors.append(RowError(name, number, "row", "应为事项对象 / must be an object"))
            continue
        try:
            item = PolicyData.model_validate(raw)
        except ValidationError as exc:
            errors.extend(RowError(name, number, f, r) for f, r in describe_errors(exc))
            continue
        if item.id in seen:
            errors.append(RowError(name, number, "id", f"与第{seen[item.id]}行重复 / duplicate id"))
            continue
        seen[item.id] = number
        items.append(item)
    return items, errors


def _failed(errors: list[RowError]) -> PolicyStoreError:
    shown = errors[:tabular.MAX_ERRORS]
    return PolicyStoreError(422, "import_failed",
                            f"导入失败，共 {len(errors)} 处错误，未写入任何事项 / import failed "
                            f"with {len(errors)} error(s); nothing was written\n"
                            + "\n".join(str(e) for e in shown), shown, len(errors))


# --- the store ------------------------------------------------------------------------------------

def import_files(session: Session, paths: list[Path], actor: str, *,
                 dry_run: bool = False, files_publish: bool = True) -> ImportReport:
    """Every file checked, then all written or none (PolicyStoreError listing every bad row).
    ``files_publish`` False: an item the file says is published is put in review instead
    (unless it is published as it stands already: then nothing changes)."""
    items, errors = [], []
    for path in paths:
        found, bad = check_rows(path.name, read_rows(path))
        items += found
        errors += bad
    ids = [i.id for i in items]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    errors += [RowError("*", 0, "id", f"{i} 出现在多个文件中 / in several files")
               for i in duplicates]
    if errors:
        raise _failed(errors)
    report = ImportReport()
    for item in items:
        current = session.get(PolicyItem, item.id)
        data = item.stored()
        if current is None:
            report.created.append(item.id)
        elif current.data == data and current.status == item.status:
            report.unchanged.append(item.id)
            continue
        else:
            report.updated.append(item.id)
        if not files_publish and item.status == "published":  # a change: reviewed first
            item = item.model_copy(update={"status": "in_review"})
            data = item.stored()
        if not dry_run:
            write_version(session, current, data, item.status, actor, "import", "")
    return report


def write_version(session: Session, current: PolicyItem | None, data: dict, status: str,
                  actor: str, action: str, why: str) -> PolicyItem:
    """``data`` as the item's next version (its first when ``current`` is None), with who did
    what and why."""
    if current is None:
        current = PolicyItem(id=data["id"], status=status, data=data, version=1,
                             updated_by=actor, updated_at=utcnow())
        session.add(current)
    else:
        current.data, current.status = data, status
        current.version += 1
        current.updated_by, current.updated_at = actor, utcnow()
    session.flush()
    session.add(PolicyVersion(policy_id=current.id, version=current.version, status=status,
                              data=data, action=action, actor=actor, why=why, at=utcnow()))
    return current


def get_item(session: Session, policy_id: str) -> PolicyItem:
    item = session.get(PolicyItem, policy_id)
    if item is None:
        raise PolicyStoreError(404, "unknown_policy", f"找不到事项：{policy_id[:64]}。 / "
                                                      f"Unknown policy {policy_id[:64]!r}.")
    return item


def submit(session: Session, policy_id: str, actor: str, why: str = "") -> PolicyItem:
    """A draft goes to review."""
    item = get_item(session, policy_id)
    if item.status != "draft":
        raise PolicyStoreError(409, "not_a_draft", f"只有草稿可以提交审核（当前：{item.status}）。"
                                                   " / Only a draft can be submitted.")
    return write_version(session, item, {**item.data, "status": "in_review"}, "in_review",
                         actor, "submit", why)


def publish(session: Session, policy_id: str, actor: str, why: str = "") -> PolicyItem:
    """An item in review goes live — approved by someone other than its submitter."""
    item = get_item(session, policy_id)
    if item.status != "in_review":
        raise PolicyStoreError(409, "not_in_review", f"只有待审核的事项可以发布（当前："
                                                     f"{item.status}）。 / Only an item in review "
                                                     "can be published.")
    submitted = session.scalar(select(PolicyVersion.actor).where(
        PolicyVersion.policy_id == policy_id, PolicyVersion.action == "submit")
        .order_by(PolicyVersion.version.desc()).limit(1))
    if submitted == actor:
        raise PolicyStoreError(403, "same_reviewer", "发布须由另一位编辑审核，提交人不能自己发布。"
                                                     " / A second editor must publish it.")
    authored = session.scalar(select(PolicyVersion.actor).where(
        PolicyVersion.policy_id == policy_id, PolicyVersion.action.in_(AUTHORING))
        .order_by(PolicyVersion.version.desc()).limit(1))
    if authored == actor:
        raise PolicyStoreError(403, "same_author", "发布须由另一位编辑审核：待审核的内容是您写的，"
                                                   "不能自己发布。 / A second editor must publish "
                                                   "it: you wrote this version.")
    return write_version(session, item, {**item.data, "status": "published"}, "published",
                         actor, "publish", why)


def archive(session: Session, policy_id: str, actor: str, why: str = "") -> PolicyItem:
    item = get_item(session, policy_id)
    if item.status == "archived":
        return item
    return write_version(session, item, {**item.data, "status": "archived"}, "archived",
                         actor, "archive", why)


def history(session: Session, policy_id: str) -> list[dict]:
    get_item(session, policy_id)
    return [{"version": v.version, "status": v.status, "action": v.action, "actor": v.actor,
             "why": v.why, "at": v.at.isoformat()}
            for v in session.scalars(select(PolicyVersion).where(
                PolicyVersion.policy_id == policy_id).order_by(PolicyVersion.version))]


def all_items(session: Session, status: str | None = None) -> list[dict]:
    q = select(PolicyItem).order_by(PolicyItem.id)
    if status:
        q = q.where(PolicyItem.status == status)
    return [dict(i.data) for i in session.scalars(q)]


_PARSED: dict[tuple, list] = {}


def published_policies(session: Session) -> list:
    """The published items parsed for the check (policies.evaluator.Policy), re-read only when
    an item changed (its count or latest update), so every gateway sees an edit at once."""
    from sqlalchemy import func

    from policies.evaluator import policy_from_dict

    stamp = tuple(session.execute(select(func.count(), func.max(PolicyItem.updated_at),
                                         func.sum(PolicyItem.version))
                                  .where(PolicyItem.status == "published")).one())
    if stamp not in _PARSED:
        _PARSED.clear()
        _PARSED[stamp] = [(policy_from_dict(d), d) for d in all_items(session, "published")]
    return _PARSED[stamp]


def published_versions(session: Session) -> dict[str, tuple[int, dt.datetime]]:
    """Each published item's version and when it went live: what a work list and a
    notification name the rule by, and where the time to notification starts."""
    return {i: (v, at) for i, v, at in session.execute(
        select(PolicyItem.id, PolicyItem.version, PolicyItem.updated_at)
        .where(PolicyItem.status == "published"))}


def last_published(session: Session, policy_id: str) -> dict | None:
    """The item as it was last published (its live rules while a change waits), or None."""
    return session.scalar(select(PolicyVersion.data).where(
        PolicyVersion.policy_id == policy_id, PolicyVersion.status == "published")
        .order_by(PolicyVersion.version.desc()).limit(1))


def published(engine=None) -> list[dict]:
    """The published items, as the check reads them."""
    from xiaobao.db import get_engine, upgrade

    if engine is None:
        engine = get_engine()
        upgrade(engine)
    with session_scope(engine) as s:
        return all_items(s, "published")


def export(session: Session, path: Path) -> int:
    """Every item to ``path`` (YAML, JSON Lines or XLSX by its extension); how many."""
    fmt = FORMATS.get(path.suffix.lower())
    items = all_items(session)
    if fmt == "yaml":
        import yaml

        path.write_text(yaml.safe_dump(items, allow_unicode=True, sort_keys=False), "utf-8")
    elif fmt == "jsonl":
        path.write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items),
                        "utf-8")
    elif fmt == "xlsx":
        def cell(item: dict, key: str) -> Any:
            value = item.get(key)
            if key in JSON_COLUMNS and value is not None:
                return json.dumps(value, ensure_ascii=False)
            if key in LIST_COLUMNS:
                return "\n".join(value or [])
            return value

        with path.open("wb") as out:
            tabular.write_xlsx(out, "policies", list(COLUMNS),
                               ([cell(i, k) for k in COLUMNS] for i in items))
    else:
        raise PolicyStoreError(422, "unsupported_file_type",
                               "导出文件须为 .yaml .jsonl .xlsx / export to .yaml, .jsonl or .xlsx")
    return len(items)
