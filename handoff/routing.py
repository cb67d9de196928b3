"""1+N routing: one request function, N departments, chosen by the top knowledge-base
candidate's category."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from handoff.config import HandoffConfig


@dataclass(frozen=True)
class Candidate:
    """One of retrieval's top knowledge-base candidates, as the helper will see it."""

    id: str
    question: str
    category: str
    score: float


def route_department(candidates: Sequence[Candidate], config: HandoffConfig) -> str:
    """The department of the best-scoring candidate's category; the central desk when none matches.

    Only the top candidate counts: a weaker candidate's department would send the user to
    people who know less about what they actually asked.
    """
    if not candidates:
        return config.central_department
    top = max(candidates, key=lambda c: c.score)
    return config.routing.get(top.category.strip(), config.central_department)
