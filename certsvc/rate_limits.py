"""Fixed-window rate limits in Redis. Keys are HMACs of what is limited (a client address, a
My Number) plus the window number; values are counters; every key expires with its window.

A hit is one script call on one key (one slot under Redis Cluster): the counter and, on its
first use, the expiry of its window. It goes as a bare `EVALSHA`: redis-py's registered `Script`
costs a `SCRIPT EXISTS` round trip first when it runs in a pipeline, and a server that does not
know the script yet answers NOSCRIPT, after which that one call runs it by its text (`EVAL`,
which caches it there). One command is cheaper for the client than
`INCR` + `EXPIRE … NX` in a pipeline (each queued command costs redis-py its own packing, read and
timeout: `bench/bench_redis.py`). The script and batch machinery is `certsvc.redis_rounds`. A
caller with other commands for the same round trip queues the hit into its own pipeline
(`queue_hit`, then `PendingHit.wait`).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any, Final

import redis.asyncio as redis_asyncio

from certsvc.redis_rounds import AnyPipeline, LuaScript

# One key per script, so it stays in one slot under Redis Cluster (the client and person
# counters live in different slots: two calls, never one script).
_INCR = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n
"""


_INCR_SCRIPT: Final = LuaScript(_INCR)


class PendingHit:
    """A hit queued into a pipeline: its reply is at `index` in the results."""

    __slots__ = ("_key", "_limiter", "_now", "_window", "index")

    def __init__(
        self, limiter: RateLimiter, *, index: int, key: str, window: int, now: float
    ) -> None:
        self._limiter = limiter
        self.index = index
        self._key = key
        self._window = window
        self._now = now

    async def wait(self, results: list[Any]) -> int | None:
        """None if within the limit, else the seconds to wait (raises a failed command's
        error)."""
        limiter = self._limiter
        count = await _INCR_SCRIPT.reply(
            limiter.redis, results[self.index], [self._key], [limiter.window_s + 1]
        )
        return limiter.wait_for(int(count), self._window, self._now)


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
        self.redis = redis
        self._key = key
        self._name = name
        self.limit = limit
        self.window_s = window_s

    def _window_key(self, subject: bytes, now: float) -> tuple[str, int]:
        window = int(now // self.window_s)
        mac = hmac.new(self._key, self._name.encode() + b":" + subject, hashlib.sha256)
        return f"rl:{self._name}:{mac.hexdigest()[:32]}:{window}", window

    def wait_for(self, count: int, window: int, now: float) -> int | None:
        if count <= self.limit:
            return None
        return max(1, int((window + 1) * self.window_s - now) + 1)

    def queue_hit(
        self, pipe: AnyPipeline, index: int, subject: bytes, *, now: float | None = None
    ) -> PendingHit:
        """Queue one use by `subject` into `pipe`, whose results have its reply at `index`."""
        now = time.time() if now is None else now
        key, window = self._window_key(subject, now)
        _INCR_SCRIPT.queue(pipe, [key], [self.window_s + 1])
        return PendingHit(self, index=index, key=key, window=window, now=now)

    async def hit(self, subject: bytes, *, now: float | None = None) -> int | None:
        """Count one use by `subject`. None if within the limit, else the seconds to wait."""
        now = time.time() if now is None else now
        key, window = self._window_key(subject, now)
        count = await _INCR_SCRIPT(self.redis, [key], [self.window_s + 1])
        return self.wait_for(int(count), window, now)
