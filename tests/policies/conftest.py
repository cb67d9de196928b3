"""Shared helpers for the policy package's tests: atoms and policies in their JSON form."""
from __future__ import annotations

import datetime as dt

import pytest

from policies.evaluator import Policy, policy_from_dict
from policies.fields import Dictionary, default_dictionary

DAY = dt.date(2026, 12, 7)


@pytest.fixture
def dictionary() -> Dictionary:
    return default_dictionary()


def atom(field: str, op: str, value=None, **kw) -> dict:
    return {"field": field, "op": op, **({"value": value} if value is not None else {}), **kw}


def policy(policy_id: str, conditions: dict | None, **kw) -> Policy:
    return policy_from_dict({"id": policy_id, "conditions": conditions, **kw})
