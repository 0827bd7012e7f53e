"""The demo supervises its embedded stores: a server that exits (crashed, killed, stopped behind
our back) is started again — PostgreSQL on its data directory (crash recovery replays the WAL),
Redis from its append-only file — and the service recovers without a restart of its own.

Meanwhile `/ready` answers 503 `NOT_READY` naming the part that does not answer, and requests
that need it answer 503 `DEPENDENCY_UNAVAILABLE`. Each restart is one log line (which server,
its exit status, how long the restart took); no personal data is ever in it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Protocol

from certsvc.embedded import EmbeddedStoreError, EmbeddedStores

_log = logging.getLogger("certsvc.supervision")

#: How often the servers are looked at, and the pause before another try after a failed start
#: (a PostgreSQL killed with SIGKILL may leave backends that hold its shared memory a moment).
CHECK_INTERVAL_S = 0.5
RETRY_PAUSE_S = 1.0


class _Server(Protocol):
    @property
    def exited(self) -> bool: ...
    @property
    def exit_code(self) -> int | None: ...
    def restart(self) -> None: ...


async def _restart(name: str, server: _Server) -> None:
    status = server.exit_code
    started = time.monotonic()
    attempts = 0
    while True:
        attempts += 1
        try:
            await asyncio.to_thread(server.restart)
        except EmbeddedStoreError:
            if attempts == 1:
                _log.warning(
                    "embedded %s exited (status %s); restart failed, retrying", name, status
                )
            await asyncio.sleep(RETRY_PAUSE_S)
            continue
        break
    _log.warning(
        "embedded %s exited (status %s); restarted in %.1f s (%d attempt%s)",
        name,
        status,
        time.monotonic() - started,
        attempts,
        "" if attempts == 1 else "s",
    )


async def watch_stores(stores: EmbeddedStores, *, interval_s: float = CHECK_INTERVAL_S) -> None:
    """Restart whichever embedded server has exited, until cancelled."""
    servers: list[tuple[str, _Server]] = [
        (name, server)
        for name, server in (("PostgreSQL", stores.postgres), ("Redis", stores.redis))
        if server is not None
    ]
    while True:
        for name, server in servers:
            if server.exited:
                await _restart(name, server)
        await asyncio.sleep(interval_s)


@contextlib.asynccontextmanager
async def supervised(stores: EmbeddedStores) -> AsyncIterator[None]:
    """Watch `stores` while the block runs; stop watching before it ends (so that stopping the
    stores afterwards is not taken for a crash)."""
    task = asyncio.create_task(watch_stores(stores), name="store-supervisor")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
