"""The CSV import: happy path, every rejection reason, idempotency, strict mode, corrections."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.store.conftest import (
    AMAGASAKI,
    CHIYODA,
    NOW,
    PERSON_HEADER,
    VACCINATION_HEADER,
    read_rejections,
    write_csv,
)
from tests.store.test_store import issuance
from vrs_client import (
    ImportResult,
    RejectReason,
    VrsError,
    VrsErrorCode,
    VrsStore,
    import_files,
)
from vrs_client.synthetic import generate_files

R = RejectReason
N1, N2, N3, N4 = "123456789018", "111111111118", "222222222225", "333333333332"


def person(
    address: str,
    number: str,
    *,
    code: str = AMAGASAKI,
    name: str = "佐藤 花子",
    birth: str = "1980-01-02",
    sex: str = "2",
    status: str = "resident",
    ticket: str = "0123456789",
) -> list[str]:
    return [code, address, number, ticket, name, birth, sex, status]


async def run(
    store: VrsStore,
    persons: Path,
    vaccinations: Path | None = None,
    *,
    strict: bool = False,
    now: datetime = NOW,
) -> ImportResult:
    async with store.connection() as conn:
        return await import_files(
            conn, store.keys, persons=persons, vaccinations=vaccinations, strict=strict, now=now
        )


async def test_synthetic_import(store: VrsStore, tmp_path: Path) -> None:
    persons, vaccinations, residents = generate_files(tmp_path, 200, municipalities=3, seed=7)
    result = await run(store, persons, vaccinations)
    s = result.summary
    doses = sum(len(r.doses) for r in residents)
    assert (s.persons_inserted, s.vaccinations_inserted) == (200, doses)
    assert (s.persons_rejected, s.vaccinations_rejected) == (0, 0)
    assert read_rejections(persons) == []
    chosen = residents[5]
    async with store.scoped(chosen.municipality_code) as tx:
        found = await tx.find_person_by_my_number(chosen.my_number)
    assert found is not None
    assert (found.name, found.birth_date, found.sex) == (chosen.name, chosen.birth_date, chosen.sex)
    assert [
        (v.dose_number, v.vaccinated_on, v.product, v.lot_number) for v in found.vaccinations
    ] == [(d.dose_number, d.vaccinated_on, d.product, d.lot_number) for d in chosen.doses]


async def test_every_rejection_reason(store: VrsStore, tmp_path: Path) -> None:
    rows = [
        person("1", N1),  # line 2: ok
        ["282022", "2"],  # 3: wrong field count
        person("3", N2, code="282021"),  # 4: check digit
        person("4", N2, code="999997"),  # 5: valid code, not served
        person("12345678901234567", N2),  # 6
        person("6", "123456789012"),  # 7: wrong check digit
        person("7", N2, ticket="12345"),  # 8
        person("8", N2, name="佐藤花子"),  # 9: no separator
        person("9", N2, birth="1980-02-30"),  # 10
        person("10", N2, sex="3"),  # 11
        person("11", N2, status="alive"),  # 12
        person("1", N2),  # 13: address number again
        person("13", N1),  # 14: My Number again
        person("14", N2, name="佐藤  花子"),  # 15: two spaces
        person("15", N2, birth="2027-01-01"),  # 16: future
    ]
    persons = write_csv(tmp_path / "persons.csv", PERSON_HEADER, rows)
    vrows = [
        [AMAGASAKI, "1", "1", "2021-06-01", "COMIRNATY", "FF1234"],  # 2 ok
        [AMAGASAKI, "1", "0", "2021-06-01", "COMIRNATY", "FF1234"],  # 3
        [AMAGASAKI, "1", "01", "2021-06-01", "COMIRNATY", "FF1234"],  # 4 leading zero
        [AMAGASAKI, "1", "2", "2020-12-31", "COMIRNATY", "FF1234"],  # 5 before the campaign
        [AMAGASAKI, "1", "2", "2021-06-01", "PFIZER", "FF1234"],  # 6
        [AMAGASAKI, "1", "2", "2021-06-01", "COMIRNATY", "FF 1234"],  # 7
        [AMAGASAKI, "1", "1", "2021-06-02", "COMIRNATY", "FF1234"],  # 8 dose again
        [AMAGASAKI, "77", "1", "2021-06-02", "COMIRNATY", "FF1234"],  # 9 nobody
        [AMAGASAKI, "3", "1", "2021-06-02", "COMIRNATY", "FF1234"],  # 10 rejected person
        ["131016", "1", "1", "2021-06-02", "COMIRNATY", "FF1234"],  # 11 Chiyoda has no "1"
        [AMAGASAKI, "1", "3", "2021-12-01", "SPIKEVAX", "3001234"],  # 12 ok (gap: dose 2 absent)
    ]
    vaccinations = write_csv(tmp_path / "vaccinations.csv", VACCINATION_HEADER, vrows)
    result = await run(store, persons, vaccinations)
    assert read_rejections(persons) == [
        (3, R.ROW_MALFORMED),
        (4, R.MUNICIPALITY_CODE_INVALID),
        (5, R.MUNICIPALITY_UNKNOWN),
        (6, R.ADDRESS_NUMBER_INVALID),
        (7, R.MY_NUMBER_INVALID),
        (8, R.TICKET_NUMBER_INVALID),
        (9, R.NAME_INVALID),
        (10, R.BIRTH_DATE_INVALID),
        (11, R.SEX_INVALID),
        (12, R.STATUS_INVALID),
        (13, R.DUPLICATE_ADDRESS_NUMBER),
        (14, R.DUPLICATE_MY_NUMBER),
        (15, R.NAME_INVALID),
        (16, R.BIRTH_DATE_INVALID),
    ]
    assert read_rejections(vaccinations) == [
        (3, R.DOSE_NUMBER_INVALID),
        (4, R.DOSE_NUMBER_INVALID),
        (5, R.VACCINATED_ON_INVALID),
        (6, R.PRODUCT_UNKNOWN),
        (7, R.LOT_NUMBER_INVALID),
        (8, R.DUPLICATE_DOSE),
        (9, R.UNKNOWN_PERSON),
        (10, R.UNKNOWN_PERSON),
        (11, R.UNKNOWN_PERSON),
    ]
    s = result.summary
    assert s.applied
    assert (s.persons_inserted, s.vaccinations_inserted) == (1, 2)
    # The report holds line numbers and reasons only.
    report = (tmp_path / "persons.csv.rejected.csv").read_text(encoding="utf-8")
    for secret in (N1, N2, "佐藤", "1980-01-02"):
        assert secret not in report


async def test_my_number_taken_and_multiline_records(store: VrsStore, tmp_path: Path) -> None:
    await run(store, write_csv(tmp_path / "a.csv", PERSON_HEADER, [person("1", N1)]))
    # A quoted field spanning two physical lines: the next record starts two lines later.
    persons = tmp_path / "b.csv"
    persons.write_text(
        ",".join(PERSON_HEADER)
        + "\n"
        + f'{AMAGASAKI},2,{N2},0123456789,"佐藤\n花子",1980-01-02,2,resident\n'
        + f"{AMAGASAKI},3,{N1},0123456789,佐藤 花子,1980-01-02,2,resident\n",
        encoding="utf-8",
    )
    await run(store, persons)
    assert read_rejections(persons) == [(2, R.NAME_INVALID), (4, R.MY_NUMBER_TAKEN)]


async def test_bad_header_and_encoding(store: VrsStore, tmp_path: Path) -> None:
    bad = write_csv(tmp_path / "h.csv", [*PERSON_HEADER[:-1], "extra"], [])
    with pytest.raises(VrsError) as err:
        await run(store, bad)
    assert err.value.code is VrsErrorCode.IMPORT_HEADER_INVALID
    latin = tmp_path / "l.csv"
    latin.write_bytes((",".join(PERSON_HEADER) + "\n").encode() + b"\xff\xfe\n")
    with pytest.raises(VrsError) as err:
        await run(store, latin)
    assert err.value.code is VrsErrorCode.IMPORT_FILE_UNREADABLE


async def test_reimport_changes_nothing(store: VrsStore, tmp_path: Path) -> None:
    persons, vaccinations, _ = generate_files(tmp_path, 50, municipalities=2, seed=1)
    await run(store, persons, vaccinations)
    snapshot = "SELECT ctid, xmin::text FROM {} ORDER BY ctid"
    async with store.connection() as conn:
        before = {t: await conn.fetch(snapshot.format(t)) for t in ("persons", "vaccinations")}
    result = await run(store, persons, vaccinations, now=NOW + timedelta(days=1))
    s = result.summary
    assert (s.persons_inserted, s.persons_updated, s.persons_unchanged) == (0, 0, 50)
    assert (s.vaccinations_inserted, s.vaccinations_updated) == (0, 0)
    async with store.connection() as conn:
        after = {t: await conn.fetch(snapshot.format(t)) for t in ("persons", "vaccinations")}
    assert after == before


async def test_strict_applies_nothing(store: VrsStore, tmp_path: Path) -> None:
    persons = write_csv(
        tmp_path / "p.csv", PERSON_HEADER, [person("1", N1), person("2", N2, sex="x")]
    )
    vaccinations = write_csv(
        tmp_path / "v.csv",
        VACCINATION_HEADER,
        [[AMAGASAKI, "1", "1", "2021-06-01", "COMIRNATY", "FF1234"]],
    )
    result = await run(store, persons, vaccinations, strict=True)
    assert not result.summary.applied
    assert read_rejections(persons) == [(3, R.SEX_INVALID)]
    async with store.connection() as conn:
        assert await conn.fetchval("SELECT count(*) FROM persons") == 0
        assert await conn.fetchval("SELECT count(*) FROM vaccinations") == 0
    # Strict with a vaccination of an unknown person (found by the database check) too.
    persons = write_csv(tmp_path / "p.csv", PERSON_HEADER, [person("1", N1)])
    vaccinations = write_csv(
        tmp_path / "v.csv",
        VACCINATION_HEADER,
        [[AMAGASAKI, "9", "1", "2021-06-01", "COMIRNATY", "FF1234"]],
    )
    result = await run(store, persons, vaccinations, strict=True)
    assert not result.summary.applied
    async with store.connection() as conn:
        assert await conn.fetchval("SELECT count(*) FROM persons") == 0


async def test_changed_row_updates_and_changed_dose_revokes(
    store: VrsStore, tmp_path: Path
) -> None:
    persons = write_csv(
        tmp_path / "p.csv", PERSON_HEADER, [person("1", N1), person("2", N3, code=CHIYODA)]
    )
    dose1 = [AMAGASAKI, "1", "1", "2021-06-01", "COMIRNATY", "FF1234"]
    vaccinations = write_csv(tmp_path / "v.csv", VACCINATION_HEADER, [dose1])
    await run(store, persons, vaccinations)
    async with store.scoped(AMAGASAKI) as tx:
        before = await tx.find_person_by_my_number(N1)
        assert before is not None
        await tx.record_issuance(issuance(before, "AAAAAAAAAAAA"))
        await tx.record_issuance(issuance(before, "BBBBBBBBBBBB"))
        await tx.void_issuance("BBBBBBBBBBBB", "print_failed", NOW)

    # A status change updates the person but revokes nothing (the certificate is still right).
    write_csv(persons, PERSON_HEADER, [person("1", N1, status="moved_out")])
    result = await run(store, persons)
    assert (result.summary.persons_updated, result.summary.issuances_revoked) == (1, 0)

    # A new dose changes the record digest (no reprint of the old) but revokes nothing.
    dose2 = [AMAGASAKI, "1", "2", "2021-07-01", "COMIRNATY", "FF9999"]
    write_csv(vaccinations, VACCINATION_HEADER, [dose1, dose2])
    result = await run(store, persons, vaccinations)
    assert (result.summary.vaccinations_inserted, result.summary.issuances_revoked) == (1, 0)
    async with store.scoped(AMAGASAKI) as tx:
        added = await tx.find_person_by_my_number(N1)
        assert added is not None
        assert added.record_digest != before.record_digest
        assert added.record_version > before.record_version
        await tx.record_issuance(issuance(added, "CCCCCCCCCCCC"))

    # A corrected lot revokes every issuance made from the old data (not the voided one).
    write_csv(vaccinations, VACCINATION_HEADER, [[*dose1[:5], "FF1235"], dose2])
    result = await run(store, persons, vaccinations)
    assert (result.summary.vaccinations_updated, result.summary.issuances_revoked) == (1, 2)
    async with store.scoped(AMAGASAKI) as tx:
        issued = {i.certificate_id: i for i in await tx.list_issuances(before)}
        assert issued["AAAAAAAAAAAA"].revoke_reason == "record_corrected"
        assert issued["CCCCCCCCCCCC"].revoke_reason == "record_corrected"
        assert issued["BBBBBBBBBBBB"].revoked_at is None
        corrected = await tx.find_person_by_my_number(N1)
        assert corrected is not None
        assert corrected.vaccinations[0].lot_number == "FF1235"
        await tx.record_issuance(issuance(corrected, "DDDDDDDDDDDD"))
    assert {r.rid for r in await store.list_revoked_rids("kid-1")} == {
        "ridAAAAAAAAAAAA",
        "ridCCCCCCCCCCCC",
    }

    # A corrected name revokes too.
    write_csv(persons, PERSON_HEADER, [person("1", N1, status="moved_out", name="佐藤 華子")])
    result = await run(store, persons)
    assert result.summary.issuances_revoked == 1
