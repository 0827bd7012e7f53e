"""Fixed-window rate limits in Redis. Keys are HMACs of what is limited (a client address, a
My Number) plus the window number; values are counters; every key expires with its window.

A hit is two plain commands on one key, `INCR` then `EXPIRE … NX` (Redis ≥ 7.0), sent in one
pipeline: one round trip, no script (a registered script in a redis-py pipeline costs a
`SCRIPT EXISTS` round trip first), one slot under Redis Cluster. `NX` sets the expiry only on a
counter that has none, i.e. the one `INCR` just created; a counter that expires between the two
commands is not re-created by `EXPIRE`, so no counter is ever left without a TTL. A caller that
has other commands to send in the same round trip queues the hit into its own pipeline
(`queue_hit`, then `PendingHit.wait`).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

import redis.asyncio as redis_asyncio
from redis.asyncio.client import Pipeline
from redis.asyncio.cluster import ClusterPipeline

#: A pipeline of either client; both queue commands the same way.
AnyPipeline = Pipeline | ClusterPipeline


class PendingHit:
    """A hit queued into a pipeline: its two replies follow at `index` in the results."""

    __slots__ = ("_end", "_limit", "_now", "_window", "_window_s", "index")

    def __init__(self, *, index: int, limit: int, window: int, window_s: int, now: float) -> None:
        self.index = index
        self._limit = limit
        self._window = window
        self._window_s = window_s
        self._now = now

    def wait(self, results: list[Any]) -> int | None:
        """None if within the limit, else the seconds to wait (raises a failed command's
        error)."""
        count = results[self.index]
        if isinstance(count, BaseException):
            raise count
        if isinstance(results[self.index + 1], BaseException):
            raise results[self.index + 1]
        if int(count) <= self._limit:
            return None
        return max(1, int((self._window + 1) * self._window_s - self._now) + 1)


class RateLimiter:
    def __init__(
        self,
        redis: redis_asyncio.Redis | redis_asyncio.RedisCluster,
        *,
        key: bytes,
        name: str,
        limit: int,
        window_s: int,
    ) -> None:
        self._redis = redis
        self._key = key
        self._name = name
        self.limit = limit
        self.window_s = window_s

    def queue_hit(
        self, pipe: AnyPipeline, index: int, subject: bytes, *, now: float | None = None
    ) -> PendingHit:
        """Queue one use by `subject` into `pipe`, whose results it will find from `index` on
        (two replies)."""
        now = time.time() if now is None else now
        window = int(now // self.window_s)
        mac = hmac.new(self._key, self._name.encode() + b":" + subject, hashlib.sha256)
        key = f"rl:{self._name}:{mac.hexdigest()[:32]}:{window}"
        pipe.execute_command("INCR", key)
        pipe.execute_command("EXPIRE", key, self.window_s + 1, "NX")
        return PendingHit(
            index=index, limit=self.limit, window=window, window_s=self.window_s, now=now
        )

    async def hit(self, subject: bytes, *, now: float | None = None) -> int | None:
        """Count one use by `subject`. None if within the limit, else the seconds to wait."""
        pipe = self._redis.pipeline(transaction=False)
        pending = self.queue_hit(pipe, 0, subject, now=now)
        return pending.wait(await pipe.execute())
