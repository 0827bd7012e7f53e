"""Benchmark of the VRS store: import throughput and person lookup latency.

    .venv/bin/python -m bench.bench_vrs --persons 100000

Prints, asserts nothing. Uses CERTSVC_DATABASE_URL's server when set (a database `certsvc_bench`
is dropped and recreated there), otherwise starts an embedded PostgreSQL.

(1) import of the first min(N, 10 000) persons with their doses, then lookups at that size;
(2) import of the rest, then lookups at N;
(3) a raw binary COPY of the same CSV rows (text columns, no index, no validation, no crypto) in
    the same run, for the ratio.
A lookup is what an issuance does before signing: scoped transaction (BEGIN, role + partition,
person with doses by My Number HMAC, three AES-GCM decryptions, COMMIT) over a pool.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import random
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from certsvc.embedded import EmbeddedStores
from certsvc.settings import database_url_for
from vrs_client import VrsStore, apply_migrations, import_files
from vrs_client._conn import Conn
from vrs_client.synthetic import (
    MUNICIPALITIES,
    SyntheticResident,
    generate_residents,
    seed_municipalities,
    write_csv_files,
)

DATABASE = "certsvc_bench"
NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)


async def _fresh_database(server_url: str) -> str:
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{DATABASE}"')
    finally:
        await admin.close()
    url = database_url_for(server_url, DATABASE)
    conn = await asyncpg.connect(url)
    try:
        await apply_migrations(conn)
        await seed_municipalities(conn, MUNICIPALITIES)
    finally:
        await conn.close()
    return url


async def _import(
    conn: Conn,
    store: VrsStore,
    residents: list[SyntheticResident],
    directory: Path,
    tag: str,
) -> tuple[int, float]:
    persons, vaccinations = directory / f"persons-{tag}.csv", directory / f"vacc-{tag}.csv"
    write_csv_files(residents, persons, vaccinations)
    start = time.perf_counter()
    result = await import_files(
        conn, store.keys, persons=persons, vaccinations=vaccinations, now=NOW, progress=True
    )
    elapsed = time.perf_counter() - start
    s = result.summary
    if s.persons_rejected or s.vaccinations_rejected:
        print(f"  (unexpected rejections: {s.persons_rejected} + {s.vaccinations_rejected})")
    return s.persons_read + s.vaccinations_read, elapsed


async def _raw_copy(conn: Conn, directory: Path) -> tuple[int, float]:
    await conn.execute(
        "DROP TABLE IF EXISTS bench_raw_p, bench_raw_v;"
        "CREATE TABLE bench_raw_p (a text, b text, c text, d text, e text, f text, g text,"
        " h text); CREATE TABLE bench_raw_v (a text, b text, c text, d text, e text, f text)"
    )
    rows = 0
    start = time.perf_counter()
    for pattern, table in (("persons-*.csv", "bench_raw_p"), ("vacc-*.csv", "bench_raw_v")):
        for path in sorted(directory.glob(pattern)):
            with path.open(encoding="utf-8", newline="") as f:
                reader = csv.reader(f)
                next(reader)
                batch: list[list[str]] = []
                for record in reader:
                    batch.append(record)
                    if len(batch) == 5000:
                        await conn.copy_records_to_table(table, records=batch)
                        rows += len(batch)
                        batch = []
                if batch:
                    await conn.copy_records_to_table(table, records=batch)
                    rows += len(batch)
    elapsed = time.perf_counter() - start
    await conn.execute("DROP TABLE bench_raw_p, bench_raw_v")
    return rows, elapsed


async def _lookups(
    store: VrsStore, residents: list[SyntheticResident], count: int, concurrency: int
) -> tuple[float, float, float]:
    rng = random.Random(1)
    sample = [rng.choice(residents) for _ in range(count)]
    latencies: list[float] = []

    async def worker(items: list[SyntheticResident]) -> None:
        for r in items:
            t0 = time.perf_counter()
            async with store.scoped(r.municipality_code) as tx:
                person = await tx.find_person_by_my_number(r.my_number)
            latencies.append(time.perf_counter() - t0)
            if person is None or len(person.vaccinations) != len(r.doses):
                raise RuntimeError("lookup returned the wrong record")

    # Warm-up: prepared statements, data keys.
    await worker(sample[:50])
    latencies.clear()
    start = time.perf_counter()
    await asyncio.gather(*(worker(sample[i::concurrency]) for i in range(concurrency)))
    wall = time.perf_counter() - start
    latencies.sort()
    p50 = latencies[len(latencies) // 2] * 1e6
    p99 = latencies[int(len(latencies) * 0.99)] * 1e6
    return p50, p99, len(latencies) / wall


async def main(args: argparse.Namespace, server_url: str) -> None:
    url = await _fresh_database(server_url)
    pool = await asyncpg.create_pool(url, min_size=args.concurrency, max_size=args.concurrency)
    store = VrsStore(pool, master_key=os.urandom(32), lookup_key=os.urandom(32))
    t0 = time.perf_counter()
    residents = generate_residents(args.persons, municipalities=args.municipalities, seed=42)
    doses = sum(len(r.doses) for r in residents)
    print(f"generated {args.persons} residents, {doses} doses in {time.perf_counter() - t0:.1f} s")
    first = min(args.persons, 10_000)
    total_rows = 0
    total_time = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        async with pool.acquire() as conn:
            rows, elapsed = await _import(conn, store, residents[:first], directory, "a")
        total_rows, total_time = rows, elapsed
        print(
            f"import {first} persons: {rows} rows in {elapsed:.2f} s = {rows / elapsed:,.0f} rows/s"
        )
        p50, p99, rate = await _lookups(store, residents[:first], args.lookups, args.concurrency)
        print(
            f"lookup at {first} persons: p50 {p50:.0f} µs, p99 {p99:.0f} µs, "
            f"{rate:,.0f} lookups/s ({args.concurrency} concurrent)"
        )
        if args.persons > first:
            async with pool.acquire() as conn:
                rows, elapsed = await _import(conn, store, residents[first:], directory, "b")
            total_rows += rows
            total_time += elapsed
            print(
                f"import {args.persons - first} more persons: {rows} rows in {elapsed:.2f} s = "
                f"{rows / elapsed:,.0f} rows/s"
            )
            async with pool.acquire() as conn:
                await conn.execute("ANALYZE")
            p50, p99, rate = await _lookups(store, residents, args.lookups, args.concurrency)
            print(
                f"lookup at {args.persons} persons: p50 {p50:.0f} µs, p99 {p99:.0f} µs, "
                f"{rate:,.0f} lookups/s ({args.concurrency} concurrent)"
            )
        async with pool.acquire() as conn:
            raw_rows, raw_time = await _raw_copy(conn, directory)
        ours = total_rows / total_time
        raw = raw_rows / raw_time
        print(
            f"import overall: {ours:,.0f} rows/s; raw COPY of the same rows: {raw:,.0f} rows/s;"
            f" ratio {ours / raw:.2f}"
        )
    await pool.close()


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=10_000)
    parser.add_argument("--municipalities", type=int, default=2)
    parser.add_argument("--lookups", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    server_url = os.environ.get("CERTSVC_DATABASE_URL")
    if server_url:
        asyncio.run(main(args, server_url))
        return
    with EmbeddedStores(redis=False) as stores:
        if stores.postgres is None:
            raise RuntimeError("embedded PostgreSQL did not start")
        asyncio.run(main(args, stores.postgres.url))


if __name__ == "__main__":
    cli()
