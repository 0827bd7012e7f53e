"""Every admin action leaves an audit event naming the operator and what it touched: import,
export, purge (and its dry run, which touches nothing), master-key rotation; actions of no
municipality go to the service-wide chain, hash-chained like the municipalities' chains."""

from __future__ import annotations

import io
import os
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest

from tests.store.conftest import AMAGASAKI, CHIYODA, NOW
from tests.store.test_store import MY_NUMBER, issuance, seed_people
from vrs_client import (
    SERVICE_CHAIN,
    AuditChainProblem,
    AuditEvent,
    KeyRing,
    VrsError,
    VrsErrorCode,
    VrsStore,
    chain_audit_events,
    chain_service_audit_events,
    export_csv,
    purge,
    record_service_audit_event,
    rotate_master_key,
    verify_audit_chain,
    verify_service_audit_chain,
)


async def _events(store: VrsStore, code: str, action: str) -> list[tuple[str, str, str | None]]:
    async with store.scoped(code) as tx:
        rows = await tx.connection.fetch(
            "SELECT actor, outcome, detail FROM audit_events WHERE action = $1 ORDER BY id",
            action,
        )
    return [(r[0], r[1], r[2]) for r in rows]


async def _service_events(db: asyncpg.Pool) -> list[tuple[str, str, str | None]]:
    async with db.acquire() as conn:
        rows = await conn.fetch(
            "SELECT actor, action, detail FROM service_audit_events ORDER BY id"
        )
    return [(r[0], r[1], r[2]) for r in rows]


