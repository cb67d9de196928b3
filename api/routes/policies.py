"""政策体检 over HTTP: the public check (``POST /api/policy-check``) and the field dictionary
the page and scripts build their questions from (``GET /api/policy-fields``).

Signed in (the enterprise cookie, api.deps.current_enterprise), the check starts from the
register's facts (enterprises.checkup_start) and asks only what they leave unknown; the
enterprise's corrections (``POST /api/policy-check/corrections``) are stored as its own word
(企业自报) beside the authority's. A USCC in a body is never read: anonymous, no register fact."""
from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.deps import ClientIp, CurrentEnterprise, ServicesDep, SignedInUscc, enforce_limit
from api.errors import ApiError, error_responses
from enterprises.checkup_start import register_start
from enterprises.register import add_declared
from enterprises.sources import SELF_REPORTED
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


class CorrectionIn(BaseModel):
    facts: dict = Field(min_length=1, max_length=30)


def _check(services, body: PolicyCheckIn, uscc: str | None = None) -> dict:
    dictionary = default_dictionary()
    given = parse_facts(body.facts, dictionary)  # FactError: 422 invalid_fact
    unknown = [d for d in body.declined if d not in dictionary]
    if unknown:
        raise ApiError(422, "invalid_fact", f"未知字段：{unknown[0][:40]}。 / Unknown field.")
    day = body.date or clock.today()
    with session_scope(services.engine) as s:
        items = links.restrict(store.published_policies(s), body.policies)
        start = register_start(s, uscc, day, dictionary=dictionary)
    facts = {**given, **start.facts}  # the register's ranking: its facts are not asked again
    missing = links.unknown_ids(body.policies or [], [p.id for p, _ in items])
    if missing:
        raise ApiError(422, "unknown_policy", f"没有这项已发布的政策：{missing[0]}。"
                       " / No published policy with this id.")
    # What the request answers, counted for the planner (a refused one counts nothing).
    services.policy_priors.count(given, dictionary, body.answered)  # never raises
    resolve = Resolver(facts, day, dictionary, frozenset(body.declined))
    results = []
    out: dict = {"date": day.isoformat(), "eligible": [], "possible": [], "ineligible": [],
                 "not_in_force": [], **start.to_dict()}
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
async def policy_check(body: PolicyCheckIn, services: ServicesDep, ip: ClientIp,
                       uscc: CurrentEnterprise) -> dict:
    """Which published policies the facts qualify for on ``date`` (default: today in
    Shanghai), which they may (and what is still needed), which not (and why), and the next
    question worth asking. Public; rate-limited per address like the chat."""
    await enforce_limit(services, "policy_check_ip", ip,
                        services.settings.chat_per_ip_per_minute, 60, "政策体检")
    return await run_in_threadpool(_check, services, body, uscc)


def _correct(services, uscc: str, facts: dict) -> dict:
    day = clock.today()
    with session_scope(services.engine) as s:
        stored = add_declared(s, uscc, facts, source=SELF_REPORTED, by=f"portal:{uscc}")
    with session_scope(services.engine) as s:
        start = register_start(s, uscc, day)
    return {"stored": stored, **start.to_dict()}


@router.post("/api/policy-check/corrections", responses=error_responses(401))
async def correct_register_facts(body: CorrectionIn, services: ServicesDep, ip: ClientIp,
                                 uscc: SignedInUscc) -> dict:
    """The signed-in enterprise corrects facts the check-up started from: stored as its own
    word (企业自报) beside the authority's, never over it; the register's facts as now shown."""
    await enforce_limit(services, "policy_check_ip", ip,
                        services.settings.chat_per_ip_per_minute, 60, "政策体检")
    return await run_in_threadpool(_correct, services, uscc, body.facts)
