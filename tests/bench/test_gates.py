"""`make test`'s quick version of `make bench`: the same measurements, smaller, gated with a
margin."""
from __future__ import annotations

import statistics
import time

from retrieval.evaluate import load_examples
from tests.bench import bench_retrieval as bench


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
