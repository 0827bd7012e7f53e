"""Retention purge and the officials' export."""

from __future__ import annotations

import contextlib
import csv
from datetime import date, datetime, timedelta, timezone
from typing import TextIO

import asyncpg

from vrs_client._audit import chain_audit_events, record_service_audit_event
from vrs_client._conn import Conn, fetch_one
from vrs_client._crypto import KeyRing
from vrs_client._errors import VrsError, VrsErrorCode
from vrs_client._keys import enter_app_role, enter_scope
from vrs_client._store import PERSON_WITH_DOSES, decode_person, scoped_transaction
from vrs_client._types import AuditEvent, PurgeSummary

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
# Before the doses go: persons who lose some and keep a record (other doses, or a person row the
# purge keeps), and certificates still in force that show a dose about to go.
_q_purge_consequences = """
WITH doomed AS (SELECT person_id FROM vaccinations WHERE vaccinated_on < $1)
SELECT
  (SELECT count(DISTINCT d.person_id) FROM doomed d JOIN persons p ON p.id = d.person_id
   WHERE p.updated_at >= $2
      OR EXISTS (SELECT 1 FROM vaccinations v WHERE v.person_id = d.person_id
                 AND v.vaccinated_on >= $1)
      OR EXISTS (SELECT 1 FROM issuances i WHERE i.person_id = d.person_id
                 AND i.issued_at >= $3)),
  (SELECT count(*) FROM issuances i
   WHERE i.revoked_at IS NULL AND i.voided_at IS NULL AND i.issued_at >= $3
     AND EXISTS (SELECT 1 FROM doomed d WHERE d.person_id = i.person_id))
"""
_q_record_purge_event = """
INSERT INTO audit_events (municipality_code, at, actor, action, reason, outcome, detail)
VALUES ($1, $2, $3, 'vrs.purge', NULL, 'purged', $4)
"""


class _DryRun(Exception):  # noqa: N818 — control flow: roll back what a dry run did
    pass


async def purge(
    conn: Conn,
    *,
    now: datetime,
    vaccination_years: int = MIN_VACCINATION_YEARS,
    issuance_years: int = MIN_ISSUANCE_YEARS,
    actor: str | None = None,
    dry_run: bool = False,
) -> PurgeSummary:
    """Delete what is past retention, one transaction per municipality: doses given more than
    `vaccination_years` ago, issuances and audit events older than `issuance_years` (the audit
    chain is chained first and only its head is cut, recorded in the checkpoint so verification
    still passes), persons left with nothing, and CRL entries as old as the issuances. Raises
    `RETENTION_TOO_SHORT` below 5 / 7 years.

    With `actor`, each municipality's transaction records a `vrs.purge` audit event with its
    counts, and the service chain one with the totals. With `dry_run`, every transaction is
    rolled back: the counts say what would go, and nothing is deleted or recorded. Either way
    the summary counts the persons who lose doses but stay on record, and the certificates still
    in force that show a dose about to go."""
    if vaccination_years < MIN_VACCINATION_YEARS or issuance_years < MIN_ISSUANCE_YEARS:
        raise VrsError(VrsErrorCode.RETENTION_TOO_SHORT)
    today = now.astimezone(JST).date()
    vaccination_cutoff = years_before(today, vaccination_years)
    vaccination_cutoff_at = datetime.combine(vaccination_cutoff, datetime.min.time(), JST)
    issuance_cutoff = datetime.combine(
        years_before(today, issuance_years), datetime.min.time(), JST
    )
    totals = dict.fromkeys(
        (
            "vaccinations",
            "issuances",
            "audit_events",
            "persons",
            "persons_keeping_records",
            "live_certificates_affected",
        ),
        0,
    )
    codes = [r[0] for r in await conn.fetch(_q_list_municipality_codes)]
    for code in codes:
        if not dry_run:
            await chain_audit_events(conn, municipality_code=code)
        counts = dict.fromkeys(totals, 0)
        try:
            async with conn.transaction():
                await enter_scope(conn, municipality_code=code)
                keeping, live = await fetch_one(
                    conn,
                    _q_purge_consequences,
                    vaccination_cutoff,
                    vaccination_cutoff_at,
                    issuance_cutoff,
                )
                counts["persons_keeping_records"] = keeping
                counts["live_certificates_affected"] = live
                count, person_ids = await fetch_one(conn, _q_purge_vaccinations, vaccination_cutoff)
                counts["vaccinations"] = count
                if person_ids:
                    await conn.execute(_q_refresh_record_digests, person_ids)
                counts["issuances"] = await conn.fetchval(_q_purge_issuances, issuance_cutoff)
                counts["persons"] = await conn.fetchval(_q_purge_persons, vaccination_cutoff_at)
                await conn.execute(_q_ensure_checkpoint, code)
                bound, purged_through = await fetch_one(
                    conn, _q_audit_purge_bound, issuance_cutoff, code
                )
                if bound is not None and bound > purged_through:
                    last_hash = await conn.fetchval(_q_get_audit_hash, bound)
                    counts["audit_events"] = await conn.fetchval(_q_purge_audit_events, bound)
                    await conn.execute(_q_advance_purge_checkpoint, code, bound, last_hash)
                if dry_run:
                    raise _DryRun
                if actor is not None:
                    await conn.execute(_q_record_purge_event, code, now, actor, _detail(counts))
        except _DryRun:
            pass
        for name, value in counts.items():
            totals[name] += value
    try:
        async with conn.transaction():
            await enter_app_role(conn)
            revocations = await conn.fetchval(_q_purge_revocations, issuance_cutoff)
            if dry_run:
                raise _DryRun
            if actor is not None:
                await record_service_audit_event(
                    conn,
                    AuditEvent(
                        at=now,
                        actor=actor,
                        action="vrs.purge",
                        outcome="purged",
                        detail=_detail({**totals, "revocations": revocations}),
                    ),
                )
    except _DryRun:
        pass
    return PurgeSummary(revocations=revocations, dry_run=dry_run, **totals)


