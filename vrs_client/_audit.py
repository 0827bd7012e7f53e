"""The audit hash chains: linked after the fact, so that issuances never wait on their tail.

One chain per municipality (`audit_events`), and one service-wide chain (`service_audit_events`)
for admin actions that belong to no municipality (key and master-key rotation); both follow the
same rules, below. The service chain's rows hash with the municipality field `SERVICE_CHAIN`.

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
from vrs_client._errors import VrsError, VrsErrorCode
from vrs_client._keys import enter_app_role, enter_scope
from vrs_client._store import check_municipality_code
from vrs_client._types import AuditChainProblem, AuditChainReport, AuditEntry, AuditEvent

GENESIS = bytes(32)
#: What the service-wide chain's rows carry in place of a municipality code.
SERVICE_CHAIN = "service"
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
    actor_role: str | None = None,
    terminal: str | None = None,
    identity_method: str | None = None,
    subject: str | None = None,
    detail: str | None = None,
) -> bytes:
    """The bytes a chained row's hash covers: a JSON array (msgspec's encoding is deterministic
    for strings, integers and null), `at` in UTC with microseconds.

    The counter's fields (actor role, terminal, identity method, subject; migration 0004) follow
    as four more items when any of them is set, then an admin action's `detail` (migration 0003)
    as one more when it is set. A row without them has the eight-item bytes it had before they
    existed, so rows chained earlier keep verifying, and setting any of them on a chained row
    changes its bytes (the verifier sees it)."""
    items: list[object] = [
        municipality_code,
        seq,
        at.astimezone(UTC).isoformat(timespec="microseconds"),
        actor,
        action,
        address_number,
        reason,
        outcome,
    ]
    counter = [actor_role, terminal, identity_method, subject]
    if any(value is not None for value in counter):
        items.extend(counter)
    if detail is not None:
        items.append(detail)
    return _encoder.encode(items)


def _stored_row_bytes(municipality_code: str, seq: int, row: Record) -> bytes:
    """`canonical_audit_row` of a row as every listing query returns it (by column name)."""
    return canonical_audit_row(
        municipality_code=municipality_code,
        seq=seq,
        at=row["at"],
        actor=row["actor"],
        action=row["action"],
        address_number=row["address_number"],
        reason=row["reason"],
        outcome=row["outcome"],
        actor_role=row["actor_role"],
        terminal=row["terminal"],
        identity_method=row["identity_method"],
        subject=row["subject"],
        detail=row["detail"],
    )


def link(prev_hash: bytes, row_bytes: bytes) -> bytes:
    return hashlib.sha256(prev_hash + row_bytes).digest()


class _Chain(msgspec.Struct, frozen=True, kw_only=True):
    """The statements of one kind of chain. Every listing returns id (or seq) first, then the
    columns `_stored_row_bytes` reads by name (and prev_hash, hash for chained rows)."""

    ensure_checkpoint: str
    lock_checkpoint: str
    list_unchained: str
    link_rows: str
    advance_checkpoint: str
    get_checkpoint: str
    list_chained: str
    count_unchained: str


# Two chainers of one municipality would both continue from the same tail and fork the chain:
# the checkpoint row lock makes the second wait and continue from the first one's new tail.
_MUNICIPAL = _Chain(
    ensure_checkpoint="""
INSERT INTO audit_checkpoints (municipality_code) VALUES ($1) ON CONFLICT DO NOTHING
""",
    lock_checkpoint="""
SELECT chained_through_seq, chained_hash FROM audit_checkpoints
WHERE municipality_code = $1 FOR UPDATE
""",
    list_unchained="""
SELECT id, at, actor, action, address_number, reason, outcome, detail,
       actor_role, terminal, identity_method, subject
FROM audit_events
WHERE municipality_code = $1 AND seq IS NULL ORDER BY id LIMIT $2
""",
    link_rows="""
UPDATE audit_events e SET seq = u.seq, prev_hash = u.prev_hash, hash = u.hash
FROM unnest($1::bigint[], $2::bigint[], $3::bytea[], $4::bytea[]) AS u(id, seq, prev_hash, hash)
WHERE e.id = u.id
""",
    advance_checkpoint="""
UPDATE audit_checkpoints SET chained_through_seq = $2, chained_hash = $3
WHERE municipality_code = $1
""",
    get_checkpoint="""
SELECT chained_through_seq, chained_hash, purged_through_seq, purged_hash
FROM audit_checkpoints WHERE municipality_code = $1
""",
    list_chained="""
SELECT seq, at, actor, action, address_number, reason, outcome, detail, prev_hash, hash,
       actor_role, terminal, identity_method, subject
FROM audit_events WHERE municipality_code = $1 AND seq IS NOT NULL ORDER BY seq
""",
    count_unchained="""
SELECT count(*) FROM audit_events WHERE municipality_code = $1 AND seq IS NULL
""",
)
# The service chain has one checkpoint row; `$1` (the chain's name) is accepted and unused, so
# that both kinds run the same code. The row lock orders two chainers as above.
_SERVICE = _Chain(
    ensure_checkpoint="""
