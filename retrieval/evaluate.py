"""Measuring retrieval on labelled queries, and fitting the fusion weights and the decision.

Evaluation files are JSON Lines: ``{"query": …, "expected": id or null}``, with optional
``kind`` (in_scope / out_of_scope / near_domain) and ``style`` (short, typo, …). Files under
a ``frozen/`` folder were written before any tuning and are never fitted on.

The figures that cannot flatter come from :func:`kfold`: group k-fold over entries
(``retrieval.folds``). In fold *f* the weights and the decision are fitted on the queries of
the other folds' entries (and the unanswerable queries hashed to other folds); they are
measured on fold *f*'s. Every entry stays in the index: it is an answer either way.
"""
from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from retrieval.decision import FEATURES, DecisionConfig, Logistic
from retrieval.folds import K, assign_folds, query_fold
from retrieval.fusion import Candidate, DenseScore, fuse
from retrieval.tokenize import words
from retrieval.types import Decision, QueryError, SearchResult

ANSWER_PRECISION = 0.97  # answers right this often on the training folds (target 0.95)
NEAR_DOMAIN_ANSWERED = 0.03  # near-domain questions answered at most this often (target 0.05)
# The band answered with 相关问题 (retrieval.decision): at most this share of in-scope
# questions answered with a wrong entry (target 0.03), of near-domain ones answered (0.05).
WRONG_ANSWERED = 0.02
NEAR_DOMAIN_WITH_ALTERNATIVES = 0.04
SUGGEST_SLOTS = 3  # suggestions the bot offers (bot.replies.MAX_SUGGESTIONS)


@dataclass(frozen=True)
class Example:
    query: str
    expected: str | None
    kind: str
    split: str = ""
    style: str = ""
    frozen: bool = False


