"""The in-process copy of the municipalities table: one read per TTL, changes seen after it."""

from __future__ import annotations

import asyncio

import asyncpg

from certsvc.municipalities import MunicipalityDirectory
from vrs_client import VrsStore


async def test_directory_reads_once_per_ttl_and_sees_changes_after_it(
    loaded_db: asyncpg.Pool, master_key: bytes, lookup_key: bytes
) -> None:
    store = VrsStore(loaded_db, master_key=master_key, lookup_key=lookup_key)
    directory = MunicipalityDirectory(store, ttl_s=0.3)
    amagasaki = await directory.get("282022")
    assert amagasaki is not None
    assert amagasaki.app_enabled
    assert await directory.get("999999") is None
    async with loaded_db.acquire() as conn:
        await conn.execute("UPDATE municipalities SET app_enabled = false WHERE code = '282022'")
    cached = await directory.get("282022")
    assert cached is not None
    assert cached.app_enabled  # still the copy
    await asyncio.sleep(0.35)
    fresh = await directory.get("282022")
    assert fresh is not None
    assert not fresh.app_enabled
    assert [m.code for m in await directory.all()] == sorted(m.code for m in await directory.all())
