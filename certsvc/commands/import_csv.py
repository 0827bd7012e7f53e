"""`certsvc import`: Import persons and vaccinations from the municipal CSV files."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from certsvc.commands._operator import add_operator_argument, operator_actor
from certsvc.settings import load_settings
from vrs_client import ImportResult, KeyRing, VrsError, import_files

_REQUIRED = {"database_url", "master_key", "lookup_key"}


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "import", help="Import persons and vaccinations from the municipal CSV files."
    )
    parser.add_argument("persons", type=Path, help="persons.csv (contracts §4)")
    parser.add_argument("vaccinations", type=Path, nargs="?", help="vaccinations.csv")
    parser.add_argument(
        "--strict", action="store_true", help="apply nothing if any row is rejected"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_operator_argument(parser)
    parser.set_defaults(run=run)


async def _import(args: argparse.Namespace) -> ImportResult:
    settings = load_settings(os.environ, mode="production", required=_REQUIRED)
    if settings.database_url is None or settings.master_key is None or settings.lookup_key is None:
        raise RuntimeError("load_settings returned without a required setting")
    keys = KeyRing(
        master_key=settings.master_key,
        lookup_key=settings.lookup_key,
        previous_master_key=settings.master_key_previous,
    )
    conn = await asyncpg.connect(settings.database_url)
    try:
        return await import_files(
            conn,
            keys,
            persons=args.persons,
            vaccinations=args.vaccinations,
            strict=args.strict,
            now=datetime.now(UTC),
            progress=not args.no_progress,
            actor=operator_actor(args),
        )
    finally:
        await conn.close()


def run(args: argparse.Namespace) -> int:
    try:
        result = asyncio.run(_import(args))
    except VrsError as exc:
        print(f"certsvc import: {exc.code.value}", file=sys.stderr)
        return 1
    s = result.summary
    print(
        f"persons: {s.persons_read} read, {s.persons_inserted} inserted, "
        f"{s.persons_updated} updated, {s.persons_unchanged} unchanged, "
        f"{s.persons_rejected} rejected"
    )
    print(
        f"vaccinations: {s.vaccinations_read} read, {s.vaccinations_inserted} inserted, "
        f"{s.vaccinations_updated} updated, {s.vaccinations_unchanged} unchanged, "
        f"{s.vaccinations_rejected} rejected"
    )
    print(f"issuances revoked (record_corrected): {s.issuances_revoked}")
    for path in (args.persons, args.vaccinations):
        if path is not None:
            print(f"rejections: {path.with_name(path.name + '.rejected.csv')}")
    if not s.applied:
        print("strict: rows were rejected, nothing was applied", file=sys.stderr)
        return 1
    return 0
