"""The register's audit log: what is recorded and read back, and nothing but its actions."""
from __future__ import annotations

import datetime as dt

import pytest

from enterprises import audit
from tests.enterprises.conftest import code


def test_recorded_and_read_back_in_order(session):
    at = dt.datetime(2026, 12, 7, 2, 0, tzinfo=dt.UTC)
    audit.record(session, "wang", "read", uscc=code(1), reason="核对", at=at)
    audit.record(session, "li", "export", detail={"file": "x.csv", "enterprises": 3})
    got = audit.entries(session)
    assert [(e["actor"], e["action"], e["uscc"]) for e in got] == \
        [("wang", "read", code(1)), ("li", "export", None)]
    assert got[0]["at"].startswith("2026-12-07") and got[1]["detail"]["enterprises"] == 3
    assert [e["actor"] for e in audit.entries(session, uscc=code(1))] == ["wang"]


def test_an_unknown_action_is_refused(session):
    with pytest.raises(ValueError):
        audit.record(session, "wang", "delete")
    assert audit.entries(session) == []
