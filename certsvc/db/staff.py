"""Staff accounts, their municipalities and terminals in PostgreSQL (migration 0004).

Every transaction runs as `certsvc_app` (the least-privilege role of migration 0002), as the
store's do; the functions take a connection inside the caller's transaction. Driver failures are
turned into `VrsError` by `translate_driver_errors`, which never quotes the driver's message.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from typing import TypeAlias

import asyncpg
import msgspec
from asyncpg.pool import PoolConnectionProxy

from vrs_client import VrsError, VrsErrorCode

Pool: TypeAlias = "asyncpg.Pool[asyncpg.Record]"
Conn: TypeAlias = "asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]"

#: A unique index said no (a staff ID or terminal name taken).
UniqueViolation = asyncpg.UniqueViolationError


@contextlib.contextmanager
def translate_driver_errors() -> Iterator[None]:
    """Driver failures become `VrsError` (the driver's message may quote values: it is chained
    for the logs' traceback, never put in ours). Unique violations pass through for the caller."""
    try:
        yield
    except UniqueViolation:
        raise
    except (OSError, TimeoutError, asyncpg.InterfaceError, asyncpg.PostgresConnectionError) as exc:
        raise VrsError(VrsErrorCode.STORE_UNAVAILABLE) from exc
    except asyncpg.PostgresError as exc:
        raise VrsError(VrsErrorCode.STORE_FAILED, type(exc).__name__) from exc


class AccountRow(msgspec.Struct, frozen=True, kw_only=True):
    """A staff account as stored (the password hash included: it never leaves certsvc.staff)."""

    staff_id: str
    role: str
    password_hash: str
    must_change_password: bool
    expires_on: date
    contract_end: date | None
    shared: bool
    created_by: str
    created_at: datetime
    expired_at: datetime | None
    session_generation: int
    last_sign_in_at: datetime | None
    municipalities: tuple[str, ...]
    terminal_ids: tuple[str, ...]
    terminal_names: tuple[str, ...]


class TerminalRow(msgspec.Struct, frozen=True, kw_only=True):
    terminal_id: str
    name: str
    enrolled_at: datetime | None


_q_enter_app_role = "SELECT set_config('role', 'certsvc_app', true)"


async def enter_app_role(conn: Conn) -> None:
    """Run the rest of the transaction as `certsvc_app`."""
    await conn.fetchval(_q_enter_app_role)


_ACCOUNT_COLUMNS = """
SELECT a.staff_id, a.role, a.password_hash, a.must_change_password, a.expires_on, a.contract_end,
       a.shared, a.created_by, a.created_at, a.expired_at, a.session_generation,
       a.last_sign_in_at,
       array(SELECT m.municipality_code::text FROM staff_municipalities m
             WHERE m.staff_id = a.staff_id ORDER BY 1) AS municipalities,
       array(SELECT t.terminal_id FROM staff_terminals t
             WHERE t.staff_id = a.staff_id ORDER BY 1) AS terminal_ids,
       array(SELECT tn.name FROM staff_terminals t JOIN terminals tn USING (terminal_id)
             WHERE t.staff_id = a.staff_id ORDER BY 1) AS terminal_names
FROM staff_accounts a
"""
_q_get_account = _ACCOUNT_COLUMNS + "WHERE a.staff_id = $1"
_q_list_accounts = _ACCOUNT_COLUMNS + "ORDER BY a.staff_id"


def _account(row: asyncpg.Record) -> AccountRow:
    return AccountRow(
        staff_id=row["staff_id"],
        role=row["role"],
        password_hash=row["password_hash"],
        must_change_password=row["must_change_password"],
        expires_on=row["expires_on"],
        contract_end=row["contract_end"],
        shared=row["shared"],
        created_by=row["created_by"],
        created_at=row["created_at"],
        expired_at=row["expired_at"],
        session_generation=row["session_generation"],
        last_sign_in_at=row["last_sign_in_at"],
        municipalities=tuple(row["municipalities"]),
        terminal_ids=tuple(row["terminal_ids"]),
        terminal_names=tuple(row["terminal_names"]),
    )


async def get_account(conn: Conn, *, staff_id: str) -> AccountRow | None:
    row = await conn.fetchrow(_q_get_account, staff_id)
    return None if row is None else _account(row)


async def list_accounts(conn: Conn) -> list[AccountRow]:
    return [_account(r) for r in await conn.fetch(_q_list_accounts)]


_q_insert_account = """
INSERT INTO staff_accounts (staff_id, role, password_hash, must_change_password, expires_on,
                            contract_end, shared, created_by, created_at)
VALUES ($1, $2, $3, true, $4, $5, $6, $7, $8)
"""
_q_grant_municipalities = """
INSERT INTO staff_municipalities (staff_id, municipality_code)
SELECT $1, code FROM unnest($2::text[]) AS code
"""
_q_bind_terminals = """
INSERT INTO staff_terminals (staff_id, terminal_id)
SELECT $1, id FROM unnest($2::text[]) AS id
"""


async def insert_account(
    conn: Conn,
    *,
    staff_id: str,
    role: str,
    password_hash: str,
    expires_on: date,
    contract_end: date | None,
    shared: bool,
    created_by: str,
    now: datetime,
    municipalities: Sequence[str],
    terminal_ids: Sequence[str],
) -> None:
    """Insert an account that must change its password at first sign-in, with its grants.
    Raises `UniqueViolation` when the ID is taken."""
    await conn.execute(
        _q_insert_account,
        staff_id,
        role,
        password_hash,
        expires_on,
        contract_end,
        shared,
        created_by,
        now,
    )
    await conn.execute(_q_grant_municipalities, staff_id, list(municipalities))
    if terminal_ids:
        await conn.execute(_q_bind_terminals, staff_id, list(terminal_ids))


_q_replace_hash = """
UPDATE staff_accounts
SET password_hash = $2, must_change_password = $3, password_changed_at = $4,
    session_generation = session_generation + CASE WHEN $5 THEN 1 ELSE 0 END
WHERE staff_id = $1
RETURNING staff_id
"""


async def set_password(
    conn: Conn,
    *,
    staff_id: str,
    password_hash: str,
    must_change: bool,
    now: datetime,
    end_sessions: bool,
) -> bool:
    """Replace the password hash; `end_sessions` voids every session of the account."""
    done = await conn.fetchval(
        _q_replace_hash, staff_id, password_hash, must_change, now, end_sessions
    )
    return done is not None


_q_record_sign_in = "UPDATE staff_accounts SET last_sign_in_at = $2 WHERE staff_id = $1"


async def record_sign_in(conn: Conn, *, staff_id: str, now: datetime) -> None:
    await conn.execute(_q_record_sign_in, staff_id, now)


_q_update_hash = "UPDATE staff_accounts SET password_hash = $2 WHERE staff_id = $1"


async def update_hash(conn: Conn, *, staff_id: str, password_hash: str) -> None:
    """The same password under new hashing parameters (argon2-cffi's defaults changed)."""
    await conn.execute(_q_update_hash, staff_id, password_hash)


_q_expire_account = """
UPDATE staff_accounts
SET expired_at = $2, expired_by = $3, session_generation = session_generation + 1
WHERE staff_id = $1 AND expired_at IS NULL
RETURNING staff_id
"""


async def expire_account(conn: Conn, *, staff_id: str, by: str, now: datetime) -> bool:
    """Mark the account expired (and void its sessions). False if it was expired already."""
    return await conn.fetchval(_q_expire_account, staff_id, now, by) is not None


_q_known_municipalities = """
SELECT code::text FROM municipalities WHERE code = ANY($1::bpchar[])
"""
_q_all_municipalities = "SELECT code::text FROM municipalities ORDER BY code"


async def known_municipalities(conn: Conn, codes: Sequence[str]) -> set[str]:
    """Those of `codes` the municipalities table holds."""
    return {r[0] for r in await conn.fetch(_q_known_municipalities, list(codes))}


async def all_municipalities(conn: Conn) -> list[str]:
    return [r[0] for r in await conn.fetch(_q_all_municipalities)]


_q_insert_terminal = """
INSERT INTO terminals (terminal_id, name, enrol_token_hash, enrol_expires_at, created_by,
                       created_at)
VALUES ($1, $2, $3, $4, $5, $6)
"""


async def insert_terminal(
    conn: Conn,
    *,
    terminal_id: str,
    name: str,
    token_hash: bytes,
    token_expires_at: datetime,
    by: str,
    now: datetime,
) -> None:
    """Raises `UniqueViolation` when the name is taken."""
    await conn.execute(_q_insert_terminal, terminal_id, name, token_hash, token_expires_at, by, now)


_q_find_terminals = """
SELECT terminal_id, name, enrolled_at FROM terminals
WHERE terminal_id = ANY($1::text[]) OR name = ANY($1::text[])
"""
_q_list_terminals = "SELECT terminal_id, name, enrolled_at FROM terminals ORDER BY name"
_q_get_terminal = "SELECT terminal_id, name, enrolled_at FROM terminals WHERE terminal_id = $1"
_q_terminal_by_cookie = """
SELECT terminal_id, name, enrolled_at FROM terminals WHERE cookie_hash = $1
"""
# One UPDATE both checks and uses the token: a second enrolment with the same token, even at the
# same moment, waits on the row lock, re-reads the row, finds the token gone and matches nothing.
_q_enrol_terminal = """
UPDATE terminals
SET cookie_hash = $2, enrolled_at = $3, enrol_token_hash = NULL, enrol_expires_at = NULL
WHERE enrol_token_hash = $1 AND enrol_expires_at > $3
RETURNING terminal_id, name, enrolled_at
"""


def _terminal(row: asyncpg.Record) -> TerminalRow:
    return TerminalRow(terminal_id=row[0], name=row[1], enrolled_at=row[2])


async def find_terminals(conn: Conn, ids_or_names: Sequence[str]) -> list[TerminalRow]:
    return [_terminal(r) for r in await conn.fetch(_q_find_terminals, list(ids_or_names))]


async def list_terminals(conn: Conn) -> list[TerminalRow]:
    return [_terminal(r) for r in await conn.fetch(_q_list_terminals)]


async def get_terminal(conn: Conn, *, terminal_id: str) -> TerminalRow | None:
    row = await conn.fetchrow(_q_get_terminal, terminal_id)
    return None if row is None else _terminal(row)


async def terminal_by_cookie(conn: Conn, *, cookie_hash: bytes) -> TerminalRow | None:
    row = await conn.fetchrow(_q_terminal_by_cookie, cookie_hash)
    return None if row is None else _terminal(row)


async def enrol_terminal(
    conn: Conn, *, token_hash: bytes, cookie_hash: bytes, now: datetime
) -> TerminalRow | None:
    """Use the enrolment token once: the terminal now answers to `cookie_hash`."""
    row = await conn.fetchrow(_q_enrol_terminal, token_hash, cookie_hash, now)
    return None if row is None else _terminal(row)
