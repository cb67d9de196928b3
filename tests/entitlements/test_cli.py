"""`xiaobao policy batch` and `xiaobao worklist …` through typer's CliRunner on the test
database, on the shipped seeds (policies and register): every line the batch prints is what
the single-profile evaluator says of that enterprise, and a second run adds nothing."""
from __future__ import annotations

import json

from typer.testing import CliRunner

from cli.main import app
from enterprises.register import profile, records
from policies.evaluator import check
from policies.store import published_policies
from xiaobao.clock import today
from xiaobao.db import session_factory


def run(*args: str):
    return CliRunner().invoke(app, list(args))


def test_batch_lines_equal_the_evaluator_and_work_items_follow(on_engine):
    assert run("policy", "seed").exit_code == 0
    assert run("enterprises", "seed").exit_code == 0
    out = run("policy", "batch", "--json")
    assert out.exit_code == 0, out.output
    lines = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    assert lines and set(lines[0]) == {"uscc", "policy", "status", "mianshen_ready"}
    day = today()
    with session_factory(on_engine)() as s:
        policies = [p for p, _ in published_policies(s)]
        expected = {}
        for rec in records(s, day):
            facts = profile(s, rec["uscc"], day).facts
            for r in check(policies, facts, day).results:
                if r.status in ("eligible", "possible"):
                    expected[(rec["uscc"], r.id)] = r.status
    assert {(x["uscc"], x["policy"]): x["status"] for x in lines} == expected
    ready = [x for x in lines if x["mianshen_ready"]]
    listed = [json.loads(line) for line in run("worklist", "list").stdout.splitlines()]
    assert sorted((x["uscc"], x["policy"]) for x in ready) == sorted(
        (w["uscc"], w["policy_id"]) for w in listed)
    again = run("policy", "batch")
    summary = json.loads(again.stdout.strip().splitlines()[-1])
    assert (summary["work_items"], summary["notifications"]) == (0, 0)


def test_decide_and_grant_refuse_steps_out_of_order(on_engine):
    run("policy", "seed")
    run("enterprises", "seed")
    run("policy", "batch")
    listed = [json.loads(line) for line in run("worklist", "list").stdout.splitlines()]
    assert listed, "the seed register has a 免申即享-ready enterprise"
    item = str(listed[0]["id"])
    early = run("worklist", "grant", item, "--by", "clerk")
    assert early.exit_code == 1 and "不能" in early.output
    bare = run("worklist", "decide", item, "--decline", "--by", "clerk")
    assert bare.exit_code == 1 and "说明" in bare.output
    ok = run("worklist", "decide", item, "--confirm", "--by", "clerk")
    assert ok.exit_code == 0 and json.loads(ok.stdout)["status"] == "confirmed"


def test_a_bad_date_and_a_missing_policy_are_clear_errors(on_engine):
    bad = run("policy", "batch", "--date", "2026-13-01")
    assert bad.exit_code == 2 and "YYYY-MM-DD" in bad.output
    missing = run("policy", "batch", "--policy", "nope")
    assert missing.exit_code == 1 and "没有已发布的政策" in missing.output


def test_the_pairs_go_to_a_spreadsheet_without_recording_a_run(on_engine, tmp_path):
    from openpyxl import load_workbook
    from sqlalchemy import func, select

    from entitlements.models import BatchRun

    run("policy", "seed")
    run("enterprises", "seed")  # (the seeds run the batch themselves)
    with session_factory(on_engine)() as s:
        before = s.scalar(select(func.count()).select_from(BatchRun))
    out = tmp_path / "batch.xlsx"
    done = run("policy", "batch", "--dry-run", "--out", str(out))
    assert done.exit_code == 0, done.output
    rows = list(load_workbook(out).active.iter_rows(values_only=True))
    assert rows[0] == ("uscc", "policy", "status", "mianshen_ready") and len(rows) > 1
    with session_factory(on_engine)() as s:
        assert s.scalar(select(func.count()).select_from(BatchRun)) == before


def test_the_command_line_runs_the_batch_after_an_import_or_a_publish(on_engine, tmp_path):
    """Facts loaded or a policy published on the command line find the newly eligible at
    once, as publishing in the workbench does; a dry run runs nothing."""
    from sqlalchemy import func, select

    from entitlements.models import BatchRun, WorkItem

    run("policy", "seed")
    dry = run("enterprises", "seed", "--if-empty")
    assert dry.exit_code == 0
    with session_factory(on_engine)() as s:
        assert s.scalar(select(func.count()).select_from(WorkItem)) > 0  # seeding ran it
        runs = s.scalar(select(func.count()).select_from(BatchRun))
    facts = tmp_path / "more.csv"
    facts.write_text("uscc,employees\n913101136000123471,12\n", encoding="utf-8")
    assert run("enterprises", "import", str(facts), "--source", "人社", "--dry-run"
               ).exit_code == 0
    with session_factory(on_engine)() as s:
        assert s.scalar(select(func.count()).select_from(BatchRun)) == runs  # dry: none
    done = run("enterprises", "import", str(facts), "--source", "人社")
    assert done.exit_code == 0 and "batch:" in done.output
    with session_factory(on_engine)() as s:
        assert s.scalar(select(func.count()).select_from(BatchRun)) == runs + 1
