"""`xiaobao eval --kfold` and `xiaobao kb terms` as an operator runs them: a subprocess with its
own home, the real model, the shipped seed."""
from __future__ import annotations

import json

from retrieval.terms import TERMS_CHANNEL
from tests.bench.bench_retrieval import EVAL_DIR
from tests.knowledge_base.test_cli import env, run  # noqa: F401  (the fixture and the runner)


def test_eval_kfold_gives_held_out_figures_for_both_forms(env, tmp_path):  # noqa: F811
    run(env, "kb", "seed")
    report = json.loads(run(env, "eval", EVAL_DIR / "part_a.jsonl", "--kfold", "--fold", "0",
                            "--json").stdout.splitlines()[-1])
    assert set(report) == {"seed", "bare"}
    for form in report.values():
        fold = form["folds"]["0"]
        assert 20 <= fold["in_scope"] < 184  # one fifth of the entries' queries, not all
        assert fold["top1"] is not None and 0.5 <= fold["top1"] <= 1
        assert fold["answer_precision"] is None or fold["answer_precision"] >= 0.8


def test_eval_kfold_refuses_a_knowledge_base_too_small_to_fold(env):  # noqa: F811
    result = run(env, "eval", EVAL_DIR / "part_a.jsonl", "--kfold", check=False)
    assert result.returncode == 1 and "少于 10 条" in result.stderr


def test_terms_check_shows_mappings_and_names_bad_lines(env, tmp_path):  # noqa: F811
    good = run(env, "kb", "terms", "check", "-q", "我想开个小饭馆").stdout
    assert "术语映射有效" in good and "我想开个小饭馆 → 餐饮, 餐饮服务" in good
    bad = tmp_path / "bad.tsv"
    bad.write_text("饭馆\t餐饮\n没有制表符\n", "utf-8")
    result = run(env, "kb", "terms", "check", bad, check=False)
    assert result.returncode == 1 and "第2行" in result.stderr


def test_terms_reload_is_announced(env, redis_server):  # noqa: F811
    client = redis_server.client()
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(TERMS_CHANNEL)
    env["XIAOBAO_REDIS_URL"] = f"redis://127.0.0.1:{redis_server.port}/0"
    out = run(env, "kb", "terms", "reload").stdout
    assert "已通知 1 个网关" in out
    message = None
    for _ in range(50):
        message = pubsub.get_message(timeout=0.1)
        if message:
            break
    assert message is not None and message["channel"] in (TERMS_CHANNEL, TERMS_CHANNEL.encode())
    pubsub.close()
