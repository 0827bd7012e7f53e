"""The migrations, applied to a fresh database, produce exactly `vrs_client/schema.sql`.

`UPDATE_SCHEMA_SQL=1` regenerates the file (review the diff before committing it)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import asyncpg
import pytest

from certsvc.embedded import EmbeddedStores
from certsvc.settings import database_url_for
from vrs_client import apply_migrations

SCHEMA_SQL = Path(__file__).resolve().parents[2] / "vrs_client" / "schema.sql"
FRESH = "certsvc_schema_check"
_DROP = re.compile(r"^(--.*|SET .*|SELECT pg_catalog\.set_config\(.*|\\(un)?restrict .*)$")


def normalise_dump(text: str) -> str:
    """Drop comments, SET lines, set_config calls and PG 18's random `\\restrict` keys; squeeze
    blank runs."""
    lines = [line.rstrip() for line in text.splitlines() if not _DROP.match(line)]
    out = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    return out + "\n"


async def test_schema_matches_reference(
    pg_server_url: str, embedded: EmbeddedStores | None
) -> None:
    if embedded is None or embedded.postgres is None:
        pytest.skip("needs the embedded server's pg_dump")
    admin = await asyncpg.connect(pg_server_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{FRESH}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{FRESH}"')
        conn = await asyncpg.connect(database_url_for(pg_server_url, FRESH))
        try:
            applied = await apply_migrations(conn)
            assert applied[0] == "0001_municipalities"
            assert await apply_migrations(conn) == []  # idempotent
        finally:
            await conn.close()
        pg = embedded.postgres
        result = subprocess.run(
            [
                str(pg.bin_dir / "pg_dump"),
                "-h",
                str(pg.socket_dir),
                "-U",
                "postgres",
                "--schema-only",
                "--no-owner",
                FRESH,
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{FRESH}" WITH (FORCE)')
        await admin.close()
    actual = normalise_dump(result.stdout.decode())
    if os.environ.get("UPDATE_SCHEMA_SQL") == "1":
        SCHEMA_SQL.write_text(
            "-- Reference schema: the migrations applied to an empty database (pg_dump\n"
            "-- --schema-only --no-owner, normalised). Regenerate with UPDATE_SCHEMA_SQL=1.\n\n"
            + actual,
            encoding="utf-8",
        )
    expected = normalise_dump(SCHEMA_SQL.read_text(encoding="utf-8"))
    assert actual == expected, "migrations and vrs_client/schema.sql differ"
