"""Rasa's tracker and lock stores on a Redis primary found through Sentinel.

Rasa 3.6's own Redis stores take one host, so a failover would leave the Rasa server talking
to a dead primary. These subclasses keep everything of theirs (keys, prefixes, expiry,
serialisation) and only replace the client with redis-py's ``Sentinel(...).master_for``,
which asks the Sentinels for the primary at every reconnect and retries through the
promotion. ``endpoints.yml`` names them by module path; without ``sentinels`` they are the
plain stores on ``url``/``port``::

    tracker_store:
      type: bot.sentinel_stores.SentinelTrackerStore
      sentinels: ${XIAOBAO_REDIS_SENTINELS}   # host:port,host:port,host:port
      sentinel_master: xiaobao
      password: ${XIAOBAO_REDIS_PASSWORD}
      db: 1
      key_prefix: xiaobao

Imported by the Rasa server (``.venv-rasa``, Python 3.10) only: nothing here may import the
gateway's packages (the parsing of ``sentinels`` is repeated from xiaobao/redis_clients.py).
"""
# ruff: noqa: UP006, UP035, UP045  (typing.Optional: Rasa reads these annotations)
from typing import Any, List, Optional, Tuple

import redis
from rasa.core.lock_store import DEFAULT_SOCKET_TIMEOUT_IN_SECONDS, RedisLockStore
from rasa.utils.endpoints import EndpointConfig
from redis.backoff import ExponentialBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel

from bot.tracker_window import WindowedTrackerStore

SENTINEL_TIMEOUT_S = 0.5
# Five retries, 0.1 s doubling to 1 s: about 2.5 s, beyond the measured promotion (1.3 s with
# down-after-milliseconds 500), so a turn that arrives mid-failover waits instead of failing.
RETRIES = 5


def _sentinels(text: str) -> List[Tuple[str, int]]:
    found = []
    for part in str(text).split(","):
        host, _, port = part.strip().rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"a Sentinel must be host:port, not {part.strip()!r}")
        found.append((host, int(port)))
    return found


def master_client(sentinels: str, master: str, *, db: int, password: Optional[str],
                  sentinel_password: Optional[str], **kwargs: Any) -> redis.Redis:
    """The primary's client, through the Sentinels, retrying through a failover."""
    sentinel = Sentinel(_sentinels(sentinels), sentinel_kwargs={
        "password": sentinel_password or None, "socket_connect_timeout": SENTINEL_TIMEOUT_S,
        "socket_timeout": SENTINEL_TIMEOUT_S})
    return sentinel.master_for(
        master, db=int(db), password=password or None,
        retry=Retry(ExponentialBackoff(cap=1.0, base=0.1), RETRIES),
        retry_on_error=[redis.ConnectionError, redis.TimeoutError], **kwargs)


class SentinelTrackerStore(WindowedTrackerStore):
    """The windowed tracker store (bot/tracker_window.py) on the primary the Sentinels name."""

    def __init__(self, domain: Any, host: str = "localhost", port: int = 6379, db: int = 0,
                 password: Optional[str] = None, sentinels: str = "",
                 sentinel_master: str = "xiaobao", sentinel_password: Optional[str] = None,
                 **kwargs: Any) -> None:
        super().__init__(domain, host=host or "localhost", port=int(port), db=int(db),
                         password=password or None, **kwargs)
        if str(sentinels).strip():
            self.red = master_client(sentinels, sentinel_master, db=db, password=password,
                                     sentinel_password=sentinel_password,
                                     decode_responses=True)


class SentinelLockStore(RedisLockStore):
    """Rasa's RedisLockStore on the primary the Sentinels name (Rasa constructs a custom
    lock store with its endpoint configuration only)."""

    def __init__(self, endpoint_config: Optional[EndpointConfig] = None) -> None:
        options = dict(endpoint_config.kwargs) if endpoint_config else {}
        sentinels = str(options.pop("sentinels", "") or "")
        master = options.pop("sentinel_master", "xiaobao")
        sentinel_password = options.pop("sentinel_password", None)
        host = (endpoint_config.url if endpoint_config else None) or "localhost"
        super().__init__(host=host, **options)
        if sentinels.strip():
            self.red = master_client(
                sentinels, master, db=options.get("db", 1), password=options.get("password"),
                sentinel_password=sentinel_password,
                socket_timeout=float(options.get("socket_timeout",
                                                 DEFAULT_SOCKET_TIMEOUT_IN_SECONDS)))
