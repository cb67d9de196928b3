"""The structured handoff request the bot creates, and the one function that takes it.

The bot's actions call :func:`request_handoff`; the dispatch queue completes it
(SQL ticket first, then the channel's Redis stream). A retried request with the
same ``request_id`` returns the same ticket.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Channel = Literal["online_helper", "hotline_12345"]


@dataclass(frozen=True)
class Candidate:
    """One of retrieval's top knowledge-base candidates, as the helper will see it."""

    id: str
    question: str
    category: str
    score: float


@dataclass(frozen=True)
class HandoffRequest:
    request_id: str  # idempotency key: the same id never makes two tickets
    conversation_id: str  # Rasa sender id == the portal's conversation id
    channel: Channel
    topic: str = ""
    company: str = ""
    phone: str = ""
    time_window: str = ""
    summary: str = ""
    last_turns: list[dict] = field(default_factory=list)  # [{"role": "user"|"bot", "text": ...}]
    candidates: list[Candidate] = field(default_factory=list)
    intent: str = ""
    entities: list[dict] = field(default_factory=list)
    complaint: bool = False
    visitor_id: str = ""  # long-lived browser id: a returning user finds their 留言 answers


@dataclass(frozen=True)
class HandoffReceipt:
    ticket_id: str
    status: str
    department: str
    queue_position: int
    estimated_wait_s: int
    in_service_hours: bool
    created: bool  # False when the request had been made before
    # Optional additions (the dispatch queue fills them; older callers may ignore them).
    helpers_on_duty: int = 0  # helpers of the department on duty now; 0 -> offer 留言咨询
    priority: bool = False  # queued ahead of normal (previous ticket unresolved, or complaint)
    call_id: str = ""  # the 12345 call created for a hotline_12345 request

    @property
    def offer_message(self) -> bool:
        """Out of hours or nobody on duty: tell the user so and offer 留言咨询."""
        return not self.in_service_hours or self.helpers_on_duty == 0
