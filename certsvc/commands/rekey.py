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

from certsvc.commands._failures import CommandFailed, Exit, connect_database, store_failure
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


def _read_new_key(path: Path | None) -> bytes:
    """The new key, or `CommandFailed` naming the file and what is wrong with it."""
    source = str(path) if path is not None else "standard input"
    try:
        raw = path.read_bytes() if path is not None else sys.stdin.buffer.read()
    except FileNotFoundError:
        raise CommandFailed(f"--new-key-file {path}: no such file", Exit.FILE) from None
    except IsADirectoryError:
        raise CommandFailed(
            f"--new-key-file {path} is a directory; give the key file", Exit.FILE
        ) from None
    except OSError as exc:
        raise CommandFailed(f"--new-key-file {path}: {exc.strerror}", Exit.FILE) from None
    try:
        key = base64.b64decode(raw.strip(), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        raise CommandFailed(
            f"{source} does not hold a new master key: it must be base64 of 32 random bytes "
            "(make one with: head -c 32 /dev/urandom | base64)",
            Exit.USAGE,
        )
    return key


async def _rotate(old_key: bytes, new_key: bytes, database_url: str, actor: str) -> int:
    conn = await connect_database(database_url)
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
        old_key, new_key = settings.master_key, _read_new_key(args.new_key_file)
    try:
        count = asyncio.run(_rotate(old_key, new_key, settings.database_url, operator_actor(args)))
    except VrsError as exc:
        raise store_failure(exc) from None
    if args.from_previous:
        print(
            f"re-wrapped {count} data keys under CERTSVC_MASTER_KEY; now restart the nodes one by"
            " one without CERTSVC_MASTER_KEY_PREVIOUS"
        )
    else:
        print(f"re-wrapped {count} data keys; now set CERTSVC_MASTER_KEY to the new key")
    return 0
