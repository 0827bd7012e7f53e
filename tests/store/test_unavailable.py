"""PostgreSQL not there: every "unavailable" driver error is STORE_UNAVAILABLE (the service's 503),
never STORE_FAILED (its 500); an exhausted pool answers instead of hanging; and the retry rule of
`VrsStore` — once, on a fresh connection, before the transaction's first write, never after.

The connection breaks are real: a TCP proxy between the pool and the server cuts a connection when
the client sends a given statement, before or after forwarding it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import asyncpg
import pytest
import redis.exceptions

from certsvc.errors import is_dependency_failure
from tests.store.conftest import AMAGASAKI
from tests.store.test_store import MY_NUMBER, issuance, seed_people
from vrs_client import IssuanceOutcome, VrsError, VrsErrorCode, VrsStore, is_store_unavailable
from vrs_client._store import translate_driver_errors


class CuttingProxy:
    """A loopback TCP proxy to PostgreSQL. Armed with `cut(pattern)`, it breaks the next client
    connection that sends `pattern` — before forwarding it (the server never sees it) or after
    (the server runs it, the client never hears back). One cut per arming."""

    def __init__(self, db_url: str) -> None:
        parts = urlsplit(db_url)
        self._database = parts.path.lstrip("/")
        self._user = parts.username or "postgres"
        host = parse_qs(parts.query).get("host", [parts.hostname or "127.0.0.1"])[0]
        self._unix = host if host.startswith("/") else None
        self._tcp = (host, parts.port or 5432)
        self._pattern: bytes | None = None
        self._forward_first = False
        self.cuts = 0
        self.port = 0
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"postgresql://{self._user}@127.0.0.1:{self.port}/{self._database}?sslmode=disable"

    def cut(self, pattern: bytes, *, forward_first: bool = False) -> None:
        self._pattern, self._forward_first = pattern, forward_first

    async def _upstream(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._unix is not None:
            return await asyncio.open_unix_connection(str(Path(self._unix) / ".s.PGSQL.5432"))
        return await asyncio.open_connection(*self._tcp)

    async def _handle(self, c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter) -> None:
        s_reader, s_writer = await self._upstream()

        async def client_to_server() -> None:
            while data := await c_reader.read(65536):
                if self._pattern is not None and self._pattern in data:
                    self._pattern = None
                    self.cuts += 1
                    if self._forward_first:
                        s_writer.write(data)
                        await s_writer.drain()
                        await asyncio.sleep(0.3)  # the server runs it; its answer is dropped
                    return
                s_writer.write(data)
                await s_writer.drain()

        async def server_to_client() -> None:
            while data := await s_reader.read(65536):
                if self._pattern is None and self.cuts and c_writer.is_closing():
                    return
                c_writer.write(data)
                await c_writer.drain()

        pumps = [asyncio.create_task(client_to_server()), asyncio.create_task(server_to_client())]
        with contextlib.suppress(Exception):
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        for pump in pumps:
            pump.cancel()
        c_writer.transport.abort()
        s_writer.transport.abort()

    async def __aenter__(self) -> CuttingProxy:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._server is not None:
            self._server.close()


@pytest.fixture
async def proxied_store(
    store: VrsStore, db_url: str, master_key: bytes, lookup_key: bytes, tmp_path: Path
) -> AsyncIterator[tuple[VrsStore, CuttingProxy]]:
    """A store whose one-connection pool reaches PostgreSQL through a `CuttingProxy`, on the
    seeded test database."""
    await seed_people(store, tmp_path)
    async with CuttingProxy(db_url) as proxy:
        pool = await asyncpg.create_pool(proxy.url, min_size=1, max_size=1)
        try:
            yield VrsStore(pool, master_key=master_key, lookup_key=lookup_key), proxy
        finally:
            pool.terminate()


async def _issue_once(store: VrsStore, cid: str, runs: list[str]) -> IssuanceOutcome:
    async with store.scoped(AMAGASAKI) as tx:
        runs.append(cid)
        person = await tx.find_person_by_my_number(MY_NUMBER)
        assert person is not None
        return await tx.record_issuance(issuance(person, cid))


async def _count_issuances(store: VrsStore, cid: str) -> int:
    async with store.scoped(AMAGASAKI) as tx:
        found = await tx.connection.fetchval(
            "SELECT count(*) FROM issuances WHERE certificate_id = $1", cid
        )
    assert isinstance(found, int)
    return found


async def test_a_connection_lost_before_the_first_write_is_retried_once(
    proxied_store: tuple[VrsStore, CuttingProxy], store: VrsStore
) -> None:
    proxied, proxy = proxied_store
    proxy.cut(b"BEGIN;\x00")  # the pooled connection dies as the transaction opens
    runs: list[str] = []
    assert await _issue_once(proxied, "RETRYBEGIN22", runs) is IssuanceOutcome.RECORDED
    assert proxy.cuts == 1
    assert runs == ["RETRYBEGIN22"]
    assert await _count_issuances(store, "RETRYBEGIN22") == 1


async def test_a_connection_lost_at_the_write_is_not_retried(
    proxied_store: tuple[VrsStore, CuttingProxy], store: VrsStore
) -> None:
    proxied, proxy = proxied_store
    proxy.cut(b"vrs_record_issuance")  # cut before the server sees the write
    runs: list[str] = []
    with pytest.raises(VrsError) as err:
        await _issue_once(proxied, "NORETRYWRITE", runs)
    assert err.value.code is VrsErrorCode.STORE_UNAVAILABLE
    assert runs == ["NORETRYWRITE"]  # the body ran once
    assert await _count_issuances(store, "NORETRYWRITE") == 0


async def test_a_commit_whose_answer_is_lost_is_not_retried_and_may_have_committed(
    proxied_store: tuple[VrsStore, CuttingProxy], store: VrsStore
) -> None:
    proxied, proxy = proxied_store
    proxy.cut(b"COMMIT;\x00", forward_first=True)  # the server commits; the client never hears it
    runs: list[str] = []
    with pytest.raises(VrsError) as err:
        await _issue_once(proxied, "LOSTANSWER22", runs)
    assert err.value.code is VrsErrorCode.STORE_UNAVAILABLE
    assert runs == ["LOSTANSWER22"]
    # The row exists although its caller was told "unavailable": the case the fault tests count
    # as a row without a delivered answer. Written once, not twice.
    assert await _count_issuances(store, "LOSTANSWER22") == 1


async def test_an_issuance_lookup_lost_is_retried_once(
    proxied_store: tuple[VrsStore, CuttingProxy],
) -> None:
    """`VrsStore.statements`: the lookup is a read, retried once on a fresh connection."""
    proxied, proxy = proxied_store
    proxy.cut(b"vrs_issuance_lookup")
    async with proxied.statements(AMAGASAKI) as statements:
        found = await statements.find_person(my_number=MY_NUMBER)
        assert found is not None
        outcome = await statements.record_issuance(issuance(found.person, "LOOKUPRETRY2"))
    assert outcome is IssuanceOutcome.RECORDED
    assert proxy.cuts == 1


async def test_an_issuance_write_lost_is_not_retried(
    proxied_store: tuple[VrsStore, CuttingProxy], store: VrsStore
) -> None:
    """`VrsStore.statements`: a write whose connection breaks is never sent again."""
    proxied, proxy = proxied_store
    calls: list[str] = []

    async def issue() -> None:
        async with proxied.statements(AMAGASAKI) as statements:
            found = await statements.find_person(my_number=MY_NUMBER)
            assert found is not None
            proxy.cut(b"vrs_record_issuance")  # before the server sees the write
            calls.append("write")
            await statements.record_issuance(issuance(found.person, "NORETRYCALL2"))

    with pytest.raises(VrsError) as err:  # driver errors become VrsError as the block exits
        await issue()
    assert calls == ["write"]
    assert err.value.code is VrsErrorCode.STORE_UNAVAILABLE
    assert proxy.cuts == 1
    assert await _count_issuances(store, "NORETRYCALL2") == 0


async def test_reference_reads_are_retried_once(
    proxied_store: tuple[VrsStore, CuttingProxy],
) -> None:
    proxied, proxy = proxied_store
    proxy.cut(b"FROM municipalities")
    assert [m.code for m in await proxied.list_municipalities()]
    assert proxy.cuts == 1


async def test_the_readiness_ping_is_retried_once(
    proxied_store: tuple[VrsStore, CuttingProxy],
) -> None:
    proxied, proxy = proxied_store
    proxy.cut(b"SELECT 1\x00")  # a connection from before a restart: the server is back
    await proxied.ping()
    assert proxy.cuts == 1


async def test_an_exhausted_pool_answers_unavailable_instead_of_waiting(
    db: asyncpg.Pool, master_key: bytes, lookup_key: bytes, db_url: str
) -> None:
    pool = await asyncpg.create_pool(db_url, min_size=1, max_size=1)
    try:
        store = VrsStore(pool, master_key=master_key, lookup_key=lookup_key, acquire_timeout_s=0.2)
        async with pool.acquire():  # the only connection is busy
            async with asyncio.timeout(10):
                with pytest.raises(VrsError) as err:
                    async with store.scoped(AMAGASAKI):
                        pass
        assert err.value.code is VrsErrorCode.STORE_UNAVAILABLE
        assert is_dependency_failure(err.value)
    finally:
        await pool.close()


async def test_a_backend_terminated_mid_query_is_unavailable(
    db_url: str, pg_server_url: str
) -> None:
    conn = await asyncpg.connect(db_url)
    pid = conn.get_server_pid()
    admin = await asyncpg.connect(pg_server_url)
    try:
        sleeping = asyncio.create_task(conn.execute("SELECT pg_sleep(20)"))
        while not await admin.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND state = 'active'", pid
        ):
            await asyncio.sleep(0.02)
        await admin.execute("SELECT pg_terminate_backend($1)", pid)
        with pytest.raises(VrsError) as err, translate_driver_errors():
            await sleeping
        assert err.value.code is VrsErrorCode.STORE_UNAVAILABLE
        # asyncpg reports the server's 57P01 as the connection closing mid-operation (08003).
        assert isinstance(err.value.__cause__, asyncpg.PostgresError)
        assert err.value.__cause__.sqlstate in {"57P01", "08003"}
    finally:
        await admin.close()
        conn.terminate()


async def test_too_many_connections_is_unavailable(db_url: str, pg_server_url: str) -> None:
    admin = await asyncpg.connect(pg_server_url)
    try:
        await admin.execute("DROP ROLE IF EXISTS certsvc_fault_limited")
        await admin.execute("CREATE ROLE certsvc_fault_limited LOGIN CONNECTION LIMIT 0")
        limited = db_url.replace("postgresql://postgres@", "postgresql://certsvc_fault_limited@")
        with pytest.raises(VrsError) as err, translate_driver_errors():
            await asyncpg.connect(limited)
        assert isinstance(err.value.__cause__, asyncpg.TooManyConnectionsError)
        assert err.value.code is VrsErrorCode.STORE_UNAVAILABLE
    finally:
        await admin.execute("DROP ROLE IF EXISTS certsvc_fault_limited")
        await admin.close()


@pytest.mark.parametrize(
    "exc",
    [
        asyncpg.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.CrashShutdownError("terminating connection because of crash"),
        asyncpg.CannotConnectNowError("the database system is starting up"),
        asyncpg.TooManyConnectionsError("sorry, too many clients already"),
        asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        asyncpg.InterfaceError("connection is closed"),
        asyncpg.InternalClientError('cannot switch to state 13; protocol is in the "failed" state'),
        asyncpg.InternalClientError(
            "cannot switch to state 15; another operation (2) is in progress"
        ),
        ConnectionRefusedError(111, "refused"),
        ConnectionResetError(104, "reset"),
        FileNotFoundError(2, "no socket"),
        TimeoutError(),
    ],
    ids=type,
)
def test_unavailable_errors_are_classified_so(exc: Exception) -> None:
    assert is_store_unavailable(exc)
    with pytest.raises(VrsError) as err, translate_driver_errors():
        raise exc
    assert err.value.code is VrsErrorCode.STORE_UNAVAILABLE
    assert is_dependency_failure(exc)
    assert is_dependency_failure(err.value)


@pytest.mark.parametrize(
    "exc",
    [
        asyncpg.PostgresSyntaxError("syntax error"),
        asyncpg.UniqueViolationError("duplicate key"),
        asyncpg.InterfaceError("cannot perform operation: another operation is in progress"),
        asyncpg.InternalClientError(
            "cannot switch to state 15; another operation (12) is in progress"
        ),
    ],
    ids=type,
)
def test_errors_of_the_statement_stay_store_failed(exc: Exception) -> None:
    assert not is_store_unavailable(exc)
    with pytest.raises(VrsError) as err, translate_driver_errors():
        raise exc
    assert err.value.code is VrsErrorCode.STORE_FAILED
    assert not is_dependency_failure(err.value)


@pytest.mark.parametrize(
    "exc",
    [
        redis.exceptions.ConnectionError("refused"),
        redis.exceptions.TimeoutError("timed out"),
        redis.exceptions.BusyLoadingError("loading the dataset in memory"),
    ],
    ids=type,
)
def test_redis_down_is_a_dependency_failure(exc: Exception) -> None:
    assert is_dependency_failure(exc)


def test_redis_refusing_a_command_is_not_a_dependency_failure() -> None:
    assert not is_dependency_failure(redis.exceptions.ResponseError("WRONGTYPE"))
