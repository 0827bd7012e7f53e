"""An issuance's two statements (`VrsStore.statements`, migration 0007): the lookup and the write
give what the scoped transaction gives, stay in their municipality's partition, and are exactly
two queries on the wire."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import asyncpg
import msgspec
import pytest

from tests.store.conftest import AMAGASAKI, CHIYODA, NOW
from tests.store.test_store import MY_NUMBER, MY_NUMBER_2, issuance, passport, seed_people
from vrs_client import (
    AuditEvent,
    IssuanceKind,
    IssuanceOutcome,
    VoidOutcome,
    VrsError,
    VrsErrorCode,
    VrsStore,
    pool_reset,
)

EVENT = AuditEvent(at=NOW, actor="app", action="issue.app.domestic", outcome="issued")


async def test_lookup_finds_what_the_transaction_finds(store: VrsStore, tmp_path: Path) -> None:
    await seed_people(store, tmp_path)
    async with store.scoped(AMAGASAKI) as tx:
        expected = await tx.find_person_by_my_number(MY_NUMBER)
    assert expected is not None
    async with store.statements(AMAGASAKI) as statements:
        found = await statements.find_person(my_number=MY_NUMBER)
        assert found is not None
        assert found.person == expected
        assert [v.dose_number for v in found.person.vaccinations] == [1, 2]
        assert found.abroad_passport is None
        by_address = await statements.find_person(address_number="1001")
        assert by_address is not None
        assert by_address.person == expected
        # Chiyoda's resident is not found from Amagasaki's partition, by number or address.
        assert await statements.find_person(my_number=MY_NUMBER_2) is None
        assert await statements.find_person(address_number="2001") is None
        with pytest.raises(ValueError, match="exactly one"):
            await statements.find_person()
        with pytest.raises(ValueError, match="exactly one"):
            await statements.find_person(my_number=MY_NUMBER, address_number="1001")
    async with store.statements(CHIYODA) as statements:
        other = await statements.find_person(my_number=MY_NUMBER_2)
        assert other is not None
        assert other.person.name == "千代田\u3000太郎"


async def test_write_outcomes_and_audit(store: VrsStore, tmp_path: Path) -> None:
    await seed_people(store, tmp_path)
    async with store.statements(AMAGASAKI) as statements:
        found = await statements.find_person(my_number=MY_NUMBER)
        assert found is not None
        person = found.person
        record = issuance(person, "AAAAAAAAAAAA")
        assert await statements.record_issuance(record, audit=EVENT) is IssuanceOutcome.RECORDED
        assert await statements.record_issuance(record, audit=EVENT) is (
            IssuanceOutcome.CERTIFICATE_ID_TAKEN
        )
        ghost = msgspec.structs.replace(issuance(person, "BBBBBBBBBBBB"), person_id=-1)
        assert await statements.record_issuance(ghost, audit=EVENT) is (
            IssuanceOutcome.PERSON_NOT_FOUND
        )
    # Amagasaki's person cannot be issued a certificate through Chiyoda's partition.
    async with store.statements(CHIYODA) as statements:
        assert await statements.record_issuance(issuance(person, "CCCCCCCCCCCC"), audit=EVENT) is (
            IssuanceOutcome.PERSON_NOT_FOUND
        )
    async with store.scoped(AMAGASAKI) as tx:
        stored = await tx.get_issuance("AAAAAAAAAAAA")
        assert stored is not None
        assert stored.records_digest == person.record_digest
        assert await tx.get_issuance("BBBBBBBBBBBB") is None
        actions = await tx.connection.fetch(
            "SELECT action FROM audit_events WHERE action <> 'vrs.import'"
        )
        assert [r[0] for r in actions] == ["issue.app.domestic"]  # one: not one per attempt
    async with store.connection() as conn:
        assert await conn.fetchval("SELECT count(*) FROM issuances") == 1
        chiyoda_events = await conn.fetchval(
            "SELECT count(*) FROM audit_events WHERE municipality_code = $1 "
            "AND action <> 'vrs.import'",
            CHIYODA,
        )
        assert chiyoda_events == 0


async def test_lookup_reads_the_latest_passport_on_record(store: VrsStore, tmp_path: Path) -> None:
    await seed_people(store, tmp_path)
    today = NOW.date()
    async with store.statements(AMAGASAKI) as statements:
        found = await statements.find_person(my_number=MY_NUMBER, abroad_passport_on=today)
        assert found is not None
        assert found.abroad_passport is None
        person = found.person
        valid = passport(today + timedelta(days=365))
        abroad = issuance(person, "EEEEEEEEEEEE", kind=IssuanceKind.ABROAD, items=valid)
        assert await statements.record_issuance(abroad) is IssuanceOutcome.RECORDED
        found = await statements.find_person(address_number="1001", abroad_passport_on=today)
        assert found is not None
        assert found.abroad_passport == valid
        # Not asked for: not read.
        found = await statements.find_person(my_number=MY_NUMBER)
        assert found is not None
        assert found.abroad_passport is None
        # A later issuance whose passport has expired hides the older one, until it is voided.
        expired = passport(today - timedelta(days=1))
        later = issuance(person, "FFFFFFFFFFFF", kind=IssuanceKind.ABROAD, items=expired, minutes=5)
        assert await statements.record_issuance(later) is IssuanceOutcome.RECORDED
        found = await statements.find_person(my_number=MY_NUMBER, abroad_passport_on=today)
        assert found is not None
        assert found.abroad_passport is None
    async with store.scoped(AMAGASAKI) as tx:
        assert await tx.void_issuance("FFFFFFFFFFFF", "print_failed", NOW) is VoidOutcome.VOIDED
    async with store.statements(AMAGASAKI) as statements:
        found = await statements.find_person(my_number=MY_NUMBER, abroad_passport_on=today)
        assert found is not None
        assert found.abroad_passport == valid


async def test_functions_enter_the_partition_themselves(store: VrsStore, tmp_path: Path) -> None:
    """Called by hand as the superuser login, the functions still run under row-level security
    in the municipality they are given, and leave the session as it was."""
    await seed_people(store, tmp_path)
    digest = store.keys.my_number_hmac(MY_NUMBER)  # Amagasaki's resident
    async with store.connection() as conn:
        rows = await conn.fetch(
            "SELECT * FROM vrs_issuance_lookup($1, $2, NULL, false)", CHIYODA, digest
        )
        assert rows == []
        rows = await conn.fetch(
            "SELECT * FROM vrs_issuance_lookup($1, $2, NULL, false)", AMAGASAKI, digest
        )
        assert len(rows) == 1
        assert await conn.fetchval("SELECT current_user") == "postgres"
        assert await conn.fetchval("SELECT current_setting('vrs.municipality_code', true)") in (
            None,
            "",
        )


async def test_statements_refuse_a_bad_code(store: VrsStore) -> None:
    with pytest.raises(VrsError) as err:
        async with store.statements("282021"):
            pass
    assert err.value.code is VrsErrorCode.MUNICIPALITY_CODE_INVALID


@pytest.fixture
async def logged_pool(
    db: asyncpg.Pool, db_url: str
) -> AsyncIterator[tuple[asyncpg.Pool, list[str]]]:
    """A one-connection pool over the test database, with the service's reset hook, that records
    every query it sends."""
    queries: list[str] = []

    async def init(conn: asyncpg.Connection) -> None:
        conn.add_query_logger(lambda logged: queries.append(logged.query))

    pool = await asyncpg.create_pool(db_url, min_size=1, max_size=1, init=init, reset=pool_reset)
    try:
        yield pool, queries
    finally:
        await pool.close()


async def test_an_issuance_is_two_queries(
    logged_pool: tuple[asyncpg.Pool, list[str]],
    store: VrsStore,
    master_key: bytes,
    lookup_key: bytes,
    tmp_path: Path,
) -> None:
    await seed_people(store, tmp_path)
    pool, queries = logged_pool
    logged = VrsStore(pool, master_key=master_key, lookup_key=lookup_key)
    async with logged.statements(AMAGASAKI) as statements:  # first use: unwraps the data key
        assert await statements.find_person(my_number=MY_NUMBER) is not None
    queries.clear()
    async with logged.statements(AMAGASAKI) as statements:
        found = await statements.find_person(my_number=MY_NUMBER, abroad_passport_on=NOW.date())
        assert found is not None
        outcome = await statements.record_issuance(
            issuance(found.person, "GGGGGGGGGGGG"), audit=EVENT
        )
        assert outcome is IssuanceOutcome.RECORDED
    await asyncio.sleep(0)  # asyncpg calls query loggers soon after, not during, the query
    sent = list(queries)  # acquire to release: no BEGIN, scope, COMMIT or reset query
    assert len(sent) == 2, sent
    assert "vrs_issuance_lookup" in sent[0]
    assert "vrs_record_issuance" in sent[1]


async def test_the_service_login_issues_and_an_outsider_cannot(
    store: VrsStore, db_url: str, master_key: bytes, lookup_key: bytes, tmp_path: Path
) -> None:
    """With the login docs/operations.md prescribes (not a superuser, only a member of
    certsvc_app), both statements work and stay in their partition; a login that is not a member
    can neither call the functions nor read a table."""
    await seed_people(store, tmp_path)
    password = secrets.token_urlsafe(16)
    service, outsider = "certsvc_svc_statements_test", "certsvc_outsider_statements_test"
    async with store.connection() as admin:
        await admin.execute(f"DROP ROLE IF EXISTS {service}, {outsider}")
        await admin.execute(
            f"CREATE ROLE {service} LOGIN PASSWORD '{password}' IN ROLE certsvc_app"
        )
        await admin.execute(f"CREATE ROLE {outsider} LOGIN PASSWORD '{password}'")
    try:
        pool = await asyncpg.create_pool(
            db_url, user=service, password=password, min_size=1, max_size=1, reset=pool_reset
        )
        try:
            as_service = VrsStore(pool, master_key=master_key, lookup_key=lookup_key)
            async with as_service.statements(AMAGASAKI) as statements:
                found = await statements.find_person(my_number=MY_NUMBER)
                assert found is not None
                assert await statements.find_person(my_number=MY_NUMBER_2) is None
                outcome = await statements.record_issuance(
                    issuance(found.person, "SERVICELOGIN"), audit=EVENT
                )
                assert outcome is IssuanceOutcome.RECORDED
        finally:
            await pool.close()
        conn = await asyncpg.connect(db_url, user=outsider, password=password)
        try:
            digest = store.keys.my_number_hmac(MY_NUMBER)
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.fetch(
                    "SELECT * FROM vrs_issuance_lookup($1, $2, NULL, false)", AMAGASAKI, digest
                )
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.fetch("SELECT id FROM persons")
        finally:
            await conn.close()
    finally:
        async with store.connection() as admin:
            await admin.execute(f"DROP ROLE IF EXISTS {service}, {outsider}")
    async with store.scoped(AMAGASAKI) as tx:
        recorded = await tx.get_issuance("SERVICELOGIN")
        assert recorded is not None