INSERT INTO service_audit_checkpoint (singleton) SELECT true WHERE $1::text IS NOT NULL
ON CONFLICT DO NOTHING
""",
    lock_checkpoint="""
SELECT chained_through_seq, chained_hash FROM service_audit_checkpoint
WHERE $1::text IS NOT NULL FOR UPDATE
""",
    list_unchained="""
SELECT id, at, actor, action, NULL::text AS address_number, reason, outcome, detail,
       NULL::text AS actor_role, NULL::text AS terminal, NULL::text AS identity_method,
       NULL::text AS subject
FROM service_audit_events
WHERE seq IS NULL AND $1::text IS NOT NULL ORDER BY id LIMIT $2
""",
    link_rows="""
UPDATE service_audit_events e SET seq = u.seq, prev_hash = u.prev_hash, hash = u.hash
FROM unnest($1::bigint[], $2::bigint[], $3::bytea[], $4::bytea[]) AS u(id, seq, prev_hash, hash)
WHERE e.id = u.id
""",
    advance_checkpoint="""
UPDATE service_audit_checkpoint SET chained_through_seq = $2, chained_hash = $3
WHERE $1::text IS NOT NULL
""",
    get_checkpoint="""
SELECT chained_through_seq, chained_hash, purged_through_seq, purged_hash
FROM service_audit_checkpoint WHERE $1::text IS NOT NULL
""",
    list_chained="""
SELECT seq, at, actor, action, NULL::text AS address_number, reason, outcome, detail,
       prev_hash, hash, NULL::text AS actor_role, NULL::text AS terminal,
       NULL::text AS identity_method, NULL::text AS subject
FROM service_audit_events WHERE seq IS NOT NULL AND $1::text IS NOT NULL ORDER BY seq
""",
    count_unchained="""
SELECT count(*) FROM service_audit_events WHERE seq IS NULL AND $1::text IS NOT NULL
""",
)


async def _enter(conn: Conn, name: str) -> None:
    if name == SERVICE_CHAIN:
        await enter_app_role(conn)
    else:
        await enter_scope(conn, municipality_code=name)


async def _chain(conn: Conn, chain: _Chain, name: str, batch: int) -> int:
    total = 0
    while True:
        async with conn.transaction():
            await _enter(conn, name)
            await conn.execute(chain.ensure_checkpoint, name)
            tail_seq, tail_hash = await fetch_one(conn, chain.lock_checkpoint, name)
            rows = await conn.fetch(chain.list_unchained, name, batch)
            if not rows:
                return total
            ids, seqs, prevs, hashes = [], [], [], []
            for row in rows:
                tail_seq += 1
                row_bytes = _stored_row_bytes(name, tail_seq, row)
                new_hash = link(tail_hash, row_bytes)
                ids.append(row[0])
                seqs.append(tail_seq)
                prevs.append(tail_hash)
                hashes.append(new_hash)
                tail_hash = new_hash
            await conn.execute(chain.link_rows, ids, seqs, prevs, hashes)
            await conn.execute(chain.advance_checkpoint, name, tail_seq, tail_hash)
            total += len(rows)
        if len(rows) < batch:
            return total


async def chain_audit_events(conn: Conn, *, municipality_code: str, batch: int = 5000) -> int:
    """Link every unchained audit row of the municipality, a batch per transaction. Safe to run
    concurrently with writers and with another chainer. Returns how many rows were linked."""
    return await _chain(conn, _MUNICIPAL, municipality_code, batch)


async def chain_service_audit_events(conn: Conn, *, batch: int = 5000) -> int:
    """`chain_audit_events` for the service-wide chain (admin actions of no municipality)."""
    return await _chain(conn, _SERVICE, SERVICE_CHAIN, batch)


async def _verify(conn: Conn, chain: _Chain, name: str) -> AuditChainReport:
    ok = True
    problem: AuditChainProblem | None = None
    at_seq: int | None = None
    checked = 0

    def fail(kind: AuditChainProblem, seq: int) -> None:
        nonlocal ok, problem, at_seq
        ok, problem, at_seq = False, kind, seq

    # (1)
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        await _enter(conn, name)
        cp = await conn.fetchrow(chain.get_checkpoint, name)
        chained_through, chained_hash, purged_through, purged_hash = (
            (0, GENESIS, 0, GENESIS) if cp is None else tuple(cp)
        )
        unchained = await conn.fetchval(chain.count_unchained, name)
        expected_seq, prev = purged_through + 1, purged_hash
        async for row in conn.cursor(chain.list_chained, name, prefetch=2000):
            seq = row[0]
            # (2) (3)
            if seq != expected_seq:
                fail(AuditChainProblem.SEQUENCE_GAP, expected_seq)
                break
            if row["prev_hash"] != prev:
                fail(
                    AuditChainProblem.HEAD_MISMATCH
                    if checked == 0
                    else AuditChainProblem.ROW_ALTERED,
                    seq,
                )
                break
            # (4)
            recomputed = link(prev, _stored_row_bytes(name, seq, row))
            if recomputed != row["hash"]:
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
        municipality_code=name,
        ok=ok,
        checked=checked,
        unchained=unchained,
        problem=problem,
        at_seq=at_seq,
    )


async def verify_audit_chain(conn: Conn, *, municipality_code: str) -> AuditChainReport:
    """Check the municipality's chain from its head to the checkpoint's tail.

    (1) read the checkpoint and every chained row in one snapshot;
    (2) the first row follows the purged head (seq and prev_hash);
    (3) each row's seq is the previous one + 1 (a deleted or inserted row breaks this);
    (4) each row's prev_hash is the previous row's hash, and its hash recomputes from its content
        (an edited row, or one inserted with a made-up hash, breaks this);
    (5) the chain ends where the checkpoint says (rows deleted from the end are seen)."""
    return await _verify(conn, _MUNICIPAL, municipality_code)


async def verify_service_audit_chain(conn: Conn) -> AuditChainReport:
    """`verify_audit_chain` for the service-wide chain (its report names `SERVICE_CHAIN`)."""
    return await _verify(conn, _SERVICE, SERVICE_CHAIN)


_q_record_service_audit_event = """
INSERT INTO service_audit_events (at, actor, action, reason, outcome, detail)
VALUES ($1, $2, $3, $4, $5, $6)
"""


async def record_service_audit_event(conn: Conn, event: AuditEvent) -> None:
    """Append an unchained event to the service-wide chain (an admin action of no municipality:
    `event.address_number` must be None). Runs in the caller's transaction when there is one."""
    if event.address_number is not None:
        raise VrsError(VrsErrorCode.AUDIT_EVENT_INVALID, "a service event names no person")
    async with conn.transaction():
        await enter_app_role(conn)
        await conn.execute(
            _q_record_service_audit_event,
            event.at,
            event.actor,
            event.action,
            event.reason,
            event.outcome,
            event.detail,
        )


