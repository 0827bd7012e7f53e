"""`certsvc rotate-master-key`: Re-wrap the per-municipality data keys under a new master key.

The current key comes from `CERTSVC_MASTER_KEY`; the new one (base64 of 32 bytes) from
`--new-key-file` or standard input — never from a `CERTSVC_*` variable (unknown ones are refused).
Rows are not re-encrypted. Afterwards set `CERTSVC_MASTER_KEY` to the new key everywhere.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from certsvc.settings import load_settings
from vrs_client import VrsError, rotate_master_key


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "rotate-master-key",
        help="Re-wrap the per-municipality data keys under a new master key.",
    )
    parser.add_argument(
        "--new-key-file", type=Path, help="file holding the new key in base64 (default: stdin)"
    )
    parser.set_defaults(run=run)


def _read_new_key(path: Path | None) -> bytes | None:
    raw = path.read_text(encoding="ascii") if path is not None else sys.stdin.read()
    try:
        key = base64.b64decode(raw.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    return key if len(key) == 32 else None


async def _rotate(new_key: bytes) -> int:
    settings = load_settings(os.environ, mode="production", required={"database_url", "master_key"})
    if settings.database_url is None or settings.master_key is None:
        raise RuntimeError("load_settings returned without a required setting")
    conn = await asyncpg.connect(settings.database_url)
    try:
        return await rotate_master_key(
            conn, old_master_key=settings.master_key, new_master_key=new_key, now=datetime.now(UTC)
        )
    finally:
        await conn.close()


def run(args: argparse.Namespace) -> int:
    new_key = _read_new_key(args.new_key_file)
    if new_key is None:
        print("certsvc rotate-master-key: the new key must be base64 of 32 bytes", file=sys.stderr)
        return 2
    try:
        count = asyncio.run(_rotate(new_key))
    except VrsError as exc:
        print(f"certsvc rotate-master-key: {exc.code.value}", file=sys.stderr)
        return 1
    print(f"re-wrapped {count} data keys; now set CERTSVC_MASTER_KEY to the new key")
    return 0
