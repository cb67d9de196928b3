"""Keeping every gateway's index current: it listens for knowledge-base change announcements
and for a changed term map (``xiaobao kb terms reload``).

Whoever commits a change announces the changed ids (``knowledge_base.changes``,
called by ``KnowledgeBaseService``); each gateway's listener refreshes just
those entries. Whatever a gateway missed (it started, or Redis failed over, in between) it
catches up on each (re)subscribe and at start-up: the entries whose version
in the database is not the one indexed are refreshed, never the whole base.
"""
from __future__ import annotations

import json
import logging
import threading

import redis

from knowledge_base.changes import CHANGES_CHANNEL
from retrieval.terms import TERMS_CHANNEL

log = logging.getLogger(__name__)


def start_listener(retriever, client: redis.Redis) -> threading.Event:
    """Refresh ``retriever`` on every announced change, in a daemon thread.

    Set the returned event to stop listening.
    """
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            try:
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(CHANGES_CHANNEL, TERMS_CHANNEL)
                # What was announced while nobody here listened (before the first subscribe,
                # during a Redis failover) is read from the database instead.
                try:
                    retriever.catch_up()
                except Exception:  # the database away: the next announcement or resubscribe
                    log.exception("knowledge-base catch-up failed")
                while not stop.is_set():
                    msg = pubsub.get_message(timeout=0.5)
                    if not msg or msg["type"] != "message":
                        continue
                    channel = msg["channel"]
                    if isinstance(channel, bytes):
                        channel = channel.decode()
                    if channel == TERMS_CHANNEL:
                        retriever.reload_terms()
                    else:
                        retriever.refresh(json.loads(msg["data"]))
            except redis.RedisError as exc:
                log.warning("knowledge-base listener lost Redis (%s); retrying", exc)
                stop.wait(1.0)
            except Exception:  # a bad message must not end the listener
                log.exception("knowledge-base refresh failed")

    threading.Thread(target=run, name="kb-sync", daemon=True).start()
    return stop
