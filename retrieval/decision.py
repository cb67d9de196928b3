"""Answer, suggest or abstain: a calibrated decision on more evidence than one cosine.

With one cosine threshold, questions the knowledge base does not cover (宠物犬登记)
scored like covered ones (0.87-0.93) and got a wrong entry's answer. So the
decision is a logistic model, fitted by `xiaobao tune` on the tuning half of the
evaluation set, over features that separate "right entry" from "look-alike":

- ``cosine``, ``dense``, ``passage``: the top entry's best question cosine, the
  mean of its two best, and its passage cosine;
- ``margin``: how far its fused score is ahead of the runner-up entry's;
- ``coverage``: the IDF-weighted share of the query's content words that occur in
  the top entry (a question about 养犬 rarely shares its key word with any entry);
- ``coverage_q``: the same, in the entry's questions only;
- ``sparse``: the top entry's raw BM25 per query word.

Its output is P(the top entry is the right answer). ``answer`` above one
threshold, ``suggest`` above a lower one, ``abstain`` below.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from retrieval.types import Decision

FEATURES = ("cosine", "dense", "passage", "margin", "coverage", "coverage_q", "sparse")
DEFAULT_PATH = Path(__file__).parent / "data" / "decision.json"


@dataclass
class DecisionConfig:
    passage_weight: float = 0.5
    sparse_weight: float = 0.03
    coefficients: dict[str, float] = field(default_factory=lambda: {
        "cosine": 10.0, "dense": 10.0, "passage": 0.0, "margin": 10.0, "coverage": 4.0,
        "coverage_q": 2.0, "sparse": 0.2})
    intercept: float = -21.0
    means: dict[str, float] = field(default_factory=lambda: dict.fromkeys(FEATURES, 0.0))
    scales: dict[str, float] = field(default_factory=lambda: dict.fromkeys(FEATURES, 1.0))
    answer_threshold: float = 0.6
    suggest_threshold: float = 0.3
    fitted_on: str = "defaults"

    def __post_init__(self) -> None:
        if not 0 <= self.suggest_threshold <= self.answer_threshold <= 1:
            raise ValueError("thresholds must satisfy 0 <= suggest <= answer <= 1")

    @classmethod
    def load(cls, path: Path = DEFAULT_PATH) -> DecisionConfig:
        if not path.exists():
            return cls()
        return cls(**json.loads(path.read_text("utf-8")))

    def save(self, path: Path = DEFAULT_PATH) -> None:
        path.write_text(json.dumps(asdict(self), ensure_ascii=False, indent=2) + "\n", "utf-8")

    def probability(self, feats: dict[str, float]) -> float:
        z = self.intercept + sum(
            self.coefficients[f] * (feats[f] - self.means[f]) / (self.scales[f] or 1.0)
            for f in FEATURES)
        return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))

    def decide(self, probability: float) -> Decision:
        if probability >= self.answer_threshold:
            return "answer"
        if probability >= self.suggest_threshold:
            return "suggest"
        return "abstain"
