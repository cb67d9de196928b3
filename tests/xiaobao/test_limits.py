"""The sliding-window limiter on a real Redis: admits up to the limit, then says how long to
wait; every key expires; keys are hashed; Redis down lets traffic through."""
from __future__ import annotations

import socket
import time

import pytest
import redis

from tests.redis_server import RedisServer
from xiaobao.limits import LimitExceeded, enforce, hit, limit_key


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = RedisServer(tmp_path_factory.mktemp("limits-redis"))
    yield s
    s.stop()


@pytest.fixture
def r(server):
    client = server.client()
    client.flushall()
    yield client
    client.close()


def test_admits_up_to_the_limit_then_refuses_with_a_wait(r):
    verdicts = [hit(r, "chat", "visitor-1", 3, 60) for _ in range(5)]
    assert [v.allowed for v in verdicts] == [True, True, True, False, False]
    assert 55 <= verdicts[-1].retry_after_s <= 60
    assert hit(r, "chat", "visitor-2", 3, 60).allowed  # another key has its own window


def test_the_window_slides(r):
    assert hit(r, "w", "k", 2, 0.3).allowed and hit(r, "w", "k", 2, 0.3).allowed
    assert not hit(r, "w", "k", 2, 0.3).allowed
    time.sleep(0.35)
    assert hit(r, "w", "k", 2, 0.3).allowed


def test_every_key_expires_and_names_no_one(r):
    hit(r, "callback_phone", "13812345678", 2, 86400)
    keys = r.keys("*")
    assert keys == [limit_key("callback_phone", "13812345678")]
    assert "13812345678" not in keys[0]
    assert 0 < r.pttl(keys[0]) <= 86400 * 1000


def test_enforce_raises_429_with_a_chinese_message(r):
    enforce(r, "left_message", "v", 1, 3600, "留言")
    with pytest.raises(LimitExceeded) as err:
        enforce(r, "left_message", "v", 1, 3600, "留言")
    assert err.value.status == 429 and err.value.retry_after_s > 3000
    assert err.value.message.startswith("留言过于频繁") and "/" in err.value.message


def test_no_limit_and_redis_down_let_traffic_through(caplog):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    down = redis.Redis(port=port, socket_connect_timeout=0.2)
    assert hit(down, "chat", "v", 1, 60).allowed
    assert "letting chat through" in caplog.text
    assert hit(down, "chat", "v", 0, 60).allowed
