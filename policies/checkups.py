"""A conversation's 政策体检: the facts its user gave, kept with the conversation.

Each turn of the chat's check-up (:mod:`bot.actions.policy_check`) records a ``policy_check``
event of the conversation (:mod:`xiaobao.events`): the facts as given (``facts``, the slot's
JSON), the fields declined (不知道/跳过, ``declined``), the check's date and the ids of what it
decided. The latest one is the conversation's check-up: it prefills the next check-up when the
bot's tracker has none, and the helpers' context pack shows it (:func:`helper_view`), its
results recomputed on the day from the published policies. The facts are personal data: the
retention purge blanks ``facts`` and ``declined`` with the conversation's other events
(``retention.purge.PERSONAL_EVENT_KEYS``); a purged check-up is no check-up.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from policies import store
from policies.evaluator import CheckResult, Resolver, check_policy, explain_failed
from policies.facts import FactError, Facts, parse_value
from policies.fields import Dictionary, default_dictionary
from xiaobao.events import Event, EventKind, record_event
from xiaobao.redact import mask_personal_text

MAX_REASONS = 3  # failed conditions shown per policy


@dataclass(frozen=True)
class Checkup:
    """What a conversation's latest check-up kept: the facts as given (JSON), the declined."""

    facts: dict = field(default_factory=dict)
    declined: list[str] = field(default_factory=list)
    date: str = ""
    at: dt.datetime | None = None


def record_checkup(session: Session, conversation_id: str, facts: dict, declined: list[str],
                   day: dt.date, result: CheckResult) -> None:
    """Append the check-up's state to the conversation's events (committed by the caller)."""
    record_event(session, EventKind.POLICY_CHECK, conversation_id=conversation_id, actor="bot",
                 facts=dict(facts), declined=list(declined), date=day.isoformat(),
                 eligible=[r.id for r in result.of("eligible")],
                 possible=[r.id for r in result.of("possible")],
                 ineligible=[r.id for r in result.of("ineligible")])


def latest_checkup(session: Session, conversation_id: str) -> Checkup | None:
    """The conversation's latest check-up, or None (never had one, or purged)."""
    if not conversation_id:
        return None
    row = session.execute(select(Event.data, Event.at).where(
        Event.conversation_id == conversation_id, Event.kind == EventKind.POLICY_CHECK.value)
        .order_by(Event.pk.desc()).limit(1)).first()
    if row is None:
        return None
    data = row.data or {}
    facts, declined = data.get("facts"), data.get("declined")
    if not isinstance(facts, dict) or not isinstance(declined, list):
        return None
    return Checkup(facts=facts, declined=[str(d) for d in declined],
                   date=str(data.get("date") or ""), at=row.at)


def typed_facts(raw: dict, dictionary: Dictionary) -> Facts:
    """The kept facts typed by the dictionary; one that no longer fits it is left out."""
    out: Facts = {}
    for name, value in raw.items():
        if name in dictionary:
            try:
                out[name] = parse_value(dictionary[name], value)
            except FactError:
                continue
    return out


def _fact_row(name: str, value: Any, dictionary: Dictionary, masked: bool) -> dict:
    f = dictionary.fields.get(name)
    if masked and isinstance(value, str):
        value = mask_personal_text(value)
    return {"field": name, "label": f.label if f else name, "type": f.type if f else "text",
            "unit": f.unit if f else "", "value": value, "declined": False}


def helper_view(checkup: Checkup, items: list, day: dt.date, dictionary: Dictionary, *,
                masked: bool) -> dict:
    """The check-up as the context pack shows it: each fact given with its label and unit (a
    declined one as such), and what the published ``items`` (``store.published_policies``)
    decide on ``day``: eligible, possible with the facts still needed, ineligible with why.
    ``masked``: a helper who does not handle the ticket sees typed text masked."""
    facts = [_fact_row(n, v, dictionary, masked) for n, v in checkup.facts.items()
             if n not in checkup.declined]
    facts += [{**_fact_row(n, None, dictionary, masked), "declined": True}
              for n in checkup.declined]
    resolve = Resolver(typed_facts(checkup.facts, dictionary), day, dictionary,
                       frozenset(checkup.declined))
    out: dict = {"date": day.isoformat(), "given_on": checkup.date,
                 "at": checkup.at.isoformat() if checkup.at else None, "facts": facts,
                 "eligible": [], "possible": [], "ineligible": []}
    for policy, data in items:
        result = check_policy(policy, resolve)
        if result.status not in ("eligible", "possible", "ineligible"):
            continue
        row: dict = {"id": result.id, "title": data.get("title", "") or result.id,
                     "mode": data.get("mode", "")}
        if result.status == "possible":
            row["needed"] = [dictionary[u].label if u in dictionary else u
                             for u in result.unknown]
        elif result.status == "ineligible":
            reasons = [explain_failed(a, resolve) for a in result.failed]
            row["failed"] = [mask_personal_text(r) if masked else r
                             for r in list(dict.fromkeys(reasons))[:MAX_REASONS]]
        out[result.status].append(row)
    return out


def checkup_of(session: Session, conversation_id: str, day: dt.date, *,
               masked: bool) -> dict | None:
    """The conversation's check-up as :func:`helper_view` shows it, or None."""
    kept = latest_checkup(session, conversation_id)
    if kept is None:
        return None
    return helper_view(kept, store.published_policies(session), day, default_dictionary(),
                       masked=masked)
