"""What every handoff function works with, built once by the gateway (or the command line).

``HandoffContext`` carries the database engine, the Redis client, the dispatch configuration
and the hook that hands a conversation back to the bot when its ticket closes. Nothing in
:mod:`handoff` reaches for a global: a test or a second gateway passes its own context.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import redis as redis_lib
from sqlalchemy import Engine

from handoff.config import HandoffConfig


@dataclass(frozen=True)
class Returned:
    """A ticket closed: its conversation goes back to the bot, which asks for a rating."""

    conversation_id: str
    ticket_id: str
    status: str  # resolved | unresolved | abandoned


# Resumes the conversation in the bot; True when done, False to be retried later.
ReturnHook = Callable[[Returned], bool]


@dataclass(frozen=True)
class HandoffContext:
    engine: Engine
    redis: redis_lib.Redis
    config: HandoffConfig
    # Without a hook (the command line), closed conversations wait in the outbox until a
    # gateway, which has one, drains them.
    on_returned: ReturnHook | None = None
    # The longest message or free-text field accepted (settings.max_message_chars).
    max_chars: int = 2000
    # Abuse limits on new tickets (0: none): per visitor an hour, per phone a day for 12345.
    handoffs_per_visitor_per_hour: int = 0
    callbacks_per_phone_per_day: int = 0
    # The same per client address (HandoffRequest.client_ip; a request without one, e.g. from
    # the command line, is not counted): new tickets an hour, 12345 call-backs an hour.
    handoffs_per_ip_per_hour: int = 0
    callbacks_per_ip_per_hour: int = 0
    # A new 12345 call-back only for a number proved by an SMS code (handoff.phone_codes).
    sms_verification: bool = False
    # The longest a call adapter's ``start_call`` may take (settings.call_adapter_timeout_s).
    call_adapter_timeout_s: float = 10.0

    def replace(self, **changes: object) -> HandoffContext:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]
