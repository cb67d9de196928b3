"""The sending side: the Notifier protocol, the SMS and 站内信 providers, and the simulator.

The contract with a provider is **at least once, with an idempotency key**: every request
carries our notification id (``id`` in the body and the ``Idempotency-Key`` header), a
resend keeps it, and the provider delivers one message per id. The dispatcher resends when it
did not hear back (a timeout, a lost acknowledgement) or when it died between the send and its
commit; the provider's deduplication is what makes that resend harmless. A provider that
cannot deduplicate must not be configured here.

Nothing configured (``settings.notify_sms_url`` / ``notify_inbox_url`` empty): the
:class:`Simulator` stands in, records what it got and sends nothing; it says so in the log,
as the 12345 dialler's simulator does.
"""
from __future__ import annotations

import logging
import random
import threading
from dataclasses import dataclass, field
from typing import Protocol

import httpx

from notifications.models import INBOX, SMS
from xiaobao.errors import XiaobaoError
from xiaobao.settings import Settings, get_settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Message:
    id: str  # our notification id: the provider's idempotency key
    channel: str
    uscc: str  # the addressee; the provider resolves its registered contact
    text: str


class NotifyError(XiaobaoError):
    """A send that did not (as far as we know) get through: retried later."""

    status = 503
    code = "notify_unavailable"


class Notifier(Protocol):
    def send(self, message: Message) -> str:
        """The provider's message id; raises on failure (then the send is retried)."""
        ...


@dataclass
class HttpNotifier:
    """A provider over HTTP: ``POST url`` ``{"id", "channel", "uscc", "text"}`` with a bearer
    key; answers ``{"message_id": …}``, the same one again for an id it has already had."""

    url: str
    key: str = ""
    timeout_s: float = 5.0
    # One client for all sends: a new one per request costs tens of milliseconds (TLS set-up).
    _client: httpx.Client | None = field(default=None, init=False, repr=False, compare=False)

    def send(self, message: Message) -> str:
        headers = {"Idempotency-Key": message.id}
        if self.key:
            headers["Authorization"] = f"Bearer {self.key}"
        body = {"id": message.id, "channel": message.channel, "uscc": message.uscc,
                "text": message.text}
        try:
            if self._client is None:
                self._client = httpx.Client(timeout=self.timeout_s)
            response = self._client.post(self.url, json=body, headers=headers)
            response.raise_for_status()
            provider_id = str(response.json()["message_id"])
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            raise NotifyError(f"通知服务暂不可用。 / The provider failed: "
                              f"{type(exc).__name__}.") from None
        return provider_id


@dataclass
class ByChannel:
    """One notifier per channel (SMS, 站内信)."""

    notifiers: dict[str, Notifier]

    def send(self, message: Message) -> str:
        return self.notifiers[message.channel].send(message)


@dataclass
class Simulator:
    """A provider on this machine: keeps one message per notification id, sends nothing.

    For tests and development it can fail: ``fail_rate`` of the sends are refused before
    anything is kept, ``lost_ack_rate`` are kept but answered with an error (the dispatcher
    resends; the copy is not kept twice). ``seed`` makes the failures repeatable.
    """

    fail_rate: float = 0.0
    lost_ack_rate: float = 0.0
    seed: int | None = None
    received: dict[str, Message] = field(default_factory=dict)
    # Sends that reached the simulator per notification id, resends and failures included.
    tries: dict[str, int] = field(default_factory=dict)
    _rng: random.Random = field(init=False, repr=False)
    lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def send(self, message: Message) -> str:
        with self.lock:
            self.tries[message.id] = self.tries.get(message.id, 0) + 1
            roll = self._rng.random()
            if roll < self.fail_rate:
                raise NotifyError("模拟通知服务拒收。 / The simulator refused this send.")
            self.received.setdefault(message.id, message)
            if roll < self.fail_rate + self.lost_ack_rate:
                raise NotifyError("模拟通知服务未回执。 / The simulator lost this ack.")
        return provider_id(message.id)

    def messages_to(self, uscc: str) -> list[Message]:
        with self.lock:
            return [m for m in self.received.values() if m.uscc == uscc]


def provider_id(notification_id: str) -> str:
    """The simulator's message id: the same for every resend of one notification."""
    return f"sim-{notification_id}"


def notifier_from_settings(settings: Settings | None = None,
                           simulator: Simulator | None = None) -> Notifier:
    """The configured providers; a channel without one gets the simulator (logged)."""
    s = settings or get_settings()
    stand_in = simulator or Simulator()
    chosen: dict[str, Notifier] = {}
    for channel, url, key in ((SMS, s.notify_sms_url, s.notify_sms_key),
                              (INBOX, s.notify_inbox_url, s.notify_inbox_key)):
        if url:
            chosen[channel] = HttpNotifier(url, key, s.notify_timeout_s)
        else:
            log.warning("政策推送: no %s provider configured; the simulator records the "
                        "messages and nothing leaves this machine", channel)
            chosen[channel] = stand_in
    return ByChannel(chosen)
