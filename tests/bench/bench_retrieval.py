"""Retrieval benchmark: ranking quality by component, latency, encoding speed, index size.

``run(quick=False)`` is `make bench`; ``run(quick=True)`` is the smaller version
`make test` gates on (tests/bench/test_gates.py).
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil

REPO = Path(__file__).resolve().parents[2]
EVAL_DIR = REPO / "tests" / "data" / "eval"
# Written before tuning and never fitted on (tests/data/eval/frozen/README.md).
FROZEN_FILES = sorted((EVAL_DIR / "frozen").glob("*.jsonl"))
EVAL_FILES = sorted(EVAL_DIR.glob("*.jsonl")) + FROZEN_FILES
SEED_FILES = sorted((REPO / "knowledge_base" / "seed").glob("*.yaml"))


def _rss_mb() -> float:
    return psutil.Process(os.getpid()).memory_info().rss / 2**20


def _pct(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 2)


def seeded_retriever(home: Path, saved_index: Path | None = None):
    """A retriever over the shipped seed knowledge base in a fresh SQLite database.

    With ``saved_index`` (an index this function built before, for the same seed) the index is
    loaded rather than embedded again: the test processes of one run build it once."""
    from knowledge_base import io, store
    from retrieval.embedder import get_embedder
    from retrieval.service import Retriever
    from xiaobao.db import make_engine, session_scope, upgrade

    engine = make_engine(f"sqlite:///{home / 'bench.db'}")
    upgrade(engine)
    with session_scope(engine) as s:
        store.save_entries(s, [e for f in SEED_FILES for e in io.parse_entries(f)], "bench")
    embedder = get_embedder()
    if saved_index is not None:
        shutil.copytree(saved_index, home / "index")
        retriever = Retriever(engine, embedder, home / "index")
        if retriever.load_or_build() == "loaded":
            return retriever, None
    rss0, t0 = _rss_mb(), time.perf_counter()
    retriever = Retriever(engine, embedder, home / "index")
    retriever.build()
    return retriever, {"build_s": round(time.perf_counter() - t0, 2),
                       "build_rss_delta_mb": round(_rss_mb() - rss0, 1),
                       "entries": retriever.size, "vectors": retriever.dense.ntotal}


def ranking_by_component(retriever, examples) -> dict:
    """top-1 and MRR@5 of dense only, BM25 only and the fused ranking (in-scope queries)."""
    from retrieval.fusion import fuse
    from retrieval.normalize import normalize

    ins = [e for e in examples if e.expected]
    vecs = retriever.embedder.encode_queries([normalize(e.query) for e in ins])
    cfg = retriever.config
    ranks = {"dense_best_question": [], "dense_mean2": [], "dense_passage": [], "bm25": [],
             "fused": []}
    for ex, v in zip(ins, vecs):
        dense, sparse = retriever.candidates(normalize(ex.query), v)
        def by(f, dense=dense):
            return sorted(dense, key=lambda i: -f(dense[i]))
        for name, ids in (("dense_best_question", by(lambda d: d.best)),
                          ("dense_mean2", by(lambda d: d.mean2)),
                          ("dense_passage", by(lambda d: d.passage)),
                          ("bm25", sorted(sparse, key=lambda i: -sparse[i])),
                          ("fused", [c.id for c in fuse(dense, sparse, cfg.passage_weight,
                                                        cfg.sparse_weight)])):
            ranks[name].append(ids.index(ex.expected) + 1 if ex.expected in ids[:5] else None)
    out = {}
    for name, rs in ranks.items():
        out[name] = {"top1": round(sum(r == 1 for r in rs) / len(rs), 4),
                     "mrr@5": round(sum(1 / r for r in rs if r) / len(rs), 4)}
    return out


def encoding_throughput(embedder, n: int) -> float:
    texts = [f"企业办理营业执照变更登记第{i}个问题需要准备哪些材料" for i in range(n)]
    embedder.encode_queries(texts[:8])
    t0 = time.perf_counter()
    embedder.encode_queries(texts)
    return round(n / (time.perf_counter() - t0), 1)


def _query_latency(encode, queries: list[str]) -> dict:
    encode(queries[0])
    lat = []
    for q in queries:
        t0 = time.perf_counter()
        encode(q)
        lat.append((time.perf_counter() - t0) * 1000)
    return {"p50_ms": _pct(lat, 50), "p95_ms": _pct(lat, 95)}


def encoder_backends(embedder, queries: list[str]) -> dict:
    """One query's encoding time on ONNX Runtime (what the gateway runs) and on torch."""
    from retrieval.embedder import Embedder

    torch_embedder = Embedder(embedder.model_dir, threads=embedder.threads, backend="torch")
    return {name: _query_latency(lambda q, e=e: e.encode_queries([q]), queries)
            for name, e in (("onnx", embedder), ("torch", torch_embedder))}


