"""The policy editors' items (``/api/policies…``, :func:`xiaobao.policy.edits_policies`): list
and search, read with its checks, create, edit, submit for review, publish (by a second
editor, after the checks), archive, history, diff, rollback.

Every change goes through :mod:`policies.editing` / :mod:`policies.store` in one transaction:
a new version with who (the logged-in account), when and why. A published change is checked by
the next request on every gateway (:func:`policies.store.published_policies`). Files are
api/routes/policies_files.py, the test panel policies_trial.py.
"""
from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import Query

from api.deps import PolicyEditorAccount, ServicesDep, SessionDep
from api.policy_schemas import (
    MAX_VERSION,
    PolicyId,
    PolicyIn,
    PolicyStatus,
    PolicyUpdate,
    ReviewIn,
    RollbackIn,
    policies_router,
    policy_out,
    timestamp,
)
from entitlements import impact
from entitlements.runs import run_batch
from policies import checks, editing, store
from policies.schema import CATEGORIES, MODES, STATUSES
from xiaobao import clock

router = policies_router()


@router.get("")
def list_policies(session: SessionDep, _: PolicyEditorAccount,
                  q: Annotated[str, Query(max_length=200)] = "",
                  status: PolicyStatus | None = None,
                  page: Annotated[int, Query(ge=1, le=100_000)] = 1,
                  page_size: Annotated[int, Query(ge=1, le=200)] = 50) -> dict:
    """Items by id; ``q``: every word in the id, title, document, 文号, department or
    benefit."""
    items, total = editing.find(session, q.strip(), status, (page - 1) * page_size, page_size)
    return {"items": [policy_out(i) for i in items], "total": total, "page": page,
            "page_size": page_size}


@router.get("/meta")
def meta(session: SessionDep, services: ServicesDep, _: PolicyEditorAccount) -> dict:
    """What the form offers: statuses, categories, modes, and the departments (in use, and
    every one with a helpers' queue)."""
    used = [str(i.get("department")) for i in store.all_items(session) if i.get("department")]
    return {"statuses": list(STATUSES), "categories": list(CATEGORIES), "modes": list(MODES),
            "departments": list(dict.fromkeys([*used, *services.config.departments]))}


@router.get("/{policy_id}")
def get_policy(policy_id: PolicyId, session: SessionDep, _: PolicyEditorAccount) -> dict:
    """The item and its checks before publishing, today."""
    item = store.get_item(session, policy_id)
    found = checks.check_item(item.data, clock.today())
    return {"policy": policy_out(item), "checks": [f.to_dict() for f in found]}


@router.post("", status_code=201)
def create_policy(body: PolicyIn, session: SessionDep, me: PolicyEditorAccount) -> dict:
    """A new draft (whatever its ``status`` says); 409 when the id is taken."""
    return {"policy": policy_out(editing.create(session, body.item, me.username, body.why))}


@router.put("/{policy_id}")
def update_policy(policy_id: PolicyId, body: PolicyUpdate, session: SessionDep,
                  me: PolicyEditorAccount) -> dict:
    """The editor's form over ``version`` (409 when someone saved since), as the next version:
    a draft again, to be reviewed before it goes live."""
    item = editing.update(session, policy_id, body.item, me.username, body.why, body.version)
    return {"policy": policy_out(item)}


@router.post("/{policy_id}/submit")
def submit_policy(policy_id: PolicyId, session: SessionDep, me: PolicyEditorAccount,
                  body: ReviewIn | None = None) -> dict:
    """A draft goes to review."""
    why = body.why if body else ""
    return {"policy": policy_out(store.submit(session, policy_id, me.username, why))}


@router.post("/{policy_id}/publish")
def publish_policy(policy_id: PolicyId, session: SessionDep, me: PolicyEditorAccount,
                   body: ReviewIn | None = None) -> dict:
    """An item in review goes live: by an editor other than its submitter and its last author
    (403), and only when no check before publishing finds an error (422 listing them)."""
    day = (body.date if body else None) or clock.today()
    item = editing.publish(session, policy_id, me.username, body.why if body else "", day)
    # 政策推送 and 免申即享: the register's newly eligible are found the moment it goes live
    found = run_batch(session, by=me.username, trigger="published", policy_id=policy_id)
    return {"policy": policy_out(item), "batch": found.to_dict()}


@router.get("/{policy_id}/impact")
def policy_impact(policy_id: PolicyId, session: SessionDep, _: PolicyEditorAccount,
                  date: dt.date | None = None) -> dict:
    """What publishing the item as it stands would do to the register: newly eligible, no
    longer eligible, newly possible, each counted, with a few masked samples explained."""
    return impact.policy_impact(session, policy_id, date)


@router.post("/{policy_id}/archive")
def archive_policy(policy_id: PolicyId, session: SessionDep, me: PolicyEditorAccount,
                   body: ReviewIn | None = None) -> dict:
    """Withdrawn from the check; kept with its history."""
    why = body.why if body else ""
    return {"policy": policy_out(store.archive(session, policy_id, me.username, why))}


@router.get("/{policy_id}/history")
def policy_history(policy_id: PolicyId, session: SessionDep, _: PolicyEditorAccount) -> dict:
    """Every version, newest first: who, when, what, why, and its content."""
    store.get_item(session, policy_id)
    versions = []
    for entry in reversed(store.history(session, policy_id)):
        data = editing.version_data(session, policy_id, entry["version"])
        at = timestamp(dt.datetime.fromisoformat(entry["at"]))
        versions.append({**entry, "at": at, "data": data})
    return {"versions": versions}


@router.get("/{policy_id}/diff")
def policy_diff(policy_id: PolicyId, session: SessionDep, _: PolicyEditorAccount,
                from_version: Annotated[int, Query(alias="from", ge=1, le=MAX_VERSION)],
                to_version: Annotated[int, Query(alias="to", ge=1, le=MAX_VERSION)]) -> dict:
    """Two versions field by field (404 when either does not exist)."""
    return {"from": from_version, "to": to_version,
            "fields": editing.diff(session, policy_id, from_version, to_version)}


@router.post("/{policy_id}/rollback")
def rollback_policy(policy_id: PolicyId, body: RollbackIn, session: SessionDep,
                    me: PolicyEditorAccount) -> dict:
    """That version's content as the next version — a draft, reviewed again before it goes
    live."""
    item = editing.rollback(session, policy_id, body.version, me.username, body.why,
                            body.expected_version)
    return {"policy": policy_out(item)}
