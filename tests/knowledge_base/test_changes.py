"""Announcing changes on Redis: the message gateways listen for, and no error when Redis is down."""
from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Iterator

import pytest
import redis

from knowledge_base.changes import CHANGES_CHANNEL, redis_announcer
from tests.redis_server import RedisServer


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory) -> Iterator[RedisServer]:
    """A private server: announcements must not reach gateways running on the shared one."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens once the socket is closed


def test_announcer_publishes_the_ids_on_the_channel(redis_server):
    client = redis_server.client()
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(CHANGES_CHANNEL)
    try:
        announce = redis_announcer(client)
        announce(["kb-1", "kb-2"])
        announce([])  # nothing changed: nothing sent
        announce(["kb-3"])
        received = []
        deadline = time.monotonic() + 5
        while len(received) < 2 and time.monotonic() < deadline:
            msg = pubsub.get_message(timeout=0.5)
            if msg:
                received.append(json.loads(msg["data"]))
        assert received == [["kb-1", "kb-2"], ["kb-3"]]
        assert pubsub.get_message(timeout=0.3) is None
    finally:
        pubsub.close()
        client.close()


def test_announcer_logs_instead_of_raising_when_redis_is_down(caplog):
    client = redis.Redis(host="127.0.0.1", port=_closed_port(), socket_timeout=1,
                         socket_connect_timeout=1)
    with caplog.at_level(logging.WARNING, logger="knowledge_base.changes"):
        assert redis_announcer(client)(["kb-1"]) is None
    assert "could not announce" in caplog.text and "kb-1" in caplog.text
