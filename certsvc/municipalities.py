"""The municipalities table, read through a short-lived in-process copy.

It is public reference data that changes a few times a year, and every issuance needs one row of
it: reading it from PostgreSQL each time cost a pool round trip per request. A change (a channel
switched off, new hours) reaches every process within `ttl_s`.
"""

from __future__ import annotations

import asyncio
import time

from vrs_client import Municipality, VrsStore


class MunicipalityDirectory:
    def __init__(self, store: VrsStore, *, ttl_s: float) -> None:
        self._store = store
        self._ttl_s = ttl_s
        self._rows: dict[str, Municipality] = {}
        self._loaded_at = float("-inf")
        self._lock = asyncio.Lock()

    async def _fresh(self) -> dict[str, Municipality]:
        if time.monotonic() - self._loaded_at < self._ttl_s:
            return self._rows
        async with self._lock:  # one reload at a time, however many requests arrive together
            if time.monotonic() - self._loaded_at >= self._ttl_s:
                rows = await self._store.list_municipalities()
                self._rows = {m.code: m for m in rows}
                self._loaded_at = time.monotonic()
        return self._rows

    async def get(self, code: str) -> Municipality | None:
        """The municipality with `code`, or None when it is not served."""
        return (await self._fresh()).get(code)

    async def all(self) -> list[Municipality]:
        """Every municipality served, by code."""
        return sorted((await self._fresh()).values(), key=lambda m: m.code)
