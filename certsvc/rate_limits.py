"""Fixed-window rate limits in Redis. Keys are HMACs of what is limited (a client address, a
My Number) plus the window number; values are counters; every key expires with its window."""

from __future__ import annotations

import hashlib
import hmac
import time

import redis.asyncio as redis_asyncio

# One command per hit: the counter and, on its first use, the expiry of its window. One key per
# script, so it stays in one slot under Redis Cluster (the client and person counters live in
# different slots: two calls, never one script).
_INCR = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n
"""


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
        self._incr = redis.register_script(_INCR)

    async def hit(self, subject: bytes, *, now: float | None = None) -> int | None:
        """Count one use by `subject`. None if within the limit, else the seconds to wait."""
        now = time.time() if now is None else now
        window = int(now // self.window_s)
        mac = hmac.new(self._key, self._name.encode() + b":" + subject, hashlib.sha256)
        key = f"rl:{self._name}:{mac.hexdigest()[:32]}:{window}"
        count = await self._incr(keys=[key], args=[self.window_s + 1])
        if int(count) <= self.limit:
            return None
        return max(1, int((window + 1) * self.window_s - now) + 1)
