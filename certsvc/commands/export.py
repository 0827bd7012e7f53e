"""`certsvc export`: Export vaccination records for officials (CSV without My Number)."""

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
from vrs_client import KeyRing, VrsError, export_csv


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "export", help="Export vaccination records for officials (CSV without My Number)."
    )
    parser.add_argument("municipality", help="municipality code (6 digits)")
    parser.add_argument(
        "-o", "--output", type=Path, help="file to write (mode 0600; default: standard output)"
    )
    add_operator_argument(parser)
    parser.set_defaults(run=run)


async def _export(args: argparse.Namespace) -> int:
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
    # The municipality's audit chain records who exported how many rows.
    actor, now = operator_actor(args), datetime.now(UTC)
    conn = await asyncpg.connect(settings.database_url)
    try:
        if args.output is None:
            return await export_csv(
                conn,
                keys,
                municipality_code=args.municipality,
                out=sys.stdout,
                actor=actor,
                now=now,
            )
        fd = os.open(args.output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            return await export_csv(
                conn, keys, municipality_code=args.municipality, out=out, actor=actor, now=now
            )
    finally:
        await conn.close()


def run(args: argparse.Namespace) -> int:
    try:
        rows = asyncio.run(_export(args))
    except VrsError as exc:
        print(f"certsvc export: {exc.code.value}", file=sys.stderr)
        return 1
    print(f"exported {rows} rows", file=sys.stderr)
    return 0
