"""Running processes pick up rotated signing keys without a restart.

`certsvc keys rotate` writes the new key files and then bumps the key directory's generation
(signing/_keystore.py). Every process checks the generation every `CERTSVC_KEY_REFRESH_SECONDS`
and reloads when it changed: one small file read per interval when nothing did. The check runs
on the event loop, between requests' synchronous steps, so an issuance never sees its signing key
change between choosing the key id and signing (both happen without an await in between).

Why a file and not a table: the private keys live in the key directory (or a token), so a node
that has not received the new key files could not sign with a key the database announced; the
generation is written after the files, so a node that sees it has the files. A failed reload
(a half-copied directory on one node) keeps the keys in memory and is retried next round.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import signing

_log = logging.getLogger("certsvc.keys")


async def _run(keys: signing.KeyStore, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            if keys.refresh():
                _log.info("signing keys reloaded", extra={"kid": keys.shc_signer().kid})
        except signing.SigningError as exc:
            _log.warning("signing keys not reloaded: %s", exc.code)


@contextlib.asynccontextmanager
async def key_refresher(keys: signing.KeyStore, *, interval: float) -> AsyncIterator[None]:
    """Check for rotated keys in the background for the lifetime of the block."""
    task = asyncio.create_task(_run(keys, interval), name="key-refresher")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
