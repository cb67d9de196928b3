"""The cohort's facts: what the rates are computed from, one dataclass per kind of thing that
started in the window (a ticket, a visit, a question, a rated case), each with its breakdown
keys (:data:`BREAKDOWNS`)."""
from __future__ import annotations

from dataclasses import dataclass, field

BREAKDOWNS = ("department", "channel", "helper", "category", "day")
ABANDONED_EARLY = "abandoned_before_service_level"
# Breakdown keys of what has no such key: the bot's own service, an unclaimed ticket, a
# question or ticket without a knowledge-base candidate.
BOT_CHANNEL = "bot"
BOT_HELPER = "小宝"
NO_HELPER = "未领取"
NO_CATEGORY = "未分类"


# --- the cohort's facts ---------------------------------------------------------------------------

Keys = dict[str, str]  # one key per breakdown (BREAKDOWNS)

IN_TIME, LATE, PENDING = "in_time", "late", "pending"


@dataclass(frozen=True)
class TicketFact:
    """A handoff of the cohort, as the rates need it."""

    keys: Keys
    status: str
    response: str  # IN_TIME | LATE | PENDING (open, level not yet reached) | ABANDONED_EARLY
    first_response_s: float | None  # service seconds from the clock's start
    queue_wait_s: float | None  # service seconds from the clock's start to the first claim
    handling_s: float | None  # seconds from the first human response to the close
    first_contact_resolved: bool  # resolved, no transfer, no same-topic contact ±7 days


@dataclass(frozen=True)
class VisitFact:
    """A conversation's day with at least one question for the bot."""

    keys: Keys
    resolved_by_bot: bool
    handed_off: bool  # without a handoff the visit is a completed bot case


@dataclass(frozen=True)
class QuestionFact:
    keys: Keys
    contained: bool  # answered (or a suggestion chosen) with no handoff before the next one


@dataclass(frozen=True)
class RatingFact:
    """The latest rating of a case of the cohort."""

    keys: Keys
    rating: str
    of_completed_case: bool  # a closed ticket of the cohort, or a completed bot visit
    bad: bool
    reviewed: bool
    unfounded: bool  # reviewed 不属实 and not overturned: out of 满意率
    rectification: str | None  # 差评 still counting: IN_TIME | LATE | PENDING
    followed_up: bool


@dataclass(frozen=True)
class Facts:
    tickets: list[TicketFact] = field(default_factory=list)
    visits: list[VisitFact] = field(default_factory=list)
    questions: list[QuestionFact] = field(default_factory=list)
    ratings: list[RatingFact] = field(default_factory=list)

    def where(self, by: str, key: str) -> Facts:
        return Facts(*([x for x in items if x.keys[by] == key] for items in self._lists()))

    def keys_of(self, by: str) -> list[str]:
        return sorted({x.keys[by] for items in self._lists() for x in items})

    def _lists(self) -> tuple[list, ...]:
        return self.tickets, self.visits, self.questions, self.ratings


