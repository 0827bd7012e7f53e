"""Benchmark of staff sign-in: argon2id cost, event-loop responsiveness, session lookups.

    .venv/bin/python -m bench.bench_staff [--accounts 8] [--lookups 2000]

Prints, asserts nothing. Starts an embedded PostgreSQL and Redis (or uses CERTSVC_DATABASE_URL's
server, dropping and recreating a database `certsvc_bench_staff`, and CERTSVC_REDIS_URL).

(1) sign-ins one after another (argon2-cffi's default argon2id: the cost a staff member waits);
(2) all accounts signing in at once, while a ticker measures how late the event loop runs it
    (verification runs on threads, so the loop keeps serving other requests);
(3) `session()` lookups (Redis GET + one account query + Redis SET) per second, p50/p99.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from datetime import UTC, date, datetime, timedelta

import asyncpg
import redis.asyncio as redis_asyncio

from certsvc.embedded import EmbeddedStores
from certsvc.settings import database_url_for
from certsvc.staff import Role, SignedIn, StaffService
from vrs_client import apply_migrations
from vrs_client.synthetic import MUNICIPALITIES, seed_municipalities

DATABASE = "certsvc_bench_staff"
PASSWORD = "bench pass phrase 2026"  # noqa: S105 — the bench accounts' own


def _ms(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))] * 1000


async def _ticker(lags: list[float], stop: asyncio.Event, period: float = 0.01) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        due = loop.time() + period
        await asyncio.sleep(period)
        lags.append(max(0.0, loop.time() - due))


async def main(args: argparse.Namespace, server_url: str, redis_url: str) -> None:
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
    pool = await asyncpg.create_pool(url, min_size=2, max_size=16)
    client = redis_asyncio.Redis.from_url(redis_url)
    await client.flushdb()
    staff = StaffService(
        pool=pool, redis=client, lookup_key=os.urandom(32), clock=lambda: datetime.now(UTC)
    )
    ids = [f"bench{i:03d}" for i in range(args.accounts)]
    sessions: list[str] = []
    for staff_id in ids:
        otp = await staff.create(
            staff_id=staff_id,
            role=Role.COUNTER_STAFF,
            municipalities=[MUNICIPALITIES[0].code],
            expires_on=date.today() + timedelta(days=30),  # noqa: DTZ011 — a bench, not a rule
            created_by="bench",
        )
        signed = await staff.sign_in(staff_id, otp, terminal_id=None)
        if not isinstance(signed, SignedIn):
            raise RuntimeError(f"bench sign-in refused: {signed}")
        if await staff.change_password(signed.session_id, otp, PASSWORD) is not None:
            raise RuntimeError("bench password refused")
        sessions.append(signed.session_id)

    # (1)
    one_by_one = []
    for staff_id in ids:
        start = time.perf_counter()
        signed = await staff.sign_in(staff_id, PASSWORD, terminal_id=None)
        one_by_one.append(time.perf_counter() - start)
        if not isinstance(signed, SignedIn):
            raise RuntimeError("bench sign-in refused")
    print(
        f"(1) sign-in, one at a time ({len(ids)}): p50 {_ms(one_by_one, 0.5):.0f} ms,"
        f" max {max(one_by_one) * 1000:.0f} ms"
    )
    # (2)
    lags: list[float] = []
    stop = asyncio.Event()
    ticker = asyncio.create_task(_ticker(lags, stop))
    await asyncio.sleep(0.1)
    start = time.perf_counter()
    await asyncio.gather(*(staff.sign_in(i, PASSWORD, terminal_id=None) for i in ids))
    wall = time.perf_counter() - start
    stop.set()
    await ticker
    print(
        f"(2) {len(ids)} sign-ins at once: {wall:.2f} s wall, {len(ids) / wall:.1f} per second;"
        f" event-loop lag meanwhile p50 {_ms(lags, 0.5):.1f} ms, p99 {_ms(lags, 0.99):.1f} ms,"
        f" max {max(lags) * 1000:.1f} ms"
    )
    # (3)
    latencies = []
    start = time.perf_counter()
    for n in range(args.lookups):
        t = time.perf_counter()
        if await staff.session(sessions[n % len(sessions)]) is None:
            raise RuntimeError("bench session vanished")
        latencies.append(time.perf_counter() - t)
    wall = time.perf_counter() - start
    print(
        f"(3) session lookups: {args.lookups / wall:.0f} per second (one at a time),"
        f" p50 {statistics.median(latencies) * 1000:.2f} ms, p99 {_ms(latencies, 0.99):.2f} ms"
    )
    await client.aclose()
    await pool.close()


def cli() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--accounts", type=int, default=8)
    parser.add_argument("--lookups", type=int, default=2000)
    args = parser.parse_args()
    args.accounts = max(1, min(args.accounts, 64))
    args.lookups = max(1, min(args.lookups, 100_000))
    db_url, redis_url = os.environ.get("CERTSVC_DATABASE_URL"), os.environ.get("CERTSVC_REDIS_URL")
    with EmbeddedStores(postgres=db_url is None, redis=redis_url is None) as stores:
        db_url = db_url or (stores.postgres.url if stores.postgres else None)
        redis_url = redis_url or (stores.redis.url if stores.redis else None)
        if db_url is None or redis_url is None:
            raise RuntimeError("the embedded stores did not start")
        asyncio.run(main(args, db_url, redis_url))


if __name__ == "__main__":
    cli()
