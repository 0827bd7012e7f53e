"""Retention purge and the officials' export."""

from __future__ import annotations

import csv
from datetime import date, datetime, timedelta, timezone
from typing import TextIO

from vrs_client._audit import chain_audit_events
from vrs_client._conn import Conn, fetch_one
from vrs_client._crypto import KeyRing
from vrs_client._errors import VrsError, VrsErrorCode
from vrs_client._keys import enter_app_role, enter_scope
from vrs_client._store import PERSON_WITH_DOSES, decode_person, scoped_transaction
from vrs_client._types import PurgeSummary

JST = timezone(timedelta(hours=9), "JST")
#: Preventive Vaccination Act: vaccination records at least 5 years.
MIN_VACCINATION_YEARS = 5
#: Issuance (provision) records and their audit trail: 7 years.
MIN_ISSUANCE_YEARS = 7


def years_before(day: date, years: int) -> date:
    """The same calendar day `years` earlier (29 February → 28 February)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


_q_list_municipality_codes = "SELECT code FROM municipalities ORDER BY code"
_q_purge_vaccinations = """
WITH gone AS (DELETE FROM vaccinations WHERE vaccinated_on < $1 RETURNING person_id)
SELECT count(*), coalesce(array_agg(DISTINCT person_id), '{}') FROM gone
"""
# Not an update of the person's data: updated_at stays, so the person can be purged once empty.
_q_refresh_record_digests = """
UPDATE persons p SET record_digest = d.digest, record_version = p.record_version + 1
FROM (
    SELECT q.id, record_digest(q.identity_digest,
               array_agg(vaccination_line(v.dose_number, v.vaccinated_on, v.product, v.lot_number)
                         ORDER BY v.dose_number) FILTER (WHERE v.person_id IS NOT NULL)) AS digest
    FROM persons q LEFT JOIN vaccinations v ON v.person_id = q.id
    WHERE q.id = ANY($1::bigint[])
    GROUP BY q.id, q.identity_digest
) d
WHERE p.id = d.id
"""
_q_purge_issuances = """
WITH gone AS (DELETE FROM issuances WHERE issued_at < $1 RETURNING 1) SELECT count(*) FROM gone
"""
# Persons with nothing left to keep: no dose, no issuance, untouched since the cut-off.
_q_purge_persons = """
WITH gone AS (
    DELETE FROM persons p WHERE p.updated_at < $1
      AND NOT EXISTS (SELECT 1 FROM vaccinations v WHERE v.person_id = p.id)
      AND NOT EXISTS (SELECT 1 FROM issuances i WHERE i.person_id = p.id)
    RETURNING 1
)
SELECT count(*) FROM gone
"""
_q_ensure_checkpoint = """
INSERT INTO audit_checkpoints (municipality_code) VALUES ($1) ON CONFLICT DO NOTHING
"""
# The chain can only lose a head: the longest run of chained rows, from the first, all older than
# the cut-off (a younger row with a smaller seq stops it: nothing is purged early).
_q_audit_purge_bound = """
SELECT coalesce(min(seq) FILTER (WHERE at >= $1) - 1, max(seq)),
       (SELECT purged_through_seq FROM audit_checkpoints WHERE municipality_code = $2)
