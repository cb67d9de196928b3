"""政策体检 over HTTP: the public check (``POST /api/policy-check``) and the field dictionary
the page and scripts build their questions from (``GET /api/policy-fields``)."""
from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.deps import ClientIp, ServicesDep, enforce_limit
from api.errors import ApiError, error_responses
from policies import links, store
from policies.evaluator import CheckResult, Resolver, check_policy, explain_failed
from policies.facts import parse_facts
from policies.fields import default_dictionary
from policies.planner import next_question
from xiaobao import clock
from xiaobao.db import session_scope

router = APIRouter(tags=["政策体检"], responses=error_responses(400, 413, 422, 429))


class PolicyCheckIn(BaseModel):
    facts: dict = Field(default_factory=dict, max_length=100)
    declined: list[str] = Field(default_factory=list, max_length=100)
    date: dt.date | None = None
    # Only these published policies (the page's ?policy=, an answer card's 看看我是否符合):
    # their results, and the next question only they need. Absent: every published policy.
    policies: list[Annotated[str, Field(max_length=64)]] | None = Field(None, max_length=50)
    # The fields this request answers (the page: those changed since its last request): only
    # they are counted in the planner's priors; absent, every fact given (a one-off check).
    answered: list[str] | None = Field(None, max_length=100)


@router.get("/api/policy-fields")
def policy_fields() -> dict:
    """Every field a condition may test: type, unit, label, the question, choices or bands."""
    return {"fields": [f.to_dict() for f in default_dictionary().fields.values()]}


def _card(data: dict) -> dict:
    document = data.get("document") or {}
    return {"id": data["id"], "title": data.get("title", ""), "benefit": data.get("benefit", ""),
            "mode": data.get("mode", ""), "category": data.get("category", ""),
            "department": data.get("department", ""), "apply": data.get("apply", ""),
            "materials": data.get("materials", []), "unmodelled": data.get("unmodelled", []),
            "document": {"title": document.get("title", ""), "doc_no": document.get("doc_no", "")},
            "valid_from": data.get("valid_from"), "valid_to": data.get("valid_to"),
            "checked_on": data.get("checked_on")}


def _check(services, body: PolicyCheckIn) -> dict:
    dictionary = default_dictionary()
    facts = parse_facts(body.facts, dictionary)  # FactError: 422 invalid_fact
    unknown = [d for d in body.declined if d not in dictionary]
    if unknown:
        raise ApiError(422, "invalid_fact", f"未知字段：{unknown[0][:40]}。 / Unknown field.")
    day = body.date or clock.today()
    with session_scope(services.engine) as s:
        items = links.restrict(store.published_policies(s), body.policies)
    missing = links.unknown_ids(body.policies or [], [p.id for p, _ in items])
    if missing:
        raise ApiError(422, "unknown_policy", f"没有这项已发布的政策：{missing[0]}。"
                       " / No published policy with this id.")
    # What the request answers, counted for the planner (a refused one counts nothing).
    services.policy_priors.count(facts, dictionary, body.answered)  # never raises
    resolve = Resolver(facts, day, dictionary, frozenset(body.declined))
    results = []
    out: dict = {"date": day.isoformat(), "eligible": [], "possible": [], "ineligible": [],
                 "not_in_force": []}
    for policy, data in items:
        result = check_policy(policy, resolve)
        results.append(result)
        card = _card(data)
        if result.status == "possible":
            card["unknown"] = [{"field": u, "label": dictionary[u].label if u in dictionary
                                else u} for u in result.unknown]
        elif result.status == "ineligible":
            card["failed"] = [{"field": a.field, "reason": explain_failed(a, resolve)}
                              for a in result.failed]
        elif result.status == "eligible":
            card["why"] = [a.met_text or a.describe(dictionary) for a in result.met]
        out[result.status].append(card)
    question = next_question([p for p, _ in items], facts, day, declined=set(body.declined),
                             dictionary=dictionary, result=CheckResult(results),
                             priors=services.policy_priors.read(dictionary))
    out["next_question"] = ({**dictionary[question.field].to_dict(), "field": question.field,
                             "text": question.text} if question else None)
    return out


@router.post("/api/policy-check")
async def policy_check(body: PolicyCheckIn, services: ServicesDep, ip: ClientIp) -> dict:
    """Which published policies the facts qualify for on ``date`` (default: today in
    Shanghai), which they may (and what is still needed), which not (and why), and the next
    question worth asking. Public; rate-limited per address like the chat."""
    await enforce_limit(services, "policy_check_ip", ip,
                        services.settings.chat_per_ip_per_minute, 60, "政策体检")
    return await run_in_threadpool(_check, services, body)
