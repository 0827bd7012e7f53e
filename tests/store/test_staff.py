"""Staff accounts on the real stores: sign-in, lockout, sessions, passwords, terminals, shared
IDs, administration and its audit events. Time is moved with the injected clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import argon2
import asyncpg
import msgspec
import pytest
import redis.asyncio as redis_asyncio

from certsvc.staff import (
    AdminRefusal,
    PasswordRefusal,
    Role,
    SignedIn,
    SignInRefusal,
    StaffAdminError,
    StaffService,
    StaffSessionExpired,
    create_demo_accounts,
)
from tests.store.conftest import AMAGASAKI, CHIYODA
from tests.store.test_store import MY_NUMBER, issuance, seed_people
from vrs_client import (
    AuditChainProblem,
    AuditEvent,
    VrsStore,
    canonical_audit_row,
    chain_audit_events,
    list_audit_events,
    verify_audit_chain,
)

START = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)  # 09:00 JST
TODAY = date(2026, 12, 1)
GOOD = "a long enough pass phrase"
# argon2id with small parameters: the same code paths, a fraction of the CPU (a shared test
# machine runs hundreds of hashes here). The defaults are checked in
# test_passwords_are_stored_with_the_default_argon2id.
CHEAP = argon2.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


class MovableClock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def move(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
def staff(
    store: VrsStore,
    db: asyncpg.Pool,
    redis_client: redis_asyncio.Redis,
    lookup_key: bytes,
    clock: MovableClock,
) -> StaffService:
    """A staff service over the emptied database (municipalities seeded) and flushed Redis."""
    return StaffService(
        pool=db, redis=redis_client, lookup_key=lookup_key, clock=clock, hasher=CHEAP
    )


async def _member(
    staff: StaffService,
    staff_id: str = "tanaka",
    *,
    role: Role = Role.COUNTER_STAFF,
    password: str | None = GOOD,
    **kw: object,
) -> str:
    """Create an account; with `password`, sign in once and set it (the forced change)."""
    otp = await staff.create(
        staff_id=staff_id,
        role=role,
        municipalities=kw.pop("municipalities", [AMAGASAKI]),  # type: ignore[arg-type]
        expires_on=kw.pop("expires_on", TODAY + timedelta(days=30)),  # type: ignore[arg-type]
        created_by="admin-op",
        **kw,  # type: ignore[arg-type]
    )
    if password is None:
        return otp
    signed = await staff.sign_in(staff_id, otp, terminal_id=None)
    assert isinstance(signed, SignedIn)
    assert await staff.change_password(signed.session_id, otp, password) is None
    await staff.sign_out(signed.session_id)
    return password


async def _keys(client: redis_asyncio.Redis, pattern: str) -> list[str]:
    return [k.decode() if isinstance(k, bytes) else k for k in await client.keys(pattern)]


async def _signed_in(staff: StaffService, staff_id: str = "tanaka") -> SignedIn:
    signed = await staff.sign_in(staff_id, GOOD, terminal_id=None)
    assert isinstance(signed, SignedIn)
    return signed


# --- sign-in ------------------------------------------------------------------------------------


async def test_sign_in_with_the_one_time_password_forces_a_change(staff: StaffService) -> None:
    otp = await _member(staff, password=None)
    signed = await staff.sign_in("tanaka", otp, terminal_id=None)
    assert isinstance(signed, SignedIn)
    assert signed.session.staff.must_change_password
    assert signed.session.staff.role is Role.COUNTER_STAFF
    assert signed.session.staff.municipalities == (AMAGASAKI,)
    assert await staff.change_password(signed.session_id, otp, GOOD) is None
    live = await staff.session(signed.session_id)
    assert live is not None
    assert not live.staff.must_change_password
    assert await staff.sign_in("tanaka", otp, terminal_id=None) is (
        SignInRefusal.STAFF_SIGN_IN_FAILED
    )
    assert isinstance(await staff.sign_in("TANAKA", GOOD, terminal_id=None), SignedIn)


async def test_sign_in_failures_answer_alike(staff: StaffService, clock: MovableClock) -> None:
    await _member(staff)
    await _member(staff, "suzuki", expires_on=TODAY)
    wrong = await staff.sign_in("tanaka", GOOD + "x", terminal_id=None)
    unknown = await staff.sign_in("nobody", GOOD, terminal_id=None)
    malformed = await staff.sign_in("no body!", GOOD, terminal_id=None)
    assert isinstance(await staff.sign_in("suzuki", GOOD, terminal_id=None), SignedIn)
    clock.move(days=1)  # suzuki's last day has passed
    expired = await staff.sign_in("suzuki", GOOD, terminal_id=None)
    assert {wrong, unknown, malformed, expired} == {SignInRefusal.STAFF_SIGN_IN_FAILED}


async def test_an_expired_account_cannot_sign_in_and_its_sessions_end(
    staff: StaffService,
) -> None:
    await _member(staff)
    signed = await _signed_in(staff)
    assert await staff.expire("tanaka", by="admin-op")
    assert await staff.session(signed.session_id) is None
    assert await staff.sign_in("tanaka", GOOD, terminal_id=None) is (
        SignInRefusal.STAFF_SIGN_IN_FAILED
    )
    assert not await staff.expire("nobody", by="admin-op")


async def test_lockout_after_five_failures_for_fifteen_minutes(
    staff: StaffService, clock: MovableClock
) -> None:
    await _member(staff)
    for _ in range(5):
        assert await staff.sign_in("tanaka", "wrong password!", terminal_id=None) is (
            SignInRefusal.STAFF_SIGN_IN_FAILED
        )
    assert await staff.sign_in("tanaka", GOOD, terminal_id=None) is SignInRefusal.STAFF_LOCKED_OUT
    assert [r.locked for r in await staff.review()] == [True]
    clock.move(minutes=14, seconds=59)
    assert await staff.sign_in("tanaka", GOOD, terminal_id=None) is SignInRefusal.STAFF_LOCKED_OUT
    clock.move(seconds=2)
    assert isinstance(await staff.sign_in("tanaka", GOOD, terminal_id=None), SignedIn)
    assert [r.locked for r in await staff.review()] == [False]


async def test_failures_far_apart_do_not_lock(staff: StaffService, clock: MovableClock) -> None:
    await _member(staff)
    for _ in range(6):
        await staff.sign_in("tanaka", "wrong password!", terminal_id=None)
        clock.move(minutes=16)
    assert isinstance(await staff.sign_in("tanaka", GOOD, terminal_id=None), SignedIn)


async def test_unknown_ids_lock_out_alike(staff: StaffService) -> None:
    for _ in range(5):
        await staff.sign_in("nobody", "wrong password!", terminal_id=None)
    assert await staff.sign_in("nobody", GOOD, terminal_id=None) is SignInRefusal.STAFF_LOCKED_OUT


async def test_lockout_key_is_an_hmac_with_a_ttl(
    staff: StaffService, redis_client: redis_asyncio.Redis
) -> None:
    await _member(staff)
    await staff.sign_in("tanaka", "wrong password!", terminal_id=None)
    keys = await _keys(redis_client, "*")
    assert len(keys) == 1
    assert keys[0].startswith("staff:fail:")
    assert len(keys[0].removeprefix("staff:fail:")) == 64  # hex SHA-256 HMAC
    assert "tanaka" not in keys[0].lower()
    assert 0 < await redis_client.ttl(keys[0]) <= 15 * 60 + 1
    values = await redis_client.hgetall(keys[0])
    assert not any(b"tanaka" in v for v in values.values())


async def test_reset_password_unlocks_and_ends_sessions(staff: StaffService) -> None:
    await _member(staff)
    signed = await _signed_in(staff)
    for _ in range(5):
        await staff.sign_in("tanaka", "wrong password!", terminal_id=None)
    otp = await staff.reset_password("tanaka", by="admin-op")
    assert otp is not None
    assert await staff.session(signed.session_id) is None
    again = await staff.sign_in("tanaka", otp, terminal_id=None)
    assert isinstance(again, SignedIn)
    assert again.session.staff.must_change_password
    assert await staff.reset_password("nobody", by="admin-op") is None


# --- sessions -----------------------------------------------------------------------------------


async def test_session_ends_after_fifteen_idle_minutes(
    staff: StaffService, clock: MovableClock
) -> None:
    await _member(staff)
    signed = await _signed_in(staff)
    clock.move(minutes=14)
    assert await staff.session(signed.session_id) is not None
    clock.move(minutes=14)  # 28 min since sign-in, 14 since the last request
    live = await staff.session(signed.session_id)
    assert live is not None
    assert live.last_seen_at == clock.now
    clock.move(minutes=15, seconds=1)
    assert await staff.session(signed.session_id) is None
    clock.move(minutes=-10)  # gone for good: deleted, not just refused
    assert await staff.session(signed.session_id) is None


async def test_session_ends_eight_hours_after_sign_in(
    staff: StaffService, clock: MovableClock
) -> None:
    await _member(staff)
    signed = await _signed_in(staff)
    for _ in range(8 * 6):
        clock.move(minutes=10)
        assert await staff.session(signed.session_id) is not None
    clock.move(seconds=1)
    assert await staff.session(signed.session_id) is None


async def test_session_key_is_an_hmac_holding_only_who_where_when(
    staff: StaffService, redis_client: redis_asyncio.Redis
) -> None:
    await _member(staff)
    signed = await _signed_in(staff)
    keys = await _keys(redis_client, "staff:session:*")
    assert len(keys) == 1
    assert signed.session_id not in keys[0]
    assert 0 < await redis_client.ttl(keys[0]) <= 15 * 60
    raw = await redis_client.get(keys[0])
    assert isinstance(raw, bytes)
    stored = msgspec.json.decode(raw)
    assert set(stored) == {"staff_id", "terminal_id", "created_at", "last_seen_at", "generation"}


async def test_sign_out_deletes_the_session(
    staff: StaffService, redis_client: redis_asyncio.Redis
) -> None:
    await _member(staff)
    signed = await _signed_in(staff)
    await staff.sign_out(signed.session_id)
    assert await staff.session(signed.session_id) is None
    assert await redis_client.keys("staff:session:*") == []


async def test_every_sign_in_gets_a_new_session_id(staff: StaffService) -> None:
    await _member(staff)
    first, second = await _signed_in(staff), await _signed_in(staff)
    assert first.session_id != second.session_id
    assert len(first.session_id) >= 43  # 32 random bytes
    assert await staff.session("a-session-id-the-client-chose") is None


# --- passwords ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "new", "code"),
    [
        (GOOD, "short pass", PasswordRefusal.PASSWORD_TOO_SHORT),
        (GOOD, "x" * 257, PasswordRefusal.PASSWORD_TOO_LONG),
        (GOOD, "my id is TaNaKa, ok?", PasswordRefusal.PASSWORD_CONTAINS_ID),
        (GOOD, "Password1234", PasswordRefusal.PASSWORD_TOO_COMMON),
        (GOOD, "1q2w3e4r5t6y", PasswordRefusal.PASSWORD_TOO_COMMON),
        (GOOD, GOOD, PasswordRefusal.PASSWORD_REUSED),
        ("not the current one", "a brand new pass phrase", PasswordRefusal.PASSWORD_CURRENT_WRONG),
    ],
)
async def test_change_password_refusal(
    staff: StaffService, current: str, new: str, code: PasswordRefusal
) -> None:
    await _member(staff)
    signed = await _signed_in(staff)
    assert await staff.change_password(signed.session_id, current, new) is code
    # The password is unchanged.
    assert isinstance(await staff.sign_in("tanaka", GOOD, terminal_id=None), SignedIn)


async def test_change_password_needs_a_live_session(staff: StaffService) -> None:
    with pytest.raises(StaffSessionExpired):
        await staff.change_password("no-such-session", GOOD, "a brand new pass phrase")


async def test_passwords_are_stored_with_the_default_argon2id(
    store: VrsStore,
    db: asyncpg.Pool,
    redis_client: redis_asyncio.Redis,
    lookup_key: bytes,
    clock: MovableClock,
) -> None:
    staff = StaffService(pool=db, redis=redis_client, lookup_key=lookup_key, clock=clock)
    otp = await _member(staff, password=None)
    async with db.acquire() as conn:
        stored = await conn.fetchval("SELECT password_hash FROM staff_accounts")
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert otp not in stored
    assert isinstance(await staff.sign_in("tanaka", otp, terminal_id=None), SignedIn)


async def test_a_hash_of_other_parameters_is_remade_at_sign_in(
    staff: StaffService, db: asyncpg.Pool
) -> None:
    await _member(staff)
    stronger = argon2.PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1)
    async with db.acquire() as conn:
        await conn.execute("UPDATE staff_accounts SET password_hash = $1", stronger.hash(GOOD))
    await _signed_in(staff)
    async with db.acquire() as conn:
        stored = await conn.fetchval("SELECT password_hash FROM staff_accounts")
    assert stored.startswith("$argon2id$v=19$m=1024,t=1,p=1$")


# --- administration -----------------------------------------------------------------------------


async def _refused(staff: StaffService, **kw: object) -> AdminRefusal:
    args: dict[str, object] = {
        "staff_id": "sato",
        "role": Role.COUNTER_STAFF,
        "municipalities": [AMAGASAKI],
        "expires_on": TODAY + timedelta(days=30),
        "created_by": "admin-op",
    }
    with pytest.raises(StaffAdminError) as refused:
        await staff.create(**(args | kw))  # type: ignore[arg-type]
    return refused.value.code


async def test_create_refusals(staff: StaffService) -> None:
    await _member(staff, "sato", password=None)
    assert await _refused(staff) is AdminRefusal.STAFF_ID_TAKEN
    assert await _refused(staff, staff_id="x") is AdminRefusal.STAFF_ID_INVALID
    assert await _refused(staff, staff_id="emp123456789012") is AdminRefusal.STAFF_ID_INVALID
    assert await _refused(staff, staff_id="ok", role="clerk") is AdminRefusal.STAFF_ROLE_INVALID
    assert await _refused(staff, staff_id="ok", municipalities=[]) is (
        AdminRefusal.STAFF_MUNICIPALITY_REQUIRED
    )
    assert await _refused(staff, staff_id="ok", municipalities=[AMAGASAKI, "999999"]) is (
        AdminRefusal.STAFF_MUNICIPALITY_UNKNOWN
    )
    assert await _refused(staff, staff_id="ok", expires_on=TODAY - timedelta(days=1)) is (
        AdminRefusal.STAFF_EXPIRY_IN_PAST
    )
    assert await _refused(staff, staff_id="ok", shared=True) is (
        AdminRefusal.STAFF_SHARED_NEEDS_TERMINALS
    )
    assert await _refused(staff, staff_id="ok", terminals=["desk 1"]) is (
        AdminRefusal.STAFF_TERMINALS_NOT_SHARED
    )
    assert await _refused(staff, staff_id="ok", shared=True, terminals=["desk 9"]) is (
        AdminRefusal.TERMINAL_UNKNOWN
    )
    assert await _refused(staff, staff_id="ok", created_by="") is AdminRefusal.OPERATOR_INVALID
    assert [m.staff_id for m in await staff.list()] == ["sato"]


async def test_contractor_expiry_is_capped_by_the_contract_end(staff: StaffService) -> None:
    end = TODAY + timedelta(days=90)
    contractor = {"staff_id": "haken1", "role": Role.CONTRACTOR}
    assert await _refused(staff, **contractor) is AdminRefusal.STAFF_CONTRACT_END_REQUIRED
    assert await _refused(
        staff, **contractor, contract_end=end, expires_on=end + timedelta(days=1)
    ) is (AdminRefusal.STAFF_EXPIRY_AFTER_CONTRACT_END)
    assert await _refused(staff, staff_id="ok", contract_end=end) is (
        AdminRefusal.STAFF_CONTRACT_END_NOT_CONTRACTOR
    )
    await _member(staff, "haken1", role=Role.CONTRACTOR, contract_end=end, expires_on=end)
    [row] = await staff.review()
    assert (row.role, row.contract_end, row.expires_on) == (Role.CONTRACTOR, end, end)


async def test_review_lists_every_account_with_issuer_and_last_use(
    staff: StaffService, clock: MovableClock
) -> None:
    await _member(staff, "tanaka", municipalities=[CHIYODA, AMAGASAKI])
    await _member(staff, "yamada", role=Role.SUPERVISOR, password=None)
    clock.move(minutes=5)
    await _signed_in(staff)
    tanaka, yamada = await staff.review()
    assert tanaka.staff_id == "tanaka"
    assert tanaka.municipalities == (CHIYODA, AMAGASAKI)  # in code order
    assert tanaka.created_by == "admin-op"
    assert tanaka.created_at == START
    assert tanaka.last_sign_in_at == clock.now
    assert (yamada.role, yamada.last_sign_in_at, yamada.expired, yamada.locked) == (
        Role.SUPERVISOR,
        None,
        False,
        False,
    )


# --- terminals and shared IDs -------------------------------------------------------------------


async def test_terminal_enrolment_is_one_time(
    staff: StaffService, db: asyncpg.Pool, clock: MovableClock
) -> None:
    terminal, token = await staff.terminal_add("desk 1", by="admin-op")
    cookie = await staff.enrol_terminal(token)
    assert cookie is not None
    assert await staff.terminal_for_cookie(cookie) == terminal
    assert await staff.enrol_terminal(token) is None
    assert await staff.terminal_for_cookie("forged") is None
    _, late = await staff.terminal_add("desk 2", by="admin-op")
    clock.move(hours=24, seconds=1)
    assert await staff.enrol_terminal(late) is None
    with pytest.raises(StaffAdminError) as taken:
        await staff.terminal_add("desk 1", by="admin-op")
    assert taken.value.code is AdminRefusal.TERMINAL_NAME_TAKEN
    with pytest.raises(StaffAdminError) as invalid:
        await staff.terminal_add("", by="admin-op")
    assert invalid.value.code is AdminRefusal.TERMINAL_NAME_INVALID
    assert [t.name for t in await staff.terminal_list()] == ["desk 1", "desk 2"]
    async with db.acquire() as conn:
        stored = [tuple(r) for r in await conn.fetch("SELECT * FROM terminals")]
    assert not any(cookie in str(row) or token in str(row) or late in str(row) for row in stored)


async def test_shared_id_signs_in_only_from_its_terminals(staff: StaffService) -> None:
    desk1, token1 = await staff.terminal_add("desk 1", by="admin-op")
    desk2, token2 = await staff.terminal_add("desk 2", by="admin-op")
    desk3, _ = await staff.terminal_add("desk 3 (not enrolled)", by="admin-op")
    assert await staff.enrol_terminal(token1)
    assert await staff.enrol_terminal(token2)
    otp = await _member(staff, "counter-shared", shared=True, terminals=["desk 1"], password=None)
    for terminal_id in (None, desk2.terminal_id, desk3.terminal_id, "no-such-terminal"):
        assert await staff.sign_in("counter-shared", otp, terminal_id=terminal_id) is (
            SignInRefusal.STAFF_TERMINAL_NOT_ALLOWED
        )
    # A wrong password says nothing about terminals.
    assert await staff.sign_in("counter-shared", "wrong password!", terminal_id=None) is (
        SignInRefusal.STAFF_SIGN_IN_FAILED
    )
    signed = await staff.sign_in("counter-shared", otp, terminal_id=desk1.terminal_id)
    assert isinstance(signed, SignedIn)
    assert signed.session.terminal == desk1
    assert signed.session.staff.shared
    live = await staff.session(signed.session_id)
    assert live is not None
    assert live.terminal == desk1
    [row] = await staff.review()
    assert row.terminals == ("desk 1",)


async def test_personal_id_records_its_terminal(staff: StaffService) -> None:
    desk, token = await staff.terminal_add("desk 1", by="admin-op")
    await staff.enrol_terminal(token)
    await _member(staff)
    signed = await staff.sign_in("tanaka", GOOD, terminal_id=desk.terminal_id)
    assert isinstance(signed, SignedIn)
    assert signed.session.terminal == desk


# --- audit --------------------------------------------------------------------------------------


async def test_admin_actions_are_audited_and_the_chain_verifies(
    staff: StaffService, db: asyncpg.Pool
) -> None:
    await staff.terminal_add("desk 1", by="ops-sato")
    otp = await staff.create(
        staff_id="tanaka",
        role=Role.CONTRACTOR,
        municipalities=[AMAGASAKI, CHIYODA],
        expires_on=TODAY + timedelta(days=10),
        contract_end=TODAY + timedelta(days=10),
        created_by="ops-sato",
    )
    reset = await staff.reset_password("tanaka", by="ops-sato")
    assert reset is not None
    assert await staff.expire("tanaka", by="ops-sato")
    events = await staff.audit_events(AMAGASAKI, actor="ops-sato")
    assert [(e.action, e.subject, e.actor_role, e.outcome) for e in reversed(events)] == [
        ("terminal.add", "desk 1", "operator", "ok"),
        ("staff.create", "tanaka", "operator", "ok"),
        ("staff.reset_password", "tanaka", "operator", "ok"),
        ("staff.expire", "tanaka", "operator", "ok"),
    ]
    assert [e.reason for e in reversed(events)] == [None, "contractor", None, None]
    assert [e.action for e in await staff.audit_events(CHIYODA, action="staff.create")] == [
        "staff.create"
    ]
    async with db.acquire() as conn:
        rows = [str(tuple(r)) for r in await conn.fetch("SELECT * FROM audit_events")]
        for code in (AMAGASAKI, CHIYODA):
            assert await chain_audit_events(conn, municipality_code=code) > 0
    assert not any(otp in row or reset in row for row in rows)
    for code in (AMAGASAKI, CHIYODA):
        report = await staff.audit_chain(code)
        assert report.ok
        assert report.unchained == 0


async def test_sign_ins_are_audited_without_the_password(staff: StaffService) -> None:
    await _member(staff)
    await staff.sign_in("tanaka", "wrong password!", terminal_id=None)
    outcomes = [
        (e.action, e.outcome, e.reason) for e in await staff.audit_events(AMAGASAKI, actor="tanaka")
    ]
    assert outcomes[0] == ("staff.sign_in", "refused", "wrong_password")
    assert ("staff.password_change", "ok", None) in outcomes
    assert ("staff.sign_in", "ok", None) in outcomes


async def test_audit_events_filter(staff: StaffService, store: VrsStore) -> None:
    async with store.scoped(AMAGASAKI) as tx:
        for i in range(7):
            await tx.record_audit_event(
                AuditEvent(
                    at=START + timedelta(hours=i),
                    actor="tanaka" if i % 2 else "suzuki",
                    actor_role="counter_staff",
                    terminal="desk 1",
                    identity_method="card",
                    action="counter.issue",
                    outcome="issued" if i < 5 else "refused",
                    address_number=str(100 + i),
                )
            )
    page = await staff.audit_events(AMAGASAKI, limit=3)
    assert [e.address_number for e in page] == ["106", "105", "104"]
    more = await staff.audit_events(AMAGASAKI, limit=3, before_id=page[-1].id)
    assert [e.address_number for e in more] == ["103", "102", "101"]
    window = await staff.audit_events(
        AMAGASAKI, since=START + timedelta(hours=2), until=START + timedelta(hours=4)
    )
    assert [e.address_number for e in window] == ["103", "102"]
    assert len(await staff.audit_events(AMAGASAKI, actor="tanaka")) == 3
    assert len(await staff.audit_events(AMAGASAKI, outcome="refused")) == 2
    assert await staff.audit_events(AMAGASAKI, action="counter.void") == []
    assert await staff.audit_events(CHIYODA) == []
    assert len(await staff.audit_events(AMAGASAKI, limit=10_000)) == 7
    assert (page[0].terminal, page[0].identity_method) == ("desk 1", "card")


@pytest.mark.parametrize("column", ["actor_role", "terminal", "identity_method", "subject"])
async def test_tampered_counter_field_is_detected(
    store: VrsStore, db: asyncpg.Pool, column: str
) -> None:
    # `column` comes from the parametrize list above, never from input.
    async with store.scoped(AMAGASAKI) as tx:
        for i in range(3):
            await tx.record_audit_event(
                AuditEvent(
                    at=START + timedelta(seconds=i),
                    actor="tanaka",
                    action="counter.issue",
                    outcome="issued",
                    actor_role="counter_staff" if i else None,
                    terminal="desk 1" if i else None,
                    identity_method="card" if i else None,
                    subject="tanaka" if i else None,
                )
            )
    async with db.acquire() as conn:
        await chain_audit_events(conn, municipality_code=AMAGASAKI)
        assert (await verify_audit_chain(conn, municipality_code=AMAGASAKI)).ok
        async with conn.transaction():
            # Around the append-only trigger, as an attacker with the superuser would.
            await conn.execute("SET LOCAL session_replication_role = replica")
            # Row 1 had none of the counter fields (the bytes of before migration 0004), row 2
            # all of them: adding one and changing one are both seen.
            await conn.execute(f"UPDATE audit_events SET {column} = 'contractor' WHERE seq = 1")  # noqa: S608
        report = await verify_audit_chain(conn, municipality_code=AMAGASAKI)
        assert (report.ok, report.problem, report.at_seq) == (
            False,
            AuditChainProblem.ROW_ALTERED,
            1,
        )
        async with conn.transaction():
            await conn.execute("SET LOCAL session_replication_role = replica")
            await conn.execute(f"UPDATE audit_events SET {column} = NULL WHERE seq = 1")  # noqa: S608
            await conn.execute(f"UPDATE audit_events SET {column} = 'supervisor' WHERE seq = 2")  # noqa: S608
        report = await verify_audit_chain(conn, municipality_code=AMAGASAKI)
        assert (report.ok, report.problem, report.at_seq) == (
            False,
            AuditChainProblem.ROW_ALTERED,
            2,
        )


def test_rows_without_counter_fields_keep_their_bytes() -> None:
    # The eight items rows were chained with before migration 0004: they must verify unchanged.
    at = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    legacy = msgspec.json.encode(
        [AMAGASAKI, 7, "2026-01-02T03:04:05.000006+00:00", "kiosk", "issue", "12", None, "ok"]
    )
    common = {
        "municipality_code": AMAGASAKI,
        "seq": 7,
        "at": at,
        "actor": "kiosk",
        "action": "issue",
        "address_number": "12",
        "reason": None,
        "outcome": "ok",
    }
    assert canonical_audit_row(**common) == legacy  # type: ignore[arg-type]
    assert canonical_audit_row(**common, terminal="desk 1") != legacy  # type: ignore[arg-type]


async def test_demo_accounts(staff: StaffService) -> None:
    accounts = await create_demo_accounts(staff, municipalities=[AMAGASAKI, CHIYODA])
    assert {role for _, role, _ in accounts} == set(Role)
    for staff_id, _, otp in accounts:
        signed = await staff.sign_in(staff_id, otp, terminal_id=None)
        assert isinstance(signed, SignedIn)
        assert signed.session.staff.must_change_password
    again = await create_demo_accounts(staff, municipalities=[AMAGASAKI])
    assert [a[0] for a in again] == [a[0] for a in accounts]
    assert [a[2] for a in again] != [a[2] for a in accounts]


async def test_an_issuance_records_the_counter_fields(store: VrsStore, tmp_path: Path) -> None:
    await seed_people(store, tmp_path)
    async with store.scoped(AMAGASAKI) as tx:
        person = await tx.find_person_by_my_number(MY_NUMBER)
        assert person is not None
        event = AuditEvent(
            at=START,
            actor="tanaka",
            actor_role="contractor",
            terminal="desk 1",
            identity_method="notification_card_photo_id",
            action="counter.issue",
            outcome="issued",
            address_number=person.address_number,
            reason="no_smartphone",
        )
        await tx.record_issuance(issuance(person, "AAAAAAAAAAAA"), audit=event)
    async with store.connection() as conn:
        [entry] = await list_audit_events(conn, municipality_code=AMAGASAKI, actor="tanaka")
        await chain_audit_events(conn, municipality_code=AMAGASAKI)
        assert (await verify_audit_chain(conn, municipality_code=AMAGASAKI)).ok
    assert (entry.actor_role, entry.terminal, entry.identity_method, entry.reason) == (
        "contractor",
        "desk 1",
        "notification_card_photo_id",
        "no_smartphone",
    )


@pytest.mark.parametrize("column", ["actor_role", "terminal", "identity_method", "subject"])
async def test_counter_fields_are_append_only(
    store: VrsStore, db: asyncpg.Pool, column: str
) -> None:
    # `column` comes from the parametrize list above, never from input.
    async with store.scoped(AMAGASAKI) as tx:
        for _ in range(2):
            await tx.record_audit_event(
                AuditEvent(at=START, actor="tanaka", action="counter.issue", outcome="issued")
            )
    async with db.acquire() as conn:
        await chain_audit_events(conn, municipality_code=AMAGASAKI)
        await _insert_unchained(store)
        for where in ("seq = 1", "seq IS NULL"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(f"UPDATE audit_events SET {column} = 'x' WHERE {where}")  # noqa: S608
        # The chainer's own update (the link columns alone) still passes the guard.
        assert await chain_audit_events(conn, municipality_code=AMAGASAKI) == 1
        assert (await verify_audit_chain(conn, municipality_code=AMAGASAKI)).ok


async def _insert_unchained(store: VrsStore) -> None:
    async with store.scoped(AMAGASAKI) as tx:
        await tx.record_audit_event(
            AuditEvent(at=START, actor="suzuki", action="counter.issue", outcome="issued")
        )