FROM audit_events WHERE seq IS NOT NULL
"""
_q_get_audit_hash = "SELECT hash FROM audit_events WHERE seq = $1"
_q_purge_audit_events = """
WITH gone AS (DELETE FROM audit_events WHERE seq <= $1 RETURNING 1) SELECT count(*) FROM gone
"""
_q_advance_purge_checkpoint = """
UPDATE audit_checkpoints SET purged_through_seq = $2, purged_hash = $3
WHERE municipality_code = $1
"""
_q_purge_revocations = """
WITH gone AS (DELETE FROM revocations WHERE revoked_at < $1 RETURNING 1) SELECT count(*) FROM gone
"""


async def purge(
    conn: Conn,
    *,
    now: datetime,
    vaccination_years: int = MIN_VACCINATION_YEARS,
    issuance_years: int = MIN_ISSUANCE_YEARS,
) -> PurgeSummary:
    """Delete what is past retention, one transaction per municipality: doses given more than
    `vaccination_years` ago, issuances and audit events older than `issuance_years` (the audit
    chain is chained first and only its head is cut, recorded in the checkpoint so verification
    still passes), persons left with nothing, and CRL entries as old as the issuances. Raises
    `RETENTION_TOO_SHORT` below 5 / 7 years."""
    if vaccination_years < MIN_VACCINATION_YEARS or issuance_years < MIN_ISSUANCE_YEARS:
        raise VrsError(VrsErrorCode.RETENTION_TOO_SHORT)
    today = now.astimezone(JST).date()
    vaccination_cutoff = years_before(today, vaccination_years)
    vaccination_cutoff_at = datetime.combine(vaccination_cutoff, datetime.min.time(), JST)
    issuance_cutoff = datetime.combine(
        years_before(today, issuance_years), datetime.min.time(), JST
    )
    totals = dict.fromkeys(("vaccinations", "issuances", "audit_events", "persons"), 0)
    codes = [r[0] for r in await conn.fetch(_q_list_municipality_codes)]
    for code in codes:
        await chain_audit_events(conn, municipality_code=code)
        async with conn.transaction():
            await enter_scope(conn, municipality_code=code)
            count, person_ids = await fetch_one(conn, _q_purge_vaccinations, vaccination_cutoff)
            totals["vaccinations"] += count
            if person_ids:
                await conn.execute(_q_refresh_record_digests, person_ids)
            totals["issuances"] += await conn.fetchval(_q_purge_issuances, issuance_cutoff)
            totals["persons"] += await conn.fetchval(_q_purge_persons, vaccination_cutoff_at)
            await conn.execute(_q_ensure_checkpoint, code)
            bound, purged_through = await fetch_one(
                conn, _q_audit_purge_bound, issuance_cutoff, code
            )
            if bound is not None and bound > purged_through:
                last_hash = await conn.fetchval(_q_get_audit_hash, bound)
                totals["audit_events"] += await conn.fetchval(_q_purge_audit_events, bound)
                await conn.execute(_q_advance_purge_checkpoint, code, bound, last_hash)
    async with conn.transaction():
        await enter_app_role(conn)
        revocations = await conn.fetchval(_q_purge_revocations, issuance_cutoff)
    return PurgeSummary(revocations=revocations, **totals)


EXPORT_COLUMNS = (
    "municipality_code",
    "address_number",
    "name",
    "birth_date",
    "sex",
    "status",
    "dose_number",
    "vaccinated_on",
    "product",
    "lot_number",
)
# The store's person-with-doses query, so that `decode_person` reads the rows as it always does.
_q_export_rows = PERSON_WITH_DOSES + "ORDER BY p.address_number"


async def export_csv(conn: Conn, keys: KeyRing, *, municipality_code: str, out: TextIO) -> int:
    """Write the municipality's records for officials as CSV (`EXPORT_COLUMNS`: one row per dose,
    one row with empty dose fields for a person without doses). Never the My Number or the ticket
    number. Returns the number of data rows written."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    written = 0
    async with scoped_transaction(conn, keys, municipality_code) as tx:
        cipher = await tx.cipher()
        async for row in conn.cursor(_q_export_rows, prefetch=1000):
            person = decode_person(cipher, row)
            head = [
                municipality_code,
                person.address_number,
                person.name,
                person.birth_date.isoformat(),
                person.sex,
                person.status.value,
            ]
            if not person.vaccinations:
                writer.writerow([*head, "", "", "", ""])
                written += 1
            for v in person.vaccinations:
                writer.writerow(
                    [
                        *head,
                        v.dose_number,
                        v.vaccinated_on.isoformat(),
                        v.product.value,
                        v.lot_number,
                    ]
                )
                written += 1
    return written
