"""Redis behind Sentinel, with real processes on loopback: a primary, a replica and three
Sentinels (quorum 2, down-after 500 ms). The primary is SIGKILLed; the factory's own clients,
after their retry, find the promoted replica with the history, the pending entries and the
subscriptions, and new writes land on it. The failover time is printed."""
from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator

import pytest

from handoff import queue
from knowledge_base.changes import CHANGES_CHANNEL
from retrieval.sync import start_listener
from tests.redis_sentinel import MASTER, PASSWORD, SentinelSet, wait_for
from xiaobao import redis_clients
from xiaobao.settings import Settings


@pytest.fixture
def sentinel_set(tmp_path) -> Iterator[SentinelSet]:
    started = SentinelSet(tmp_path)
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
def url(sentinel_set, monkeypatch) -> str:
    """The address exactly as a deployment's settings make it."""
    monkeypatch.setenv("XIAOBAO_REDIS_SENTINELS", sentinel_set.sentinels)
    monkeypatch.setenv("XIAOBAO_REDIS_SENTINEL_MASTER", MASTER)
    monkeypatch.setenv("XIAOBAO_REDIS_PASSWORD", PASSWORD)
    return Settings().redis_url


def test_streams_survive_a_failover(sentinel_set, url):
    r, ar = redis_clients.gateway_clients(url)
    key = queue.queue_key("web", "市场监管", high=False)
    for ticket in ("t1", "t2", "t3"):
        queue.enqueue(r, ticket, "web", "市场监管", False)
    pending = queue.read_one(r, key, "helper-a")  # delivered, never acknowledged
    assert pending is not None and pending[1] == "t1"
    # Replication is asynchronous: a write acknowledged a moment before the kill may not have
    # reached the replica. WAIT is how this test knows it has (SQL stays the record).
    assert r.wait(1, 2000) == 1

    killed_at = sentinel_set.kill_primary()
    promoted_s = sentinel_set.wait_for_promotion(killed_at)
    # The same client, its pool now pointed by the Sentinels at the promoted replica.
    history = wait_for(lambda: r.xrange(key), 10, "the client to reach the new primary")
    served_s = time.monotonic() - killed_at
    print(f"\nSentinel failover: promoted {promoted_s:.2f} s, the factory's client served "
          f"again {served_s:.2f} s after SIGKILL of the primary")

    assert [fields["ticket_id"] for _id, fields in history] == ["t1", "t2", "t3"]
    assert r.xpending(key, queue.HELPER_GROUP)["consumers"] == [
        {"name": "helper-a", "pending": 1}]
    assert queue.reclaim_one(r, key, "helper-b", min_idle_ms=0) == pending  # re-read
    assert queue.read_one(r, key, "helper-b")[1] == "t2"
    queue.enqueue(r, "t4", "web", "市场监管", False)
    new_primary = sentinel_set.direct(sentinel_set.replica_port)
    assert new_primary.info("replication")["role"] == "master"
    assert [f["ticket_id"] for _i, f in new_primary.xrange(key)] == ["t1", "t2", "t3", "t4"]
    assert new_primary.hget(queue.ticket_key("t4"), "stream") == key

    async def read_async() -> int:
        try:
            return await ar.xlen(key)
        finally:
            await ar.aclose()

    assert asyncio.run(read_async()) == 4
    assert served_s < 15


class _Recorder:
    """What the knowledge-base listener refreshed (a stand-in for the retriever)."""

    def __init__(self) -> None:
        self.refreshed: list[list[int]] = []
        self.event = threading.Event()

    def refresh(self, ids: list[int]) -> None:
        self.refreshed.append(ids)
        self.event.set()

    def reload_terms(self) -> None:
        pass


def test_a_subscriber_resubscribes_after_a_failover(sentinel_set, url):
    recorder = _Recorder()
    stop = start_listener(recorder, redis_clients.client(url, text=False))
    publisher = redis_clients.client(url, connect_timeout_s=0.5, read_timeout_s=1)
    try:
        wait_for(lambda: publisher.publish(CHANGES_CHANNEL, json.dumps([1])) == 1, 5,
              "the listener to subscribe")
        assert recorder.event.wait(5) and recorder.refreshed == [[1]]
        recorder.event.clear()

        killed_at = sentinel_set.kill_primary()
        sentinel_set.wait_for_promotion(killed_at)
        # A change announced on the new primary reaches the listener once it resubscribed.
        wait_for(lambda: publisher.publish(CHANGES_CHANNEL, json.dumps([2])) == 1, 15,
              "the listener to resubscribe on the new primary")
        assert recorder.event.wait(5)
        assert recorder.refreshed == [[1], [2]]
        print(f"\nSentinel failover: subscriber back {time.monotonic() - killed_at:.2f} s "
              "after SIGKILL of the primary")
    finally:
        stop.set()
