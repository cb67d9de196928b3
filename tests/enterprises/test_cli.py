"""`xiaobao enterprises …` through typer's CliRunner on the test database: the seed (valid
codes, some enterprises eligible and some possible for the shipped policies), a read needs a
reason and is logged, a bad import exits non-zero with its rows and stores nothing."""
from __future__ import annotations

import csv
import datetime as dt

from sqlalchemy import func, select
from typer.testing import CliRunner

from enterprises import audit
from enterprises.cli import SEED, app
from enterprises.models import Enterprise, EnterpriseFact
from enterprises.register import records
from enterprises.uscc import valid_uscc
from policies.evaluator import check, policy_from_dict
from policies.store import SEED as POLICY_SEED
from policies.store import load_file
from tests.enterprises.conftest import DAY, code, write_csv
from xiaobao.db import session_factory

FIRST = "913101136000123471"  # the seed's first enterprise



def run(*args: str):
    return CliRunner().invoke(app, list(args))


def counts(engine) -> tuple[int, int]:
    with session_factory(engine)() as s:
        return (s.scalar(select(func.count()).select_from(Enterprise)),
                s.scalar(select(func.count()).select_from(EnterpriseFact)))


def test_the_seed_codes_are_valid_and_match_some_policies():
    with (SEED / "sample_register.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 20 and all(valid_uscc(r["uscc"]) for r in rows)
    assert len({r["uscc"] for r in rows}) == 20


def test_seed_show_and_the_shipped_policies(on_engine):
    first = run("seed", "--if-empty")
    assert first.exit_code == 0, first.output
    assert "enterprises=20" in first.output
    assert "skipped" in run("seed", "--if-empty").output
    assert counts(on_engine)[0] == 20
    policies = [policy_from_dict(p) for path in sorted(POLICY_SEED.glob("*.yaml"))
                for p in load_file(path)]
    statuses = set()
    with session_factory(on_engine)() as s:
        for r in records(s, DAY):
            statuses |= {x.status for x in check(policies, r["facts"], DAY).results}
    assert {"eligible", "possible", "ineligible"} <= statuses

    refused = run("show", FIRST)
    assert refused.exit_code == 1 and "须说明理由" in refused.output
    shown = run("show", FIRST, "--reason", "核对", "--by", "wang", "--date", "2026-12-07")
    assert shown.exit_code == 0, shown.output
    assert "上海宝联精密机械有限公司" in shown.output
    assert "从业人数：45人  [市场监管登记，2026-11-01，权威，有效]" in shown.output
    assert "研发费用占营业收入比例：6.5%  [企业自报，2026-11-20，自述，有效]" in shown.output
    with session_factory(on_engine)() as s:
        [entry] = audit.entries(s, action="read")
    assert (entry["actor"], entry["uscc"], entry["reason"]) == ("wang", FIRST, "核对")
    assert run("show", "91350100M000100Y44", "--reason", "x").exit_code == 1


def test_import_export_and_a_refused_import(on_engine, tmp_path):
    good = write_csv(tmp_path / "g.csv", ["uscc", "name", "employees"], [[code(1), "甲", 5]])
    done = run("import", str(good), "--source", "人社", "--as-of", "2026-11-01", "--by", "li")
    assert done.exit_code == 0, done.output
    assert "facts_added=1" in done.output
    assert "facts_added=0" in run("import", str(good), "--source", "人社", "--as-of",
                                  "2026-11-01").output
    bad = write_csv(tmp_path / "b.csv", ["uscc", "employees", "colour"],
                    [[code(2), 5, "红"]])
    refused = run("import", str(good), str(bad), "--source", "人社")
    assert refused.exit_code == 1
    assert "b.csv 第1行 [colour]" in refused.output and "未写入任何数据" in refused.output
    assert counts(on_engine) == (1, 1)
    dry = run("import", str(write_csv(tmp_path / "d.csv", ["uscc", "employees"],
                                      [[code(3), 7]])), "--dry-run")
    assert dry.exit_code == 0 and "dry run" in dry.output and counts(on_engine) == (1, 1)
    assert run("import", str(good), "--as-of", "tomorrow").exit_code == 1
    future = (dt.date.today() + dt.timedelta(days=3)).isoformat()
    assert "晚于今天" in run("import", str(good), "--as-of", future).output
    out = tmp_path / "out.xlsx"
    exported = run("export", str(out), "--by", "li")
    assert exported.exit_code == 0 and out.is_file()
    assert run("export", str(tmp_path / "out.pdf")).exit_code == 1
    with session_factory(on_engine)() as s:
        assert [e["action"] for e in audit.entries(s)] == ["import", "import", "export"]


def test_history_is_a_logged_read(on_engine, tmp_path):
    path = write_csv(tmp_path / "g.csv", ["uscc", "employees"], [[code(1), 5]])
    run("import", str(path), "--source", "人社", "--as-of", "2026-11-01")
    path = write_csv(tmp_path / "h.csv", ["uscc", "employees"], [[code(1), 9]])
    run("import", str(path), "--source", "人社", "--as-of", "2026-11-20")
    assert run("history", code(1)).exit_code == 1
    shown = run("history", code(1), "--reason", "复核", "--by", "zhao", "--field", "employees")
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert lines[0].startswith("2026-11-01 employees=5 [人社]")
    assert lines[1].startswith("2026-11-20 employees=9 [人社]")
    with session_factory(on_engine)() as s:
        assert [(e["actor"], e["reason"]) for e in audit.entries(s, action="read")] == \
            [("zhao", "复核")]


def test_the_seed_shows_a_stale_record_and_the_enterprises_own_word(on_engine):
    from enterprises.register import profile

    assert run("seed").exit_code == 0
    with session_factory(on_engine)() as s:
        stale = profile(s, "913101136012001983", DAY)  # 泗塘印刷: as of 2025-06-30
        assert stale.facts and stale.authoritative_fresh == frozenset()
        said = profile(s, "91310113600487481W", DAY).fields["employees"]  # 杨行电子
        assert (said.value, said.source, said.declared_value, said.declared_source) == \
            (60, "市场监管登记", 62, "企业自报")
    assert "facts_added=0" in run("seed").output  # idempotent
