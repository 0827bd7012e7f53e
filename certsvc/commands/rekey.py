"""`certsvc rotate-master-key`: Re-wrap the per-municipality data keys under a new master key.

While the service runs (docs/keys-and-revocation.md): restart the nodes one by one with the new
key as `CERTSVC_MASTER_KEY` and the old one as `CERTSVC_MASTER_KEY_PREVIOUS`, then run
`certsvc rotate-master-key --from-previous` (re-wraps from the previous key to the current one),
then restart the nodes without `CERTSVC_MASTER_KEY_PREVIOUS`.

Without `--from-previous` the current key comes from `CERTSVC_MASTER_KEY` and the new one (base64
of 32 bytes) from `--new-key-file` or standard input — never from a `CERTSVC_*` variable (unknown
ones are refused); that form is for a stopped service. Rows are never re-encrypted. Either way the
service-wide audit chain records the operator and the number of keys re-wrapped.
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

from certsvc.commands._operator import add_operator_argument, operator_actor
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
    parser.add_argument(
        "--from-previous",
        action="store_true",
        help="re-wrap from CERTSVC_MASTER_KEY_PREVIOUS to CERTSVC_MASTER_KEY (live rotation)",
    )
    add_operator_argument(parser)
    parser.set_defaults(run=run)


def _read_new_key(path: Path | None) -> bytes | None:
    raw = path.read_text(encoding="ascii") if path is not None else sys.stdin.read()
    try:
        key = base64.b64decode(raw.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    return key if len(key) == 32 else None


async def _rotate(old_key: bytes, new_key: bytes, database_url: str, actor: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        return await rotate_master_key(
            conn,
            old_master_key=old_key,
            new_master_key=new_key,
            now=datetime.now(UTC),
            actor=actor,
        )
    finally:
        await conn.close()


def run(args: argparse.Namespace) -> int:
    required = {"database_url", "master_key"}
    if args.from_previous:
        required.add("master_key_previous")
    settings = load_settings(os.environ, mode="production", required=required)
    if settings.database_url is None or settings.master_key is None:
        raise RuntimeError("load_settings returned without a required setting")
    if args.from_previous:
        if settings.master_key_previous is None:
            raise RuntimeError("load_settings returned without a required setting")
        old_key, new_key = settings.master_key_previous, settings.master_key
    else:
        read = _read_new_key(args.new_key_file)
        if read is None:
            print(
                "certsvc rotate-master-key: the new key must be base64 of 32 bytes",
                file=sys.stderr,
            )
            return 2
        old_key, new_key = settings.master_key, read
    try:
        count = asyncio.run(_rotate(old_key, new_key, settings.database_url, operator_actor(args)))
    except VrsError as exc:
        print(f"certsvc rotate-master-key: {exc.code.value}", file=sys.stderr)
        return 1
    if args.from_previous:
        print(
            f"re-wrapped {count} data keys under CERTSVC_MASTER_KEY; now restart the nodes one by"
            " one without CERTSVC_MASTER_KEY_PREVIOUS"
        )
    else:
        print(f"re-wrapped {count} data keys; now set CERTSVC_MASTER_KEY to the new key")
    return 0
