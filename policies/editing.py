"""The editors' changes to the store, one item at a time: create, edit, roll back, find, diff,
and publish after the checks.

An item is checked as an import checks a row (:class:`policies.schema.PolicyData`); a bad one
is refused with every field and reason. Every change is a new version with who, when and why.
An edit (or a rollback) makes the item a draft again — whatever its status was — so what goes
live has always been reviewed: a published item edited leaves the check until a second editor
publishes it again. :func:`publish` refuses an item with an error among its checks
(:mod:`policies.checks`), and :func:`policies.store.publish` one published by its submitter or
its last author.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from policies import checks, store
from policies.models import PolicyItem, PolicyVersion
from policies.schema import PolicyData, describe_errors
from policies.store import PolicyStoreError


@dataclass(frozen=True)
class Problem:
    field: str
    reason: str

    def to_dict(self) -> dict:
        return {"field": self.field, "reason": self.reason}


def validate(raw: Any) -> PolicyData:
    """The item checked field by field; PolicyStoreError 422 ``invalid_policy`` listing every
    problem."""
    if not isinstance(raw, dict):
        raise PolicyStoreError(422, "invalid_policy", "事项应为对象。 / An item must be an object.")
    try:
        return PolicyData.model_validate(raw)
    except ValidationError as exc:
        problems = [Problem(f, r) for f, r in describe_errors(exc)]
        said = "; ".join(f"{p.field}: {p.reason}" for p in problems[:20])
        raise PolicyStoreError(422, "invalid_policy", f"事项内容有误 / Invalid policy — {said}",
                               problems) from None


def create(session: Session, raw: Any, actor: str, why: str = "") -> PolicyItem:
    """A new item, a draft whatever ``raw`` says; 409 when the id is taken."""
    data = validate({**raw, "status": "draft"} if isinstance(raw, dict) else raw)
    if session.get(PolicyItem, data.id) is not None:
        raise PolicyStoreError(409, "policy_exists", f"事项编号 {data.id} 已存在。 / Policy "
                                                     f"{data.id} already exists.")
    return store.write_version(session, None, data.stored(), "draft", actor, "create", why)


def update(session: Session, policy_id: str, raw: Any, actor: str, why: str = "",
           expected_version: int | None = None, action: str = "edit") -> PolicyItem:
    """The item's new content as a draft; 409 when someone saved since ``expected_version``.
    Unchanged content on a draft writes nothing."""
    item = store.get_item(session, policy_id)
    if expected_version is not None and item.version != expected_version:
        raise PolicyStoreError(409, "version_conflict",
                               f"事项已被{item.updated_by}修改（当前第{item.version}版），请刷新后"
                               f"再保存。 / Changed meanwhile (now version {item.version}).")
    if isinstance(raw, dict) and raw.get("id", policy_id) != policy_id:
        raise PolicyStoreError(422, "invalid_policy", "事项编号与地址不一致。 / The id differs "
                                                      "from the policy in the URL.",
                               [Problem("id", "与地址中的事项编号不一致 / differs from the URL")])
    data = validate({**raw, "id": policy_id, "status": "draft"} if isinstance(raw, dict)
                    else raw).stored()
    if item.status == "draft" and data == item.data:
        return item
    return store.write_version(session, item, data, "draft", actor, action, why)


def version_data(session: Session, policy_id: str, version: int) -> dict:
    store.get_item(session, policy_id)
    data = session.scalar(select(PolicyVersion.data).where(
        PolicyVersion.policy_id == policy_id, PolicyVersion.version == version))
    if data is None:
        raise PolicyStoreError(404, "unknown_version", f"事项 {policy_id} 没有第{version}版。 / "
                                                       f"No version {version}.")
    return dict(data)


def rollback(session: Session, policy_id: str, version: int, actor: str, why: str = "",
             expected_version: int | None = None) -> PolicyItem:
    """That version's content as the next version (a draft, to be reviewed again)."""
    data = version_data(session, policy_id, version)
    return update(session, policy_id, data, actor, why or f"回滚到第{version}版",
                  expected_version, action="rollback")


def diff(session: Session, policy_id: str, old: int, new: int) -> list[dict]:
    """Field by field, in the files' order: from, to, changed."""
    a, b = version_data(session, policy_id, old), version_data(session, policy_id, new)
    return [{"field": name, "from": a.get(name), "to": b.get(name),
             "changed": a.get(name) != b.get(name)} for name in store.COLUMNS]


def _text(data: dict) -> str:
    document = data.get("document") or {}
    return " ".join(str(v) for v in (
        data.get("id"), data.get("title"), document.get("title"), document.get("doc_no"),
        document.get("issuer"), data.get("department"), data.get("benefit"),
        data.get("category"), data.get("mode")) if v).lower()


def find(session: Session, q: str = "", status: str | None = None, offset: int = 0,
         limit: int = 50) -> tuple[list[PolicyItem], int]:
    """Items whose id, title, document, 文号, department or benefit hold every word of ``q``
    (of ``status`` when given), by id; and how many there are."""
    query = select(PolicyItem).order_by(PolicyItem.id)
    if status:
        query = query.where(PolicyItem.status == status)
    words = q.lower().split()
    found = [i for i in session.scalars(query) if all(w in _text(i.data) for w in words)]
    return found[offset:offset + limit], len(found)


def publish(session: Session, policy_id: str, actor: str, why: str, day: dt.date) -> PolicyItem:
    """Live in the check — unless a check before publishing finds an error (422
    ``checks_failed`` listing them) or the review rules refuse (policies.store.publish)."""
    item = store.get_item(session, policy_id)
    errors = checks.errors_of(checks.check_item(item.data, day))
    if errors and item.status == "in_review":
        raise PolicyStoreError(422, "checks_failed",
                               f"发布前检查未通过，共 {len(errors)} 处错误：" + "；".join(
                                   e.message for e in errors[:5])
                               + f" / {len(errors)} check(s) failed before publishing.", errors)
    return store.publish(session, policy_id, actor, why)
