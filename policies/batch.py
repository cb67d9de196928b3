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
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from policies.columns import BatchError, ProfileTable, build_table
from policies.conditions import Atom
from policies.evaluator import Policy, check
from policies.fields import Dictionary
from policies.vectorised import Evaluator

MIANSHEN = "免申即享"
STATUSES = ("ineligible", "possible", "eligible", "not_in_force")  # the status codes 0..3
INELIGIBLE, POSSIBLE, ELIGIBLE, NOT_IN_FORCE = range(4)
_FROM_DECISION = np.array([INELIGIBLE, ELIGIBLE, POSSIBLE], np.int8)  # by value 0, 1, -1
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
    """Statuses as a (policy, enterprise) matrix of codes into :data:`STATUSES`, and which
    eligible pairs are 免申即享-ready; with what each decision rests on."""

    day: dt.date
    table: ProfileTable
    policies: list[Policy]
    status: np.ndarray  # int8 (policies, enterprises)
    ready: np.ndarray  # bool (policies, enterprises)
    versions: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.versions = self.versions or [rule_version(p) for p in self.policies]
        self._policy_index = {p.id: j for j, p in enumerate(self.policies)}
        self._uscc_index = {u: i for i, u in enumerate(self.table.usccs)}

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
            ready = self.ready[:, start:start + chunk].T
            for i, j in zip(*np.nonzero((block == ELIGIBLE) | (block == POSSIBLE))):
                yield {"uscc": usccs[start + i], "policy": ids[j],
                       "status": STATUSES[block[i, j]], "mianshen_ready": bool(ready[i, j])}

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
            out[j] = _FROM_DECISION[evaluator.value(policy.conditions)]
    return out


def batch(profiles: Profiles, policies: Sequence[Policy], day: dt.date,
          dictionary: Dictionary | None = None) -> BatchResult:
    """Every policy over every enterprise on ``day``."""
    table = as_table(profiles, dictionary)
    policies = list(policies)
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
