"""The embedded stores start from pip-installed packages and leave nothing behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import redis.asyncio as redis_asyncio

from certsvc.embedded import EmbeddedStores, sweep_stale_directories


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it is gone once reaped.
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "State:\tZ" not in status.read_text()


async def test_stores_answer_and_leave_nothing_behind() -> None:
    stores = EmbeddedStores().start()
    assert stores.root is not None
    assert stores.postgres is not None
    assert stores.redis is not None
    root = stores.root
    pids = [stores.postgres.pid, stores.redis.pid]
    conn = await asyncpg.connect(stores.postgres.url)
    assert await conn.fetchval("SELECT 1") == 1
    await conn.close()
    client = redis_asyncio.Redis.from_url(stores.redis.url)
    assert await client.ping() is True
    await client.aclose()
    stores.stop()
    assert not root.exists()
    for pid in pids:
        assert pid is not None
        assert not _alive(pid)


_CHILD = """
import sys, time
from certsvc.embedded import EmbeddedStores
stores = EmbeddedStores().start()
print(stores.root, stores.postgres.pid, stores.redis.pid, flush=True)
time.sleep(120)
"""


def test_servers_die_with_a_killed_owner_and_the_directory_is_swept() -> None:
    with subprocess.Popen(
        [sys.executable, "-c", _CHILD], stdout=subprocess.PIPE, text=True, cwd=Path.cwd()
    ) as child:
        assert child.stdout is not None
        root_s, pg_pid, redis_pid = child.stdout.readline().split()
        child.send_signal(signal.SIGKILL)
        child.wait()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and (_alive(int(pg_pid)) or _alive(int(redis_pid))):
        time.sleep(0.1)
    assert not _alive(int(pg_pid))
    assert not _alive(int(redis_pid))
    # A SIGKILL leaves the directory behind; the next start (ours here, or any other process's
    # that started embedded stores meanwhile) sweeps it.
    root = Path(root_s)
    if root.exists():
        assert root in sweep_stale_directories()
    assert not root.exists()
