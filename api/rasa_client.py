"""The Rasa server, as the gateway talks to it: one turn through 小宝's signed REST channel
(``bot.channels``: every request carries the HMAC of its body under the Rasa token), and handing
a paused conversation back to the bot after its ticket closed.

``ask`` is async (the chat's request path); ``resume`` is synchronous because it runs in the
handoff outbox's publisher, in a worker thread, with the services' own ``httpx.Client``.
:class:`RasaBreaker` keeps a Rasa that times out from costing every turn its timeout.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from urllib.parse import quote

import httpx

from api.metrics import RASA_FAILURES, RASA_LATENCY
from bot.signing import SIGNATURE_HEADER, sign
from xiaobao.settings import Settings

RATING_RESPONSE = "utter_ask_rating"
RESUME_EVENT = {"event": "resume"}
LISTEN_EVENT = {"event": "action", "name": "action_listen"}
TICKET_SLOT = "handoff_ticket_id"  # bot/domain.yml: the ticket a rating is about
CONNECT_TIMEOUT_S = 1.0  # Rasa is on loopback or the same network: a connect never takes long
CIRCUIT_OPEN = "circuit_open"  # BotUnavailable.kind of a turn the breaker did not send
WEBHOOK_PATH = "/webhooks/xiaobao/webhook"  # bot.channels.SignedRestInput
log = logging.getLogger("api.rasa_client")


class BotUnavailable(Exception):
    def __init__(self, kind: str):
        super().__init__(kind)
        self.kind = kind


@dataclass
class RasaBreaker:
    """After Rasa timed out, the next turns skip it for ``first_s`` (doubling with each further
    timeout, at most ``max_s``) instead of each waiting out the timeout again; any answer from
    Rasa closes it. A fast failure (connection refused or an error status: Rasa down, or still
    loading its model) does not open it: trying costs milliseconds, and the first turn after
    Rasa is back goes to Rasa. Used from the event loop only (no lock)."""

    first_s: float = 2.0
    max_s: float = 30.0
    skip_until: float = 0.0
    timeouts: int = 0

    def allows(self) -> bool:
        return time.monotonic() >= self.skip_until

    def record(self, failure: str | None) -> None:
        """A turn's outcome: None when Rasa answered, else the ``BotUnavailable`` kind."""
        if failure is None:
            self.timeouts, self.skip_until = 0, 0.0
        elif failure == "timeout":
            self.timeouts += 1
            wait = min(self.max_s, self.first_s * 2 ** (self.timeouts - 1))
            self.skip_until = time.monotonic() + wait


async def ask(http: httpx.AsyncClient, settings: Settings, conversation_id: str, text: str,
              *, visitor_id: str = "", client_ip: str = "",
              breaker: RasaBreaker | None = None) -> list[dict]:
    """One turn through Rasa's REST channel; raises :class:`BotUnavailable` on any failure
    (kind ``circuit_open``, without calling Rasa, while ``breaker`` says to skip it).

    The visitor id travels as message metadata, so a handoff knows the returning visitor, and
    so does the client's address (:func:`api.deps.client_ip`), for the per-address limits on
    the tickets and 12345 call-backs the bot's actions book.
    """
    if breaker is not None and not breaker.allows():
        raise BotUnavailable(CIRCUIT_OPEN)
    try:
        replies = await _ask(http, settings, conversation_id, text, visitor_id, client_ip)
    except BotUnavailable as exc:
        if breaker is not None:
            breaker.record(exc.kind)
        raise
    if breaker is not None:
        breaker.record(None)
    return replies


async def _ask(http: httpx.AsyncClient, settings: Settings, conversation_id: str, text: str,
               visitor_id: str, client_ip: str = "") -> list[dict]:
    url = f"{settings.rasa_url.rstrip('/')}{WEBHOOK_PATH}"
    metadata = {"visitor_id": visitor_id or conversation_id}
    if client_ip:
        metadata["client_ip"] = client_ip
    body = json.dumps({"sender": conversation_id, "message": text, "metadata": metadata}
                      ).encode()
    headers = {"Content-Type": "application/json",
               SIGNATURE_HEADER: sign(settings.rasa_token, body)}
    timeout = httpx.Timeout(settings.rasa_timeout_s,
                            connect=min(CONNECT_TIMEOUT_S, settings.rasa_timeout_s))
    started = time.perf_counter()
    try:
        response = await http.post(url, content=body, headers=headers, timeout=timeout)
    except httpx.TimeoutException:
        raise BotUnavailable("timeout") from None
    except httpx.HTTPError:
        raise BotUnavailable("unreachable") from None
    finally:
        RASA_LATENCY.observe(time.perf_counter() - started)
    if response.status_code in (401, 403):
        # bot.channels refused the signature: this gateway's and Rasa's XIAOBAO_RASA_TOKEN
        # differ. A failure like any other (the fallback answers), but an operator's to fix.
        log.error("Rasa refused the turn's signature (%s): is XIAOBAO_RASA_TOKEN the same "
                  "for the gateway and rasa run?", response.status_code)
    if response.status_code != 200:
        raise BotUnavailable(f"status_{response.status_code}")
    try:
        replies = response.json()
    except ValueError:
        raise BotUnavailable("bad_json") from None
    if not isinstance(replies, list):
        raise BotUnavailable("bad_json")
    return replies


def resume(http: httpx.Client, settings: Settings, conversation_id: str, *,
           ask_rating: bool, ticket_id: str = "") -> list[dict]:
    """Resume the paused conversation (``ConversationResumed``) and, when asked, have the bot
    ask for the 好差评 rating; returns the bot's replies. Raises BotUnavailable.

    ``ticket_id`` (the ticket that closed) is set in the ``handoff_ticket_id`` slot, so the
    rating names it even when the bot never saw the handoff (opened by the gateway's fallback
    while Rasa was down: the rating was recorded as the bot's before).

    Rasa's ``/execute`` runs the action without the ``action_listen`` its own prediction loop
    would end with (nor does a paused loop end with one), so that is appended last: without
    it the user's next turn does not follow an ``action_listen`` and rules such as
    ``rate_service → action_record_rating`` do not apply (the rating is never recorded).
    """
    base = f"{settings.rasa_url.rstrip('/')}/conversations/{quote(conversation_id, safe='')}"
    params = {"token": settings.rasa_token}
    try:
        events = [RESUME_EVENT]
        if ticket_id:
            events.append({"event": "slot", "name": TICKET_SLOT, "value": ticket_id})
        if not ask_rating:
            events.append(LISTEN_EVENT)
        response = http.post(f"{base}/tracker/events", params=params, json=events)
        response.raise_for_status()
        if not ask_rating:
            return []
        response = http.post(f"{base}/execute", params=params, json={"name": RATING_RESPONSE})
        response.raise_for_status()
        replies = response.json().get("messages", [])
    except (httpx.HTTPError, ValueError, AttributeError) as exc:
        RASA_FAILURES.labels("resume").inc()
        # The exception's text names the URL, whose query carries the Rasa token: not logged.
        raise BotUnavailable(f"resume: {type(exc).__name__}") from None
    try:
        http.post(f"{base}/tracker/events", params=params, json=[LISTEN_EVENT]
                  ).raise_for_status()
    except httpx.HTTPError as exc:
        # The question was asked: retrying the whole hand-back would ask it twice.
        RASA_FAILURES.labels("resume").inc()
        log.warning("could not append action_listen for %s: %s", conversation_id, exc)
    return replies if isinstance(replies, list) else []
