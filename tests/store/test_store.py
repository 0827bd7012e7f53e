"""The scoped transaction of the hot path: lookups, issuances, passports, CRL, deletion."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import msgspec
import pytest

from tests.store.conftest import (
    AMAGASAKI,
    CHIYODA,
    NOW,
    PERSON_HEADER,
    VACCINATION_HEADER,
    write_csv,
)
from vrs_client import (
    AuditEvent,
    Channel,
    DeleteOutcome,
    IssuanceKind,
    IssuanceOutcome,
    IssuanceRecord,
    PassportItems,
    Person,
    PersonStatus,
    Product,
    RevokeOutcome,
    VoidOutcome,
    VrsError,
    VrsErrorCode,
    VrsStore,
    import_files,
)

MY_NUMBER = "123456789018"
MY_NUMBER_2 = "987654321000"


async def seed_people(store: VrsStore, tmp_path: Path) -> None:
    persons = write_csv(
        tmp_path / "p.csv",
        PERSON_HEADER,
        [
            [
                AMAGASAKI,
                "1001",
                MY_NUMBER,
                "0000000001",
                "尼崎　花子",
                "1980-04-01",
                "2",
                "resident",
            ],
            [
                CHIYODA,
                "2001",
                MY_NUMBER_2,
                "0000000002",
                "千代田 太郎",
                "1975-12-31",
                "1",
                "resident",
            ],
        ],
    )
    vaccinations = write_csv(
        tmp_path / "v.csv",
        VACCINATION_HEADER,
        [
            [AMAGASAKI, "1001", "2", "2021-07-01", "COMIRNATY", "FF1234"],
            [AMAGASAKI, "1001", "1", "2021-06-10", "COMIRNATY", "EY0001"],
            [CHIYODA, "2001", "1", "2021-06-11", "SPIKEVAX", "3001234"],
        ],
    )
    async with store.connection() as conn:
        result = await import_files(
            conn, store.keys, persons=persons, vaccinations=vaccinations, now=NOW
        )
    assert result.summary.persons_inserted == 2


def passport(expiry: date) -> PassportItems:
    return PassportItems(
        family_name="AMAGASAKI",
        given_names="HANAKO",
        nationality="JPN",
        passport_number="TK1234567",
        expiry_date=expiry,
    )


def issuance(
    person: Person,
    cid: str,
    *,
    kind: IssuanceKind = IssuanceKind.DOMESTIC,
    items: PassportItems | None = None,
    minutes: int = 0,
) -> IssuanceRecord:
    return IssuanceRecord(
        certificate_id=cid,
        person_id=person.id,
        issued_at=NOW + timedelta(minutes=minutes),
        channel=Channel.APP,
        kind=kind,
        rid="rid" + cid,
        kid="kid-1",
        records_digest=person.record_digest,
        passport=items,
    )


async def test_find_person_with_doses(store: VrsStore, tmp_path: Path) -> None:
    await seed_people(store, tmp_path)
    async with store.scoped(AMAGASAKI) as tx:
        person = await tx.find_person_by_my_number(MY_NUMBER)
        assert person is not None
        assert person.name == "尼崎\u3000花子"
        assert (person.family_name, person.given_name) == ("尼崎", "花子")
        assert person.birth_date == date(1980, 4, 1)
        assert person.sex == "2"
        assert person.status is PersonStatus.RESIDENT
        assert [v.dose_number for v in person.vaccinations] == [1, 2]
        assert person.vaccinations[0].product is Product.COMIRNATY
        assert await tx.list_vaccinations(person) == list(person.vaccinations)
        assert await tx.find_person_by_my_number(MY_NUMBER_2) is None  # Chiyoda's resident
        by_address = await tx.find_person_by_address_number("1001")
        assert by_address == person
    # The space-separated name was normalised to U+3000.
    async with store.scoped(CHIYODA) as tx:
        other = await tx.find_person_by_my_number(MY_NUMBER_2)
        assert other is not None
        assert other.name == "千代田\u3000太郎"


async def test_record_issuance_with_audit(store: VrsStore, tmp_path: Path) -> None:
    await seed_people(store, tmp_path)
    async with store.scoped(AMAGASAKI) as tx:
        person = await tx.find_person_by_my_number(MY_NUMBER)
        assert person is not None
        event = AuditEvent(
            at=NOW,
            actor="app",
            action="issuance.create",
            outcome="issued",
            address_number=person.address_number,
        )
        outcome = await tx.record_issuance(issuance(person, "AAAAAAAAAAAA"), audit=event)
        assert outcome is IssuanceOutcome.RECORDED
        again = await tx.record_issuance(issuance(person, "AAAAAAAAAAAA"), audit=event)
        assert again is IssuanceOutcome.CERTIFICATE_ID_TAKEN
        ghost = msgspec.structs.replace(issuance(person, "BBBBBBBBBBBB"), person_id=-1)
        assert await tx.record_issuance(ghost) is IssuanceOutcome.PERSON_NOT_FOUND
        stored = await tx.get_issuance("AAAAAAAAAAAA")
        assert stored is not None
        assert stored.records_digest == person.record_digest
        assert [i.certificate_id for i in await tx.list_issuances(person)] == ["AAAAAAAAAAAA"]
        audit_rows = await tx.connection.fetch(
            "SELECT action FROM audit_events WHERE action <> 'vrs.import'"
        )
        assert [r[0] for r in audit_rows] == ["issuance.create"]  # one, not one per attempt
    # A person of Amagasaki cannot be issued under Chiyoda's scope.
    async with store.scoped(CHIYODA) as tx:
        assert await tx.record_issuance(issuance(person, "CCCCCCCCCCCC")) is (
            IssuanceOutcome.PERSON_NOT_FOUND
        )
        assert await tx.get_issuance("AAAAAAAAAAAA") is None


async def test_rollback_on_exception(store: VrsStore, tmp_path: Path) -> None:
    await seed_people(store, tmp_path)
    async with store.scoped(AMAGASAKI) as tx:
        person = await tx.find_person_by_my_number(MY_NUMBER)
    assert person is not None

    async def issue_then_fail() -> None:
        async with store.scoped(AMAGASAKI) as tx:
            await tx.record_issuance(issuance(person, "DDDDDDDDDDDD"))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await issue_then_fail()
    async with store.scoped(AMAGASAKI) as tx:
        assert await tx.get_issuance("DDDDDDDDDDDD") is None
    with pytest.raises(VrsError) as err:
        _ = tx.connection
    assert err.value.code is VrsErrorCode.SCOPE_CLOSED


async def test_scope_refuses_bad_code(store: VrsStore) -> None:
    with pytest.raises(VrsError) as err:
        async with store.scoped("282021"):
            pass
    assert err.value.code is VrsErrorCode.MUNICIPALITY_CODE_INVALID


async def test_passport_reuse_void_revoke_crl(store: VrsStore, tmp_path: Path) -> None:
    await seed_people(store, tmp_path)
    today = NOW.date()
    async with store.scoped(AMAGASAKI) as tx:
        person = await tx.find_person_by_my_number(MY_NUMBER)
        assert person is not None
        assert await tx.latest_abroad_passport(person, today) is None
        valid = passport(today + timedelta(days=365))
        await tx.record_issuance(
            issuance(person, "EEEEEEEEEEEE", kind=IssuanceKind.ABROAD, items=valid)
        )
        assert await tx.latest_abroad_passport(person, today) == valid
        # A later issuance with a passport that has expired hides the older one.
        expired = passport(today - timedelta(days=1))
        await tx.record_issuance(
            issuance(person, "FFFFFFFFFFFF", kind=IssuanceKind.ABROAD, items=expired, minutes=5)
        )
        assert await tx.latest_abroad_passport(person, today) is None
        # A voided issuance (print failed) does not count.
        assert await tx.void_issuance("FFFFFFFFFFFF", "print_failed", NOW) is VoidOutcome.VOIDED
        assert await tx.void_issuance("FFFFFFFFFFFF", "print_failed", NOW) is (
            VoidOutcome.ALREADY_VOIDED
        )
        assert await tx.void_issuance("ZZZZZZZZZZZZ", "print_failed", NOW) is (
            VoidOutcome.NOT_FOUND
        )
        assert await tx.latest_abroad_passport(person, today) == valid
        assert await tx.revoke_issuance("EEEEEEEEEEEE", "holder_request", NOW) is (
            RevokeOutcome.REVOKED
        )
        assert await tx.revoke_issuance("EEEEEEEEEEEE", "holder_request", NOW) is (
            RevokeOutcome.ALREADY_REVOKED
        )
        assert await tx.revoke_issuance("ZZZZZZZZZZZZ", "x", NOW) is RevokeOutcome.NOT_FOUND
    revoked = await store.list_revoked_rids("kid-1")
    assert [r.rid for r in revoked] == ["ridEEEEEEEEEEEE"]
    assert await store.list_revoked_rids("kid-2") == []


async def test_delete_person_keeps_issuance_log(store: VrsStore, tmp_path: Path) -> None:
    await seed_people(store, tmp_path)
    async with store.scoped(AMAGASAKI) as tx:
        person = await tx.find_person_by_my_number(MY_NUMBER)
        assert person is not None
        await tx.record_issuance(
            issuance(
                person, "GGGGGGGGGGGG", kind=IssuanceKind.ABROAD, items=passport(date(2030, 1, 1))
            )
        )
        assert await tx.delete_person("1001") is DeleteOutcome.DELETED
        assert await tx.delete_person("1001") is DeleteOutcome.NOT_FOUND
        assert await tx.find_person_by_my_number(MY_NUMBER) is None
        kept = await tx.get_issuance("GGGGGGGGGGGG")
        assert kept is not None
        assert kept.person_id is None
        assert kept.passport is None
        assert await tx.connection.fetchval("SELECT count(*) FROM vaccinations") == 0


async def test_municipalities_are_public(store: VrsStore) -> None:
    all_ = await store.list_municipalities()
    assert {m.code for m in all_} >= {AMAGASAKI, CHIYODA}
    amagasaki = await store.get_municipality(AMAGASAKI)
    assert amagasaki is not None
    assert amagasaki.name_ja == "尼崎市"
    assert await store.get_municipality("999999") is None