def _detail(counts: dict[str, int]) -> str:
    """An audit `detail`: `name=count` items."""
    return " ".join(f"{name}={value}" for name, value in counts.items())


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


_q_record_export_event = """
INSERT INTO audit_events (municipality_code, at, actor, action, reason, outcome, detail)
VALUES ($1, $2, $3, 'vrs.export', NULL, $4, $5)
"""


async def export_csv(
    conn: Conn,
    keys: KeyRing,
    *,
    municipality_code: str,
    out: TextIO,
    actor: str | None = None,
    now: datetime | None = None,
) -> int:
    """Write the municipality's records for officials as CSV (`EXPORT_COLUMNS`: one row per dose,
    one row with empty dose fields for a person without doses). Never the My Number or the ticket
    number. Returns the number of data rows written.

    With `actor` (and `now`), the municipality's audit chain records a `vrs.export` event with
    the rows written — also when writing failed part way (outcome `failed`): what left the
    database is on record either way."""
    if actor is not None and now is None:
        raise ValueError("an audited export needs now")
    if await conn.fetchval(_q_municipality_exists, municipality_code) is None:
        raise VrsError(VrsErrorCode.MUNICIPALITY_UNKNOWN)
    written = [0]
    try:
        await _export_rows(conn, keys, code=municipality_code, out=out, written=written)
    except BaseException:
        if actor is not None and now is not None:
            # Best effort: the connection may be what failed; the original error is what counts.
            with contextlib.suppress(VrsError, asyncpg.PostgresError, OSError):
                await _record_export(
                    conn,
                    municipality_code,
                    now=now,
                    actor=actor,
                    outcome="failed",
                    written=written[0],
                )
        raise
    if actor is not None and now is not None:
        await _record_export(
            conn, municipality_code, now=now, actor=actor, outcome="exported", written=written[0]
        )
    return written[0]


_q_municipality_exists = "SELECT 1 FROM municipalities WHERE code = $1"


async def _record_export(
    conn: Conn, code: str, *, now: datetime, actor: str, outcome: str, written: int
) -> None:
    async with conn.transaction():
        await enter_scope(conn, municipality_code=code)
        await conn.execute(_q_record_export_event, code, now, actor, outcome, f"rows={written}")


async def _export_rows(
    conn: Conn, keys: KeyRing, *, code: str, out: TextIO, written: list[int]
) -> None:
    municipality_code = code
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
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
                written[0] += 1
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
                written[0] += 1
