"""Answer, suggest or abstain: two calibrated models over evidence that any knowledge base has.

A centre's own FAQ list usually has a question and an answer per entry and no similar
questions. Evidence such as "the best of an entry's many question cosines" grows with the
number of similar questions, so a model fitted on the curated seed abstained on a plain
list. The features read an entry's **question and answer**, never its similar questions,
and the ranking's margin:

- ``question``: cosine of the query to the entry's question;
- ``passage``: cosine to the entry's question + answer embedded as an e5 passage;
- ``margin``: how far the top entry's fused score is ahead of the runner-up's. A difference
  of two scores of the same kind, so it means the same with or without similar questions
  (measured on held-out folds: a margin of question + passage cosines alone, leaving the
  ranking out, answered a third as often at the same precision); a near tie means "two
  entries look right";
- ``coverage``: the IDF-weighted share of the query's content words found in the entry's
  question and answer, a colloquial word counting as found when its official term is
  (``retrieval.terms``);
- ``coverage_q``: the same, in the entry's question only;
- ``missing``: the rarest of the query's words that the entry's question and answer lack (its
  IDF as a share of the rarest possible): one key word missing where the rest match — 药品
  against a 食品 entry, 户口 against a company's move — is the near-domain question's mark.

Two logistic models read them, both fitted by ``retrieval.evaluate.tune`` on training folds:

- ``right``: P(the top entry is the right answer) → ``answer`` at ``answer_threshold``;
- ``plausible``: P(the right entry is among the top three) → ``suggest`` (您是不是想问) at
  ``suggest_threshold``; below it nothing is plausible and the bot abstains (人工帮办, 12345).

Between ``alternatives_threshold`` and ``answer_threshold`` the decision is fairly but not
fully sure: the top entry is answered, its own question at the head of the card (a mismatch
is visible), with the runners-up as 相关问题 below it (``SearchResult.alternatives``). It is an
answer in every figure: a wrong entry shown this way is a wrong answer.

Two entries nearly tied (``margin`` < ``tie_margin``: 怎么办理营业执照 — 个体户 or 公司?) are
always offered side by side, never answered with one.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from retrieval.types import Decision

FEATURES = ("question", "passage", "margin", "coverage", "coverage_q", "missing")
DEFAULT_PATH = Path(__file__).parent / "data" / "decision.json"


@dataclass
class Logistic:
    """``1 / (1 + exp(-(intercept + Σ coef · (x - mean) / scale)))`` over :data:`FEATURES`."""

    coefficients: dict[str, float] = field(default_factory=lambda: dict.fromkeys(FEATURES, 1.0))
    intercept: float = 0.0
    means: dict[str, float] = field(default_factory=lambda: dict.fromkeys(FEATURES, 0.0))
    scales: dict[str, float] = field(default_factory=lambda: dict.fromkeys(FEATURES, 1.0))

    def __call__(self, feats: dict[str, float]) -> float:
        # A feature the model was not fitted with weighs nothing (an older decision.json).
        z = self.intercept + sum(
            self.coefficients.get(f, 0.0) * (feats[f] - self.means.get(f, 0.0))
            / (self.scales.get(f, 1.0) or 1.0) for f in FEATURES)
        return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))


def _default_right() -> Logistic:
    # Hand-set before any fit: cosines near 0.9 with a clear margin mean "right".
    return Logistic({"question": 8.0, "passage": 8.0, "margin": 4.0, "coverage": 2.0,
                     "coverage_q": 1.0}, -14.0)


@dataclass
class DecisionConfig:
    passage_weight: float = 0.5
    sparse_weight: float = 0.05
    right: Logistic = field(default_factory=_default_right)
    plausible: Logistic = field(default_factory=_default_right)
    answer_threshold: float = 0.6
    suggest_threshold: float = 0.3
    # Answered with 相关问题 from here up to answer_threshold; None: never (see the module).
    alternatives_threshold: float | None = None
    tie_margin: float = 0.005
    fitted_on: str = "defaults"

    def __post_init__(self) -> None:
        if isinstance(self.right, dict):
            self.right = Logistic(**self.right)
        if isinstance(self.plausible, dict):
            self.plausible = Logistic(**self.plausible)
        if not 0 <= self.suggest_threshold <= 1 or not 0 <= self.answer_threshold <= 1:
            raise ValueError("thresholds must lie in [0, 1]")
        if self.alternatives_threshold is not None and not (
                0 <= self.alternatives_threshold <= self.answer_threshold):
            raise ValueError("alternatives_threshold must lie in [0, answer_threshold]")
        if self.tie_margin < 0:
            raise ValueError("tie_margin must not be negative")

    @classmethod
    def load(cls, path: Path = DEFAULT_PATH) -> DecisionConfig:
        if not path.exists():
            return cls()
        return cls(**json.loads(path.read_text("utf-8")))

    def save(self, path: Path = DEFAULT_PATH) -> None:
        path.write_text(json.dumps(asdict(self), ensure_ascii=False, indent=2) + "\n", "utf-8")

    def probability(self, feats: dict[str, float]) -> float:
        """P(the top entry is right)."""
        return self.right(feats)

    def plausibility(self, feats: dict[str, float]) -> float:
        """P(the right entry is among the top three)."""
        return self.plausible(feats)

    def decide(self, probability: float, plausibility: float = 1.0,
               margin: float = 1.0) -> Decision:
        if margin >= self.tie_margin and (probability >= self.answer_threshold or (
                self.alternatives_threshold is not None
                and probability >= self.alternatives_threshold)):
            return "answer"
        if plausibility >= self.suggest_threshold or probability >= self.answer_threshold:
            return "suggest"
        return "abstain"

    def with_alternatives(self, decision: Decision, probability: float) -> bool:
        """An answer from the fairly-sure band: shown with 相关问题."""
        return decision == "answer" and probability < self.answer_threshold
