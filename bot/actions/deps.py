"""What the actions call outside the bot: retrieval, handoff and the event log.

The gateway builds its services once (``api.services.Services``) and hands them to every
action's constructor (:func:`bot.actions.build_actions`); the helpers here take them
explicitly, so nothing in the bot reaches for a global and a test passes its own.
"""
from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, Protocol

from bot.replies import reply_for, with_policy_links
from policies import links, store
from xiaobao.db import session_scope
from xiaobao.events import EventKind
from xiaobao.events import record_event as append_event

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from handoff.context import HandoffContext
    from handoff.phone_codes import SmsSender
    from handoff.requests import HandoffReceipt, HandoffRequest
    from policies.priors import PolicyPriors
    from retrieval.types import Hit, SearchResult

logger = logging.getLogger(__name__)


class KnowledgeSearch(Protocol):
    """What the actions use of :class:`retrieval.service.Retriever`."""

    def search(self, query: str, top_k: int = 5) -> SearchResult: ...

    def get_entry(self, entry_id: str) -> Hit | None: ...


class ActionServices(Protocol):
    """What the actions use of the gateway's ``api.services.Services`` (read-only)."""

    @property
    def settings(self) -> Any: ...

    @property
    def engine(self) -> Engine: ...

    @property
    def handoff(self) -> HandoffContext: ...

    @property
    def retriever(self) -> KnowledgeSearch: ...

    @property
    def sms(self) -> SmsSender: ...

    @property
    def policy_priors(self) -> PolicyPriors: ...

    @property
    def redis(self) -> Any: ...  # None: no signed-in enterprise can be known (tests)


# --- retrieval ---------------------------------------------------------------------------------

def search(services: ActionServices, text: str, top_k: int = 5) -> SearchResult:
    """Retrieval's decision and hits for ``text`` (raises ``retrieval.types.QueryError``)."""
    return services.retriever.search(text, top_k)


def get_entry(services: ActionServices, entry_id: str) -> Hit | None:
    """An answerable entry by id, else None."""
    return services.retriever.get_entry(entry_id)


def policy_links(services: ActionServices, policy_ids: list[str] | tuple[str, ...]) -> list[dict]:
    """``[{"id", "title"}]`` of the published 政策体检 items an entry names (the answer card's
    看看我是否符合); none when the store cannot be read: the answer matters more."""
    if not policy_ids:
        return []
    try:
        with session_scope(services.engine) as session:
            items = [data for _, data in store.published_policies(session)]
    except Exception:
        logger.exception("could not read the policies linked to an answer")
        return []
    return links.published_links(policy_ids, [{**d, "status": "published"} for d in items])


def reply_with_links(services: ActionServices, result: SearchResult) -> dict:
    """The reply for a search result (:func:`bot.replies.reply_for`), an answer card offering
    看看我是否符合 for the published policies its entry names: the chat's and the hit test's."""
    message = reply_for(result)
    if result.decision == "answer" and result.top is not None:
        message = with_policy_links(message, policy_links(services, result.top.policy_ids))
    return message


# --- handoff -----------------------------------------------------------------------------------

def request_handoff(services: ActionServices, req: HandoffRequest) -> HandoffReceipt:
    """Create (or find) the ticket for ``req`` (raises ``HandoffError`` when it is refused)."""
    from handoff.requests import request_handoff as take

    return take(req, ctx=services.handoff)


# --- the event log -----------------------------------------------------------------------------

def record_event(services: ActionServices, kind: EventKind, *, conversation_id: str,
                 ticket_id: str = "", **data: Any) -> None:
    """Append a bot event to the SQL log; a failure is logged, never shown to the user."""
    try:
        with session_scope(services.engine) as session:
            append_event(session, kind, conversation_id=conversation_id, ticket_id=ticket_id,
                         actor="bot", **data)
    except Exception:  # the reply matters more than its log line
        logger.exception("could not record event %s for %s", kind, conversation_id)


async def record_event_async(services: ActionServices, kind: EventKind, *, conversation_id: str,
                             ticket_id: str = "", **data: Any) -> None:
    """:func:`record_event` off the event loop: the gateway serves other requests meanwhile."""
    await asyncio.to_thread(lambda: record_event(services, kind, conversation_id=conversation_id,
                                                 ticket_id=ticket_id, **data))
