"""The fault tests' own stores and service: a durable embedded PostgreSQL (fsync on: a crash must
not lose a commit) and a Redis, started for this directory alone because the tests stop, crash
and kill them; the app served by a real uvicorn on loopback; and a bounded concurrent load of
issuing clients that records every answer."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest
import uvicorn

from certsvc.app import create_app
from certsvc.embedded import EmbeddedStores
from certsvc.server import free_port
from certsvc.settings import Settings, database_url_for, load_settings
from certsvc.synthetic import ResidentEntry, World
from tests.conftest import WORLD_NOW
from tests.e2e.app_flow import certificate_request
from vrs_client import KeyRing, apply_migrations, import_files
from vrs_client.synthetic import SyntheticResident, seed_municipalities, write_csv_files

FAULT_DATABASE = "certsvc_faults"
CLIENTS = 20
"""Concurrent issuing clients."""
MAX_ATTEMPTS = 400
"""Certificate requests per test at most (the load is bounded by count, not only by time)."""


@pytest.fixture(scope="session")
def durable_stores() -> Iterator[EmbeddedStores]:
    """PostgreSQL with durable commits and a Redis of their own, for the fault tests only."""
    stores = EmbeddedStores(durable=True).start()
    try:
        yield stores
    finally:
        stores.stop()


@pytest.fixture(scope="session")
async def fault_db_url(
    durable_stores: EmbeddedStores,
    residents: list[SyntheticResident],
    master_key: bytes,
    lookup_key: bytes,
    tmp_path_factory: pytest.TempPathFactory,
) -> str:
    """The fault database: migrations, municipalities and the session's residents."""
    assert durable_stores.postgres is not None
    admin = await asyncpg.connect(durable_stores.postgres.url)
    try:
        await admin.execute(f'CREATE DATABASE "{FAULT_DATABASE}"')
    finally:
        await admin.close()
    url = database_url_for(durable_stores.postgres.url, FAULT_DATABASE)
    directory = tmp_path_factory.mktemp("fault-residents")
    persons, vaccinations = directory / "persons.csv", directory / "vaccinations.csv"
    write_csv_files(residents, persons, vaccinations)
    conn = await asyncpg.connect(url)
    try:
        await apply_migrations(conn)
        await seed_municipalities(conn)
        await import_files(
            conn,
            KeyRing(master_key=master_key, lookup_key=lookup_key),
            persons=persons,
            vaccinations=vaccinations,
            now=WORLD_NOW,
            write_reports=False,
        )
    finally:
        await conn.close()
    return url


@pytest.fixture
async def fault_db(fault_db_url: str) -> str:
    """The fault database with the issuance history (and its audit events) emptied."""
    conn = await asyncpg.connect(fault_db_url)
    try:
        await conn.execute("TRUNCATE issuances, audit_events RESTART IDENTITY CASCADE")
    finally:
        await conn.close()
    return fault_db_url


@pytest.fixture
def fault_settings(
    fault_db: str,
    durable_stores: EmbeddedStores,
    world: World,
    master_key: bytes,
    lookup_key: bytes,
) -> Settings:
    assert durable_stores.redis is not None
    env = {
        **world.env(),
        "CERTSVC_DATABASE_URL": fault_db,
        "CERTSVC_REDIS_URL": durable_stores.redis.url,
        "CERTSVC_MASTER_KEY": base64.b64encode(master_key).decode(),
        "CERTSVC_LOOKUP_KEY": base64.b64encode(lookup_key).decode(),
        "CERTSVC_SHC_ISSUER": "https://demo.certsvc.invalid/issuer",
        "CERTSVC_TERMS_VERSION": "2026-04-01",
        "CERTSVC_DB_POOL_MIN": "2",
        "CERTSVC_DB_POOL_MAX": "8",
        # The load is many issuances for a few people from one address: limits out of the way.
        "CERTSVC_RATE_PERSON_PER_HOUR": "1000000",
        "CERTSVC_RATE_CLIENT_PER_MINUTE": "1000000",
    }
    return load_settings(env, mode="test")


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # the test process keeps its own signal handling


@pytest.fixture
async def served(fault_settings: Settings) -> AsyncIterator[str]:
    """The app on a real uvicorn listener on loopback, in this event loop; its base URL."""
    port = free_port()
    app = create_app(fault_settings, clock=lambda: WORLD_NOW)
    server = _Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            lifespan="on",
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=5,
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "uvicorn did not start"
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


class LoadReport(msgspec.Struct, kw_only=True):
    statuses: Counter[str] = msgspec.field(default_factory=Counter)
    """Answers (challenges and certificate requests) by status; `transport`: no answer."""
    problems: list[dict[str, Any]] = msgspec.field(default_factory=list)
    """Every 5xx problem body and its Retry-After header."""
    delivered: set[str] = msgspec.field(default_factory=set)
    """Certificate IDs of every 201 the clients received."""
    attempts: int = 0
    created_after_fault: int = 0


