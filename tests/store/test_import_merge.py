"""The merge writes each new person once, with the record digest its doses give: the digest
stored at insert equals the one recomputed from the stored rows, for a first load, for new
persons joining a municipality that has persons already, and next to updated ones."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import msgspec
import pytest

from tests.store.test_import import run
from vrs_client import VrsStore
from vrs_client.synthetic import generate_files, write_csv_files

_q_digest_mismatches = """
SELECT count(*) FROM persons p
WHERE p.record_digest <> (
    SELECT record_digest(p.identity_digest,
               array_agg(vaccination_line(v.dose_number, v.vaccinated_on, v.product, v.lot_number)
                         ORDER BY v.dose_number) FILTER (WHERE v.person_id IS NOT NULL))
    FROM (SELECT 1) one LEFT JOIN vaccinations v ON v.person_id = p.id)
"""


async def _mismatches(store: VrsStore) -> int:
    async with store.connection() as conn:
        return int(await conn.fetchval(_q_digest_mismatches))


async def test_first_load_stores_final_record_digests(store: VrsStore, tmp_path: Path) -> None:
    _, _, generated = generate_files(tmp_path, 300, municipalities=2, seed=3)
    # Persons without doses too (their digest is that of an empty dose list).
    residents = [msgspec.structs.replace(r, doses=()) for r in generated[:7]] + generated[7:]
    persons, vaccinations = tmp_path / "p.csv", tmp_path / "v.csv"
    write_csv_files(residents, persons, vaccinations)
    result = await run(store, persons, vaccinations)
    assert result.summary.persons_inserted == 300
    assert result.summary.vaccinations_inserted == sum(len(r.doses) for r in residents)
    async with store.connection() as conn:
        assert await conn.fetchval("SELECT count(*) FROM persons") == 300
        # Written once: every new person is at its first record version.
        assert await conn.fetchval("SELECT count(*) FROM persons WHERE record_version <> 1") == 0
    assert await _mismatches(store) == 0


async def test_new_and_existing_persons_in_one_file(store: VrsStore, tmp_path: Path) -> None:
    _, _, residents = generate_files(tmp_path, 240, municipalities=2, seed=5)
    first, later = residents[:120], residents[120:]
    p1, v1 = tmp_path / "p1.csv", tmp_path / "v1.csv"
    # The first file holds the first persons with all but their last dose.
    write_csv_files([msgspec.structs.replace(r, doses=r.doses[:-1]) for r in first], p1, v1)
    await run(store, p1, v1)
    p2, v2 = tmp_path / "p2.csv", tmp_path / "v2.csv"
    write_csv_files(residents, p2, v2)  # everyone, with every dose
    result = await run(store, p2, v2)
    s = result.summary
    held_back = sum(1 for r in first if r.doses)
    assert s.persons_inserted == len(later)
    assert s.vaccinations_inserted == held_back + sum(len(r.doses) for r in later)
    assert s.vaccinations_updated == 0
    assert await _mismatches(store) == 0


async def test_a_dose_still_belongs_to_its_persons_municipality(
    store: VrsStore, tmp_path: Path
) -> None:
    # Migration 0006 dropped the direct key from doses to municipalities: the key through the
    # person still refuses a dose of another municipality, or of one that does not exist.
    persons, vaccinations, _ = generate_files(tmp_path, 20, municipalities=2, seed=9)
    await run(store, persons, vaccinations)
    async with store.connection() as conn:
        row = await conn.fetchrow("SELECT id, municipality_code FROM persons ORDER BY id LIMIT 1")
        assert row is not None
        person_id, code = row["id"], row["municipality_code"]
        other = await conn.fetchval(
            "SELECT code FROM municipalities WHERE code <> $1 ORDER BY code LIMIT 1", code
        )
        insert = (
            "INSERT INTO vaccinations (person_id, municipality_code, dose_number, vaccinated_on,"
            " product, lot_number) VALUES ($1, $2, 99, '2022-01-01', 'COMIRNATY', 'X1')"
        )
        for wrong in (other, "999990"):
            with pytest.raises(asyncpg.ForeignKeyViolationError):
                await conn.execute(insert, person_id, wrong)
        await conn.execute(insert, person_id, code)  # its own municipality: accepted
