"""The one Redis factory, against a real (private) redis-server."""
from __future__ import annotations

import asyncio

import pytest
import redis

from tests.redis_server import _free_port
from xiaobao import redis_clients


def test_text_and_bytes_clients(redis_server, r):
    text = redis_clients.client(redis_server.url)
    raw = redis_clients.client(redis_server.url, text=False, read_timeout_s=1)
    text.set("k", "值")
    assert text.get("k") == "值"
    assert raw.get("k") == "值".encode()
    assert raw.connection_pool.connection_kwargs["socket_timeout"] == 1
    assert text.connection_pool.connection_kwargs["socket_timeout"] is None  # a listener waits


def test_gateway_clients_reach_redis_and_fail_fast_without_it(redis_server, r):
    blocking, asynchronous = redis_clients.gateway_clients(redis_server.url)
    blocking.set("k", "v")

    async def read() -> str | None:
        try:
            return await asynchronous.get("k")
        finally:
            await asynchronous.aclose()

    assert asyncio.run(read()) == "v"
    kwargs = blocking.connection_pool.connection_kwargs
    assert kwargs["socket_timeout"] == redis_clients.GATEWAY_READ_TIMEOUT_S
    down, _ = redis_clients.gateway_clients(f"redis://127.0.0.1:{_free_port()}/0")
    with pytest.raises(redis.ConnectionError):
        down.ping()  # nobody listens there: refused, after one retry, not a hang
