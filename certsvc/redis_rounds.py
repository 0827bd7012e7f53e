"""One Redis round trip for several commands, and Lua scripts sent as one command each.

`first_round(client)` gives a batch for one round trip: a non-transactional pipeline on one
server, or under Redis Cluster `ConcurrentCommands` (one command per key and slot, all sent at
once); commands are queued into either the same way and `run_pipeline` sends them, each failed
command's error in its place. `LuaScript` runs a script by its SHA-1 (`EVALSHA`), by its text only
when the server answers NOSCRIPT: redis-py's registered `Script` sends `SCRIPT EXISTS` first when
it runs in a pipeline, a round trip more.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any, Final

import redis.asyncio as redis_asyncio
from redis.asyncio.client import Pipeline
from redis.asyncio.cluster import ClusterPipeline
from redis.exceptions import NoScriptError

#: One Redis server or a Redis Cluster (CERTSVC_REDIS_CLUSTER): the stores use only commands
#: and single-slot scripts that both serve.
RedisClient = redis_asyncio.Redis | redis_asyncio.RedisCluster


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
