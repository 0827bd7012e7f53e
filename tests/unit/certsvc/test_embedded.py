"""The embedded stores start from pip-installed packages and leave nothing behind."""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import redis.asyncio as redis_asyncio

from certsvc.embedded import EmbeddedStoreError, EmbeddedStores, sweep_stale_directories


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


_q_durability = """
SELECT current_setting('fsync'), current_setting('synchronous_commit'),
       current_setting('full_page_writes')
"""


async def test_the_demo_and_bench_stores_commit_durably_and_tests_may_opt_out() -> None:
    # `certsvc demo` and bench/ start EmbeddedStores() with the defaults.
    for durable, expected in ((True, ("on", "on", "on")), (False, ("off", "off", "off"))):
        with EmbeddedStores(redis=False, durable=durable) as stores:
            assert stores.postgres is not None
            conn = await asyncpg.connect(stores.postgres.url)
            try:
                row = await conn.fetchrow(_q_durability)
                assert row is not None
                assert tuple(row) == expected
            finally:
                await conn.close()


def _server_user() -> int | None:
    """The uid that runs the PostgreSQL server (as root; None: ourselves)."""
    return pwd.getpwnam("embedded_postgres").pw_uid if os.geteuid() == 0 else None


async def test_a_killed_server_restarts_on_its_data_despite_a_reused_pid() -> None:
    with EmbeddedStores(redis=False) as stores:
        postgres = stores.postgres
        assert postgres is not None
        assert postgres.pid is not None
        conn = await asyncpg.connect(postgres.url)
        await conn.execute("CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)")
        await conn.close()
        os.kill(postgres.pid, signal.SIGKILL)
        while not postgres.exited:
            time.sleep(0.02)
        # The lock file outlives a SIGKILL. Its PID is now reused by a live process of the
        # server's user that is not a postgres of this data, which PostgreSQL alone would take
        # for a running server and refuse to start.
        with subprocess.Popen(["sleep", "60"], user=_server_user()) as reuser:
            lock = postgres.pgdata / "postmaster.pid"
            _first, rest = lock.read_text().split("\n", 1)
            lock.write_text(f"{reuser.pid}\n{rest}")
            try:
                for _ in range(20):  # the killed server's backends may hold its memory a moment
                    try:
                        postgres.restart()
                        break
                    except EmbeddedStoreError:
                        time.sleep(0.5)
            finally:
                reuser.kill()
        conn = await asyncpg.connect(postgres.url)
        try:
            assert await conn.fetchval("SELECT n FROM kept") == 42
        finally:
            await conn.close()
