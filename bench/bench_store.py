"""PostgreSQL's share of an issuance: the two statements beside the transaction they replaced,
and beside the primitives they cannot avoid, measured in one run.

    .venv/bin/python -m bench.bench_store [--residents 3000] [--issuances 3000] [--connections 16]

Starts an embedded PostgreSQL that commits durably (as `certsvc demo` does) and loads residents.
Then:

(1) one connection, one call after another: the server backend's CPU and the wall time per call
    of `SELECT 1`, entering a scope, the lookup function, the write function, and a bare durable
    commit (a one-row insert into an unindexed table) — the floor under any write;
(2) `--connections` concurrent callers, the way the API's workers use the pool: per issuance, the
    CPU of every process of this PostgreSQL server and of this client (asyncpg and the store's
    Python: decryption, encryption of the kept signatures), for `VrsStore.statements` (two round
    trips) and for `VrsStore.scoped` (BEGIN, scope, lookup, write, COMMIT), in alternating
    rounds.

Prints figures; asserts nothing. Only this run's server is counted, not other PostgreSQL
servers of the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import secrets
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import psutil

from bench._deployment import bench_residents, load_residents, tree_cpu
from certsvc.embedded import EmbeddedStores
from vrs_client import (
    AuditEvent,
    Channel,
    IssuanceKind,
    IssuanceRecord,
    Person,
    VrsStore,
    pool_reset,
)
from vrs_client.synthetic import SyntheticResident

_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def _certificate_id() -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(12))


def _record(person: Person, now: datetime) -> tuple[IssuanceRecord, AuditEvent]:
    certificate_id = _certificate_id()
    record = IssuanceRecord(
        certificate_id=certificate_id,
        person_id=person.id,
        issued_at=now,
        channel=Channel.APP,
        kind=IssuanceKind.DOMESTIC,
        rid="r" + certificate_id,
        kid="bench-kid",
        records_digest=person.record_digest,
    )
    audit = AuditEvent(
        at=now,
        actor="app:bench",
        action="issue.app.domestic",
        outcome="issued",
        address_number=person.address_number,
    )
    return record, audit


async def _primitives(url: str, store: VrsStore, resident: SyntheticResident) -> None:
    conn = await asyncpg.connect(url)
    try:
        backend = psutil.Process(await conn.fetchval("SELECT pg_backend_pid()"))
        await conn.execute("CREATE TABLE bench_commit (a int)")  # logged: a real durable commit
        digest = store.keys.my_number_hmac(resident.my_number)
        code = resident.municipality_code
        person = await conn.fetchrow(
            "SELECT id, record_digest, address_number FROM persons WHERE my_number_hmac = $1",
            digest,
        )
        if person is None:
            raise RuntimeError("the resident was not loaded")
        record_sql = (
            "SELECT * FROM vrs_record_issuance($1, $2, $3, now(), 'app', 'domestic', 'r1', 'k1',"
            " $4, NULL, 1::smallint, 0, $5, now(), 'app:bench', 'issue.app.domestic', $6, NULL,"
            " 'issued', NULL, NULL, NULL, NULL)"
        )
        signatures = os.urandom(300)
        calls: list[tuple[str, str, Callable[[], tuple[Any, ...]]]] = [
            ("SELECT 1", "SELECT 1", lambda: ()),
            (
                "entering a scope (role + municipality)",
                "SELECT set_config('role', 'certsvc_app', true),"
                " set_config('vrs.municipality_code', $1, true)",
                lambda: (code,),
            ),
            (
                "lookup: vrs_issuance_lookup",
                "SELECT * FROM vrs_issuance_lookup($1, $2, NULL, false)",
                lambda: (code, digest),
            ),
            (
                "write: vrs_record_issuance (durable commit)",
                record_sql,
                lambda: (_certificate_id(), code, person[0], person[1], signatures, person[2]),
            ),
            (
                "bare durable commit (1-row insert)",
                "INSERT INTO bench_commit VALUES (1)",
                lambda: (),
            ),
        ]
        print("(1) one connection, calls one after another: backend CPU / wall time per call")
        for name, sql, args in calls:
            for _ in range(100):
                await conn.fetch(sql, *args())
            count = 1000
            cpu0, t0 = sum(backend.cpu_times()[:2]), time.perf_counter()
            for _ in range(count):
                await conn.fetch(sql, *args())
            wall = time.perf_counter() - t0
            cpu = sum(backend.cpu_times()[:2]) - cpu0
            print(
                f"  {name:45s} {cpu / count * 1e6:7.0f} µs CPU  {wall / count * 1e6:7.0f} µs wall"
            )
    finally:
        await conn.close()


async def _concurrent(
    stores: EmbeddedStores,
    store: VrsStore,
    residents: list[SyntheticResident],
    *,
    mode: str,
    issuances: int,
    connections: int,
) -> str:
    now = datetime.now(UTC).replace(microsecond=0)

    async def by_statements(resident: SyntheticResident) -> None:
        async with store.statements(resident.municipality_code) as statements:
            found = await statements.find_person(my_number=resident.my_number)
            if found is None:
                raise RuntimeError("resident not found")
            record, audit = _record(found.person, now)
            await statements.record_issuance(record, audit=audit)

    async def by_transaction(resident: SyntheticResident) -> None:
        async with store.scoped(resident.municipality_code) as tx:
            person = await tx.find_person_by_my_number(resident.my_number)
            if person is None:
                raise RuntimeError("resident not found")
            record, audit = _record(person, now)
            await tx.record_issuance(record, audit=audit)

    one: Callable[[SyntheticResident], Awaitable[None]] = (
        by_statements if mode == "statements" else by_transaction
    )
    pending = list(range(issuances))

    async def caller() -> None:
        while pending:
            await one(residents[pending.pop() % len(residents)])

    pid = stores.postgres.pid if stores.postgres else None
    server0, client0, t0 = tree_cpu(pid), time.process_time(), time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(connections)))
    wall = time.perf_counter() - t0
    server = (tree_cpu(pid) - server0) / issuances * 1000
    client = (time.process_time() - client0) / issuances * 1000
    return (
        f"  {mode:12s} {issuances / wall:6.0f} issuances/s   PostgreSQL {server:.3f} ms"
        f"   client {client:.3f} ms per issuance"
    )


async def main(args: argparse.Namespace) -> None:
    with EmbeddedStores(redis=False, durable=True).start() as stores:
        if stores.postgres is None:
            raise RuntimeError("no PostgreSQL")
        url = stores.postgres.url
        env = {
            "CERTSVC_DATABASE_URL": url,
            "CERTSVC_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
            "CERTSVC_LOOKUP_KEY": base64.b64encode(os.urandom(32)).decode(),
        }
        residents = bench_residents(args.residents)
        with tempfile.TemporaryDirectory() as directory:
            await load_residents(env, Path(directory), residents)
        pool = await asyncpg.create_pool(
            url, min_size=args.connections, max_size=args.connections, reset=pool_reset
        )
        store = VrsStore(
            pool,
            master_key=base64.b64decode(env["CERTSVC_MASTER_KEY"]),
            lookup_key=base64.b64decode(env["CERTSVC_LOOKUP_KEY"]),
        )
        try:
            async with pool.acquire() as conn:
                await conn.execute("ANALYZE")
            print(
                f"embedded PostgreSQL, durable commits, {len(residents):,} residents; "
                "only this run's server is counted"
            )
            await _primitives(url, store, residents[0])
            print(
                f"(2) {args.connections} concurrent callers, {args.issuances:,} issuances a "
                "round, alternating: CPU per issuance"
            )
            for mode in ("statements", "transaction") * 2:
                # warm every pooled connection's statement cache and the data keys first
                await _concurrent(
                    stores,
                    store,
                    residents,
                    mode=mode,
                    issuances=args.connections * 4,
                    connections=args.connections,
                )
                print(
                    await _concurrent(
                        stores,
                        store,
                        residents,
                        mode=mode,
                        issuances=args.issuances,
                        connections=args.connections,
                    )
                )
        finally:
            await pool.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=3000)
    parser.add_argument("--issuances", type=int, default=3000)
    parser.add_argument("--connections", type=int, default=16)
    asyncio.run(main(parser.parse_args()))
