"""`certsvc migrate`: apply pending database migrations (as the schema owner)."""

from __future__ import annotations

import argparse
import asyncio
import os
from typing import Any

from certsvc.commands._failures import connect_database
from certsvc.settings import load_settings
from vrs_client import apply_migrations


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "migrate", help="Apply pending database migrations to CERTSVC_DATABASE_URL."
    )
    parser.set_defaults(run=run)


async def _migrate(url: str) -> list[str]:
    conn = await connect_database(url)
    try:
        return await apply_migrations(conn)
    finally:
        await conn.close()


def run(args: argparse.Namespace) -> int:
    settings = load_settings(os.environ, required={"database_url"})
    if settings.database_url is None:  # load_settings enforces it; keeps mypy informed
        return 2
    applied = asyncio.run(_migrate(settings.database_url))
    if applied:
        for name in applied:
            print(f"applied {name}")
    else:
        print("the database is up to date")
    return 0