#: The most rows one page of the audit review returns.
AUDIT_PAGE_MAX = 500

# Filters are optional: a NULL parameter matches every row. Newest first; `before_id` pages on.
_q_list_audit_events = """
SELECT id, municipality_code, seq, at, actor, action, outcome, address_number, reason,
       actor_role, terminal, identity_method, subject, detail
FROM audit_events
WHERE municipality_code = $1
  AND ($2::timestamptz IS NULL OR at >= $2)
  AND ($3::timestamptz IS NULL OR at < $3)
  AND ($4::text IS NULL OR actor = $4)
  AND ($5::text IS NULL OR action = $5)
  AND ($6::text IS NULL OR outcome = $6)
  AND ($7::bigint IS NULL OR id < $7)
ORDER BY at DESC, id DESC
LIMIT $8
"""


async def list_audit_events(
    conn: Conn,
    *,
    municipality_code: str,
    since: datetime | None = None,
    until: datetime | None = None,
    actor: str | None = None,
    action: str | None = None,
    outcome: str | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[AuditEntry]:
    """One page of the municipality's audit log, newest first: rows at or after `since` and
    before `until`, of exactly that actor, action and outcome where given, with an id below
    `before_id` (the last id of the previous page) where given. `limit` is clamped to
    1…`AUDIT_PAGE_MAX`. Read in the municipality's partition, in a read-only transaction."""
    check_municipality_code(municipality_code)
    limit = max(1, min(limit, AUDIT_PAGE_MAX))
    async with conn.transaction(readonly=True):
        await enter_scope(conn, municipality_code=municipality_code)
        rows = await conn.fetch(
            _q_list_audit_events,
            municipality_code,
            since,
            until,
            actor,
            action,
            outcome,
            before_id,
            limit,
        )
    return [
        AuditEntry(
            id=r["id"],
            municipality_code=r["municipality_code"],
            seq=r["seq"],
            at=r["at"],
            actor=r["actor"],
            action=r["action"],
            outcome=r["outcome"],
            address_number=r["address_number"],
            reason=r["reason"],
            actor_role=r["actor_role"],
            terminal=r["terminal"],
            identity_method=r["identity_method"],
            subject=r["subject"],
            detail=r["detail"],
        )
        for r in rows
    ]


# Staff administration writes its events from a transaction it holds already (the account rows
# and their audit rows commit together); this inserts one into a partition entered here.
_q_insert_audit_event = """
INSERT INTO audit_events (municipality_code, at, actor, action, address_number, reason, outcome,
                          actor_role, terminal, identity_method, subject, detail)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
"""


async def record_audit_event(conn: Conn, *, municipality_code: str, event: AuditEvent) -> None:
    """Append an unchained audit event to the municipality's log inside the caller's transaction
    (which this puts into the municipality's partition: do it after the caller's other
    statements). The chainer links it later."""
    check_municipality_code(municipality_code)
    await enter_scope(conn, municipality_code=municipality_code)
    await conn.execute(
        _q_insert_audit_event,
        municipality_code,
        event.at,
        event.actor,
        event.action,
        event.address_number,
        event.reason,
        event.outcome,
        event.actor_role,
        event.terminal,
        event.identity_method,
        event.subject,
        event.detail,
    )
