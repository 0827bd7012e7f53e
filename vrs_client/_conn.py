"""The connection type the package's functions take, and a helper for one-row aggregates."""

from __future__ import annotations

from typing import Any, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

#: A plain connection or one borrowed from a pool.
Conn: TypeAlias = "asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]"


async def fetch_one(conn: Conn, query: str, *args: Any) -> asyncpg.Record:
    """The single row of a statement that always returns one (aggregates, counts)."""
    row = await conn.fetchrow(query, *args)
    if row is None:
        raise RuntimeError("statement returned no row")
    return row