class Load:
    """`CLIENTS` clients issuing domestic certificates in a loop until stopped or
    `MAX_ATTEMPTS` requests have been sent."""

    def __init__(self, base_url: str, world: World, entries: list[ResidentEntry]) -> None:
        self.report = LoadReport()
        self._base_url = base_url
        self._world = world
        self._entries = entries
        self._stop = asyncio.Event()
        self._fault_over = False
        self._tasks: list[asyncio.Task[None]] = []

    def _done(self) -> bool:
        return self._stop.is_set() or self.report.attempts >= MAX_ATTEMPTS

    def _record(self, response: httpx.Response) -> None:
        self.report.statuses[str(response.status_code)] += 1
        if response.status_code >= 500:
            self.report.problems.append(
                {"body": response.json(), "retry_after": response.headers.get("retry-after")}
            )

    async def _client(self, number: int) -> None:
        entry = self._entries[number % len(self._entries)]
        async with httpx.AsyncClient(base_url=self._base_url, timeout=30) as http:
            while not self._done():
                try:
                    challenge = await http.post("/v1/app/challenges")
                    if challenge.status_code != 201:
                        self._record(challenge)
                        await asyncio.sleep(0.05)
                        continue
                    body = certificate_request(self._world, entry, challenge.json(), now=WORLD_NOW)
                    self.report.attempts += 1
                    answer = await http.post("/v1/app/certificates", json=body)
                except httpx.TransportError:
                    self.report.statuses["transport"] += 1
                    await asyncio.sleep(0.05)
                    continue
                self._record(answer)
                if answer.status_code == 201:
                    ids = {c["certificate_id"] for c in answer.json()["certificates"]}
                    self.report.delivered.update(ids)
                    if self._fault_over:
                        self.report.created_after_fault += 1
                elif answer.status_code == 503:
                    await asyncio.sleep(0.05)

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._client(n)) for n in range(CLIENTS)]

    async def until(self, predicate: Callable[[], bool], *, what: str, limit_s: float) -> None:
        """Wait while the load runs until `predicate` holds (a bound, not an assertion on
        time: a machine too slow for it fails loudly, naming what it waited for)."""
        deadline = time.monotonic() + limit_s
        while not predicate():
            assert time.monotonic() < deadline, f"gave up waiting for {what}: {self.report}"
            assert not all(t.done() for t in self._tasks), f"the load ended before {what}"
            await asyncio.sleep(0.05)

    def fault_over(self) -> None:
        self._fault_over = True

    async def stop(self) -> LoadReport:
        self._stop.set()
        await asyncio.gather(*self._tasks)
        return self.report


@pytest.fixture
def issuing_entries(resident_entries: dict[str, ResidentEntry]) -> list[ResidentEntry]:
    """Residents of the app municipalities who have doses (each would get a 201)."""
    entries = [
        e
        for e in resident_entries.values()
        if e.status == "resident" and e.municipality_code in {"282022", "131016"} and e.doses
    ]
    assert len(entries) >= 3
    return entries


async def issuance_history(db_url: str) -> set[str]:
    """Every certificate ID in the issuance history (read as the superuser: all partitions)."""
    conn = await asyncpg.connect(db_url)
    try:
        return {r[0] for r in await conn.fetch("SELECT certificate_id FROM issuances")}
    finally:
        await conn.close()


async def run_fault(
    base_url: str,
    world: World,
    entries: list[ResidentEntry],
    *,
    inject: Callable[[], Awaitable[None]],
    recover: Callable[[], Awaitable[None]],
) -> LoadReport:
    """Load the service, `inject` a fault, keep loading a moment, `recover`, and load until
    certificates are issued again without restarting the service."""
    load = Load(base_url, world, entries)
    load.start()
    try:
        await load.until(lambda: len(load.report.delivered) >= 10, what="a first 10", limit_s=90)
        await inject()
        await asyncio.sleep(1.0)
        await recover()
        load.fault_over()
        await load.until(
            lambda: load.report.created_after_fault >= 10, what="10 after recovery", limit_s=90
        )
    finally:
        report = await load.stop()
    return report


def check_report(report: LoadReport, history: set[str], *, fault: str) -> None:
    """No 500 (every 5xx a 503 DEPENDENCY_UNAVAILABLE with Retry-After), no dropped connection,
    every delivered certificate in the history; rows without a delivered answer are printed."""
    undelivered = history - report.delivered
    # The report line the fault tests promise: how many issuances were recorded whose answer
    # never reached a client (a crash or a restart hid the commit's outcome).
    print(  # noqa: T201
        f"\n[{fault}] attempts={report.attempts} statuses={dict(report.statuses)} "
        f"delivered={len(report.delivered)} recorded={len(history)} "
        f"recorded-without-delivered-answer={len(undelivered)}"
    )
    server_errors = {s: n for s, n in report.statuses.items() if s.isdigit() and int(s) >= 500}
    assert set(server_errors) <= {"503"}, report.statuses
    assert report.statuses["transport"] == 0, report.statuses
    for problem in report.problems:
        assert problem["body"]["code"] == "DEPENDENCY_UNAVAILABLE", problem
        assert problem["retry_after"], problem
    lost = report.delivered - history
    assert lost == set(), f"{len(lost)} certificates answered 201 are not in the history"
    assert report.created_after_fault >= 10
