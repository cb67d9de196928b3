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


def test_sentinel_address_round_trips_with_passwords():
    url = redis_clients.sentinel_url("10.0.0.1:26379, 10.0.0.2:26380", "主 master", db=1,
                                     password="p@ss/w?", sentinel_password="s:p@")
    assert redis_clients.sentinel_address(url) == redis_clients.SentinelAddress(
        sentinels=(("10.0.0.1", 26379), ("10.0.0.2", 26380)), master="主 master", db=1,
        password="p@ss/w?", sentinel_password="s:p@")
    assert redis_clients.sentinel_address("redis://127.0.0.1:6379/0") is None
    with pytest.raises(ValueError):
        redis_clients.parse_sentinels("10.0.0.1")


def test_settings_use_the_sentinels_instead_of_the_url(monkeypatch):
    from xiaobao.settings import Settings

    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/3")
    assert Settings().redis_url == "redis://127.0.0.1:6379/3"
    monkeypatch.setenv("XIAOBAO_REDIS_PASSWORD", "pw")
    assert Settings().redis_url == "redis://:pw@127.0.0.1:6379/3"
    monkeypatch.setenv("XIAOBAO_REDIS_SENTINELS", "127.0.0.1:26379,127.0.0.1:26380")
    monkeypatch.setenv("XIAOBAO_REDIS_SENTINEL_MASTER", "mymaster")
    address = redis_clients.sentinel_address(Settings().redis_url)
    assert address == redis_clients.SentinelAddress(
        sentinels=(("127.0.0.1", 26379), ("127.0.0.1", 26380)), master="mymaster", db=3,
        password="pw")
    client = redis_clients.client(Settings().redis_url, read_timeout_s=1)
    assert client.connection_pool.service_name == "mymaster"
    assert client.connection_pool.connection_kwargs["socket_timeout"] == 1
