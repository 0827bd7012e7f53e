"""The audit chain's background linker (DESIGN §7: the chain must not serialise issuances).

Issuances insert their audit rows unlinked; this task links them in order, municipality by
municipality, every few seconds. Any number of processes may run it at once (the store's chainer
locks each municipality's checkpoint). A failure is logged by type and retried next round.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from vrs_client import VrsStore, chain_audit_events, chain_service_audit_events

_log = logging.getLogger("certsvc.audit")
CHAIN_INTERVAL_S = 5.0


async def chain_all(store: VrsStore) -> int:
    """Link every unchained audit row of every municipality and of the service-wide chain;
    returns how many were linked."""
    linked = 0
    for municipality in await store.list_municipalities():
        async with store.connection() as conn:
            linked += await chain_audit_events(conn, municipality_code=municipality.code)
    async with store.connection() as conn:
        linked += await chain_service_audit_events(conn)
    return linked


async def _run(store: VrsStore, interval: float) -> None:
    while True:
        try:
            await chain_all(store)
        except Exception as exc:  # noqa: BLE001 — a round may fail in any way (a store restarting); the next round retries
            _log.warning("audit chaining failed this round: %s", type(exc).__name__)
        await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def audit_chainer(
    store: VrsStore, *, interval: float = CHAIN_INTERVAL_S
) -> AsyncIterator[None]:
    """Run the linker in the background for the lifetime of the block."""
    task = asyncio.create_task(_run(store, interval), name="audit-chainer")
    try:
        yield
    finally:
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        except Exception as exc:  # noqa: BLE001 — shutting down: report, never block the exit
            _log.warning("audit chainer stopped with %s", type(exc).__name__)
