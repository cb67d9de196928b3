"""The project's fixed vocabularies, named once: handoff channels, 好差评 levels, who speaks
in a conversation, who answers it. ``StrEnum`` members compare equal to their strings, so
SQL rows, Redis fields and JSON keep the plain values."""
from __future__ import annotations

from enum import StrEnum


class Channel(StrEnum):
    """Where a handoff goes: an online helper, or a 12345 three-way call-back."""

    ONLINE_HELPER = "online_helper"
    HOTLINE_12345 = "hotline_12345"


CHANNELS: tuple[str, ...] = tuple(c.value for c in Channel)


class Rating(StrEnum):
    """好差评 levels, best first; the first three count as satisfied."""

    VERY_SATISFIED = "非常满意"
    SATISFIED = "满意"
    FAIRLY_SATISFIED = "基本满意"
    DISSATISFIED = "不满意"
    VERY_DISSATISFIED = "非常不满意"

    @property
    def is_satisfied(self) -> bool:
        return self in SATISFIED_RATINGS


RATINGS: tuple[str, ...] = tuple(r.value for r in Rating)
SATISFIED_RATINGS = frozenset({Rating.VERY_SATISFIED, Rating.SATISFIED,
                               Rating.FAIRLY_SATISFIED})


class Speaker(StrEnum):
    """Who said a message of a conversation (``notice``: the privacy notice the page shows)."""

    USER = "user"
    BOT = "bot"
    HELPER = "helper"
    SYSTEM = "system"
    NOTICE = "notice"


class Mode(StrEnum):
    """Who answers the conversation now: the bot, nobody yet (queued), or a helper."""

    BOT = "bot"
    WAITING = "waiting"
    HUMAN = "human"