async def test_service_chain_links_verifies_and_sees_tampering(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        for n in range(3):
            await record_service_audit_event(
                conn,
                AuditEvent(
                    at=NOW + timedelta(seconds=n),
                    actor="cli:officer",
                    action="keys.rotate.shc",
                    outcome="rotated",
                    detail=f"kid=k{n}",
                ),
            )
        assert await chain_service_audit_events(conn) == 3
        report = await verify_service_audit_chain(conn)
        assert (report.ok, report.checked, report.municipality_code) == (True, 3, SERVICE_CHAIN)
        # Chained rows are append-only.
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("UPDATE service_audit_events SET detail = 'kid=x' WHERE seq = 2")
        # A deleted row (by someone who can bypass the app role) breaks the chain.
        await conn.execute("DELETE FROM service_audit_events WHERE seq = 2")
        broken = await verify_service_audit_chain(conn)
    assert (broken.ok, broken.problem, broken.at_seq) == (False, AuditChainProblem.SEQUENCE_GAP, 2)


async def test_service_event_names_no_person(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        with pytest.raises(VrsError) as err:
            await record_service_audit_event(
                conn,
                AuditEvent(at=NOW, actor="cli:x", action="a", outcome="b", address_number="1001"),
            )
    assert err.value.code is VrsErrorCode.AUDIT_EVENT_INVALID


async def test_detail_refuses_personal_data(store: VrsStore) -> None:
    with pytest.raises(VrsError) as err:
        async with store.scoped(AMAGASAKI) as tx:
            await tx.record_audit_event(
                AuditEvent(
                    at=NOW, actor="cli:x", action="vrs.export", outcome="x", detail="n=123456789018"
                )
            )
    assert err.value.code is VrsErrorCode.STORE_FAILED  # the CHECK: no 12-digit run


async def test_import_and_export_are_audited_with_counts(store: VrsStore, tmp_path: Path) -> None:
    await seed_people(store, tmp_path)
    (imported,) = await _events(store, AMAGASAKI, "vrs.import")
    assert imported[1:] == (
        "applied",
        "persons_inserted=1 persons_updated=0 vaccinations_inserted=2 vaccinations_updated=0"
        " issuances_revoked=0",
    )
    out = io.StringIO()
    async with store.connection() as conn:
        rows = await export_csv(
            conn, store.keys, municipality_code=AMAGASAKI, out=out, actor="cli:officer", now=NOW
        )
        assert rows == 2
        with pytest.raises(VrsError) as err:
            await export_csv(
                conn, store.keys, municipality_code="999997", out=out, actor="cli:x", now=NOW
            )
        assert err.value.code is VrsErrorCode.MUNICIPALITY_UNKNOWN
    assert await _events(store, AMAGASAKI, "vrs.export") == [("cli:officer", "exported", "rows=2")]
    assert await _events(store, CHIYODA, "vrs.export") == []


async def test_an_export_that_fails_part_way_is_on_record(store: VrsStore, tmp_path: Path) -> None:
    await seed_people(store, tmp_path)

    class ClosedPipe(io.StringIO):
        def write(self, text: str) -> int:
            if "COMIRNATY" in text:
                raise BrokenPipeError
            return super().write(text)

    async with store.connection() as conn:
        with pytest.raises(BrokenPipeError):
            await export_csv(
                conn,
                store.keys,
                municipality_code=AMAGASAKI,
                out=ClosedPipe(),
                actor="cli:officer",
                now=NOW,
            )
    assert await _events(store, AMAGASAKI, "vrs.export") == [("cli:officer", "failed", "rows=0")]


async def test_purge_dry_run_deletes_nothing_and_says_what_would_go(
    store: VrsStore, db: asyncpg.Pool, tmp_path: Path
) -> None:
    await seed_people(store, tmp_path)
    async with store.scoped(AMAGASAKI) as tx:
        person = await tx.find_person_by_my_number(MY_NUMBER)
        assert person is not None
        await tx.record_issuance(issuance(person, "AAAAAAAAAAAA"))
    # The doses of 2021 are past 5 years on the day below; the persons were updated at NOW.
    later = NOW + timedelta(days=30)
    async with db.acquire() as conn:
        dry = await purge(conn, now=later, actor="cli:officer", dry_run=True)
        assert dry.dry_run
        assert (dry.vaccinations, dry.persons) == (3, 0)
        # Both persons lose every dose but stay on record; one live certificate shows them.
        assert (dry.persons_keeping_records, dry.live_certificates_affected) == (2, 1)
        assert await conn.fetchval("SELECT count(*) FROM vaccinations") == 3
        assert (
            await conn.fetchval("SELECT count(*) FROM audit_events WHERE action = 'vrs.purge'") == 0
        )
        assert await _service_events(db) == []
        done = await purge(conn, now=later, actor="cli:officer")
    assert (done.dry_run, done.vaccinations, done.persons_keeping_records) == (False, 3, 2)
    assert await _events(store, AMAGASAKI, "vrs.purge") == [
        (
            "cli:officer",
            "purged",
            "vaccinations=2 issuances=0 audit_events=0 persons=0 persons_keeping_records=1"
            " live_certificates_affected=1",
        )
    ]
    ((actor, action, detail),) = await _service_events(db)
    assert (actor, action) == ("cli:officer", "vrs.purge")
    assert detail is not None
    assert "vaccinations=3" in detail
    assert "revocations=0" in detail
    async with db.acquire() as conn:
        await chain_audit_events(conn, municipality_code=AMAGASAKI)
        assert (await verify_audit_chain(conn, municipality_code=AMAGASAKI)).ok


async def test_master_key_rotation_from_previous_is_audited(
    store: VrsStore, db: asyncpg.Pool, tmp_path: Path, *, master_key: bytes, lookup_key: bytes
) -> None:
    await seed_people(store, tmp_path)
    new_key = os.urandom(32)
    # A node restarted with both keys opens the data keys still wrapped under the old one.
    both = KeyRing(master_key=new_key, lookup_key=lookup_key, previous_master_key=master_key)
    new_only = KeyRing(master_key=new_key, lookup_key=lookup_key)
    async with db.acquire() as conn:
        wrapped, key_id = await _data_key(conn)
        both.open_wrapped(AMAGASAKI, wrapped, key_id)
        with pytest.raises(VrsError) as err:
            new_only.open_wrapped(AMAGASAKI, wrapped, key_id)
        assert err.value.code is VrsErrorCode.DATA_KEY_UNWRAP_FAILED
        count = await rotate_master_key(
            conn, old_master_key=master_key, new_master_key=new_key, now=NOW, actor="cli:officer"
        )
        assert count == 2
        wrapped, key_id = await _data_key(conn)
        new_only.open_wrapped(AMAGASAKI, wrapped, key_id)
        assert await _service_events(db) == [("cli:officer", "master_key.rotate", "rewrapped=2")]
        await chain_service_audit_events(conn)
        assert (await verify_service_audit_chain(conn)).ok


async def _data_key(conn: asyncpg.pool.PoolConnectionProxy[asyncpg.Record]) -> tuple[bytes, bytes]:
    async with conn.transaction():
        await conn.execute("SELECT set_config('vrs.municipality_code', $1, true)", AMAGASAKI)
        row = await conn.fetchrow(
            "SELECT wrapped_key, master_key_id FROM data_keys WHERE municipality_code = $1",
            AMAGASAKI,
        )
    assert row is not None
    return row[0], row[1]


async def test_counter_fields_and_detail_chain_together(store: VrsStore) -> None:
    async with store.scoped(AMAGASAKI) as tx:
        await tx.record_audit_event(
            AuditEvent(at=NOW, actor="cli:officer", action="vrs.export", outcome="exported",
                       detail="rows=3")
        )  # fmt: skip
        await tx.record_audit_event(
            AuditEvent(at=NOW, actor="tanaka", action="issuance.revoke", outcome="revoked",
                       actor_role="supervisor", terminal="madoguchi-1",
                       detail="certificate_id=AAAAAAAAAAAA kid=k")
        )  # fmt: skip
    async with store.connection() as conn:
        assert await chain_audit_events(conn, municipality_code=AMAGASAKI) == 2
        report = await verify_audit_chain(conn, municipality_code=AMAGASAKI)
        assert (report.ok, report.checked) == (True, 2)
        # A chained row's detail cannot be changed, even by the table's owner.
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("UPDATE audit_events SET detail = 'rows=0' WHERE seq = 1")
