"""The batch: every policy over the whole register at once (免申即享 work lists, 政策推送).

Each (enterprise, policy) gets the status :func:`policies.evaluator.check` would give that
enterprise's facts — ``eligible``, ``possible``, ``ineligible`` or ``not_in_force`` — computed by
columns (:mod:`policies.columns`, :mod:`policies.vectorised`), with no Python loop per pair.
A 免申即享 policy is ``mianshen_ready`` for an enterprise only when it is eligible on the
authoritative, fresh facts alone: the tree is evaluated a second time with every declared or
stale fact unknown, so such a fact may make it possible, never ready. The result keeps each
policy's rule version and the fields it tests, and the records, so every row can be explained
and audited later (:meth:`BatchResult.explain`).
"""
from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from policies.columns import BatchError, ProfileTable, build_table
from policies.conditions import Atom
from policies.evaluator import Policy, Resolver, check
from policies.fields import Dictionary, default_dictionary
from policies.vectorised import Evaluator

MIANSHEN = "免申即享"
# A status's code is the tree's three-valued value (1 true, 0 false, -1 unknown), and 2 for a
# policy not in force that day: STATUSES[code] names it (-1 reads the last).
STATUSES = ("ineligible", "eligible", "not_in_force", "possible")
INELIGIBLE, ELIGIBLE, NOT_IN_FORCE, POSSIBLE = 0, 1, 2, -1
Profiles = ProfileTable | Sequence[Mapping[str, Any]]


def rule_version(policy: Policy) -> str:
    """A fingerprint of what decides a policy (its tree's fields, ops and values, validity,
    mode): the same rules give the same version, whatever their wording."""
    def canon(tree: Any) -> Any:
        if tree is None or isinstance(tree, Atom):
            return None if tree is None else (tree.field, tree.op, tree.value)
        [(key, body)] = tree.items()
        if key == "not":
            return ("not", canon(body))
        if key == "at_least":
            return ("at_least", body["k"], tuple(canon(p) for p in body["of"]))
        return (key, tuple(canon(p) for p in body))

    text = repr((policy.id, canon(policy.conditions), policy.valid_from, policy.valid_to,
                 policy.mode))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


@dataclass
class BatchResult:
    """Statuses as a (policy, enterprise) matrix of codes (:data:`STATUSES`), and which
    eligible pairs are 免申即享-ready; with what each decision rests on."""

    day: dt.date
    table: ProfileTable
    policies: list[Policy]
    status: np.ndarray  # int8 (policies, enterprises)
    ready: np.ndarray  # bool (policies, enterprises)

    @cached_property
    def versions(self) -> list[str]:
        """Each policy's :func:`rule_version`, in the policies' order."""
        return [rule_version(p) for p in self.policies]

    @cached_property
    def _policy_index(self) -> dict[str, int]:
        return {p.id: j for j, p in enumerate(self.policies)}

    @cached_property
    def _uscc_index(self) -> dict[str, int]:
        return {u: i for i, u in enumerate(self.table.usccs)}

    def status_of(self, uscc: str, policy_id: str) -> str:
        return STATUSES[self.status[self._policy_index[policy_id], self._uscc_index[uscc]]]

    def counts(self) -> dict[str, dict[str, int]]:
        """Per policy: how many enterprises are eligible, possible and 免申即享-ready."""
        eligible = (self.status == ELIGIBLE).sum(axis=1)
        possible = (self.status == POSSIBLE).sum(axis=1)
        ready = self.ready.sum(axis=1)
        return {p.id: {"eligible": int(eligible[j]), "possible": int(possible[j]),
                       "mianshen_ready": int(ready[j])} for j, p in enumerate(self.policies)}

    def rows(self, chunk: int = 4096) -> Iterator[dict]:
        """``{"uscc", "policy", "status", "mianshen_ready"}`` for every eligible or possible
        pair, enterprise by enterprise in the register's order, policies in theirs."""
        usccs, ids = self.table.usccs, [p.id for p in self.policies]
        for start in range(0, len(usccs), chunk):
            block = self.status[:, start:start + chunk].T
            at = np.nonzero((block == ELIGIBLE) | (block == POSSIBLE))
            statuses = block[at].tolist()
            ready = self.ready[:, start:start + chunk].T[at].tolist()
            for i, j, s, r in zip(at[0].tolist(), at[1].tolist(), statuses, ready):
                yield {"uscc": usccs[start + i], "policy": ids[j], "status": STATUSES[s],
                       "mianshen_ready": r}

    def rules(self) -> list[dict]:
        """What this run decided by, policy by policy (a work list's or an audit record's
        header): the rule version, the mode, the day and the facts each policy reads."""
        return [{"policy": p.id, "rule_version": v, "mode": p.mode, "day": self.day.isoformat(),
                 "fields": sorted(p.needs)} for p, v in zip(self.policies, self.versions)]

    def explain(self, uscc: str, policy_id: str) -> dict:
        """What one pair rests on, for the work list and the audit: the rule version, the
        fields the policy tests with the enterprise's values (and whether each was
        authoritative and fresh), and the evaluator's own reasons."""
        j, i = self._policy_index[policy_id], self._uscc_index[uscc]
        policy, record = self.policies[j], self.table.records[i]
        facts = record.get("facts") or {}
        fresh = set(record.get("authoritative_fresh") or ())
        used = sorted(policy.needs)
        [result] = check([policy], facts, self.day, dictionary=self.table.dictionary).results
        return {"uscc": uscc, "policy": policy_id, "rule_version": self.versions[j],
                "day": self.day.isoformat(), "status": STATUSES[self.status[j, i]],
                "mianshen_ready": bool(self.ready[j, i]),
                "facts": {name: facts[name] for name in used if name in facts},
                "authoritative": [name for name in used if name in facts and name in fresh],
                "met": [a.field for a in result.met], "failed": [a.field for a in result.failed],
                "unknown": result.unknown}


