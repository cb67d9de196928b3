"""`make test`'s quick version of `make bench`: the same measurements, smaller, gated with a
margin."""
from __future__ import annotations

import statistics
import time

import pytest

from retrieval.evaluate import load_examples
from tests.bench import bench_retrieval as bench

# Every gate here but the smallest measures time: make test runs them alone (scripts/test.sh).
pytestmark = pytest.mark.serial


def test_single_query_latency(seeded_retriever):
    queries = [e.query for e in load_examples(bench.EVAL_FILES, "test")][:60]
    seeded_retriever.search("预热")
    lat = []
    for q in queries:
        t0 = time.perf_counter()
        seeded_retriever.search(q)
        lat.append((time.perf_counter() - t0) * 1000)
    p95 = sorted(lat)[int(0.95 * len(lat)) - 1]
    print(f"\nquery latency p50 {statistics.median(lat):.1f} ms, p95 {p95:.1f} ms")
    assert p95 < 500  # measured ~40-80 ms on a quiet 2-core machine


def test_onnx_runtime_encodes_a_query_faster_than_torch(seeded_retriever):
    """The reason the gateway runs the exported graph (make bench: p50 ~20 ms against ~45)."""
    queries = [e.query for e in load_examples(bench.EVAL_FILES, "test")][:60]
    figures = bench.encoder_backends(seeded_retriever.embedder, queries)
    print("\nencoder backends:", figures)
    assert seeded_retriever.embedder.backend == "onnx"
    assert figures["onnx"]["p50_ms"] < 0.8 * figures["torch"]["p50_ms"]


def test_seed_index_build(seeded_retriever):
    figures = seeded_retriever.build_figures
    print("\nseed index:", figures)
    assert figures["entries"] >= 150
    assert figures["build_s"] < 240


def test_fusion_beats_each_side_alone(seeded_retriever):
    examples = load_examples(bench.EVAL_FILES, "test")[::2]
    ranking = bench.ranking_by_component(seeded_retriever, examples)
    print("\nranking:", ranking)
    assert ranking["fused"]["top1"] >= ranking["dense_best_question"]["top1"]
    assert ranking["fused"]["top1"] >= ranking["bm25"]["top1"]


def test_encoding_throughput(seeded_retriever):
    rate = bench.encoding_throughput(seeded_retriever.embedder, 64)
    print(f"\nencoding: {rate} texts/s")
    assert rate > 10


def test_index_at_scale_quick():
    figures = bench.index_at_scale(20_000, queries=50)
    print("\nindex at 20,000 entries:", figures)
    assert figures["flat"]["search_p95_ms"] < 100
    assert figures["ivf"]["recall@1_vs_flat"] >= 0.8


def test_edit_reaches_the_answer_quickly(tmp_path):
    """The quick version of `make bench`'s edit-to-answer figure (goal ≤ 1 s; gate 5 s)."""
    from tests.bench import bench_kb

    figures = bench_kb.edit_to_answer(tmp_path, edits=3, entries=30)
    print("\nedit → answer:", figures)
    assert figures["edits"] == 3 and figures["missed"] == 0
    assert figures["max_ms"] < 5000


@pytest.mark.rasa
def test_chat_under_load_loses_and_repeats_nothing():
    """The quick version of `make bench`'s load curve: 5 browsers for 20 s on a real stack
    (questions, suggestions, 没帮助, handoffs with helpers answering, 12345 call-backs,
    ratings), then every message and ticket reconciled against the SQL record. Latency is
    gated only with a wide margin (p95 measured 0.2-0.5 s at 5 conversations; gate 5 s).
    Its 20 s end before the helpers' console sessions are first touched (once a minute),
    which under load has stalled SQLite for 30 s (README, "Chat under load"): only the full
    run (`make bench`) meets that."""
    from tests.bench import bench_load

    result = bench_load.run(quick=True)
    [level] = result["levels"]
    reconciliation = result["reconciliation"]
    print("\nload:", {k: level[k] for k in ("turns", "turns_per_s", "p50_ms", "p95_ms",
                                           "statuses", "by_kind")},
          "\nreconciliation:", reconciliation)
    assert reconciliation["discrepancies"] == 0, reconciliation["examples"]
    assert reconciliation["after_errors"] == 0, reconciliation["after_error_examples"]
    counts = reconciliation["counts"]
    assert counts["user_rows"] >= 20 and counts["bot_replies_matched"] >= 20
    assert counts["receipts"] >= 1 and counts["helper_messages_sent"] >= 1  # handoffs happened
    assert result["tickets_left_open"] == 0 and result["outbox_left"] == 0
    assert level["errors_5xx"] == 0 and level["no_response"] == 0
    assert level["p95_ms"] < 5000


def test_policy_check_and_next_question_for_500_policies():
    """The quick gate of bench_policies (goal p95 ≤ 20 ms; the gate allows twice that)."""
    from tests.bench import bench_policies

    figures = bench_policies.check_and_plan(bench_policies.generated_policies(500), 2)
    print("\npolicy check:", figures)
    assert figures["policies"] == 500 and figures["p95_ms"] < 40


def test_policy_batch_over_the_register_quick():
    """The quick gate of bench_policy_batch: 10,000 enterprises × 100 policies (make bench:
    100,000 × 500, goal ≤ 10 s; measured ~1 s here, gate 5 s), one new policy against them
    (the impact view; gate 300 ms), one changed enterprise against 500 policies (goal 20 ms;
    gate p95 50 ms, the machine shared)."""
    from tests.bench import bench_policy_batch as bench

    full = bench.full_batch(10_000, 100)
    new = bench.new_policy(10_000, 20)
    one = bench.changed_enterprise(500, 20)
    print("\npolicy batch:", full, "\nnew policy:", new, "\nchanged enterprise:", one)
    assert full["rows"] == full["eligible_pairs"] + full["possible_pairs"] > 0
    assert 0 < full["mianshen_ready_pairs"] < full["eligible_pairs"]
    assert full["batch_s"] < 5
    assert new["max_ms"] < 300 and new["enterprises_moved"] > 0
    assert one["p95_ms"] < 50
