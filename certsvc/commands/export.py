"""`certsvc export`: Export vaccination records for officials (CSV without My Number)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from certsvc.commands._failures import (
    CommandFailed,
    Exit,
    check_output_path,
    connect_database,
    open_private_output,
    require_municipality,
    store_failure,
)
from certsvc.commands._operator import add_operator_argument, operator_actor
from certsvc.settings import load_settings
from vrs_client import EXPORT_COLUMNS, KeyRing, VrsError, export_csv


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "export",
        help="Export vaccination records for officials (CSV without My Number).",
        description="Writes one municipality's records as UTF-8 CSV (columns: "
        + ",".join(EXPORT_COLUMNS)
        + "): one row per dose. Never the My Number or the ticket number. Exit status: 0 "
        "written; 2 a malformed municipality code; 3 the output cannot be written; 6 the "
        "municipality is unknown; 7 the database is unreachable; 141 standard output closed.",
    )
    parser.add_argument("municipality", help="municipality code (6 digits)")
    parser.add_argument(
        "-o", "--output", type=Path, help="file to write (mode 0600; default: standard output)"
    )
    parser.add_argument(
        "--bom",
        action="store_true",
        help="start with a UTF-8 byte order mark, so that Excel reads the Japanese names right",
    )
    add_operator_argument(parser)
    parser.set_defaults(run=run)


async def _write(args: argparse.Namespace, keys: KeyRing, url: str) -> int:
    # The municipality's audit chain records who exported how many rows (also a failed export).
    actor, now = operator_actor(args), datetime.now(UTC)
    conn = await connect_database(url)
    try:
        await require_municipality(conn, args.municipality)
        out: TextIO
        if args.output is None:
            out = sys.stdout
            if args.bom:
                out.write("\ufeff")
            return await export_csv(
                conn, keys, municipality_code=args.municipality, out=out, actor=actor, now=now
            )
        with open_private_output(args.output, encoding="utf-8-sig" if args.bom else "utf-8") as f:
            return await export_csv(
                conn, keys, municipality_code=args.municipality, out=f, actor=actor, now=now
            )
    finally:
        await conn.close()


def run(args: argparse.Namespace) -> int:
    settings = load_settings(
        os.environ, mode="production", required={"database_url", "master_key", "lookup_key"}
    )
    if settings.database_url is None or settings.master_key is None or settings.lookup_key is None:
        raise RuntimeError("load_settings returned without a required setting")
    keys = KeyRing(
        master_key=settings.master_key,
        lookup_key=settings.lookup_key,
        previous_master_key=settings.master_key_previous,
    )
    if args.output is not None:
        check_output_path(args.output)  # before any database work
    try:
        rows = asyncio.run(_write(args, keys, settings.database_url))
        sys.stdout.flush()
    except VrsError as exc:
        raise store_failure(exc, subject=f"municipality {args.municipality}") from None
    except BrokenPipeError:
        raise CommandFailed(
            "standard output was closed before the export finished (a pipe such as | head); "
            "write the whole export with -o FILE",
            Exit.OUTPUT_CLOSED,
        ) from None
    print(f"exported {rows} rows", file=sys.stderr)
    return int(Exit.OK)
