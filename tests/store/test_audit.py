"""The audit hash chain: linked by the chainer, verified, tampering found."""

from __future__ import annotations

from datetime import timedelta

import asyncpg

from tests.store.conftest import AMAGASAKI, CHIYODA, NOW
from vrs_client import (
    AuditChainProblem,
    AuditEvent,
    VrsStore,
    chain_audit_events,
    verify_audit_chain,
)


async def _write_events(store: VrsStore, code: str, count: int) -> None:
    async with store.scoped(code) as tx:
        for i in range(count):
            await tx.record_audit_event(
                AuditEvent(
                    at=NOW + timedelta(seconds=i),
                    actor="counter:staff42",
                    action="issuance.create",
                    outcome="issued",
                    address_number=str(1000 + i),
                    reason="counter_request",
                )
            )


async def _chained(store: VrsStore, count: int = 5) -> None:
    await _write_events(store, AMAGASAKI, 3)
    await _write_events(store, CHIYODA, 2)
    async with store.connection() as conn:
        assert await chain_audit_events(conn, municipality_code=AMAGASAKI, batch=2) == 3
        await _write_events(store, AMAGASAKI, count - 3)
        assert await chain_audit_events(conn, municipality_code=AMAGASAKI) == count - 3
        assert await chain_audit_events(conn, municipality_code=CHIYODA) == 2


async def _verify(store: VrsStore, code: str = AMAGASAKI) -> tuple[bool, object, object]:
    async with store.connection() as conn:
        report = await verify_audit_chain(conn, municipality_code=code)
    return report.ok, report.problem, report.at_seq


async def _tamper(store: VrsStore, *statements: str) -> None:
    async with store.connection() as conn, conn.transaction():
        # Deliberately around the append-only trigger, as an attacker with the superuser would.
        await conn.execute("SET LOCAL session_replication_role = replica")
        for sql in statements:
            await conn.execute(sql, AMAGASAKI)


async def test_chain_verifies(store: VrsStore) -> None:
    await _chained(store)
    async with store.connection() as conn:
        report = await verify_audit_chain(conn, municipality_code=AMAGASAKI)
        assert report.ok
        assert report.checked == 5
        assert report.unchained == 0
        seqs = await conn.fetch(
            "SELECT seq FROM audit_events WHERE municipality_code = $1 ORDER BY seq", AMAGASAKI
        )
        assert [r[0] for r in seqs] == [1, 2, 3, 4, 5]
    await _write_events(store, AMAGASAKI, 1)
    async with store.connection() as conn:
        report = await verify_audit_chain(conn, municipality_code=AMAGASAKI)
    assert report.ok
    assert report.unchained == 1
    assert (await _verify(store, CHIYODA))[0]


async def test_chained_rows_are_append_only(store: VrsStore) -> None:
    await _chained(store)
    async with store.connection() as conn:
        try:
            await conn.execute("UPDATE audit_events SET outcome = 'refused' WHERE seq = 2")
        except asyncpg.InsufficientPrivilegeError:
            pass
        else:
            raise AssertionError("a chained audit row was updated")


async def test_edited_row_is_detected(store: VrsStore) -> None:
    await _chained(store)
    await _tamper(
        store,
        "UPDATE audit_events SET outcome = 'refused' WHERE seq = 3 AND municipality_code = $1",
    )
    assert await _verify(store) == (False, AuditChainProblem.ROW_ALTERED, 3)


async def test_deleted_row_is_detected(store: VrsStore) -> None:
    await _chained(store)
    await _tamper(store, "DELETE FROM audit_events WHERE seq = 2 AND municipality_code = $1")
    assert await _verify(store) == (False, AuditChainProblem.SEQUENCE_GAP, 2)


async def test_deleted_tail_is_detected(store: VrsStore) -> None:
    await _chained(store)
    await _tamper(store, "DELETE FROM audit_events WHERE seq = 5 AND municipality_code = $1")
    assert await _verify(store) == (False, AuditChainProblem.TAIL_MISSING, 5)


async def test_inserted_row_is_detected(store: VrsStore) -> None:
    await _chained(store)
    # Make room at seq 3 and insert a forged row that links correctly to row 2.
    await _tamper(
        store,
        "UPDATE audit_events SET seq = seq + 100 WHERE seq >= 3 AND municipality_code = $1",
        "UPDATE audit_events SET seq = seq - 99 WHERE seq >= 103 AND municipality_code = $1",
        """INSERT INTO audit_events (municipality_code, seq, at, actor, action, outcome,
                                     prev_hash, hash)
           SELECT municipality_code, 3, at, actor, action, 'forged', hash, sha256(hash)
           FROM audit_events WHERE seq = 2 AND municipality_code = $1""",
    )
    ok, problem, at_seq = await _verify(store)
    assert not ok
    assert problem is AuditChainProblem.ROW_ALTERED
    assert at_seq == 3
