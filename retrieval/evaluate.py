"""Measuring retrieval on labelled queries, and fitting the fusion weight and decision on them.

Evaluation files are JSON Lines: ``{"query": …, "expected": id or null}``, with
optional ``kind`` (in_scope / out_of_scope / near_domain) and ``split``
(tune / test). Fit on the tuning half, report on the test half.
"""
from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrieval.decision import FEATURES, DecisionConfig
from retrieval.normalize import normalize
from retrieval.tokenize import search_tokens, words
from retrieval.types import QueryError, SearchResult

WRONG_ANSWER_COST = 3.0  # a wrong answer is worse than none: it counts as three missed ones


@dataclass(frozen=True)
class Example:
    query: str
    expected: str | None
    kind: str
    split: str


def load_examples(files: list[Path], split: str | None = None) -> list[Example]:
    out = []
    for f in files:
        for n, line in enumerate(f.read_text("utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                kind = row.get("kind") or ("in_scope" if row.get("expected") else "out_of_scope")
                ex = Example(row["query"], row.get("expected"), kind, row.get("split", ""))
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise ValueError(f"{f.name} 第{n}行格式错误 / "
                                 f"line {n} of {f.name} is malformed: {exc}") from None
            if split is None or ex.split == split:
                out.append(ex)
    return out


def _rank_of(result: SearchResult, expected: str | None, k: int = 5) -> int | None:
    for i, h in enumerate(result.hits[:k], start=1):
        if h.id == expected:
            return i
    return None


def metrics(examples: list[Example], results: list[SearchResult | QueryError],
            latencies_ms: list[float] | None = None) -> dict:
    """top-1 and MRR@5 on in-scope queries; answer/abstain precision and recall; answered rates."""
    ins = [(e, r) for e, r in zip(examples, results) if e.expected and isinstance(r, SearchResult)]
    top1 = sum(_rank_of(r, e.expected, 1) == 1 for e, r in ins)
    mrr = sum(1 / rk for e, r in ins if (rk := _rank_of(r, e.expected)))
    pairs = [(e, r) for e, r in zip(examples, results) if isinstance(r, SearchResult)]
    answered = [(e, r) for e, r in pairs if r.decision == "answer"]
    answered_right = sum(bool(e.expected and r.top and r.top.id == e.expected)
                         for e, r in answered)
    abstained = [(e, r) for e, r in pairs if r.decision == "abstain"]
    unanswerable = [e for e, _ in pairs if not e.expected]

    def rate(kind: str, decision: str) -> float | None:
        sel = [r for e, r in pairs if e.kind == kind]
        return round(sum(r.decision == decision for r in sel) / len(sel), 4) if sel else None

    def ratio(a: float, b: int) -> float | None:
        return round(a / b, 4) if b else None

    out = {
        "queries": len(examples),
        "in_scope": len(ins),
        "top1": ratio(top1, len(ins)),
        "mrr@5": ratio(mrr, len(ins)),
        "answer_precision": ratio(answered_right, len(answered)),
        "answer_recall": ratio(answered_right, len(ins)),
        "abstain_precision": ratio(sum(not e.expected for e, _ in abstained), len(abstained)),
        "abstain_recall": ratio(sum(not e.expected for e, _ in abstained), len(unanswerable)),
        "in_scope_answered": rate("in_scope", "answer"),
        "out_of_scope_answered": rate("out_of_scope", "answer"),
        "near_domain_answered": rate("near_domain", "answer"),
        "errors": sum(isinstance(r, QueryError) for r in results),
    }
    if latencies_ms:
        out["latency_p50_ms"] = round(statistics.median(latencies_ms), 1)
        out["latency_p95_ms"] = round(float(np.percentile(latencies_ms, 95)), 1)
    return out


def run_eval(retriever, examples: list[Example], progress=None) -> tuple[dict, list]:
    """One warm single-query search per example, timed (what a user waits for)."""
    results, lat = [], []
    retriever.search_many(["预热 warm-up"])
    for ex in examples:
        t0 = time.perf_counter()
        try:
            results.append(retriever.search(ex.query))
        except QueryError as exc:
            results.append(exc)
        lat.append((time.perf_counter() - t0) * 1000)
        if progress:
            progress()
    return metrics(examples, results, lat), results


def _top1(ranked_ids: list[list[str]], examples: list[Example]) -> float:
    ins = [(e, ids) for e, ids in zip(examples, ranked_ids) if e.expected]
    return sum(bool(ids) and ids[0] == e.expected for e, ids in ins) / max(len(ins), 1)


def tune(retriever, examples: list[Example]) -> tuple[DecisionConfig, dict]:
    """Choose the fusion weights (best top-1), fit the decision model, choose thresholds.

    Everything is computed on ``examples`` (the tuning half) only.
    """
    from sklearn.linear_model import LogisticRegression

    from retrieval.fusion import fuse

    # Gather raw dense and sparse scores once, then re-fuse for each pair of weights.
    raw = []
    vecs = retriever.embedder.encode_queries([normalize(e.query) for e in examples])
    for ex, v in zip(examples, vecs):
        text = normalize(ex.query)
        dense, sparse = retriever.candidates(text, v)
        raw.append((dense, sparse, words(text), search_tokens(text)))
    grid = [(p, s) for p in (0.0, 0.25, 0.5, 0.75, 1.0)
            for s in (0.0, 0.02, 0.03, 0.05, 0.08, 0.1, 0.15)]
    scores = {w: _top1([[c.id for c in fuse(d, sp, *w)] for d, sp, _, _ in raw], examples)
              for w in grid}
    # Ties go to the middle of the grid: less likely to be a lucky corner.
    best_w = max(grid, key=lambda w: (round(scores[w], 4), -abs(w[0] - 0.5) - abs(w[1] - 0.05)))

    rows: list[list[float]] = []
    labels: list[int] = []
    top3: list[bool] = []
    for ex, (d, sp, qwords, qtokens) in zip(examples, raw):
        ranked = fuse(d, sp, *best_w)
        f = retriever.features(qwords, qtokens, ranked)
        rows.append([f[k] for k in FEATURES])
        labels.append(int(bool(ex.expected) and bool(ranked) and ranked[0].id == ex.expected))
        top3.append(bool(ex.expected) and any(c.id == ex.expected for c in ranked[:3]))
    X, y, in_top3 = np.array(rows), np.array(labels), np.array(top3)
    means, scales = X.mean(axis=0), X.std(axis=0) + 1e-9
    model = LogisticRegression(C=1.0, max_iter=1000).fit((X - means) / scales, y)
    p = model.predict_proba((X - means) / scales)[:, 1]
    thresholds = np.round(np.linspace(0.05, 0.95, 91), 3)
    # answer: a right answer counts 1, a wrong one costs WRONG_ANSWER_COST.
    gain = [(y[p >= t].sum() - WRONG_ANSWER_COST * (1 - y[p >= t]).sum(), -t) for t in thresholds]
    answer_t = -float(max(gain)[1])
    # suggest (below answer): the right entry among three suggestions, against suggestions
    # for nothing.
    below = p < answer_t
    sgain = [((in_top3 & below & (p >= t)).sum() - (~in_top3 & below & (p >= t)).sum(), t)
             for t in thresholds if t <= answer_t]
    suggest_t = float(max(sgain)[1]) if sgain else answer_t
    new = DecisionConfig(
        passage_weight=best_w[0], sparse_weight=best_w[1],
        coefficients={k: round(float(c), 6) for k, c in zip(FEATURES, model.coef_[0])},
        intercept=round(float(model.intercept_[0]), 6),
        means={k: round(float(m), 6) for k, m in zip(FEATURES, means)},
        scales={k: round(float(s), 6) for k, s in zip(FEATURES, scales)},
        answer_threshold=round(answer_t, 3), suggest_threshold=round(suggest_t, 3),
        fitted_on=f"{len(examples)} tuning queries ({int(y.sum())} answerable by the top hit)",
    )
    report = {"top1_by_weights": {f"passage={w[0]} sparse={w[1]}": round(scores[w], 4)
                                  for w in grid},
              "passage_weight": best_w[0], "sparse_weight": best_w[1],
              "answer_threshold": new.answer_threshold, "suggest_threshold": new.suggest_threshold,
              "coefficients": new.coefficients}
    return new, report
