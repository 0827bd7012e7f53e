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

from certsvc.commands._failures import CommandFailed, Exit, connect_database, store_failure
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


async def _rotate(new_key: bytes) -> int:
    settings = load_settings(os.environ, mode="production", required={"database_url", "master_key"})
    if settings.database_url is None or settings.master_key is None:
        raise RuntimeError("load_settings returned without a required setting")
    conn = await connect_database(settings.database_url)
    try:
        return await rotate_master_key(
            conn, old_master_key=settings.master_key, new_master_key=new_key, now=datetime.now(UTC)
        )
    finally:
        await conn.close()


def run(args: argparse.Namespace) -> int:
    new_key = _read_new_key(args.new_key_file)
    try:
        count = asyncio.run(_rotate(new_key))
    except VrsError as exc:
        raise store_failure(exc) from None
    print(f"re-wrapped {count} data keys; now set CERTSVC_MASTER_KEY to the new key")
    return 0