def as_table(profiles: Profiles, dictionary: Dictionary | None = None) -> ProfileTable:
    return profiles if isinstance(profiles, ProfileTable) else build_table(profiles, dictionary)


def decisions(policies: Sequence[Policy], table: ProfileTable, day: dt.date,
              authoritative_only: bool = False) -> np.ndarray:
    """Each policy's status codes over the table (int8, policies × enterprises)."""
    out = np.empty((len(policies), len(table)), np.int8)
    evaluator = Evaluator(table.view(day, authoritative_only), len(table), table.dictionary)
    for j, policy in enumerate(policies):
        if not policy.in_force(day):
            out[j] = NOT_IN_FORCE
        elif policy.conditions is None:
            out[j] = ELIGIBLE
        else:
            out[j] = evaluator.value(policy.conditions)
    return out


def _one_enterprise(record: Mapping[str, Any], policies: list[Policy], day: dt.date,
                    dictionary: Dictionary) -> tuple[np.ndarray, np.ndarray]:
    """One enterprise (its facts just changed) by each policy's compiled value_of
    (:meth:`Policy.value`), policy by policy: numpy's fixed cost per call outweighs arrays of
    one."""
    facts = {k: v for k, v in (record.get("facts") or {}).items() if v is not None}
    fresh = set(record.get("authoritative_fresh") or ())
    resolve = Resolver(facts, day, dictionary)
    strict = Resolver({k: v for k, v in facts.items() if k in fresh}, day, dictionary)

    def code(policy: Policy, resolver: Resolver) -> int:
        if not policy.in_force(day):
            return NOT_IN_FORCE
        value = policy.value(resolver)
        return POSSIBLE if value is None else int(value)

    status = np.array([[code(p, resolve)] for p in policies], np.int8).reshape(-1, 1)
    ready = np.array([[p.mode == MIANSHEN and s == ELIGIBLE and code(p, strict) == ELIGIBLE]
                      for p, [s] in zip(policies, status.tolist())], bool).reshape(-1, 1)
    return status, ready


def batch(profiles: Profiles, policies: Sequence[Policy], day: dt.date,
          dictionary: Dictionary | None = None) -> BatchResult:
    """Every policy over every enterprise on ``day``."""
    if not isinstance(profiles, ProfileTable) and len(profiles) == 1:  # no columns needed
        table = ProfileTable([str(profiles[0].get("uscc", ""))], {}, {},
                             dictionary or default_dictionary(), list(profiles))
    else:
        table = as_table(profiles, dictionary)
    policies = list(policies)
    if len(table) == 1:
        return BatchResult(day, table, policies,
                           *_one_enterprise(table.records[0], policies, day, table.dictionary))
    status = decisions(policies, table, day)
    ready = np.zeros(status.shape, bool)
    mianshen = [j for j, p in enumerate(policies) if p.mode == MIANSHEN]
    if mianshen:
        strict = decisions([policies[j] for j in mianshen], table, day, authoritative_only=True)
        ready[mianshen] = (strict == ELIGIBLE) & (status[mianshen] == ELIGIBLE)
    return BatchResult(day, table, policies, status, ready)


def rows_for(records: Profiles, policies: Sequence[Policy], day: dt.date,
             policy_id: str | None = None) -> Iterator[dict]:
    """The lines of ``xiaobao policy batch --json``: every eligible or possible pair as
    ``{"uscc", "policy", "status", "mianshen_ready"}``; only ``policy_id``'s if given."""
    if policy_id is not None:
        policies = [p for p in policies if p.id == policy_id]
        if not policies:
            raise BatchError(f"没有这项政策：{policy_id[:60]}。 / No such policy.",
                             status=404, code="policy_not_found")
    return batch(records, policies, day).rows()


@dataclass
class Impact:
    """What publishing a new or changed policy would do to the register."""

    policy: str
    newly_eligible: list[str]
    no_longer_eligible: list[str]
    newly_possible: list[str]

    def to_dict(self) -> dict:
        return {"policy": self.policy,
                **{name: {"count": len(usccs), "usccs": usccs} for name, usccs in (
                    ("newly_eligible", self.newly_eligible),
                    ("no_longer_eligible", self.no_longer_eligible),
                    ("newly_possible", self.newly_possible))}}


def impact(old_policy: Policy | None, new_policy: Policy, profiles: Profiles,
           day: dt.date) -> Impact:
    """The enterprises the change moves on ``day``: newly eligible, no longer eligible, and
    newly possible (possible now, not before). A new policy (``old_policy`` None) was nothing
    to anyone."""
    table = as_table(profiles)
    [new] = decisions([new_policy], table, day)
    if old_policy is None:
        old = np.full(len(table), NOT_IN_FORCE, np.int8)
    else:
        [old] = decisions([old_policy], table, day)
    usccs = np.array(table.usccs, dtype=object)

    def where(mask: np.ndarray) -> list[str]:
        return usccs[mask].tolist()

    return Impact(new_policy.id, where((new == ELIGIBLE) & (old != ELIGIBLE)),
                  where((old == ELIGIBLE) & (new != ELIGIBLE)),
                  where((new == POSSIBLE) & (old != POSSIBLE)))