def load_examples(files: list[Path], split: str | None = None) -> list[Example]:
    out = []
    for f in files:
        frozen = "frozen" in Path(f).parts
        for n, line in enumerate(Path(f).read_text("utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                kind = row.get("kind") or ("in_scope" if row.get("expected") else "out_of_scope")
                ex = Example(row["query"], row.get("expected"), kind, row.get("split", ""),
                             row.get("style", ""), frozen)
            except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
                raise ValueError(f"{Path(f).name} 第{n}行格式错误 / "
                                 f"line {n} of {Path(f).name} is malformed: {exc}") from None
            if split is None or ex.split == split:
                out.append(ex)
    return out


# --- one query's evidence, gathered once -------------------------------------------------
@dataclass
class Prepared:
    """What the retriever found for one query, before weights and decision are applied."""

    text: str
    dense: dict[str, DenseScore]
    sparse: dict[str, float]
    qwords: list[str]
    qtokens: list[str]


@dataclass
class Judged:
    decision: Decision
    ranked: list[str]
    probability: float = 0.0
    plausibility: float = 0.0
    features: dict[str, float] = field(default_factory=dict)
    alternatives: bool = False  # answered with 相关问题

    @property
    def top(self) -> str | None:
        return self.ranked[0] if self.ranked else None


def prepare(retriever, queries: list[str]) -> list[Prepared | QueryError]:
    """Dense and BM25 candidates of every query (one encoding pass)."""
    from retrieval.queries import validate_queries

    texts = validate_queries(queries, retriever.max_chars)
    good = [t for t in texts if isinstance(t, str)]
    vecs = iter(retriever.embedder.encode_queries(good)) if good else iter(())
    out: list[Prepared | QueryError] = []
    for t in texts:
        if isinstance(t, QueryError):
            out.append(t)
            continue
        qtokens = retriever.query_tokens(t)
        dense, sparse = retriever.candidates(t, next(vecs), qtokens)
        out.append(Prepared(t, dense, sparse, words(t), qtokens))
    return out


def _ranked(p: Prepared, cfg: DecisionConfig) -> list[Candidate]:
    return fuse(p.dense, p.sparse, cfg.passage_weight, cfg.sparse_weight)


def judge(retriever, prepared: list[Prepared | QueryError], cfg: DecisionConfig
          ) -> list[Judged | QueryError]:
    out: list[Judged | QueryError] = []
    for p in prepared:
        if isinstance(p, QueryError):
            out.append(p)
            continue
        ranked = _ranked(p, cfg)
        decision, prob, plaus, feats = retriever.judge(p.text, ranked, p.qwords, p.qtokens, cfg)
        out.append(Judged(decision, [c.id for c in ranked[:10]], prob, plaus, feats,
                          cfg.with_alternatives(decision, prob) and len(ranked) > 1))
    return out


def as_judged(result: SearchResult | QueryError) -> Judged | QueryError:
    if isinstance(result, QueryError):
        return result
    return Judged(result.decision, [h.id for h in result.hits], result.probability,
                  result.plausibility, result.features, result.alternatives)


# --- figures --------------------------------------------------------------------------
def _ratio(a: float, b: int) -> float | None:
    return round(a / b, 4) if b else None


def metrics(examples: list[Example], results: list, latencies_ms: list[float] | None = None
            ) -> dict:
    """The figures the targets are stated in (README, "Answer quality").

    - ``top1``, ``mrr@5``: ranking of in-scope queries;
    - ``answer_precision``: answers given that were right (over every query answered);
    - ``in_scope_served``: in-scope queries answered right, or suggested with the right entry
      among the suggestions;
    - ``abstained_right_first``: in-scope queries abstained on although the right entry was
      ranked first;
    - ``in_scope_answered|suggested|abstained``, ``near_domain_answered``,
      ``out_of_scope_answered`` (and ``…_suggested``): shares of each kind;
    - ``in_scope_answered_right`` / ``in_scope_answered_wrong``: in-scope questions whose
      first reply was the right / a wrong entry's answer card (with 相关问题 or without:
      a wrong entry shown with alternatives is a wrong answer), and
      ``in_scope_with_alternatives``: the share answered with 相关问题.
    """
    judged = [as_judged(r) if isinstance(r, SearchResult) else r for r in results]
    pairs = [(e, j) for e, j in zip(examples, judged) if isinstance(j, Judged)]
    ins = [(e, j) for e, j in pairs if e.expected]
    answered = [(e, j) for e, j in pairs if j.decision == "answer"]
    right = sum(bool(e.expected) and j.top == e.expected for e, j in answered)

    def served(e: Example, j: Judged) -> bool:
        if j.decision == "answer":
            return j.top == e.expected
        return j.decision == "suggest" and e.expected in j.ranked[:SUGGEST_SLOTS]

    def share(kind: str, decision: str) -> float | None:
        sel = [j for e, j in pairs if e.kind == kind]
        return _ratio(sum(j.decision == decision for j in sel), len(sel))

    out = {
        "queries": len(examples),
        "in_scope": len(ins),
        "top1": _ratio(sum(j.top == e.expected for e, j in ins), len(ins)),
        "mrr@5": _ratio(sum(1 / (j.ranked[:5].index(e.expected) + 1)
                            for e, j in ins if e.expected in j.ranked[:5]), len(ins)),
        "answer_precision": _ratio(right, len(answered)),
        "in_scope_served": _ratio(sum(served(e, j) for e, j in ins), len(ins)),
        "abstained_right_first": _ratio(sum(j.decision == "abstain" and j.top == e.expected
                                            for e, j in ins), len(ins)),
        "in_scope_answered_right": _ratio(sum(j.decision == "answer" and j.top == e.expected
                                              for e, j in ins), len(ins)),
        "in_scope_answered_wrong": _ratio(sum(j.decision == "answer" and j.top != e.expected
                                              for e, j in ins), len(ins)),
        "in_scope_with_alternatives": _ratio(sum(j.decision == "answer" and j.alternatives
                                                 for e, j in ins), len(ins)),
        "in_scope_answered": share("in_scope", "answer"),
        "in_scope_suggested": share("in_scope", "suggest"),
        "in_scope_abstained": share("in_scope", "abstain"),
        "near_domain_answered": share("near_domain", "answer"),
        "near_domain_suggested": share("near_domain", "suggest"),
        "out_of_scope_answered": share("out_of_scope", "answer"),
        "out_of_scope_suggested": share("out_of_scope", "suggest"),
        "errors": sum(isinstance(j, QueryError) for j in judged),
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


# --- fitting --------------------------------------------------------------------------
def _fit_logistic(X: np.ndarray, y: np.ndarray) -> tuple[Logistic, np.ndarray]:
    from sklearn.linear_model import LogisticRegression

    means, scales = X.mean(axis=0), X.std(axis=0) + 1e-9
    Z = (X - means) / scales
    if len(set(y.tolist())) < 2:  # nothing to separate: a constant belief
        rate = float(y.mean()) if len(y) else 0.0
        z0 = float(np.log((rate + 1e-3) / (1 - rate + 1e-3)))
        return Logistic(dict.fromkeys(FEATURES, 0.0), z0, dict(zip(FEATURES, means.tolist())),
                        dict(zip(FEATURES, scales.tolist()))), np.full(len(y), rate)
    model = LogisticRegression(C=1.0, max_iter=1000).fit(Z, y)
    logistic = Logistic({k: round(float(c), 6) for k, c in zip(FEATURES, model.coef_[0])},
                        round(float(model.intercept_[0]), 6),
                        {k: round(float(m), 6) for k, m in zip(FEATURES, means)},
                        {k: round(float(s), 6) for k, s in zip(FEATURES, scales)})
    return logistic, model.predict_proba(Z)[:, 1]


def tune(retriever, examples: list[Example],
         prepared: list[Prepared | QueryError] | None = None,
         answer_precision: float = ANSWER_PRECISION,
         near_domain_answered: float = NEAR_DOMAIN_ANSWERED,
         wrong_answered: float | None = WRONG_ANSWERED,
         near_domain_with_alternatives: float = NEAR_DOMAIN_WITH_ALTERNATIVES,
         ) -> tuple[DecisionConfig, dict]:
    """Choose the fusion weights (best top-1), fit the two decision models and thresholds.

    Everything is computed on ``examples`` only (the training folds'); frozen examples are
    refused: they are never fitted on. ``wrong_answered=None``: no band answered with 相关问题
    (the decision before it, for comparison).
    """
    if any(e.frozen for e in examples):
        raise ValueError("frozen evaluation queries are never used for fitting")
    if prepared is None:
        prepared = prepare(retriever, [e.query for e in examples])
    rows = [(e, p) for e, p in zip(examples, prepared) if isinstance(p, Prepared)]
    base = DecisionConfig()
    grid = [(pw, sw) for pw in (0.0, 0.25, 0.5, 0.75, 1.0)
            for sw in (0.0, 0.02, 0.05, 0.08, 0.12, 0.2)]

    def top1(w: tuple[float, float]) -> float:
        cfg = DecisionConfig(passage_weight=w[0], sparse_weight=w[1])
        ins = [(e, p) for e, p in rows if e.expected]
        return sum(bool(r := _ranked(p, cfg)) and r[0].id == e.expected
                   for e, p in ins) / max(len(ins), 1)

    scores = {w: top1(w) for w in grid}
    # Ties go to the middle of the grid: less likely to be a lucky corner.
    best_w = max(grid, key=lambda w: (round(scores[w], 4), -abs(w[0] - 0.5) - abs(w[1] - 0.05)))
    base.passage_weight, base.sparse_weight = best_w

    X, y_right, y_plausible, margins = [], [], [], []
    for e, p in rows:
        ranked = _ranked(p, base)
        f = retriever.features(p.qwords, p.qtokens, ranked,
                               retriever._alternatives(p.text, p.qwords))
        ids = [c.id for c in ranked]
        X.append([f[k] for k in FEATURES])
        y_right.append(int(bool(e.expected) and bool(ids) and ids[0] == e.expected))
        y_plausible.append(int(bool(e.expected) and e.expected in ids[:SUGGEST_SLOTS]))
        margins.append(f["margin"])
    Xa, yr, yp = np.array(X), np.array(y_right), np.array(y_plausible)
    right, p_right = _fit_logistic(Xa, yr)
    plausible, p_plaus = _fit_logistic(Xa, yp)
    thresholds = np.round(np.linspace(0.05, 0.99, 95), 3)
    # answer: the lowest threshold at which the answers given on the training folds are right
    # ANSWER_PRECISION of the time and at most NEAR_DOMAIN_ANSWERED of the near-domain
    # questions get an answer (targets 0.95 and 0.05: the rest is a margin for new data).
    near = np.array([e.kind == "near_domain" for e, _ in rows])

    def acceptable(t: float) -> bool:
        given = p_right >= t
        if not given.sum() or yr[given].mean() < answer_precision:
            return False
        return not near.sum() or given[near].mean() <= near_domain_answered

    answer_t = next((float(t) for t in thresholds if acceptable(t)), float(thresholds[-1]))
    # answer with 相关问题: the lowest threshold below answer_t at which at most WRONG_ANSWERED
    # of the in-scope questions get a wrong entry's card, at most NEAR_DOMAIN_WITH_ALTERNATIVES
    # of the near-domain ones any card, and no off-topic one (each counted over both bands).
    in_scope = np.array([bool(e.expected) and e.kind == "in_scope" for e, _ in rows])
    off_topic = np.array([e.kind == "out_of_scope" for e, _ in rows])
    clear = np.array(margins) >= base.tie_margin

    def band_acceptable(t: float) -> bool:
        given = (p_right >= t) & clear
        if in_scope.sum() and (given & in_scope & (yr == 0)).sum() / in_scope.sum() \
                > wrong_answered:
            return False
        if near.sum() and given[near].mean() > near_domain_with_alternatives:
            return False
        return not (given & off_topic).any()

    alternatives_t = None if wrong_answered is None else next(
        (float(t) for t in thresholds if t < answer_t and band_acceptable(t)), None)
    # suggest: the right entry among the suggestions counts 1, suggestions for a question
    # the knowledge base does not cover cost 1 (an off-topic question shown look-alikes).
    unanswerable = np.array([not e.expected for e, _ in rows])
    answered = p_right >= answer_t
    sgain = [(int((yp & ~answered & (p_plaus >= t)).sum())
              - int((unanswerable & ~answered & (p_plaus >= t)).sum()), t) for t in thresholds]
    suggest_t = float(max(sgain)[1])
    new = DecisionConfig(
        passage_weight=best_w[0], sparse_weight=best_w[1], right=right, plausible=plausible,
        answer_threshold=round(answer_t, 3), suggest_threshold=round(suggest_t, 3),
        alternatives_threshold=None if alternatives_t is None else round(alternatives_t, 3),
        tie_margin=base.tie_margin,
        fitted_on=(f"{len(rows)} queries ({int(yr.sum())} right at the top, "
                   f"{int(unanswerable.sum())} unanswerable)"),
    )
    report = {"passage_weight": best_w[0], "sparse_weight": best_w[1],
              "top1_at_weights": round(scores[best_w], 4),
              "answer_threshold": new.answer_threshold,
              "suggest_threshold": new.suggest_threshold,
              "alternatives_threshold": new.alternatives_threshold,
              "right": new.right.coefficients, "plausible": new.plausible.coefficients}
    return new, report


# --- group k-fold -----------------------------------------------------------------------
def fold_of(examples: list[Example], entry_folds: dict[str, int], k: int = K) -> list[int]:
    return [query_fold(e.query, e.expected, entry_folds, k) for e in examples]


def kfold(make_retriever: Callable[[int], object], entries: list[tuple[str, str]],
          examples: list[Example], folds: list[int] | None = None, k: int = K,
          progress: Callable[[str], None] | None = None,
          tune_options: dict | None = None) -> dict:
    """Held-out figures over entries: ``make_retriever(f)`` gives the retriever of fold ``f``
    (its encoder adapted without fold ``f``'s entries, or the base one).

    ``tune_options``: passed to :func:`tune` (``wrong_answered=None``: the decision without
    the band answered with 相关问题).

    Returns ``{"folds": {f: metrics}, "mean": {...}, "frozen": {...}}``: the held-out
    figures of each fold (on the fold's queries, frozen ones included), their mean, and the
    frozen queries' figures alone (pooled over the folds).
    """
    entry_folds = assign_folds(entries, k)
    qfolds = fold_of(examples, entry_folds, k)
    wanted = list(range(k)) if folds is None else folds
    per_fold, pooled_frozen, pooled_frozen_results = {}, [], []
    last: tuple[object, list] | None = None
    for f in wanted:
        retriever = make_retriever(f)
        # The same retriever for every fold (the base encoder): its candidates once.
        if last is not None and last[0] is retriever:
            prepared = last[1]
        else:
            prepared = prepare(retriever, [e.query for e in examples])
            last = (retriever, prepared)
        train = [i for i, (e, qf) in enumerate(zip(examples, qfolds))
                 if qf != f and not e.frozen]
        test = [i for i, qf in enumerate(qfolds) if qf == f]
        cfg, _ = tune(retriever, [examples[i] for i in train], [prepared[i] for i in train],
                      **(tune_options or {}))
        judged = judge(retriever, [prepared[i] for i in test], cfg)
        test_examples = [examples[i] for i in test]
        per_fold[f] = metrics(test_examples, judged)
        for e, j in zip(test_examples, judged):
            if e.frozen:
                pooled_frozen.append(e)
                pooled_frozen_results.append(j)
        if progress:
            progress(f"fold {f}: {per_fold[f]}")
    keys = [k_ for k_, v in next(iter(per_fold.values())).items() if isinstance(v, float)]
    mean = {key: round(float(np.mean([m[key] for m in per_fold.values()
                                      if m.get(key) is not None])), 4)
            for key in keys if any(m.get(key) is not None for m in per_fold.values())}
    return {"folds": per_fold, "mean": mean,
            "frozen": metrics(pooled_frozen, pooled_frozen_results) if pooled_frozen else {}}
