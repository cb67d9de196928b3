"""智能填表: a policy's application form pre-filled for one enterprise from the register and
its check-up, each value with where it came from, for the enterprise to check and submit.

A field's value is the register's (an authority's, or the enterprise's own word when no
authority gave one: :func:`enterprises.register.profile`), else a fact the enterprise gave in
its check-up (``given``, source 对话中填报), else empty and marked to fill. A material is
proven when it names a form field (its label, or the label of the field's fact, appears in the
material's text) and every field it names is filled from an authoritative fact within its
freshness: a simple rule, said so to the enterprise as "登记信息已证明", never a check of the
document itself. Only for a published policy the enterprise qualifies for or may
(``eligible`` / ``possible``); any other is refused as unknown (404), so the answer says
nothing about why. The caller has checked who is signed in.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from enterprises.register import FieldValue, Profile, RegisterError, profile
from enterprises.sources import CONVERSATION
from entitlements.errors import EntitlementError
from policies.checkups import typed_facts
from policies.evaluator import check, shown_value
from policies.facts import Facts, fact_json
from policies.fields import default_dictionary
from policies.store import published_policies

OPEN = ("eligible", "possible")
# Where a field's value came from: an authority within its freshness, an authority's value
# past it, the enterprise's own word in the register, its check-up, nothing yet.
STATES = ("authority", "stale", "declared", "given", "to_fill")


@dataclass(frozen=True)
class FilledField:
    key: str
    label: str
    fact: str
    required: bool
    help: str
    state: str  # one of STATES
    value: Any = None  # typed (None: to fill)
    shown: str = ""  # the value as the form prints it (with its unit)
    source: str = ""
    as_of: dt.date | None = None

    @property
    def to_fill(self) -> bool:
        return self.state == "to_fill"

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "label": self.label, "fact": self.fact,
                "required": self.required, "help": self.help, "state": self.state,
                "value": None if self.value is None else fact_json(self.value),
                "shown": self.shown, "source": self.source,
                "as_of": self.as_of.isoformat() if self.as_of else None,
                "to_fill": self.to_fill}


@dataclass(frozen=True)
class Material:
    name: str
    proven: bool
    proven_by: list[str] = field(default_factory=list)  # the labels of the fields naming it

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "proven": self.proven, "proven_by": self.proven_by}


@dataclass(frozen=True)
class FilledForm:
    policy_id: str
    title: str
    apply: str  # where to hand it in (the policy's 办理方式, the 一网通办 item)
    uscc: str
    name: str
    day: dt.date
    status: str  # eligible | possible
    fields: list[FilledField]
    materials: list[Material]

    def to_dict(self) -> dict[str, Any]:
        return {"policy_id": self.policy_id, "title": self.title, "apply": self.apply,
                "uscc": self.uscc, "name": self.name, "day": self.day.isoformat(),
                "status": self.status, "fields": [f.to_dict() for f in self.fields],
                "to_fill": [f.key for f in self.fields if f.to_fill],
                "materials": [m.to_dict() for m in self.materials]}


def _unknown_policy(policy_id: str) -> EntitlementError:
    return EntitlementError(f"没有可为贵企业填写的申请表：{policy_id[:64]}。 / No form to fill "
                            f"for this enterprise: {policy_id[:64]!r}.", status=404,
                            code="no_form")


def _from_register(spec: dict, held: FieldValue, unit: str) -> FilledField:
    state = ("authority" if held.fresh else "stale") if held.authoritative else "declared"
    return FilledField(spec["key"], spec["label"], spec.get("fact", ""),
                       bool(spec.get("required")), spec.get("help", ""), state, held.value,
                       shown_value(held.value, unit), held.source, held.as_of)


def _field(spec: dict, found: Profile, given: Facts, day: dt.date) -> FilledField:
    fact = spec.get("fact", "")
    dictionary = default_dictionary()
    unit = dictionary[fact].unit if fact in dictionary else ""
    if fact in found.fields:
        return _from_register(spec, found.fields[fact], unit)
    base = (spec["key"], spec["label"], fact, bool(spec.get("required")), spec.get("help", ""))
    if fact in given:
        return FilledField(*base, "given", given[fact], shown_value(given[fact], unit),
                           CONVERSATION, day)
    return FilledField(*base, "to_fill")


def _materials(names: list[str], fields: list[FilledField]) -> list[Material]:
    dictionary = default_dictionary()
    out = []
    for name in names:
        naming = [f for f in fields if f.label in name or (
            f.fact in dictionary and dictionary[f.fact].label in name)]
        proven = bool(naming) and all(f.state == "authority" for f in naming)
        out.append(Material(name, proven, [f.label for f in naming] if proven else []))
    return out


def fill(session: Session, uscc: str, policy_id: str, day: dt.date,
         given: dict | None = None) -> FilledForm:
    """The form of ``policy_id`` filled for ``uscc`` on ``day``; ``given``: the facts of the
    enterprise's check-up (JSON as kept, those that no longer fit the dictionary left out).
    EntitlementError 404 for a policy not published or one the enterprise does not qualify
    for (nor may)."""
    pairs = {p.id: (p, d) for p, d in published_policies(session)}
    if policy_id not in pairs:
        raise _unknown_policy(policy_id)
    policy, data = pairs[policy_id]
    try:
        found = profile(session, uscc, day)
    except RegisterError as exc:
        if exc.status != 404:
            raise
        found = Profile(uscc, "", day, {})  # not in the register (yet): only the check-up's
    facts = typed_facts(given or {}, default_dictionary())
    [result] = check([policy], {**facts, **found.facts}, day).results
    if result.status not in OPEN:
        raise _unknown_policy(policy_id)
    fields = [_field(spec, found, facts, day) for spec in data.get("form") or ()]
    return FilledForm(policy_id, str(data.get("title") or policy_id), str(data.get("apply") or ""),
                      found.uscc, found.name, day, result.status, fields,
                      _materials([str(m) for m in data.get("materials") or ()], fields))
