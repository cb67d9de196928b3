"""Boundary cases and the test panel (policies/boundaries.py, trial.py, workbench.py): every
threshold and date at, just below, just above and unknown, with the check's result."""
from __future__ import annotations

import datetime as dt
import json

import pytest

from policies.boundaries import base_profile, boundary_cases
from policies.facts import FactError
from policies.workbench import trial_run
from tests.policies.conftest import DAY, atom, policy


def cases_of(found: list[dict], field: str) -> dict[str, tuple]:
    return {c["case"]: (c["value"], c["atom"], c["expected"]) for c in found
            if c["field"] == field}


def test_a_threshold_at_below_above_and_unknown(dictionary):
    small = policy("p", {"all": [atom("employees", "le", 300), atom("revenue", "lt", 2000)]})
    base = {"employees": 100, "revenue": 500.0}
    found = boundary_cases(small, base, DAY, dictionary)
    assert cases_of(found, "employees") == {
        "below": (299, "met", "eligible"), "at": (300, "met", "eligible"),
        "above": (301, "failed", "ineligible"), "unknown": (None, "unknown", "possible")}
    assert cases_of(found, "revenue") == {
        "below": (1999.99, "met", "eligible"), "at": (2000.0, "failed", "ineligible"),
        "above": (2000.01, "failed", "ineligible"), "unknown": (None, "unknown", "possible")}


def test_between_has_both_ends_and_dates_move_by_a_day(dictionary):
    p = policy("p", {"all": [atom("rd_ratio", "between", [3, 5]),
                             atom("founded_on", "ge", "2020-01-01")]})
    found = boundary_cases(p, {"rd_ratio": 4.0, "founded_on": dt.date(2021, 1, 1)}, DAY,
                           dictionary)
    assert [(c["value"], c["expected"]) for c in found if c["field"] == "rd_ratio"][:6] == [
        (2.99, "ineligible"), (3.0, "eligible"), (3.01, "eligible"),
        (4.99, "eligible"), (5.0, "eligible"), (5.01, "ineligible")]
    assert cases_of(found, "founded_on") == {
        "below": ("2019-12-31", "failed", "ineligible"), "at": ("2020-01-01", "met", "eligible"),
        "above": ("2020-01-02", "met", "eligible"), "unknown": (None, "unknown", "possible")}


def test_years_since_founded_is_moved_through_the_anniversary(dictionary):
    p = policy("p", atom("years_since_founded", "ge", 3))
    found = boundary_cases(p, {"founded_on": dt.date(2020, 5, 1)}, DAY, dictionary)
    founding = {c["case"]: (c["value"], c["expected"]) for c in found
                if c["field"] == "founded_on"}
    assert founding == {"at": ("2023-12-07", "eligible"), "below": ("2023-12-08", "ineligible")}
    unknown = [c for c in found if c["case"] == "unknown"]
    assert unknown[0]["expected"] == "possible"  # founded_on taken away too


def test_validity_first_and_last_days(dictionary):
    p = policy("p", None, valid_from="2026-01-01", valid_to="2026-12-31")
    found = [(c["value"], c["expected"]) for c in boundary_cases(p, {}, DAY, dictionary)]
    assert found == [("2025-12-31", "not_in_force"), ("2026-01-01", "eligible"),
                     ("2026-01-02", "eligible"), ("2026-12-30", "eligible"),
                     ("2026-12-31", "eligible"), ("2027-01-01", "not_in_force")]


def test_without_a_sample_the_cases_start_from_an_enterprise_that_qualifies(dictionary):
    p = policy("p", {"all": [atom("employees", "le", 300), atom("high_tech", "is_true")]})
    assert base_profile(p, {}, dictionary) == {"employees": 299, "high_tech": True}
    assert base_profile(p, {"employees": 5}, dictionary) == {"employees": 5}


def test_the_test_panel_in_one_call():
    item = {"conditions": {"any": [atom("employees", "le", 300), atom("high_tech", "is_true")]},
            "valid_to": "2030-12-31"}
    out = trial_run(item, {"employees": "320"}, ["high_tech"], DAY)
    assert out["result"]["status"] == "possible"
    assert [(n["kind"], n["mark"]) for n in out["result"]["nodes"]] == [
        ("any", "❓"), ("atom", "❌"), ("atom", "❓")]
    assert out["result"]["nodes"][0]["text"] == "任一满足"
    assert {c["code"] for c in out["checks"]} >= {"invalid", "missing_doc_no"}
    assert out["publishable"] is False and out["boundaries"]
    with pytest.raises(FactError):
        trial_run(item, {"employees": "inf"}, [], DAY)
    with pytest.raises(FactError):
        trial_run(item, {}, ["nope"], DAY)


def test_extreme_values_still_give_plain_json():
    item = {"conditions": {"all": [atom("revenue", "between", [-1.7e308, 1.7e308]),
                                   atom("employees", "ge", 10 ** 30),
                                   atom("founded_on", "ge", "0001-01-01"),
                                   atom("founded_on", "le", "9999-12-31")]},
            "valid_from": "0001-01-01", "valid_to": "9999-12-31"}
    out = trial_run(item, {}, [], DAY)
    json.dumps(out, allow_nan=False)  # no inf, no nan, no date outside the calendar
    assert out["result"]["status"] == "possible"
