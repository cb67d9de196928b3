"""The telephony side of a 12345 three-way call: the adapter protocol a CTI/SIP integration
implements, and the simulator that development and the tests use in its place."""
from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from handoff.call_signing import sign
from handoff.tickets import ANSWERED, COMPLETED, RINGING, THREE_WAY_CONNECTED


@dataclass(frozen=True)
class CallInfo:
    id: str
    ticket_id: str
    status: str
    attempts: int
    phone: str
    scheduled_for: dt.datetime | None
    external_id: str


class CallAdapter(Protocol):
    """The telephony side. ``start_call`` returns the provider's call id at once; progress
    arrives later as signed call-backs."""

    def start_call(self, call: CallInfo, ticket_phone: str) -> str: ...

    def call_status(self, call: CallInfo) -> str | None:
        """Where the provider says the call is (a call-back status), or None if it cannot
        tell: asked by the sweep of stuck dials before it gives an attempt up."""
        ...


@dataclass
class SimulatorAdapter:
    """Plays a call's call-backs, signed like a provider's, for development and tests.

    ``script`` maps an attempt number (1, 2, …) to the statuses that attempt reports; the
    default answers and completes. ``deliver(body, headers)`` is where call-backs go: in tests
    :func:`handle_callback` directly, in development an HTTP POST to the gateway's endpoint.
    Reports are sent when :meth:`play` is called (or at once when ``autoplay``), so a test can
    look between steps.
    """

    deliver: Callable[[bytes, dict[str, str]], object]
    script: dict[int, list[str]] = field(default_factory=lambda: {
        1: [RINGING, ANSWERED, THREE_WAY_CONNECTED, COMPLETED]})
    secret: str = ""
    autoplay: bool = False
    pending: list[tuple[str, str]] = field(default_factory=list)

    def start_call(self, call: CallInfo, ticket_phone: str) -> str:
        statuses = self.script.get(call.attempts) or self.script.get(max(self.script), [])
        self.pending.extend((call.id, st) for st in statuses)
        if self.autoplay:
            self.play()
        return f"sim-{call.id[:8]}-{call.attempts}"

    def call_status(self, call: CallInfo) -> str | None:
        """The simulator keeps no provider-side state: it cannot tell."""
        return None

    def play(self, steps: int | None = None) -> list[object]:
        out: list[object] = []
        while self.pending and (steps is None or len(out) < steps):
            call_id, status = self.pending.pop(0)
            body = json.dumps({"call_id": call_id, "status": status}).encode()
            out.append(self.deliver(body, sign(body, secret=self.secret)))
        return out
