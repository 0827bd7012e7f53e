"""Test session fixtures: real PostgreSQL and Redis.

With `CERTSVC_DATABASE_URL` / `CERTSVC_REDIS_URL` unset (the usual case) the session starts both
servers embedded, from pip-installed packages, and stops them at the end. With the URLs set, those
servers are used: a database `certsvc_test` is created on the PostgreSQL server and Redis db 0 is
flushed between tests, so never point them at a server that holds anything of value.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
import redis.asyncio as redis_asyncio

from certsvc.embedded import EmbeddedStores
from vrs_client import apply_migrations

TEST_DATABASE = "certsvc_test"


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + database))


@pytest.fixture(scope="session")
def embedded() -> Iterator[EmbeddedStores | None]:
    """The embedded servers, or None when both URLs are given."""
    want_pg = not os.environ.get("CERTSVC_DATABASE_URL")
    want_redis = not os.environ.get("CERTSVC_REDIS_URL")
    if not (want_pg or want_redis):
        yield None
        return
    stores = EmbeddedStores(postgres=want_pg, redis=want_redis)
    stores.start()
    try:
        yield stores
    finally:
        stores.stop()


@pytest.fixture(scope="session")
def pg_server_url(embedded: EmbeddedStores | None) -> str:
    """A superuser URL of the PostgreSQL server (its maintenance database)."""
    if embedded is not None and embedded.postgres is not None:
        return embedded.postgres.url
    return os.environ["CERTSVC_DATABASE_URL"]


@pytest.fixture(scope="session")
def redis_url(embedded: EmbeddedStores | None) -> str:
    if embedded is not None and embedded.redis is not None:
        return embedded.redis.url
    return os.environ["CERTSVC_REDIS_URL"]


@pytest.fixture(scope="session")
async def db_url(pg_server_url: str) -> str:
    """A fresh database with every migration applied, for the whole session."""
    admin = await asyncpg.connect(pg_server_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{TEST_DATABASE}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{TEST_DATABASE}"')
    finally:
        await admin.close()
    url = _with_database(pg_server_url, TEST_DATABASE)
    conn = await asyncpg.connect(url)
    try:
        await apply_migrations(conn)
    finally:
        await conn.close()
    return url


@pytest.fixture(scope="session")
async def db_pool(db_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(db_url, min_size=1, max_size=8)
    try:
        yield pool
    finally:
        await pool.close()


_q_list_data_tables = """
SELECT quote_ident(tablename) FROM pg_tables
WHERE schemaname = 'public' AND tablename <> 'schema_migration'
"""


@pytest.fixture
async def db(db_pool: asyncpg.Pool) -> asyncpg.Pool:
    """The session database with every table emptied before the test."""
    async with db_pool.acquire() as conn:
        tables = [r[0] for r in await conn.fetch(_q_list_data_tables)]
        if tables:
            await conn.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
    return db_pool


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[redis_asyncio.Redis]:
    """A client of the session Redis, flushed before the test."""
    client = redis_asyncio.Redis.from_url(redis_url)
    await client.flushdb()
    try:
        yield client
    finally:
        await client.aclose()
