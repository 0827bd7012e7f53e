"""`certsvc purge`: Delete records past their retention period."""

from __future__ import annotations

import argparse
import asyncio
import os
from datetime import UTC, datetime
from typing import Any

from certsvc.commands._failures import connect_database, store_failure
from certsvc.settings import load_settings
from vrs_client import PurgeSummary, VrsError, purge


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "purge", help="Delete records past their retention period."
    )
    parser.set_defaults(run=run)


async def _purge() -> PurgeSummary:
    # CERTSVC_RETENTION_* are validated by the settings (never below 5 / 7 years).
    settings = load_settings(os.environ, mode="production", required={"database_url"})
    if settings.database_url is None:
        raise RuntimeError("load_settings returned without a required setting")
    conn = await connect_database(settings.database_url)
    try:
        return await purge(
            conn,
            now=datetime.now(UTC),
            vaccination_years=settings.retention_vaccination_years,
            issuance_years=settings.retention_issuance_years,
        )
    finally:
        await conn.close()


def run(args: argparse.Namespace) -> int:
    try:
        s = asyncio.run(_purge())
    except VrsError as exc:
        raise store_failure(exc) from None
    print(
        f"purged: {s.vaccinations} vaccinations, {s.issuances} issuances, "
        f"{s.audit_events} audit events, {s.persons} persons, {s.revocations} CRL entries"
    )
    return 0
