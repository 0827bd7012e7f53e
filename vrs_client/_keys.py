"""Entering a municipality's partition, its data key, and master-key rotation."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from vrs_client._conn import Conn
from vrs_client._crypto import FieldCipher, KeyRing, master_key_id, unwrap_data_key, wrap_data_key
from vrs_client._errors import VrsError, VrsErrorCode

# SET LOCAL cannot take a bind parameter; set_config(..., true) is its transaction-local form, and
# set_config('role', ...) is SET LOCAL ROLE. One round trip for both.
_q_enter_scope = """
SELECT set_config('role', 'certsvc_app', true), set_config('vrs.municipality_code', $1, true)
"""


async def enter_scope(conn: Conn, *, municipality_code: str) -> None:
    """Bind the current transaction to the application role and one municipality's partition
    (until the transaction ends). Call again to switch partition within an admin transaction."""
    await conn.fetchrow(_q_enter_scope, municipality_code)


_q_enter_app_role = "SELECT set_config('role', 'certsvc_app', true)"


async def enter_app_role(conn: Conn) -> None:
    """Run the rest of the transaction as `certsvc_app` without entering any partition (for the
    non-partitioned tables: municipalities, revocations)."""
    await conn.fetchval(_q_enter_app_role)


_q_get_data_key = """
SELECT wrapped_key, master_key_id FROM data_keys WHERE municipality_code = $1
"""
_q_create_data_key = """
INSERT INTO data_keys (municipality_code, wrapped_key, master_key_id, created_at)
VALUES ($1, $2, $3, now())
ON CONFLICT (municipality_code) DO NOTHING
RETURNING municipality_code
"""


async def get_data_key(
    conn: Conn, keys: KeyRing, *, municipality_code: str
) -> tuple[FieldCipher, bool]:
    """The municipality's data-key cipher, created on first use. `conn` is in the municipality's
    scope. Returns (cipher, created): a created key exists only once the transaction commits, so
    the caller caches it only then."""
    row = await conn.fetchrow(_q_get_data_key, municipality_code)
    if row is not None:
        return keys.open_wrapped(municipality_code, row[0], row[1]), False
    cipher, wrapped = keys.new_data_key(municipality_code)
    # Two first uses at once: the second INSERT waits on the unique index for the first to commit,
    # then does nothing; it then reads the winner's key instead of using its own.
    try:
        created = await conn.fetchval(
            _q_create_data_key, municipality_code, wrapped, keys.master_key_id
        )
    except asyncpg.ForeignKeyViolationError:
        # data_keys references municipalities: a code this database does not serve.
        raise VrsError(VrsErrorCode.MUNICIPALITY_UNKNOWN, municipality_code) from None
    if created is not None:
        return cipher, True
    row = await conn.fetchrow(_q_get_data_key, municipality_code)
    if row is None:  # the winner rolled back: let the caller retry
        raise RuntimeError("data key vanished during creation")
    return keys.open_wrapped(municipality_code, row[0], row[1]), False


_q_list_municipality_codes = "SELECT code FROM municipalities ORDER BY code"
# Two rotations at once (with different new keys) would each re-wrap from the same old row, and
# the last writer would leave keys wrapped under a master key the other operator never learns:
# the row lock makes the second rotation see the first one's result and fail to unwrap it.
_q_lock_data_key = """
SELECT wrapped_key, master_key_id FROM data_keys WHERE municipality_code = $1 FOR UPDATE
"""
_q_rewrap_data_key = """
UPDATE data_keys SET wrapped_key = $2, master_key_id = $3, rewrapped_at = $4
WHERE municipality_code = $1
"""


_q_record_rotation_event = """
INSERT INTO service_audit_events (at, actor, action, reason, outcome, detail)
VALUES ($1, $2, 'master_key.rotate', NULL, 'rewrapped', $3)
"""


async def rotate_master_key(
    conn: Conn,
    *,
    old_master_key: bytes,
    new_master_key: bytes,
    now: datetime,
    actor: str | None = None,
) -> int:
    """Re-wrap every municipality's data key from the old master key to the new one, in one
    transaction (all or nothing). Rows are not re-encrypted. Keys already under the new master key
    are left alone, so a rerun after a crash is safe. Returns how many keys were re-wrapped.
    Raises `DATA_KEY_UNWRAP_FAILED` if a key is under neither. With `actor`, the service-wide
    audit chain records the rotation (count only) in the same transaction."""
    old_id, new_id = master_key_id(old_master_key), master_key_id(new_master_key)
    rewrapped = 0
    async with conn.transaction():
        codes = [r[0] for r in await conn.fetch(_q_list_municipality_codes)]
        for code in codes:
            await enter_scope(conn, municipality_code=code)
            row = await conn.fetchrow(_q_lock_data_key, code)
            if row is None or row[1] == new_id:
                continue
            if row[1] != old_id:
                raise VrsError(VrsErrorCode.DATA_KEY_UNWRAP_FAILED, "wrapped by an unknown key")
            data_key = unwrap_data_key(old_master_key, code, row[0])
            await conn.execute(
                _q_rewrap_data_key, code, wrap_data_key(new_master_key, code, data_key), new_id, now
            )
            rewrapped += 1
        if actor is not None:
            await enter_app_role(conn)
            await conn.execute(_q_record_rotation_event, now, actor, f"rewrapped={rewrapped}")
    return rewrapped
