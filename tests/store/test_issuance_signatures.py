"""Each certificate's signatures in the issuance history: encrypted, bound to their row, gone
with the person."""

from __future__ import annotations

import os
from pathlib import Path

import msgspec
import pytest

from tests.store.conftest import AMAGASAKI
from tests.store.test_store import MY_NUMBER, issuance, seed_people
from vrs_client import (
    DeleteOutcome,
    IssuanceOutcome,
    IssuanceSignatures,
    VrsError,
    VrsErrorCode,
    VrsStore,
)

SIGNATURES = IssuanceSignatures(
    shc=(os.urandom(64), os.urandom(64)), vdsnc=(os.urandom(64),), barcode_signer=os.urandom(32)
)


async def test_signatures_are_kept_encrypted_and_read_back(store: VrsStore, tmp_path: Path) -> None:
    await seed_people(store, tmp_path)
    async with store.scoped(AMAGASAKI) as tx:
        person = await tx.find_person_by_my_number(MY_NUMBER)
        assert person is not None
        record = msgspec.structs.replace(issuance(person, "AAAAAAAAAAAA"), signatures=SIGNATURES)
        assert await tx.record_issuance(record) is IssuanceOutcome.RECORDED
        assert await tx.record_issuance(issuance(person, "BBBBBBBBBBBB")) is (
            IssuanceOutcome.RECORDED
        )
        kept = await tx.get_issuance("AAAAAAAAAAAA")
        assert kept is not None
        assert kept.signatures == SIGNATURES
        bare = await tx.get_issuance("BBBBBBBBBBBB")
        assert bare is not None
        assert bare.signatures is None
        raw = await tx.connection.fetchval(
            "SELECT signatures_enc FROM issuances WHERE certificate_id = 'AAAAAAAAAAAA'"
        )
    # no signature appears in the clear in the column
    for signature in (*SIGNATURES.shc, *SIGNATURES.vdsnc, SIGNATURES.barcode_signer):
        assert signature not in raw


async def test_signatures_moved_to_another_row_do_not_open(store: VrsStore, tmp_path: Path) -> None:
    await seed_people(store, tmp_path)
    async with store.scoped(AMAGASAKI) as tx:
        person = await tx.find_person_by_my_number(MY_NUMBER)
        assert person is not None
        for cid in ("CCCCCCCCCCCC", "DDDDDDDDDDDD"):
            record = msgspec.structs.replace(issuance(person, cid), signatures=SIGNATURES)
            await tx.record_issuance(record)
    async with store.connection() as conn:
        await conn.execute(
            "UPDATE issuances SET signatures_enc = (SELECT signatures_enc FROM issuances "
            "WHERE certificate_id = 'CCCCCCCCCCCC') WHERE certificate_id = 'DDDDDDDDDDDD'"
        )
    with pytest.raises(VrsError) as err:
        async with store.scoped(AMAGASAKI) as tx:
            await tx.get_issuance("DDDDDDDDDDDD")
    assert err.value.code is VrsErrorCode.FIELD_DECRYPT_FAILED


async def test_signatures_are_erased_with_the_person(store: VrsStore, tmp_path: Path) -> None:
    await seed_people(store, tmp_path)
    async with store.scoped(AMAGASAKI) as tx:
        person = await tx.find_person_by_my_number(MY_NUMBER)
        assert person is not None
        record = msgspec.structs.replace(issuance(person, "EEEEEEEEEEEE"), signatures=SIGNATURES)
        await tx.record_issuance(record)
        assert await tx.delete_person(person.address_number) is DeleteOutcome.DELETED
        kept = await tx.get_issuance("EEEEEEEEEEEE")
    assert kept is not None  # the issuance log stays
    assert kept.signatures is None
