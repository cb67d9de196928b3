"""The `xiaobao kb` and `xiaobao eval` commands, run as a user runs them (a subprocess each)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from xiaobao.settings import get_settings

XIAOBAO = [sys.executable, "-m", "cli.main"]
ENTRIES = [
    {"id": "kb-licence", "question": "如何申请营业执照？",
     "similar_questions": ["新开公司怎么办执照", "个体户执照在哪领"],
     "answer": "在一网通办“企业开办”专栏申请。", "category": "企业开办与变更",
     "source": "企业开办指南"},
    {"id": "kb-fund", "question": "单位如何办理住房公积金缴存登记？",
     "similar_questions": ["公司怎么开公积金账户", "企业公积金开户"],
     "answer": "通过一网通办办理单位缴存登记。", "category": "住房公积金",
     "source": "公积金办事指南"},
]


@pytest.fixture
def env(tmp_path):
    e = dict(os.environ)
    e["XIAOBAO_HOME"] = str(tmp_path / "home")
    e["XIAOBAO_EMBEDDING_MODEL_DIR"] = str(get_settings().model_dir)
    e.pop("XIAOBAO_DATABASE_URL", None)
    return e


def run(env, *args, check=True):
    proc = subprocess.run([*XIAOBAO, *map(str, args)], env=env, capture_output=True, text=True,
                          timeout=300, cwd=Path(__file__).resolve().parents[2])
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_import_export_history_rollback(env, tmp_path):
    kb = tmp_path / "kb.yaml"
    kb.write_text(yaml.safe_dump(ENTRIES, allow_unicode=True), "utf-8")
    dry = run(env, "kb", "import", kb, "--dry-run").stdout
    assert "dry run, nothing written" in dry and "would create 2" in dry
    assert "would create 2" in run(env, "kb", "import", kb, "--dry-run").stdout  # nothing kept
    assert "新增 created 2" in run(env, "kb", "import", kb, "--by", "alice").stdout
    assert "未变 unchanged 2" in run(env, "kb", "import", kb).stdout
    changed = [ENTRIES[0] | {"answer": "到区行政服务中心窗口办理。"}, ENTRIES[1]]
    kb.write_text(yaml.safe_dump(changed, allow_unicode=True), "utf-8")
    assert "更新 updated 1" in run(env, "kb", "import", kb, "--by", "bob").stdout
    history = run(env, "kb", "history", "kb-licence").stdout
    assert "alice" in history and "bob" in history
    assert "到区行政服务中心窗口办理" in run(env, "kb", "diff", "kb-licence", "1", "2").stdout
    run(env, "kb", "rollback", "kb-licence", "1", "--by", "carol")
    out = tmp_path / "out.xlsx"
    run(env, "kb", "export", out)
    again = tmp_path / "again.jsonl"
    run(env, "kb", "export", again)
    rows = [json.loads(line) for line in again.read_text("utf-8").splitlines()]
    assert rows[1]["answer"] == ENTRIES[0]["answer"]  # rolled back (sorted by id: fund, licence)
    assert "未变 unchanged 2" in run(env, "kb", "import", out).stdout


def test_bad_file_exits_non_zero_with_row_and_reason_and_no_traceback(env, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("id,question,answer\nkb-1,问题,\n", "utf-8")
    proc = run(env, "kb", "import", bad, check=False)
    assert proc.returncode == 1
    assert "bad.csv 第2行 [answer]" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    a, b = tmp_path / "a.yaml", tmp_path / "b.jsonl"
    a.write_text(yaml.safe_dump(ENTRIES[:1], allow_unicode=True), "utf-8")
    b.write_text(json.dumps(ENTRIES[0], ensure_ascii=False) + "\n", "utf-8")
    twice = run(env, "kb", "import", a, b, check=False)
    assert twice.returncode == 1 and "kb-licence" in twice.stderr and "相同 id" in twice.stderr
    missing = run(env, "kb", "import", tmp_path / "nope.yaml", check=False)
    assert missing.returncode == 2 and "文件不存在" in missing.stderr


def test_search_batch_json_and_eval(env, tmp_path):
    kb = tmp_path / "kb.yaml"
    kb.write_text(yaml.safe_dump(ENTRIES, allow_unicode=True), "utf-8")
    run(env, "kb", "import", kb)
    queries = tmp_path / "q.txt"
    queries.write_text("开公司执照去哪办\n\n企业公积金户头怎么开\n", "utf-8")
    batch = run(env, "kb", "search", "--batch", queries, "--json").stdout
    lines = [json.loads(x) for x in batch.splitlines()]
    assert [x["query"] for x in lines] == ["开公司执照去哪办", "", "企业公积金户头怎么开"]
    assert lines[0]["hits"][0]["id"] == "kb-licence" and lines[2]["hits"][0]["id"] == "kb-fund"
    assert lines[0]["decision"] in ("answer", "suggest", "abstain")
    assert lines[1]["decision"] == "error"
    assert set(lines[0]["hits"][0]) == {"id", "score"}
    ev = tmp_path / "ev.jsonl"
    ev.write_text('{"query": "开公司执照去哪办", "expected": "kb-licence"}\n'
                  '{"query": "今天天气怎么样", "expected": null}\n', "utf-8")
    report = json.loads(run(env, "eval", ev, "--json").stdout.splitlines()[-1])
    assert report["top1"] == 1.0 and report["queries"] == 2
    assert {"mrr@5", "answer_precision", "in_scope_served", "abstained_right_first",
            "latency_p95_ms"} <= set(report)
    too_long = run(env, "kb", "search", "问" * 2001, check=False)
    assert too_long.returncode == 1 and "问题过长" in too_long.stderr


def test_stale_lists_entries_never_or_long_ago_reviewed(env, tmp_path):
    import datetime as dt

    old = (dt.date.today() - dt.timedelta(days=200)).isoformat()
    recent = (dt.date.today() - dt.timedelta(days=10)).isoformat()
    rows = [ENTRIES[0] | {"reviewed_on": old, "reviewed_by": "alice"},
            ENTRIES[1] | {"reviewed_on": recent, "source_url": "https://www.shgjj.com/"},
            {"id": "kb-never", "question": "从未核对？", "answer": "答。"}]
    kb = tmp_path / "kb.yaml"
    kb.write_text(yaml.safe_dump(rows, allow_unicode=True), "utf-8")
    run(env, "kb", "import", kb)
    out = run(env, "kb", "stale").stdout
    assert "kb-licence" in out and "超期" in out and "kb-never" in out and "未核对" in out
    assert "kb-fund" not in out  # reviewed 10 days ago
    assert "待核对 2 条" in out
    strict = run(env | {"XIAOBAO_KB_REVIEW_MAX_AGE_DAYS": "5"}, "kb", "stale").stdout
    assert "kb-fund" in strict and "待核对 3 条" in strict
