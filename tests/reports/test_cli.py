"""`xiaobao report` on the scripted day (tests/reports/scenario.py): the JSON object is the
summary's, the table shows the hand-counted figures, bad options exit 2 with a message."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cli.main import app
from reports import facts, rates
from tests.reports import scenario

DAY = ["--from", "2026-12-01", "--to", "2026-12-01"]



@pytest.fixture
def built(on_engine, r):
    return scenario.build(on_engine, r)


def run(*args: str):
    return CliRunner().invoke(app, ["report", *args])


def test_json_is_the_summary_with_its_breakdown(built, engine):
    result = run(*DAY, "--by", "department", "--json")
    assert result.exit_code == 0, result.output
    got = json.loads(result.stdout)
    assert got.pop("mianshen") == {"policies": [], "departments": {}}  # no work list yet
    assert got == rates.summary(engine, scenario.DAY, scenario.DAY, config=scenario.CONFIG,
                                by="department")
    assert got["response_rate"] == {"value": 4 / 6, "numerator": 4, "denominator": 6}
    assert {row["key"] for row in got["breakdown"]["rows"]} == {
        scenario.PERMITS, scenario.TAX, scenario.SOCIAL}


def test_the_table_for_people(built):
    result = run(*DAY, "--by", "channel")
    assert result.exit_code == 0, result.output
    assert "响应率" in result.stdout and "66.7% (4/6)" in result.stdout  # 4 of 6 in time
    assert "57.1% (4/7)" in result.stdout  # 解决率
    assert "p50 150 s · p90 1800 s (n=5)" in result.stdout  # first response
    assert "hotline_12345" in result.stdout and "100.0%" in result.stdout


def test_an_empty_window_shows_not_available(on_engine):
    result = run("--from", "2026-01-05", "--to", "2026-01-05")
    assert result.exit_code == 0, result.output
    assert "%" not in result.stdout and facts.ABANDONED_EARLY in result.stdout
    assert json.loads(run("--from", "2026-01-05", "--to", "2026-01-05", "--json").stdout)[
        "satisfaction_rate"] == {"value": None, "numerator": 0, "denominator": 0}


@pytest.mark.parametrize("args,words", [
    (["--from", "2026-12-32", "--to", "2026-12-01"], "--from 须为日期"),
    (["--from", "2026-12-01", "--to", "tomorrow"], "--to must be a date"),
    (["--from", "2026-12-02", "--to", "2026-12-01"], "晚于"),
    (["--from", "2025-01-01", "--to", "2026-12-01"], "366"),
    ([*DAY, "--by", "weekday"], "--by must be one of"),
])
def test_bad_options_exit_2_with_a_message(on_engine, args, words):
    result = run(*args)
    assert result.exit_code == 2
    assert words in result.stderr and " / " in result.stderr


def test_the_report_counts_the_work_lists(built, engine, tmp_path):
    """免申即享 outcomes per policy and department beside the rates (entitlements.counts)."""
    from entitlements.models import WorkItem
    from xiaobao.db import session_scope

    with session_scope(engine) as s:
        for n, status in enumerate(("pending", "confirmed", "granted", "declined")):
            s.add(WorkItem(policy_id="p-1", policy_version=1, rule_version="r",
                           department="区税务局", uscc=f"{n:018d}", run_id=1, why="{}",
                           status=status))
    got = json.loads(run(*DAY, "--json").stdout)["mianshen"]
    [row] = got["policies"]
    assert (row["qualifying"], row["confirmed"], row["granted"], row["declined"]) == (4, 2, 1, 1)
    table = run(*DAY).stdout
    assert "免申即享与政策推送" in table and "p-1" in table
