"""What a search returns. The bot's action, the CLI and the API all read these."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

from xiaobao.errors import XiaobaoError

Decision = Literal["answer", "suggest", "abstain"]


@dataclass(frozen=True)
class Hit:
    id: str
    score: float  # fused score in [0, 1]; higher is better
    question: str
    answer: str
    category: str
    department: str
    source: str
    source_url: str
    effective_from: str | None  # ISO date
    expires_on: str | None  # ISO date
    dense: float = 0.0  # best cosine of the query to the entry's questions
    sparse: float = 0.0  # BM25, normalised by the top BM25 of the query
    long_term: bool = False
    reviewed_on: str | None = None  # ISO date
    reviewed_by: str = ""
    policy_ids: tuple[str, ...] = ()  # the 政策体检 items the entry is about


@dataclass(frozen=True)
class SearchResult:
    query: str
    decision: Decision
    hits: list[Hit] = field(default_factory=list)
    reason: str = ""  # why the decision was taken (for logs and `xiaobao eval`)
    probability: float = 0.0  # the decision model's belief that the top hit is right
    plausibility: float = 0.0  # its belief that the right entry is among the top three
    features: dict[str, float] = field(default_factory=dict)  # what it weighed (the hit test)
    # An answer fairly but not fully sure: the card with the other hits as 相关问题.
    alternatives: bool = False

    @property
    def top(self) -> Hit | None:
        return self.hits[0] if self.hits else None

    def to_dict(self) -> dict:
        return asdict(self)


class QueryError(XiaobaoError, ValueError):
    """A query that cannot be searched; ``message`` is for the user, in Chinese and English."""

    status = 422

    def __init__(self, code: str, message: str):
        super().__init__(message, code=code)
