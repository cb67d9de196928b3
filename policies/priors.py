"""What enterprises answer, counted in aggregate: the planner's priors (field → answer → count).

Every answer a check-up receives (the 政策体检 page's ``POST /api/policy-check``, the chat's
check-up) adds one to its bucket in a Redis hash per field (``HINCRBY``), bucketed as the
planner tries answers (:mod:`policies.answers`: a choice, yes/no, the band a number falls in).
Nothing else is stored: no raw number, no conversation, address or time — only how many
answers fell in each bucket, summed over everyone.

Counting never fails a check-up: while Redis does not answer, counts are skipped (logged once
per outage, then tried again after ``RETRY_AFTER_S``) and the planner weighs with what was
last read, or equally. Each process reads the counts at most every ``CACHE_S`` seconds.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from policies.answers import bucket
from policies.fields import Dictionary

if TYPE_CHECKING:
    import redis

logger = logging.getLogger(__name__)

KEY_PREFIX = "xiaobao:policy-priors:"  # + field name: a hash, bucket → count
CACHE_S = 5.0
RETRY_AFTER_S = 30.0

Priors = dict[str, dict[str, float]]  # field → answer key → count


def buckets_of(facts: dict[str, Any], dictionary: Dictionary,
               fields: Iterable[str] | None = None) -> list[tuple[str, str]]:
    """(field, bucket) of every given fact that is counted (only ``fields`` when given)."""
    wanted = None if fields is None else set(fields)
    out = []
    for name, value in facts.items():
        if (wanted is None or name in wanted) and name in dictionary:
            key = bucket(dictionary[name], value)
            if key is not None:
                out.append((name, key))
    return out


class PolicyPriors:
    """The counts in one Redis (``client`` None: nothing counted, nothing learned)."""

    def __init__(self, client: redis.Redis | None, *, cache_s: float = CACHE_S,
                 retry_after_s: float = RETRY_AFTER_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._client = client
        self._cache_s = cache_s
        self._retry_after_s = retry_after_s
        self._clock = clock
        self._lock = threading.Lock()
        self._counts: Priors = {}
        self._read_at: float | None = None
        self._down_until: float | None = None

    def count(self, facts: dict[str, Any], dictionary: Dictionary,
              fields: Iterable[str] | None = None) -> int:
        """Add one to the bucket of each given fact (typed, :func:`policies.facts.parse_facts`;
        only ``fields`` when given). Returns how many were counted; never raises."""
        pairs = buckets_of(facts, dictionary, fields)
        if not pairs or self._client is None or self._down():
            return 0
        try:
            pipe = self._client.pipeline(transaction=False)
            for name, key in pairs:
                pipe.hincrby(KEY_PREFIX + name, key, 1)
            pipe.execute()
        except Exception as exc:  # a check-up answers without its count
            self._went_down("count", exc)
            return 0
        return len(pairs)

    def read(self, dictionary: Dictionary) -> Priors:
        """The counts of every field asked about (at most ``cache_s`` old; what was last read
        while Redis does not answer); never raises."""
        now = self._clock()
        fresh = self._read_at is not None and now - self._read_at < self._cache_s
        if fresh or self._client is None or self._down():
            return self._counts
        if not self._lock.acquire(blocking=False):
            return self._counts  # another thread is reading them
        try:
            names = [f.name for f in dictionary.base_fields()]
            pipe = self._client.pipeline(transaction=False)
            for name in names:
                pipe.hgetall(KEY_PREFIX + name)
            rows = pipe.execute()
            self._counts = {name: {_text(k): float(v) for k, v in row.items()}
                            for name, row in zip(names, rows, strict=True) if row}
        except Exception as exc:  # the planner weighs with what it has
            self._went_down("read", exc)
        finally:
            self._read_at = now
            self._lock.release()
        return self._counts

    def _down(self) -> bool:
        if self._down_until is None:
            return False
        if self._clock() < self._down_until:
            return True
        self._down_until = None
        return False

    def _went_down(self, what: str, exc: Exception) -> None:
        self._down_until = self._clock() + self._retry_after_s
        logger.warning("policy priors: Redis did not answer the %s (%s); counts skipped and "
                       "not read for %.0f s", what, type(exc).__name__, self._retry_after_s)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
