"""The audit hash chain: linked after the fact, so that issuances never wait on its tail.

Writers insert rows unchained (`record_audit_event`, `record_issuance(audit=…)`). The chainer gives
the unchained rows of a municipality, in insertion order, the next consecutive `seq` numbers and
links them: hash = SHA-256(prev_hash ‖ canonical row bytes), the first row's prev_hash being 32
zero bytes (or, after a retention purge, the hash of the last purged row). The numbers are given
at chaining time rather than at insertion because an insertion-time counter is either a lock every
issuance of the municipality queues on, or a sequence with holes (rolled-back issuances) and out of
commit order — in which a deleted row could not be told from a rollback.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import msgspec
from asyncpg import Record

from vrs_client._conn import Conn, fetch_one
from vrs_client._keys import enter_scope
from vrs_client._types import AuditChainProblem, AuditChainReport

GENESIS = bytes(32)
_encoder = msgspec.json.Encoder()


def canonical_audit_row(
    *,
    municipality_code: str,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    address_number: str | None,
    reason: str | None,
    outcome: str,
) -> bytes:
    """The bytes a chained row's hash covers: a JSON array (msgspec's encoding is deterministic
    for strings, integers and null), `at` in UTC with microseconds."""
    return _encoder.encode(
        [
            municipality_code,
            seq,
            at.astimezone(UTC).isoformat(timespec="microseconds"),
            actor,
            action,
            address_number,
            reason,
            outcome,
        ]
    )


def _stored_row_bytes(municipality_code: str, seq: int, row: Record) -> bytes:
    """`canonical_audit_row` of a row as both listing queries return it: columns 1–6 are at,
    actor, action, address number, reason, outcome."""
    return canonical_audit_row(
        municipality_code=municipality_code,
        seq=seq,
        at=row[1],
        actor=row[2],
        action=row[3],
        address_number=row[4],
        reason=row[5],
        outcome=row[6],
    )


def link(prev_hash: bytes, row_bytes: bytes) -> bytes:
    return hashlib.sha256(prev_hash + row_bytes).digest()


_q_ensure_checkpoint = """
INSERT INTO audit_checkpoints (municipality_code) VALUES ($1) ON CONFLICT DO NOTHING
"""
# Two chainers of one municipality would both continue from the same tail and fork the chain:
# the checkpoint row lock makes the second wait and continue from the first one's new tail.
_q_lock_checkpoint = """
SELECT chained_through_seq, chained_hash FROM audit_checkpoints
WHERE municipality_code = $1 FOR UPDATE
"""
_q_list_unchained = """
SELECT id, at, actor, action, address_number, reason, outcome FROM audit_events
WHERE municipality_code = $1 AND seq IS NULL ORDER BY id LIMIT $2
"""
_q_link_rows = """
UPDATE audit_events e SET seq = u.seq, prev_hash = u.prev_hash, hash = u.hash
FROM unnest($1::bigint[], $2::bigint[], $3::bytea[], $4::bytea[]) AS u(id, seq, prev_hash, hash)
WHERE e.id = u.id
"""
_q_advance_checkpoint = """
UPDATE audit_checkpoints SET chained_through_seq = $2, chained_hash = $3
WHERE municipality_code = $1
"""


async def chain_audit_events(conn: Conn, *, municipality_code: str, batch: int = 5000) -> int:
    """Link every unchained audit row of the municipality, a batch per transaction. Safe to run
    concurrently with writers and with another chainer. Returns how many rows were linked."""
    total = 0
    while True:
        async with conn.transaction():
            await enter_scope(conn, municipality_code=municipality_code)
            await conn.execute(_q_ensure_checkpoint, municipality_code)
            tail_seq, tail_hash = await fetch_one(conn, _q_lock_checkpoint, municipality_code)
            rows = await conn.fetch(_q_list_unchained, municipality_code, batch)
            if not rows:
                return total
            ids, seqs, prevs, hashes = [], [], [], []
            for row in rows:
                tail_seq += 1
                row_bytes = _stored_row_bytes(municipality_code, tail_seq, row)
                new_hash = link(tail_hash, row_bytes)
                ids.append(row[0])
                seqs.append(tail_seq)
                prevs.append(tail_hash)
                hashes.append(new_hash)
                tail_hash = new_hash
            await conn.execute(_q_link_rows, ids, seqs, prevs, hashes)
            await conn.execute(_q_advance_checkpoint, municipality_code, tail_seq, tail_hash)
            total += len(rows)
        if len(rows) < batch:
            return total


_q_get_checkpoint = """
SELECT chained_through_seq, chained_hash, purged_through_seq, purged_hash
FROM audit_checkpoints WHERE municipality_code = $1
"""
_q_list_chained = """
SELECT seq, at, actor, action, address_number, reason, outcome, prev_hash, hash
FROM audit_events WHERE municipality_code = $1 AND seq IS NOT NULL ORDER BY seq
"""
_q_count_unchained = """
SELECT count(*) FROM audit_events WHERE municipality_code = $1 AND seq IS NULL
"""


async def verify_audit_chain(conn: Conn, *, municipality_code: str) -> AuditChainReport:
    """Check the municipality's chain from its head to the checkpoint's tail.

    (1) read the checkpoint and every chained row in one snapshot;
    (2) the first row follows the purged head (seq and prev_hash);
    (3) each row's seq is the previous one + 1 (a deleted or inserted row breaks this);
    (4) each row's prev_hash is the previous row's hash, and its hash recomputes from its content
        (an edited row, or one inserted with a made-up hash, breaks this);
    (5) the chain ends where the checkpoint says (rows deleted from the end are seen)."""
    ok = True
    problem: AuditChainProblem | None = None
    at_seq: int | None = None
    checked = 0

    def fail(kind: AuditChainProblem, seq: int) -> None:
        nonlocal ok, problem, at_seq
        ok, problem, at_seq = False, kind, seq

    # (1)
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        await enter_scope(conn, municipality_code=municipality_code)
        cp = await conn.fetchrow(_q_get_checkpoint, municipality_code)
        chained_through, chained_hash, purged_through, purged_hash = (
            (0, GENESIS, 0, GENESIS) if cp is None else tuple(cp)
        )
        unchained = await conn.fetchval(_q_count_unchained, municipality_code)
        expected_seq, prev = purged_through + 1, purged_hash
        async for row in conn.cursor(_q_list_chained, municipality_code, prefetch=2000):
            seq = row[0]
            # (2) (3)
            if seq != expected_seq:
                fail(AuditChainProblem.SEQUENCE_GAP, expected_seq)
                break
            if row[7] != prev:
                fail(
                    AuditChainProblem.HEAD_MISMATCH
                    if checked == 0
                    else AuditChainProblem.ROW_ALTERED,
                    seq,
                )
                break
            # (4)
            recomputed = link(prev, _stored_row_bytes(municipality_code, seq, row))
            if recomputed != row[8]:
                fail(AuditChainProblem.ROW_ALTERED, seq)
                break
            prev = recomputed
            expected_seq += 1
            checked += 1
        # (5)
        if ok:
            last = expected_seq - 1
            if last < chained_through:
                fail(AuditChainProblem.TAIL_MISSING, last + 1)
            elif last > chained_through:
                fail(AuditChainProblem.SEQUENCE_GAP, chained_through + 1)
            elif prev != chained_hash:
                fail(AuditChainProblem.ROW_ALTERED, last)
    return AuditChainReport(
        municipality_code=municipality_code,
        ok=ok,
        checked=checked,
        unchained=unchained,
        problem=problem,
        at_seq=at_seq,
    )
