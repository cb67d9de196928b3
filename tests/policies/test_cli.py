"""`xiaobao policy …` as a user runs it (a real process, a fresh home): seed, check with the
contract's JSON lines on two dates, export, history, and clear errors."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from policies.store import SEED, load_file
from xiaobao.settings import REPO_ROOT


def run(args, home, check=True):
    env = dict(os.environ, XIAOBAO_HOME=str(home))
    env.pop("XIAOBAO_DATABASE_URL", None)
    out = subprocess.run([sys.executable, "-m", "cli.main", "policy", *args], env=env,
                         cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    if check:
        assert out.returncode == 0, out.stderr
    return out


def test_seed_check_export_history(tmp_path):
    profiles = tmp_path / "p.jsonl"
    profiles.write_text("\n".join(json.dumps(p, ensure_ascii=False) for p in [
        {"id": "micro", "facts": {"taxable_income": 50, "employees": 8, "total_assets": 200,
                                  "is_individual_business": False, "industry": "I6510",
                                  "taxpayer_type": "小规模纳税人", "high_tech": False,
                                  "veterans_hired": 0, "tech_sme": False, "revenue": 300,
                                  "founded_on": "2020-05-01", "serious_dishonesty": False,
                                  "insured_employees": 8}},
        {"id": "blank", "facts": {}, "declined": ["taxpayer_type"]},
    ]) + "\n", "utf-8")
    empty = run(["check", "--profiles", str(profiles), "--json", "--date", "2026-12-07"],
                tmp_path)
    first = json.loads(empty.stdout.splitlines()[0])
    assert first["eligible"] == [] and first["next_question"] is None  # nothing seeded yet
    seeded = sum(len(load_file(p)) for p in SEED.glob("*.yaml"))
    assert seeded >= 30 and f"created={seeded}" in run(["seed"], tmp_path).stdout
    lines = [json.loads(line) for line in run(
        ["check", "--profiles", str(profiles), "--json", "--date", "2026-12-07"],
        tmp_path).stdout.splitlines()]
    micro, blank = lines
    assert set(micro) == {"id", "eligible", "possible", "ineligible", "not_in_force",
                          "next_question"}
    assert "tax-small-profit-cit" in micro["eligible"] and micro["possible"] == []
    assert {"id": "tax-high-tech-cit", "failed": ["high_tech"]} in micro["ineligible"]
    assert micro["next_question"] is None
    assert blank["next_question"]["field"] != "taxpayer_type"  # declined: not asked again
    later = json.loads(run(["check", "--profiles", str(profiles), "--json", "--date",
                            "2028-01-01"], tmp_path).stdout.splitlines()[0])
    assert "tax-small-profit-cit" in later["not_in_force"]
    assert "tax-high-tech-cit" not in later["not_in_force"]  # no end date
    out = tmp_path / "out.jsonl"
    assert f"exported {seeded}" in run(["export", str(out)], tmp_path).stdout
    assert "import" in run(["history", "tax-high-tech-cit"], tmp_path).stdout


def test_bad_input_gets_a_clear_error_and_no_traceback(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "facts": {"employees": "很多"}}\n', "utf-8")
    out = run(["check", "--profiles", str(bad)], tmp_path, check=False)
    assert out.returncode == 2 and "从业人数" in out.stderr and "Traceback" not in out.stderr
    wrong = tmp_path / "policies.yaml"
    wrong.write_text("- {id: p, title: t}\n", "utf-8")
    out = run(["import", str(wrong)], tmp_path, check=False)
    assert out.returncode == 1 and "第1行" in out.stderr and "Traceback" not in out.stderr
    out = run(["publish", "nope", "--by", "rev"], tmp_path, check=False)
    assert out.returncode == 1 and "找不到事项" in out.stderr
