"""Forward-only numbered SQL migrations (`migrations/NNNN_<name>.sql`), each applied in its own
transaction and recorded in `schema_migration`."""

from __future__ import annotations

import itertools
import re
from importlib import resources

import asyncpg
import msgspec

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
# Serialises concurrent `migrate` runs (two app instances starting at once) on one database.
_LOCK_KEY = 0x76727331  # "vrs1"

_q_create_schema_migration = """
CREATE TABLE IF NOT EXISTS schema_migration (
    version     integer PRIMARY KEY,
    name        text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)
"""
_q_list_applied = "SELECT version FROM schema_migration"
_q_record_migration = "INSERT INTO schema_migration (version, name) VALUES ($1, $2)"


class Migration(msgspec.Struct, frozen=True, kw_only=True):
    version: int
    name: str
    sql: str


def list_migrations() -> list[Migration]:
    """All migrations shipped with the package, in order. Raises on a duplicate number."""
    found = []
    for entry in resources.files("vrs_client").joinpath("migrations").iterdir():
        match = _NAME.match(entry.name)
        if match is None:
            continue
        found.append(
            Migration(version=int(match[1]), name=match[2], sql=entry.read_text(encoding="utf-8"))
        )
    found.sort(key=lambda m: m.version)
    # Numbers are reserved per line of work ahead of time, so a number may be unused for a while;
    # two files with one number would be applied in an arbitrary order, and are refused.
    for previous, migration in itertools.pairwise(found):
        if migration.version == previous.version:
            raise RuntimeError(f"two migrations are numbered {migration.version:04d}")
    return found


async def apply_migrations(conn: asyncpg.Connection) -> list[str]:
    """Apply every pending migration on `conn` (the schema owner). Returns the names applied."""
    applied_now: list[str] = []
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await conn.execute(_q_create_schema_migration)
        done = {row["version"] for row in await conn.fetch(_q_list_applied)}
        for migration in list_migrations():
            if migration.version in done:
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(_q_record_migration, migration.version, migration.name)
            applied_now.append(f"{migration.version:04d}_{migration.name}")
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    return applied_now
