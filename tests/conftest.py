"""Test session fixtures: real PostgreSQL and Redis.

With `CERTSVC_DATABASE_URL` / `CERTSVC_REDIS_URL` unset (the usual case) the session starts both
servers embedded, from pip-installed packages, and stops them at the end. With the URLs set, those
servers are used: a database `certsvc_test` is created on the PostgreSQL server and Redis db 0 is
flushed between tests, so never point them at a server that holds anything of value.
"""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as redis_asyncio
from hypothesis import settings

from certsvc.embedded import EmbeddedStores
from certsvc.settings import Settings, database_url_for, load_settings
from certsvc.synthetic import ResidentEntry, World, create_world, issue_cards
from vrs_client import KeyRing, apply_migrations, import_files
from vrs_client.synthetic import (
    SyntheticResident,
    generate_residents,
    seed_municipalities,
    write_csv_files,
)

TEST_DATABASE = "certsvc_test"

# Hypothesis explores new examples on every local run; in CI (CI=true) it draws the same ones
# each time, so a run is red only for a change, never for a new random draw.
settings.register_profile("ci", derandomize=True, deadline=None)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(scope="session")
def embedded() -> Iterator[EmbeddedStores | None]:
    """The embedded servers, or None when both URLs are given."""
    want_pg = not os.environ.get("CERTSVC_DATABASE_URL")
    want_redis = not os.environ.get("CERTSVC_REDIS_URL")
    if not (want_pg or want_redis):
        yield None
        return
    # Commits without fsync: quicker, and no test of the session crashes this server (the
    # crash tests in tests/faults/ start a durable one of their own).
    stores = EmbeddedStores(postgres=want_pg, redis=want_redis, durable=False)
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
    url = database_url_for(pg_server_url, TEST_DATABASE)
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


# --- a synthetic deployment: keys, J-LIS trust, attestation authority, residents, cards --------

WORLD_NOW = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)
"""The fixed "now" of tests that use the world (10:00 JST, inside kiosk hours)."""


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    """Keys, a synthetic J-LIS hierarchy and an attestation authority, made once per session."""
    return create_world(tmp_path_factory.mktemp("world"), now=WORLD_NOW)


@pytest.fixture(scope="session")
def residents() -> list[SyntheticResident]:
    """24 synthetic residents, 3 in each of the first 8 demo municipalities (Amagasaki and
    Chiyoda offer every channel; Sapporo no kiosk; Kyoto no app)."""
    return generate_residents(24, municipalities=8, seed=7)


@pytest.fixture(scope="session")
def resident_entries(world: World, residents: list[SyntheticResident]) -> dict[str, ResidentEntry]:
    """A card and passport lines for every resident, keyed by address number."""
    entries = issue_cards(world, residents, today=WORLD_NOW.date())
    return {e.address_number: e for e in entries}


@pytest.fixture(scope="session")
def master_key() -> bytes:
    return secrets.token_bytes(32)


@pytest.fixture(scope="session")
def lookup_key() -> bytes:
    return secrets.token_bytes(32)


@pytest.fixture
def world_settings(
    db_url: str, redis_url: str, world: World, master_key: bytes, lookup_key: bytes
) -> Settings:
    """Settings of a service running on the session's stores and the synthetic world."""
    env = {
        **world.env(),
        "CERTSVC_DATABASE_URL": db_url,
        "CERTSVC_REDIS_URL": redis_url,
        "CERTSVC_MASTER_KEY": base64.b64encode(master_key).decode(),
        "CERTSVC_LOOKUP_KEY": base64.b64encode(lookup_key).decode(),
        "CERTSVC_SHC_ISSUER": "https://demo.certsvc.invalid/issuer",
        "CERTSVC_TERMS_VERSION": "2026-04-01",
        "CERTSVC_DB_POOL_MIN": "1",
        "CERTSVC_DB_POOL_MAX": "8",
        # The kiosk adapter's sealing key: every node shares it, nothing generates it.
        "CERTSVC_KIOSK_SESSION_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
    }
    return load_settings(env, mode="test")


@pytest.fixture
async def loaded_db(
    db: asyncpg.Pool,
    residents: list[SyntheticResident],
    master_key: bytes,
    lookup_key: bytes,
    tmp_path: Path,
) -> asyncpg.Pool:
    """The session database, emptied, with the demo municipalities and the 24 residents."""
    persons, vaccinations = tmp_path / "persons.csv", tmp_path / "vaccinations.csv"
    write_csv_files(residents, persons, vaccinations)
    async with db.acquire() as conn:
        await seed_municipalities(conn)
        result = await import_files(
            conn,
            KeyRing(master_key=master_key, lookup_key=lookup_key),
            persons=persons,
            vaccinations=vaccinations,
            now=WORLD_NOW,
            write_reports=False,
        )
    if result.summary.persons_rejected or result.summary.vaccinations_rejected:
        raise RuntimeError("the synthetic residents did not import cleanly")
    return db
