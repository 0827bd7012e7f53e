"""PostgreSQL restarted and crashed, Redis killed and stopped, each under a bounded concurrent
load of issuing clients against the app on a real uvicorn listener. Afterwards: no answer was a
500 (every 5xx is a 503 `DEPENDENCY_UNAVAILABLE` with `Retry-After`), no connection was dropped,
every certificate answered 201 is in the issuance history (PostgreSQL commits durably here), the
service issues again without a restart, and the rows whose answer never reached a client are
counted and printed."""

from __future__ import annotations

import asyncio
import os
import signal

from certsvc.embedded import EmbeddedPostgres, EmbeddedRedis, EmbeddedStores
from certsvc.synthetic import ResidentEntry, World
from tests.faults.conftest import check_report, issuance_history, run_fault


def _postgres(stores: EmbeddedStores) -> EmbeddedPostgres:
    assert stores.postgres is not None
    return stores.postgres


def _redis(stores: EmbeddedStores) -> EmbeddedRedis:
    assert stores.redis is not None
    return stores.redis


async def test_postgres_fast_shutdown_and_restart_under_load(
    served: str,
    world: World,
    issuing_entries: list[ResidentEntry],
    durable_stores: EmbeddedStores,
    fault_db: str,
) -> None:
    postgres = _postgres(durable_stores)
    report = await run_fault(
        served,
        world,
        issuing_entries,
        inject=lambda: asyncio.to_thread(postgres.pg_ctl_stop, "fast"),
        recover=lambda: asyncio.to_thread(postgres.restart),
    )
    check_report(report, await issuance_history(fault_db), fault="pg_ctl stop -m fast")
    assert report.statuses["503"] > 0  # the fault was seen


async def test_postgres_crash_and_recovery_under_load(
    served: str,
    world: World,
    issuing_entries: list[ResidentEntry],
    durable_stores: EmbeddedStores,
    fault_db: str,
) -> None:
    postgres = _postgres(durable_stores)
    # `-m immediate`: the server quits without a checkpoint, as in a crash; the restart replays
    # the WAL. With fsync off, answered commits could be missing afterwards.
    report = await run_fault(
        served,
        world,
        issuing_entries,
        inject=lambda: asyncio.to_thread(postgres.pg_ctl_stop, "immediate"),
        recover=lambda: asyncio.to_thread(postgres.restart),
    )
    check_report(report, await issuance_history(fault_db), fault="pg_ctl stop -m immediate")
    assert report.statuses["503"] > 0


async def test_redis_killed_and_restarted_under_load(
    served: str,
    world: World,
    issuing_entries: list[ResidentEntry],
    durable_stores: EmbeddedStores,
    fault_db: str,
) -> None:
    redis = _redis(durable_stores)

    async def kill() -> None:
        assert redis.pid is not None
        os.kill(redis.pid, signal.SIGKILL)
        while not redis.exited:
            await asyncio.sleep(0.02)

    report = await run_fault(
        served,
        world,
        issuing_entries,
        inject=kill,
        recover=lambda: asyncio.to_thread(redis.restart),
    )
    check_report(report, await issuance_history(fault_db), fault="Redis SIGKILL")
    assert report.statuses["503"] > 0


async def test_redis_stopped_and_continued_under_load(
    served: str,
    world: World,
    issuing_entries: list[ResidentEntry],
    durable_stores: EmbeddedStores,
    fault_db: str,
) -> None:
    redis = _redis(durable_stores)
    assert redis.pid is not None
    pid = redis.pid

    async def stop() -> None:
        os.kill(pid, signal.SIGSTOP)
        # Longer than the client's socket timeout: requests time out rather than wait.
        await asyncio.sleep(2.5)

    async def cont() -> None:
        os.kill(pid, signal.SIGCONT)

    report = await run_fault(served, world, issuing_entries, inject=stop, recover=cont)
    check_report(report, await issuance_history(fault_db), fault="Redis SIGSTOP/SIGCONT")
    assert report.statuses["503"] > 0
