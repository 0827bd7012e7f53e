"""Field encryption at rest: round trip, moved or altered ciphertexts, master-key rotation."""

from __future__ import annotations

import os
from pathlib import Path

import asyncpg
import pytest

from tests.store.conftest import AMAGASAKI, NOW
from tests.store.test_store import MY_NUMBER, seed_people
from vrs_client import FieldCipher, VrsError, VrsErrorCode, VrsStore, rotate_master_key
from vrs_client._crypto import unwrap_data_key, wrap_data_key


def test_field_round_trip_and_binding() -> None:
    cipher = FieldCipher(AMAGASAKI, os.urandom(32))
    blob = cipher.encrypt("persons", "name", "1001", "尼崎\u3000花子".encode())
    assert blob[0] == 1
    assert len(blob) == 1 + 12 + len("尼崎\u3000花子".encode()) + 16
    assert cipher.decrypt("persons", "name", "1001", blob).decode() == "尼崎\u3000花子"
    for table, column, row in (
        ("persons", "name", "1002"),  # another row
        ("persons", "birth_date", "1001"),  # another column
        ("issuances", "name", "1001"),  # another table
    ):
        with pytest.raises(VrsError) as err:
            cipher.decrypt(table, column, row, blob)
        assert err.value.code is VrsErrorCode.FIELD_DECRYPT_FAILED
    other_municipality = FieldCipher("131016", os.urandom(32))
    with pytest.raises(VrsError):
        other_municipality.decrypt("persons", "name", "1001", blob)
    tampered = bytearray(blob)
    tampered[20] ^= 1
    with pytest.raises(VrsError):
        cipher.decrypt("persons", "name", "1001", bytes(tampered))


def test_data_key_wrap_binds_municipality() -> None:
    master, key = os.urandom(32), os.urandom(32)
    wrapped = wrap_data_key(master, AMAGASAKI, key)
    assert unwrap_data_key(master, AMAGASAKI, wrapped) == key
    with pytest.raises(VrsError) as err:
        unwrap_data_key(master, "131016", wrapped)
    assert err.value.code is VrsErrorCode.DATA_KEY_UNWRAP_FAILED


async def test_moved_ciphertext_is_detected(store: VrsStore, tmp_path: Path) -> None:
    await seed_people(store, tmp_path)
    async with store.scoped(AMAGASAKI) as tx:
        # A second Amagasaki person whose name ciphertext is copied onto the first.
        await tx.connection.execute(
            """INSERT INTO persons (municipality_code, address_number, my_number_hmac,
                 my_number_enc, ticket_number_enc, name_enc, birth_date_enc, sex_enc, status,
                 row_digest, identity_digest, record_digest, created_at, updated_at)
               SELECT municipality_code, '1002', sha256(my_number_hmac), my_number_enc,
                 ticket_number_enc, name_enc, birth_date_enc, sex_enc, status, row_digest,
                 identity_digest, record_digest, created_at, updated_at
               FROM persons WHERE address_number = '1001'"""
        )
    with pytest.raises(VrsError) as err:
        async with store.scoped(AMAGASAKI) as tx:
            await tx.find_person_by_address_number("1002")
    assert err.value.code is VrsErrorCode.FIELD_DECRYPT_FAILED
    async with store.connection() as conn:
        await conn.execute(
            "UPDATE persons SET birth_date_enc = set_byte(birth_date_enc, 15, "
            "get_byte(birth_date_enc, 15) # 1) WHERE address_number = '1001'"
        )
    with pytest.raises(VrsError) as err:
        async with store.scoped(AMAGASAKI) as tx:
            await tx.find_person_by_my_number(MY_NUMBER)
    assert err.value.code is VrsErrorCode.FIELD_DECRYPT_FAILED


async def test_rotate_master_key(
    store: VrsStore, tmp_path: Path, db: asyncpg.Pool, lookup_key: bytes, master_key: bytes
) -> None:
    await seed_people(store, tmp_path)
    async with db.acquire() as conn:
        before = await conn.fetch("SELECT name_enc FROM persons ORDER BY id")
        new_key = os.urandom(32)
        assert (
            await rotate_master_key(
                conn, old_master_key=master_key, new_master_key=new_key, now=NOW
            )
            == 2
        )
        # Rows were not re-encrypted.
        assert await conn.fetch("SELECT name_enc FROM persons ORDER BY id") == before
        # A rerun is a no-op; a wrong old key is refused.
        assert (
            await rotate_master_key(
                conn, old_master_key=master_key, new_master_key=new_key, now=NOW
            )
            == 0
        )
        with pytest.raises(VrsError) as err:
            await rotate_master_key(
                conn, old_master_key=os.urandom(32), new_master_key=os.urandom(32), now=NOW
            )
        assert err.value.code is VrsErrorCode.DATA_KEY_UNWRAP_FAILED
    rotated = VrsStore(db, master_key=new_key, lookup_key=lookup_key)
    async with rotated.scoped(AMAGASAKI) as tx:
        person = await tx.find_person_by_my_number(MY_NUMBER)
        assert person is not None
        assert person.given_name == "花子"
    stale = VrsStore(db, master_key=master_key, lookup_key=lookup_key)
    with pytest.raises(VrsError) as err:
        async with stale.scoped(AMAGASAKI) as tx:
            await tx.find_person_by_my_number(MY_NUMBER)
    assert err.value.code is VrsErrorCode.DATA_KEY_UNWRAP_FAILED
