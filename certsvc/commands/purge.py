"""`certsvc purge`: Delete records past their retention period.

    certsvc purge [--dry-run] [--operator NAME]

Each municipality's audit chain records what was deleted there, and the service-wide chain the
totals. `--dry-run` deletes and records nothing and shows what would go. Both say when doses would
go from persons who stay on record (a certificate made afterwards no longer shows them) and how
many certificates still in force show such a dose (their reprint is refused afterwards).
"""

from __future__ import annotations

import argparse
import asyncio
import os
from datetime import UTC, datetime
from typing import Any

from certsvc.commands._failures import connect_database, store_failure
from certsvc.commands._operator import add_operator_argument, operator_actor
from certsvc.settings import load_settings
from vrs_client import PurgeSummary, VrsError, purge


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "purge", help="Delete records past their retention period."
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="show what would be deleted; delete nothing"
    )
    add_operator_argument(parser)
    parser.set_defaults(run=run)


async def _purge(args: argparse.Namespace) -> PurgeSummary:
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
            actor=None if args.dry_run else operator_actor(args),
            dry_run=args.dry_run,
        )
    finally:
        await conn.close()


def run(args: argparse.Namespace) -> int:
    try:
        s = asyncio.run(_purge(args))
    except VrsError as exc:
        raise store_failure(exc) from None
    print(
        f"{'would purge (dry run, nothing deleted)' if s.dry_run else 'purged'}: "
        f"{s.vaccinations} vaccinations, {s.issuances} issuances, "
        f"{s.audit_events} audit events, {s.persons} persons, {s.revocations} CRL entries"
    )
    if s.persons_keeping_records:
        print(
            f"note: {s.persons_keeping_records} persons lose doses but stay on record: a"
            " certificate made for them afterwards no longer shows those doses"
        )
    if s.live_certificates_affected:
        print(
            f"note: {s.live_certificates_affected} certificates still in force show a purged dose:"
            " they stay valid, but a reprint of them is refused (REPRINT_RECORD_CORRECTED)"
        )
    return 0
