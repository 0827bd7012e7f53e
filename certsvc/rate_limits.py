"""Fixed-window rate limits in Redis. Keys are HMACs of what is limited (a client address, a
My Number) plus the window number; values are counters; every key expires with its window.

A hit is one script call on one key (one slot under Redis Cluster): the counter and, on its
first use, the expiry of its window. It goes as a bare `EVALSHA`: redis-py's registered `Script`
costs a `SCRIPT EXISTS` round trip first when it runs in a pipeline, and a server that does not
know the script yet answers NOSCRIPT, after which that one call runs it by its text (`EVAL`,
which caches it there). One command is cheaper for the client than `INCR` + `EXPIRE … NX` in a
pipeline (each queued command costs redis-py its own packing, read and timeout:
`bench/bench_redis.py`). A caller with other commands for the same round trip queues the hit
into its own pipeline (`queue_hit`, then `PendingHit.wait`).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from typing import Any, Final

import redis.asyncio as redis_asyncio
from redis.asyncio.client import Pipeline
from redis.asyncio.cluster import ClusterPipeline
from redis.exceptions import NoScriptError

RedisClient = redis_asyncio.Redis | redis_asyncio.RedisCluster

# One key per script, so it stays in one slot under Redis Cluster (the client and person
# counters live in different slots: two calls, never one script).
_INCR = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n
"""


class ConcurrentCommands:
    """The first round trip under Redis Cluster: the queued commands, one per key and slot,
    sent at once, each to its node, and their replies (or errors) in order.

    Not redis-py's `ClusterPipeline`: when a node fails mid-way, it re-runs the whole batch
    while the other nodes' batches may still be in flight, and a command sent twice consumes
    the challenge twice (the user is told CHALLENGE_ALREADY_USED for a challenge never used).
    A single command of `RedisCluster` is retried only where it is known not to have run."""

    __slots__ = ("_client", "_commands")

    def __init__(self, client: redis_asyncio.RedisCluster) -> None:
        self._client = client
        self._commands: list[tuple[Any, ...]] = []

    def execute_command(self, *args: Any) -> None:
        self._commands.append(args)

    async def execute(self) -> list[Any]:
        return list(
            await asyncio.gather(
                *(self._client.execute_command(*args) for args in self._commands),
                return_exceptions=True,
            )
        )


#: A batch of either kind; commands are queued into each the same way.
AnyPipeline = Pipeline | ClusterPipeline | ConcurrentCommands


def first_round(client: RedisClient) -> Pipeline | ConcurrentCommands:
    """A batch for one round trip: a non-transactional pipeline on one server, concurrent
    single commands under Redis Cluster (`ConcurrentCommands`)."""
    if isinstance(client, redis_asyncio.RedisCluster):
        return ConcurrentCommands(client)
    return client.pipeline(transaction=False)


async def run_pipeline(batch: Pipeline | ConcurrentCommands) -> list[Any]:
    """Send the batch: each failed command's error in its place."""
    if isinstance(batch, ConcurrentCommands):
        return await batch.execute()
    results: list[Any] = await batch.execute(raise_on_error=False)
    return results


class LuaScript:
    """A script run by its SHA-1 (EVALSHA), by its text (EVAL) only when the server answers
    NOSCRIPT: one command per call, in a pipeline too."""

    __slots__ = ("sha", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.sha: Final = hashlib.sha1(text.encode()).hexdigest()  # noqa: S324 — Redis's id

    def queue(self, pipe: AnyPipeline, keys: list[str], args: list[int]) -> None:
        pipe.execute_command("EVALSHA", self.sha, len(keys), *keys, *args)

    async def reply(
        self, redis: RedisClient, reply: object, keys: list[str], args: list[int]
    ) -> Any:
        """The script's reply from a pipeline's results (`run_pipeline`): raises a failed
        command's error; NOSCRIPT runs the script by its text (the EVALSHA did nothing)."""
        if isinstance(reply, NoScriptError):
            return await redis.eval(self.text, len(keys), *keys, *args)
        if isinstance(reply, BaseException):
            raise reply
        return reply

    async def __call__(self, redis: RedisClient, keys: list[str], args: list[int]) -> Any:
        try:
            return await redis.execute_command("EVALSHA", self.sha, len(keys), *keys, *args)
        except NoScriptError:
            return await redis.eval(self.text, len(keys), *keys, *args)


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
