"""Partition per municipality: a transaction scoped to A neither reads nor writes B's rows, even
with hand-written SQL, although the pool's login is a superuser."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from tests.store.conftest import AMAGASAKI, CHIYODA, NOW
from tests.store.test_store import issuance, seed_people
from vrs_client import AuditEvent, VrsError, VrsErrorCode, VrsStore, chain_audit_events

# Table names below come from this constant, never from input (hence the S608 exemptions).
PARTITIONED = (
    "persons",
    "vaccinations",
    "issuances",
    "audit_events",
    "data_keys",
    "audit_checkpoints",
)


async def _seed_both(store: VrsStore, tmp_path: Path) -> None:
    await seed_people(store, tmp_path)
    for code, number in ((AMAGASAKI, "123456789018"), (CHIYODA, "987654321000")):
        async with store.scoped(code) as tx:
            person = await tx.find_person_by_my_number(number)
            assert person is not None
            await tx.record_issuance(
                issuance(person, ("A" if code == AMAGASAKI else "C") * 12),
                audit=AuditEvent(at=NOW, actor="app", action="issuance.create", outcome="ok"),
            )
        async with store.connection() as conn:
            await chain_audit_events(conn, municipality_code=code)


async def test_scope_a_reads_no_row_of_b(store: VrsStore, tmp_path: Path) -> None:
    await _seed_both(store, tmp_path)
    async with store.scoped(AMAGASAKI) as tx:
        conn = tx.connection
        assert await conn.fetchval("SELECT current_user") == "certsvc_app"
        for table in PARTITIONED:
            query = f"SELECT municipality_code FROM {table}"  # noqa: S608
            codes = {r[0] for r in await conn.fetch(query)}
            assert codes == {AMAGASAKI}, table
            query = f"SELECT * FROM {table} WHERE municipality_code = $1"  # noqa: S608
            rows = await conn.fetch(query, CHIYODA)
            assert rows == [], table
    # The superuser login sees both: the partition comes from the scope, not the login.
    async with store.connection() as conn:
        codes = {r[0] for r in await conn.fetch("SELECT municipality_code FROM persons")}
        assert codes == {AMAGASAKI, CHIYODA}


async def test_scope_a_writes_no_row_of_b(store: VrsStore, tmp_path: Path) -> None:
    await _seed_both(store, tmp_path)
    async with store.scoped(AMAGASAKI) as tx:
        conn = tx.connection
        for table in ("persons", "vaccinations", "issuances", "audit_events"):
            deleted = await conn.execute(
                f"DELETE FROM {table} WHERE municipality_code = $1",  # noqa: S608
                CHIYODA,
            )
            assert deleted == "DELETE 0", table
        assert await conn.execute("UPDATE persons SET status = 'deceased'") == "UPDATE 1"
        assert (
            await conn.execute("UPDATE issuances SET revoked_at = now(), revoke_reason = 'x'")
            == "UPDATE 1"
        )
        # Moving a row of A into B is refused by the policy's WITH CHECK.
        with pytest.raises(VrsError) as err:
            await _in_savepoint(conn, "UPDATE persons SET municipality_code = $1", CHIYODA)
        assert err.value.code is VrsErrorCode.STORE_FAILED
        for statement in (
            "INSERT INTO audit_events (municipality_code, at, actor, action, outcome)"
            " VALUES ($1, now(), 'x', 'a', 'ok')",
            "INSERT INTO data_keys (municipality_code, wrapped_key, master_key_id, created_at)"
            " VALUES ($1, decode(repeat('00', 61), 'hex'), decode(repeat('00', 8), 'hex'), now())",
            "INSERT INTO vaccinations (person_id, municipality_code, dose_number, vaccinated_on,"
            " product, lot_number) SELECT id, $1, 9, '2022-01-01', 'COMIRNATY', 'X1'"
            " FROM persons",
        ):
            with pytest.raises(VrsError):
                await _in_savepoint(conn, statement, CHIYODA)
    async with store.connection() as conn:
        chiyoda = await conn.fetch(
            "SELECT status FROM persons WHERE municipality_code = $1", CHIYODA
        )
        assert [r[0] for r in chiyoda] == ["resident"]
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM issuances"
                " WHERE revoked_at IS NOT NULL AND municipality_code = $1",
                CHIYODA,
            )
            == 0
        )
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM audit_events WHERE municipality_code = $1", CHIYODA
            )
            == 2
        )  # the import's and the issuance's, nothing added from Amagasaki's scope


async def test_vaccination_cannot_point_at_other_partition(store: VrsStore, tmp_path: Path) -> None:
    """Even a guessed person id of B with A's municipality code is refused (composite key)."""
    await _seed_both(store, tmp_path)
    async with store.connection() as conn:
        chiyoda_id = await conn.fetchval(
            "SELECT id FROM persons WHERE municipality_code = $1", CHIYODA
        )
    async with store.scoped(AMAGASAKI) as tx:
        with pytest.raises(VrsError):
            await _in_savepoint(
                tx.connection,
                "INSERT INTO vaccinations (person_id, municipality_code, dose_number,"
                " vaccinated_on, product, lot_number)"
                " VALUES ($1, $2, 9, '2022-01-01', 'COMIRNATY', 'X1')",
                chiyoda_id,
                AMAGASAKI,
            )


async def test_app_role_without_scope_sees_nothing(store: VrsStore, tmp_path: Path) -> None:
    await _seed_both(store, tmp_path)
    async with store.connection() as conn, conn.transaction():
        await conn.execute("SET LOCAL ROLE certsvc_app")
        for table in PARTITIONED:
            query = f"SELECT count(*) FROM {table}"  # noqa: S608
            assert await conn.fetchval(query) == 0, table
        assert await conn.fetchval("SELECT count(*) FROM municipalities") > 0


async def test_app_role_has_no_ddl_or_truncate(store: VrsStore) -> None:
    """(SET ROLE back to the login cannot be prevented: the scope guards against mistakes in
    queries, and against a compromised app only when the login itself is not privileged.)"""
    async with store.scoped(AMAGASAKI) as tx:
        for statement in (
            "TRUNCATE persons",
            "ALTER TABLE persons DISABLE ROW LEVEL SECURITY",
            "DROP POLICY persons_partition ON persons",
            "UPDATE municipalities SET kiosk_fee_yen = 0",
        ):
            with pytest.raises(VrsError):
                await _in_savepoint(tx.connection, statement)


async def _in_savepoint(conn: asyncpg.Connection | object, statement: str, *args: object) -> None:
    from vrs_client._store import translate_driver_errors

    assert isinstance(conn, asyncpg.Connection | asyncpg.pool.PoolConnectionProxy)
    with translate_driver_errors():
        async with conn.transaction():
            await conn.execute(statement, *args)
