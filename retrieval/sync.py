"""Keeping every gateway's index current: knowledge-base changes are announced on Redis pub/sub.

Whoever commits a change (the editor API, `xiaobao kb import`) publishes the
changed ids; each gateway's listener refreshes just those entries. Publishing
is best effort: a gateway that missed a message still rebuilds at its next
start, because the saved index's fingerprint no longer matches.
"""
from __future__ import annotations

import json
import logging
import threading

import redis

log = logging.getLogger(__name__)
CHANNEL = "xiaobao:kb:changed"


def publish_changes(client: redis.Redis, entry_ids: list[str]) -> bool:
    if not entry_ids:
        return True
    try:
        client.publish(CHANNEL, json.dumps(entry_ids))
        return True
    except redis.RedisError as exc:
        log.warning("could not announce knowledge-base change: %s", exc)
        return False


def start_listener(retriever, client: redis.Redis) -> threading.Event:
    """Refresh ``retriever`` on every announced change, in a daemon thread; set the event to stop."""
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            try:
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(CHANNEL)
                while not stop.is_set():
                    msg = pubsub.get_message(timeout=0.5)
                    if msg and msg["type"] == "message":
                        retriever.refresh(json.loads(msg["data"]))
            except redis.RedisError as exc:
                log.warning("knowledge-base listener lost Redis (%s); retrying", exc)
                stop.wait(1.0)
            except Exception:  # a bad message must not end the listener
                log.exception("knowledge-base refresh failed")

    threading.Thread(target=run, name="kb-sync", daemon=True).start()
    return stop
