"""`certsvc import`: Import persons and vaccinations from the municipal CSV files."""

from __future__ import annotations

import argparse
import asyncio
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from certsvc.commands._failures import CommandFailed, Exit, connect_database, store_failure
from certsvc.commands._operator import add_operator_argument, operator_actor
from certsvc.settings import load_settings
from vrs_client import (
    ENCODINGS,
    PERSON_COLUMNS,
    VACCINATION_COLUMNS,
    ImportResult,
    KeyRing,
    VrsError,
    import_files,
)

_REQUIRED = {"database_url", "master_key", "lookup_key"}

_EPILOG = f"""\
persons.csv columns (header row, any order):
  {",".join(PERSON_COLUMNS)}
vaccinations.csv columns:
  {",".join(VACCINATION_COLUMNS)}
(formats, rejection reasons and an example: docs/import-format.md)

Every valid row is applied and each rejected one listed in <input>.rejected.csv (line,reason;
nothing of the row itself). Exit status: 0 every row applied; 4 some rows rejected, the others
applied; 5 nothing applied (every row rejected, or --strict and a row rejected); 3 a file cannot
be read (missing, wrong column, wrong encoding); 6 a municipality is unknown; 7 the database is
unreachable; 2 a setting is missing or wrong. Needs CERTSVC_DATABASE_URL, CERTSVC_MASTER_KEY,
CERTSVC_LOOKUP_KEY.
"""


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "import",
        help="Import persons and vaccinations from the municipal CSV files.",
        description="Imports the municipal CSV files (UTF-8 or CP932, comma, RFC 4180 quoting) "
        "into the VRS: validated row by row, encrypted in this process, merged per "
        "municipality. Importing the same file twice changes nothing.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("persons", type=Path, help="persons.csv (columns below)")
    parser.add_argument(
        "vaccinations", type=Path, nargs="?", help="vaccinations.csv (columns below)"
    )
    parser.add_argument(
        "--strict", action="store_true", help="apply nothing if any row is rejected"
    )
    parser.add_argument(
        "--encoding",
        choices=sorted(ENCODINGS),
        default="utf-8",
        help="encoding of the files: utf-8 (default; a BOM is allowed) or cp932 / shift_jis "
        "(Windows Japanese, as municipal systems export)",
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
    conn = await connect_database(settings.database_url)
    try:
        return await import_files(
            conn,
            keys,
            persons=args.persons,
            vaccinations=args.vaccinations,
            strict=args.strict,
            now=datetime.now(UTC),
            progress=not args.no_progress,
            encoding=args.encoding,
            actor=operator_actor(args),
        )
    finally:
        await conn.close()


def _check_inputs(args: argparse.Namespace) -> None:
    for path in (args.persons, args.vaccinations):
        if path is None:
            continue
        if not path.is_file():
            what = "is a directory" if path.is_dir() else "does not exist"
            raise CommandFailed(f"{path} {what}; give the path of the CSV file", Exit.FILE)
        if not os.access(path.parent, os.W_OK):
            raise CommandFailed(
                f"{path.parent} is not writable: the import writes "
                f"{path.name}.rejected.csv beside the input",
                Exit.FILE,
            )


def run(args: argparse.Namespace) -> int:
    _check_inputs(args)
    try:
        result = asyncio.run(_import(args))
    except VrsError as exc:
        raise store_failure(exc) from None
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
    reports = [
        path.with_name(path.name + ".rejected.csv")
        for path in (args.persons, args.vaccinations)
        if path is not None
    ]
    for report in reports:
        print(f"rejections: {report}")
    rejected = s.persons_rejected + s.vaccinations_rejected
    read = s.persons_read + s.vaccinations_read
    where = " and ".join(str(r) for r in reports)
    if not s.applied:
        raise CommandFailed(
            f"--strict: {rejected} rows rejected, nothing was applied; fix the rows listed in "
            f"{where} and import again",
            Exit.IMPORT_NOTHING_APPLIED,
        )
    if rejected and rejected == read:
        raise CommandFailed(
            f"every row ({rejected}) was rejected, nothing was applied; see the reasons in {where}",
            Exit.IMPORT_NOTHING_APPLIED,
        )
    if rejected:
        raise CommandFailed(
            f"{rejected} of {read} rows rejected (the others were applied); see {where}",
            Exit.IMPORT_PARTIAL,
        )
    return int(Exit.OK)
