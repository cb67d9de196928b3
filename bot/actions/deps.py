"""What the actions call outside the bot: retrieval, handoff and the event log.

Each is a module-level seam: the real implementation is imported on first use
(so registering the actions never loads the index), and tests may put a small
stand-in in its place with the ``use_*`` functions.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

_retriever: Any = None
_request_handoff: Callable | None = None
_event_sink: Callable[..., None] | None = None


def use_retriever(retriever: Any) -> None:
    """Replace the retriever (``None`` restores the real one)."""
    global _retriever
    _retriever = retriever


def use_handoff(request_handoff: Callable | None) -> None:
    global _request_handoff
    _request_handoff = request_handoff


def use_event_sink(sink: Callable[..., None] | None) -> None:
    global _event_sink
    _event_sink = sink


def retriever() -> Any:
    if _retriever is not None:
        return _retriever
    from retrieval.service import get_retriever

    return get_retriever()


def request_handoff(req: Any) -> Any:
    if _request_handoff is not None:
        return _request_handoff(req)
    from handoff.dispatch import request_handoff as real

    return real(req)


def record_event(kind: str, *, conversation_id: str = "", ticket_id: str = "",
                 **data: object) -> None:
    """Append an event to the SQL log; a failure is logged, never shown to the user."""
    try:
        if _event_sink is not None:
            _event_sink(kind, conversation_id=conversation_id, ticket_id=ticket_id, **data)
            return
        from xiaobao.db import get_engine, session_scope
        from xiaobao.events import record_event as append

        with session_scope(get_engine()) as session:
            append(session, kind, conversation_id=conversation_id, ticket_id=ticket_id,
                   actor="bot", **data)
    except Exception:  # the reply matters more than its log line
        logger.exception("could not record event %s for %s", kind, conversation_id)


async def record_event_async(kind: str, **kwargs: object) -> None:
    """:func:`record_event` off the event loop: the gateway serves other requests meanwhile."""
    await asyncio.to_thread(lambda: record_event(kind, **kwargs))
