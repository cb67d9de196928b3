"""Announcing knowledge-base changes on Redis pub/sub, so every gateway's index follows.

The knowledge base only says *which* entries changed; whoever keeps a search index
subscribes to :data:`CHANGES_CHANNEL` and refreshes them. This package knows nothing
of its listeners.
Announcing is best effort: a gateway that missed a message still rebuilds at its
next start, because the saved index's fingerprint no longer matches.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Callable

import redis

log = logging.getLogger(__name__)
CHANGES_CHANNEL = "xiaobao:kb:changed"

Announce = Callable[[list[str]], None]


def redis_announcer(client: redis.Redis) -> Announce:
    """Publish changed ids as one JSON list; Redis being down is logged, never raised.

    The change is already committed when this runs: failing the caller then would
    report a write as failed that in fact succeeded.
    """
    def announce(entry_ids: list[str]) -> None:
        if not entry_ids:
            return
        try:
            client.publish(CHANGES_CHANNEL, json.dumps(entry_ids))
        except redis.RedisError as exc:
            log.warning("could not announce knowledge-base change of %s: %s", entry_ids, exc)

    return announce