def cross_encoder_cost(embedder, queries: list[str], candidates: list[str]) -> dict:
    """The least a reranker of e5-small's size would add to a query: one forward pass over k
    (query, candidate question) pairs, for k = 3 and 5 (a cross-encoder reads each pair
    whole; nothing can be precomputed)."""
    def pairs(q: str, k: int) -> list[str]:
        return [f"{q} {candidates[(len(q) + i) % len(candidates)]}" for i in range(k)]

    return {f"top{k}": _query_latency(lambda q, k=k: embedder.encode_queries(pairs(q, k)),
                                      queries) for k in (3, 5)}


def index_at_scale(n: int, dim: int = 384, queries: int = 200) -> dict:
    """Search latency and memory at n entries; random unit vectors stand in for embeddings."""
    from retrieval.dense import DenseIndex

    rng = np.random.default_rng(0)
    data = rng.normal(size=(n, dim)).astype(np.float32)
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    noise = 0.05 * rng.normal(size=(queries, dim)).astype(np.float32)
    q = data[rng.choice(n, queries, replace=False)] + noise
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    out = {}
    truth = None
    for kind in ("flat", "ivf"):
        rss0, t0 = _rss_mb(), time.perf_counter()
        idx = DenseIndex(dim, kind=kind, nlist=max(16, int(np.sqrt(n))), nprobe=16)
        idx.train(data[: min(n, 50_000)])
        idx.add_many(list(range(n)), [data[i:i + 1] for i in range(n)]) if n <= 20_000 else \
            idx.index.add_with_ids(data, np.arange(n, dtype=np.int64) * 64)
        build = time.perf_counter() - t0
        lat, found = [], []
        for row in q:
            t1 = time.perf_counter()
            hits = idx.search(row[None, :], k=10)[0]
            lat.append((time.perf_counter() - t1) * 1000)
            found.append(next(iter(hits)))
        if kind == "flat":
            truth = found
        out[kind] = {"build_s": round(build, 2), "rss_delta_mb": round(_rss_mb() - rss0, 1),
                     "search_p50_ms": _pct(lat, 50), "search_p95_ms": _pct(lat, 95),
                     "recall@1_vs_flat": round(sum(a == b for a, b in zip(found, truth))
                                               / len(found), 4)}
        del idx
    out["entries"] = n
    return out


def seed_entries():
    from knowledge_base.io import parse_entries

    return [e for f in SEED_FILES for e in parse_entries(f)]


def heldout(folds: list[int] | None = None, adapt: bool = True, progress=None) -> dict:
    """Group k-fold over the seed's entries, in both forms (``seed``: with its similar
    questions; ``bare``: without), with the fold's adapted encoder or the base one."""
    from retrieval.embedder import Embedder
    from retrieval.evaluate import load_examples
    from retrieval.heldout import evaluate_forms
    from xiaobao.settings import get_settings

    settings = get_settings()
    # Every core: a batch job with the machine to itself (the gateway's one thread is for
    # sharing the cores with Rasa); the figures do not depend on it.
    base = Embedder(settings.model_dir, backend=settings.encoder_backend)
    t0 = time.perf_counter()
    out = evaluate_forms(seed_entries(), load_examples(EVAL_FILES), base, adapt=adapt,
                         cache_root=settings.adapted_models_dir, folds=folds,
                         progress=progress)
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out


def run(quick: bool = False) -> dict:
    from retrieval.evaluate import load_examples, run_eval

    with tempfile.TemporaryDirectory() as tmp:
        retriever, build = seeded_retriever(Path(tmp))
        test = load_examples(EVAL_FILES)
        if quick:
            test = test[::3]
        quality, _ = run_eval(retriever, test)
        queries = [e.query for e in test][: 60 if quick else 300]
        questions = [e.question for e in seed_entries()]
        folds = [0] if quick else None
        report = {
            "seed_index": build,
            "shipped_config_all_queries": quality,
            "heldout_adapted": heldout(folds, adapt=True, progress=print),
            "heldout_base": heldout(folds, adapt=False, progress=print),
            "ranking_all_queries": ranking_by_component(retriever, test),
            "encode_texts_per_s": encoding_throughput(retriever.embedder, 64 if quick else 512),
            "encoder_backends": encoder_backends(retriever.embedder, queries),
            "cross_encoder_cost": cross_encoder_cost(retriever.embedder, queries, questions),
            "scale": index_at_scale(20_000 if quick else 100_000, queries=50 if quick else 200),
        }
    return report


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run(quick="--quick" in sys.argv), ensure_ascii=False, indent=1))
