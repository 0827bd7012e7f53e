"""Staff accounts, terminals and staff sessions.

Where each thing lives:
- accounts, their municipalities, terminals: PostgreSQL (`certsvc.db.staff`, migration 0004);
- failed sign-ins: Redis `staff:fail:<HMAC(lookup key, staff ID)>`, a hash with the count, the
  last failure and the end of the lockout, expiring 15 minutes after the last failure;
- sessions: Redis `staff:session:<HMAC(lookup key, session id)>`, holding the staff ID, the
  terminal id and two instants (never a resident's data), expiring with the idle timeout.
Neither a staff ID nor a session id is ever a Redis key in clear. Time comes from the injected
clock, so that the idle timeout, the 8-hour limit and the lockout are tested by moving it.
"""

from __future__ import annotations

import builtins
import contextlib
import hashlib
import hmac
import math
import re
import secrets
from collections.abc import AsyncIterator, Sequence
from datetime import date, datetime, timedelta, timezone

import argon2
import msgspec
import redis.asyncio as redis_asyncio

from certsvc.db import staff as db
from certsvc.db.staff import AccountRow, Conn, Pool, TerminalRow
from certsvc.resources import Clock
from certsvc.staff._passwords import (
    DEFAULT_HASHER,
    MAX_LENGTH,
    check_new_password,
    hash_password,
    one_time_password,
    verify_password,
)
from certsvc.staff._types import (
    AdminRefusal,
    PasswordRefusal,
    ReviewRow,
    Role,
    SignedIn,
    SignInRefusal,
    StaffAdminError,
    StaffMember,
    StaffSession,
    StaffSessionExpired,
    Terminal,
)
from vrs_client import (
    AuditChainReport,
    AuditEntry,
    AuditEvent,
    list_audit_events,
    record_audit_event,
    verify_audit_chain,
)

JST = timezone(timedelta(hours=9), "JST")

#: A session ends after this long without a request …
IDLE_TIMEOUT = timedelta(minutes=15)
#: … and this long after sign-in, whatever happens.
ABSOLUTE_LIMIT = timedelta(hours=8)
#: Failed sign-ins of one ID within `LOCKOUT_PERIOD` of each other that lock it …
LOCKOUT_ATTEMPTS = 5
#: … for this long after the last of them.
LOCKOUT_PERIOD = timedelta(minutes=15)
#: How long a terminal's one-time enrolment link stays usable.
ENROL_TOKEN_TTL = timedelta(hours=24)

_STAFF_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{1,31}$")
_TWELVE_DIGITS = re.compile(r"[0-9]{12}")

# One atomic step per failed sign-in: forget failures older than the lockout period, count this
# one, lock when the count reaches the limit, and (re)arm the key's expiry. Instants come from the
# caller's clock. ARGV: now (s), period (s), attempts, TTL (s).
_FAIL = """
local now = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local v = redis.call('HMGET', KEYS[1], 'n', 'last')
local n = tonumber(v[1]) or 0
local last = tonumber(v[2]) or 0
if now - last >= period then n = 0 end
n = n + 1
local locked_until = 0
if n >= tonumber(ARGV[3]) then locked_until = now + period end
redis.call('HSET', KEYS[1], 'n', n, 'last', ARGV[1], 'locked_until', tostring(locked_until))
redis.call('EXPIRE', KEYS[1], ARGV[4])
return n
"""


class _StoredSession(msgspec.Struct, frozen=True, kw_only=True):
    """What Redis holds of a session: who, where, when. Nothing else, ever."""

    staff_id: str
    terminal_id: str | None
    created_at: datetime
    last_seen_at: datetime
    generation: int
    """The account's session generation at sign-in: a reset or an expiry moves it on."""


_session_encoder = msgspec.json.Encoder()
_session_decoder = msgspec.json.Decoder(_StoredSession)


def _sha256(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


def _operator_ok(name: str) -> bool:
    return 1 <= len(name) <= 200 and name.isprintable() and not _TWELVE_DIGITS.search(name)


class StaffService:
    """Sign-in, sessions, password changes, terminals, and account administration (module
    docstring: what is kept where)."""

    def __init__(
        self,
        *,
        pool: Pool,
        redis: redis_asyncio.Redis,
        lookup_key: bytes,
        clock: Clock,
        hasher: argon2.PasswordHasher = DEFAULT_HASHER,
    ) -> None:
        """`hasher`: argon2id with argon2-cffi's defaults unless a test asks for cheaper
        parameters (hashes made with other parameters are re-made at the next sign-in)."""
        self._pool = pool
        self._redis = redis
        self._lookup_key = lookup_key
        self._clock = clock
        self._hasher = hasher
        self._fail = redis.register_script(_FAIL)
        self._dummy_hash: str | None = None

    async def _dummy(self) -> str:
        """A hash of a random password, verified against for unknown IDs so that a sign-in
        takes as long whether or not the ID exists."""
        if self._dummy_hash is None:
            self._dummy_hash = await hash_password(self._hasher, secrets.token_urlsafe(16))
        return self._dummy_hash

    # --- helpers ---------------------------------------------------------------------------

    def _now(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None:
            raise ValueError("the clock must return timezone-aware instants")
        return now

    def _today(self, now: datetime) -> date:
        return now.astimezone(JST).date()

    def _redis_key(self, kind: str, value: str) -> str:
        mac = hmac.new(self._lookup_key, f"staff-{kind}\x00{value}".encode(), hashlib.sha256)
        return f"staff:{kind}:{mac.hexdigest()}"

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Conn]:
        with db.translate_driver_errors():
            async with self._pool.acquire() as conn, conn.transaction():
                await db.enter_app_role(conn)
                yield conn

    def _active(self, account: AccountRow, now: datetime) -> bool:
        return account.expired_at is None and account.expires_on >= self._today(now)

    @staticmethod
    def _member(account: AccountRow) -> StaffMember:
        return StaffMember(
            staff_id=account.staff_id,
            role=Role(account.role),
            municipalities=account.municipalities,
            expires_on=account.expires_on,
            shared=account.shared,
            must_change_password=account.must_change_password,
        )

    @staticmethod
    def _terminal(row: TerminalRow) -> Terminal:
        return Terminal(terminal_id=row.terminal_id, name=row.name)

    async def _audit(
        self,
        conn: Conn,
        municipalities: Sequence[str],
        *,
        now: datetime,
        actor: str,
        actor_role: str | None,
        action: str,
        outcome: str,
        subject: str | None = None,
        reason: str | None = None,
        terminal: str | None = None,
    ) -> None:
        """One event in each municipality's chain (staff events belong to no one municipality:
        every municipality the account is granted sees it). Last in the transaction: it enters
        the partitions."""
        event = AuditEvent(
            at=now,
            actor=actor,
            actor_role=actor_role,
            action=action,
            outcome=outcome,
            subject=subject,
            reason=reason,
            terminal=terminal,
        )
        for code in municipalities:
            await record_audit_event(conn, municipality_code=code, event=event)

    async def _actor_role(self, conn: Conn, by: str) -> str:
        """The operator's role when they are a staff member, else `operator` (the command line)."""
        account = await db.get_account(conn, staff_id=by.lower())
        return account.role if account is not None else "operator"

    async def _fail_sign_in(self, key: str, now: datetime) -> None:
        ttl = math.ceil(LOCKOUT_PERIOD.total_seconds()) + 1
        await self._fail(
            keys=[key],
            args=[f"{now.timestamp():.3f}", LOCKOUT_PERIOD.total_seconds(), LOCKOUT_ATTEMPTS, ttl],
        )

    async def _locked(self, key: str, now: datetime) -> bool:
        raw = await self._redis.hget(key, "locked_until")
        return raw is not None and float(raw) > now.timestamp()

    async def _store_session(self, session_id: str, stored: _StoredSession, *, new: bool) -> None:
        """Write a new session (`new`), or refresh one that still exists: a refresh racing a
        sign-out must not bring the session back (SET XX writes only over an existing key)."""
        remaining = min(
            IDLE_TIMEOUT, stored.created_at + ABSOLUTE_LIMIT - stored.last_seen_at
        ).total_seconds()
        await self._redis.set(
            self._redis_key("session", session_id),
            _session_encoder.encode(stored),
            ex=max(1, math.ceil(remaining)),
            nx=new,
            xx=not new,
        )

    # --- sign-in and sessions ---------------------------------------------------------------

    async def sign_in(
        self, staff_id: str, password: str, *, terminal_id: str | None
    ) -> SignedIn | SignInRefusal:
        """Check the ID and password and open a new session with a new random id.

        (1) a locked ID is refused before any password check;
        (2) the password is verified (against a dummy hash for an unknown ID, so that the answer
            takes as long); a wrong one, an unknown ID or an expired account count one failure
            and get the same answer;
        (3) a shared ID signs in only from a terminal listed for it;
        (4) the failures are forgotten, the sign-in recorded (and audited in each municipality
            granted), the session stored."""
        now = self._now()
        staff_id = staff_id.strip().lower()
        fail_key = self._redis_key("fail", staff_id)
        # (1)
        if await self._locked(fail_key, now):
            return SignInRefusal.STAFF_LOCKED_OUT
        # (2)
        account = None
        if _STAFF_ID.match(staff_id):
            async with self._transaction() as conn:
                account = await db.get_account(conn, staff_id=staff_id)
        if len(password) > 4 * MAX_LENGTH:
            good = False
        elif account is None:
            await verify_password(self._hasher, await self._dummy(), password)
            good = False
        else:
            good = await verify_password(self._hasher, account.password_hash, password)
        if account is None or not good or not self._active(account, now):
            await self._fail_sign_in(fail_key, now)
            if account is not None:
                async with self._transaction() as conn:
                    await self._audit(
                        conn,
                        account.municipalities,
                        now=now,
                        actor=account.staff_id,
                        actor_role=account.role,
                        action="staff.sign_in",
                        outcome="refused",
                        reason="expired" if good else "wrong_password",
                    )
            return SignInRefusal.STAFF_SIGN_IN_FAILED
        # (3) (a hash under other parameters is re-made first: no transaction waits on it)
        rehashed = (
            await hash_password(self._hasher, password)
            if self._hasher.check_needs_rehash(account.password_hash)
            else None
        )
        terminal: TerminalRow | None = None
        async with self._transaction() as conn:
            if terminal_id is not None:
                terminal = await db.get_terminal(conn, terminal_id=terminal_id)
                if terminal is not None and terminal.enrolled_at is None:
                    terminal = None
            if account.shared and (
                terminal is None or terminal.terminal_id not in account.terminal_ids
            ):
                await self._audit(
                    conn,
                    account.municipalities,
                    now=now,
                    actor=account.staff_id,
                    actor_role=account.role,
                    action="staff.sign_in",
                    outcome="refused",
                    reason="terminal_not_allowed",
                    terminal=None if terminal is None else terminal.name,
                )
                return SignInRefusal.STAFF_TERMINAL_NOT_ALLOWED
            # (4)
            await db.record_sign_in(conn, staff_id=account.staff_id, now=now)
            if rehashed is not None:
                await db.update_hash(conn, staff_id=account.staff_id, password_hash=rehashed)
            await self._audit(
                conn,
                account.municipalities,
                now=now,
                actor=account.staff_id,
                actor_role=account.role,
                action="staff.sign_in",
                outcome="ok",
                terminal=None if terminal is None else terminal.name,
            )
        await self._redis.delete(fail_key)
        session_id = secrets.token_urlsafe(32)
        stored = _StoredSession(
            staff_id=account.staff_id,
            terminal_id=None if terminal is None else terminal.terminal_id,
            created_at=now,
            last_seen_at=now,
            generation=account.session_generation,
        )
        await self._store_session(session_id, stored, new=True)
        return SignedIn(
            session_id=session_id,
            session=StaffSession(
                staff=self._member(account),
                terminal=None if terminal is None else self._terminal(terminal),
                created_at=now,
                last_seen_at=now,
            ),
        )

    async def session(self, session_id: str) -> StaffSession | None:
        """The live session of this id, its last use moved to now; None (and the session
        deleted) when unknown, idle more than 15 minutes, older than 8 hours, or its account
        expired, reset or gone since. The account is read afresh, so a change of role or grants
        applies at the next request."""
        if not session_id or len(session_id) > 128:
            return None
        now = self._now()
        key = self._redis_key("session", session_id)
        raw = await self._redis.get(key)
        if raw is None:
            return None
        try:
            stored = _session_decoder.decode(raw)
        except msgspec.DecodeError:
            await self._redis.delete(key)
            return None
        if now - stored.last_seen_at > IDLE_TIMEOUT or now - stored.created_at > ABSOLUTE_LIMIT:
            await self._redis.delete(key)
            return None
        async with self._transaction() as conn:
            account = await db.get_account(conn, staff_id=stored.staff_id)
            terminal = (
                None
                if stored.terminal_id is None
                else await db.get_terminal(conn, terminal_id=stored.terminal_id)
            )
        if (
            account is None
            or not self._active(account, now)
            or stored.generation != account.session_generation
        ):
            await self._redis.delete(key)
            return None
        refreshed = msgspec.structs.replace(stored, last_seen_at=max(now, stored.last_seen_at))
        await self._store_session(session_id, refreshed, new=False)
        return StaffSession(
            staff=self._member(account),
            terminal=None if terminal is None else self._terminal(terminal),
            created_at=stored.created_at,
            last_seen_at=refreshed.last_seen_at,
        )

    async def sign_out(self, session_id: str) -> None:
        """Delete the session (nothing happens for an unknown id)."""
        if session_id:
            await self._redis.delete(self._redis_key("session", session_id))

    async def change_password(
        self, session_id: str, current: str, new: str
    ) -> PasswordRefusal | None:
        """Change the signed-in member's password and clear the forced change. Refused when the
        current password is wrong, the new one is the current one, or breaks a rule (see
        `check_new_password`). Raises `StaffSessionExpired` when the session is not live."""
        live = await self.session(session_id)
        if live is None:
            raise StaffSessionExpired
        now = self._now()
        staff_id = live.staff.staff_id
        async with self._transaction() as conn:
            account = await db.get_account(conn, staff_id=staff_id)
        if account is None:
            raise StaffSessionExpired
        if len(current) > 4 * MAX_LENGTH or not await verify_password(
            self._hasher, account.password_hash, current
        ):
            return PasswordRefusal.PASSWORD_CURRENT_WRONG
        if new == current:
            return PasswordRefusal.PASSWORD_REUSED
        refusal = check_new_password(staff_id, new)
        if refusal is not None:
            return refusal
        new_hash = await hash_password(self._hasher, new)
        async with self._transaction() as conn:
            await db.set_password(
                conn,
                staff_id=staff_id,
                password_hash=new_hash,
                must_change=False,
                now=now,
                end_sessions=False,
            )
            await self._audit(
                conn,
                account.municipalities,
                now=now,
                actor=staff_id,
                actor_role=account.role,
                action="staff.password_change",
                outcome="ok",
                terminal=None if live.terminal is None else live.terminal.name,
            )
        return None

    # --- terminals --------------------------------------------------------------------------

    async def enrol_terminal(self, token: str) -> str | None:
        """Use a one-time enrolment token: returns the terminal cookie's value (random; the
        store keeps only its SHA-256), or None when the token is unknown, used or expired."""
        if not token or len(token) > 128:
            return None
        now = self._now()
        cookie = secrets.token_urlsafe(32)
        async with self._transaction() as conn:
            row = await db.enrol_terminal(
                conn, token_hash=_sha256(token), cookie_hash=_sha256(cookie), now=now
            )
            if row is None:
                return None
            await self._audit(
                conn,
                await db.all_municipalities(conn),
                now=now,
                actor=row.name,
                actor_role="terminal",
                action="terminal.enrol",
                outcome="ok",
                subject=row.name,
                terminal=row.name,
            )
        return cookie

    async def terminal_for_cookie(self, cookie: str) -> Terminal | None:
        """The enrolled terminal this cookie value belongs to, or None."""
        if not cookie or len(cookie) > 128:
            return None
        async with self._transaction() as conn:
            row = await db.terminal_by_cookie(conn, cookie_hash=_sha256(cookie))
        return None if row is None else self._terminal(row)

    # --- administration ---------------------------------------------------------------------

    async def create(
        self,
        *,
        staff_id: str,
        role: Role | str,
        municipalities: Sequence[str],
        expires_on: date,
        created_by: str,
        shared: bool = False,
        terminals: Sequence[str] = (),
        contract_end: date | None = None,
    ) -> str:
        """Create an account and return its one-time password (changed at first sign-in).
        `terminals` (names or ids) are those a shared ID may sign in from. Raises
        `StaffAdminError` for every rule of docs/staff-accounts.md the request breaks."""
        now = self._now()
        staff_id = staff_id.strip().lower()
        if not _STAFF_ID.match(staff_id) or _TWELVE_DIGITS.search(staff_id):
            raise StaffAdminError(AdminRefusal.STAFF_ID_INVALID)
        try:
            role = Role(role)
        except ValueError:
            raise StaffAdminError(AdminRefusal.STAFF_ROLE_INVALID) from None
        if not _operator_ok(created_by):
            raise StaffAdminError(AdminRefusal.OPERATOR_INVALID)
        codes = sorted(set(municipalities))
        if not codes:
            raise StaffAdminError(AdminRefusal.STAFF_MUNICIPALITY_REQUIRED)
        if expires_on < self._today(now):
            raise StaffAdminError(AdminRefusal.STAFF_EXPIRY_IN_PAST)
        if role is Role.CONTRACTOR:
            if contract_end is None:
                raise StaffAdminError(AdminRefusal.STAFF_CONTRACT_END_REQUIRED)
            if expires_on > contract_end:
                raise StaffAdminError(AdminRefusal.STAFF_EXPIRY_AFTER_CONTRACT_END)
        elif contract_end is not None:
            raise StaffAdminError(AdminRefusal.STAFF_CONTRACT_END_NOT_CONTRACTOR)
        if shared and not terminals:
            raise StaffAdminError(AdminRefusal.STAFF_SHARED_NEEDS_TERMINALS)
        if terminals and not shared:
            raise StaffAdminError(AdminRefusal.STAFF_TERMINALS_NOT_SHARED)
        password = one_time_password()
        password_hash = await hash_password(self._hasher, password)
        try:
            async with self._transaction() as conn:
                if await db.known_municipalities(conn, codes) != set(codes):
                    raise StaffAdminError(AdminRefusal.STAFF_MUNICIPALITY_UNKNOWN)
                found = await db.find_terminals(conn, terminals)
                wanted = set(terminals)
                if wanted - {t.name for t in found} - {t.terminal_id for t in found}:
                    raise StaffAdminError(AdminRefusal.TERMINAL_UNKNOWN)
                actor_role = await self._actor_role(conn, created_by)
                await db.insert_account(
                    conn,
                    staff_id=staff_id,
                    role=role.value,
                    password_hash=password_hash,
                    expires_on=expires_on,
                    contract_end=contract_end,
                    shared=shared,
                    created_by=created_by,
                    now=now,
                    municipalities=codes,
                    terminal_ids=sorted({t.terminal_id for t in found}),
                )
                await self._audit(
                    conn,
                    codes,
                    now=now,
                    actor=created_by,
                    actor_role=actor_role,
                    action="staff.create",
                    outcome="ok",
                    subject=staff_id,
                    reason=role.value,
                )
        except db.UniqueViolation:
            raise StaffAdminError(AdminRefusal.STAFF_ID_TAKEN) from None
        return password

    async def expire(self, staff_id: str, *, by: str) -> bool:
        """End the account now (its sessions end with it). False if there is no such account;
        expiring an expired account changes nothing."""
        if not _operator_ok(by):
            raise StaffAdminError(AdminRefusal.OPERATOR_INVALID)
        now = self._now()
        async with self._transaction() as conn:
            account = await db.get_account(conn, staff_id=staff_id.strip().lower())
            if account is None:
                return False
            if await db.expire_account(conn, staff_id=account.staff_id, by=by, now=now):
                await self._audit(
                    conn,
                    account.municipalities,
                    now=now,
                    actor=by,
                    actor_role=await self._actor_role(conn, by),
                    action="staff.expire",
                    outcome="ok",
                    subject=account.staff_id,
                )
        return True

    async def reset_password(self, staff_id: str, *, by: str) -> str | None:
        """A new one-time password (forced change at next sign-in); ends the account's sessions
        and its lockout. None if there is no such account."""
        if not _operator_ok(by):
            raise StaffAdminError(AdminRefusal.OPERATOR_INVALID)
        now = self._now()
        password = one_time_password()
        password_hash = await hash_password(self._hasher, password)
        async with self._transaction() as conn:
            account = await db.get_account(conn, staff_id=staff_id.strip().lower())
            if account is None:
                return None
            await db.set_password(
                conn,
                staff_id=account.staff_id,
                password_hash=password_hash,
                must_change=True,
                now=now,
                end_sessions=True,
            )
            await self._audit(
                conn,
                account.municipalities,
                now=now,
                actor=by,
                actor_role=await self._actor_role(conn, by),
                action="staff.reset_password",
                outcome="ok",
                subject=account.staff_id,
            )
        await self._redis.delete(self._redis_key("fail", account.staff_id))
        return password

    async def list(self) -> builtins.list[StaffMember]:
        """Every account, by staff ID."""
        async with self._transaction() as conn:
            accounts = await db.list_accounts(conn)
        return [self._member(a) for a in accounts]

    async def review(self) -> builtins.list[ReviewRow]:
        """The account review: every account with its role, municipalities, issuer, creation,
        expiry, last use, and whether it is expired or locked out now."""
        now = self._now()
        async with self._transaction() as conn:
            accounts = await db.list_accounts(conn)
        locks = [await self._locked(self._redis_key("fail", a.staff_id), now) for a in accounts]
        return [
            ReviewRow(
                staff_id=a.staff_id,
                role=Role(a.role),
                municipalities=a.municipalities,
                created_by=a.created_by,
                created_at=a.created_at,
                expires_on=a.expires_on,
                contract_end=a.contract_end,
                shared=a.shared,
                terminals=a.terminal_names,
                last_sign_in_at=a.last_sign_in_at,
                expired=not self._active(a, now),
                locked=locked,
            )
            for a, locked in zip(accounts, locks, strict=True)
        ]

    async def terminal_add(self, name: str, *, by: str) -> tuple[Terminal, str]:
        """Register a terminal; returns it and its one-time enrolment token (valid 24 hours;
        the store keeps only its SHA-256)."""
        name = name.strip()
        if not 1 <= len(name) <= 64 or not name.isprintable() or _TWELVE_DIGITS.search(name):
            raise StaffAdminError(AdminRefusal.TERMINAL_NAME_INVALID)
        if not _operator_ok(by):
            raise StaffAdminError(AdminRefusal.OPERATOR_INVALID)
        now = self._now()
        terminal = Terminal(terminal_id=secrets.token_urlsafe(12), name=name)
        token = secrets.token_urlsafe(32)
        try:
            async with self._transaction() as conn:
                await db.insert_terminal(
                    conn,
                    terminal_id=terminal.terminal_id,
                    name=name,
                    token_hash=_sha256(token),
                    token_expires_at=now + ENROL_TOKEN_TTL,
                    by=by,
                    now=now,
                )
                actor_role = await self._actor_role(conn, by)
                await self._audit(
                    conn,
                    await db.all_municipalities(conn),
                    now=now,
                    actor=by,
                    actor_role=actor_role,
                    action="terminal.add",
                    outcome="ok",
                    subject=name,
                )
        except db.UniqueViolation:
            raise StaffAdminError(AdminRefusal.TERMINAL_NAME_TAKEN) from None
        return terminal, token

    async def terminal_list(self) -> builtins.list[Terminal]:
        """Every registered terminal, by name."""
        async with self._transaction() as conn:
            rows = await db.list_terminals(conn)
        return [self._terminal(r) for r in rows]

    # --- audit review -----------------------------------------------------------------------

    async def audit_events(
        self,
        municipality_code: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        actor: str | None = None,
        action: str | None = None,
        outcome: str | None = None,
        before_id: int | None = None,
        limit: int = 100,
    ) -> builtins.list[AuditEntry]:
        """One page of a municipality's audit log, newest first (`vrs_client.list_audit_events`;
        at most `vrs_client.AUDIT_PAGE_MAX` rows). The caller checks the reader's role and
        grants."""
        with db.translate_driver_errors():
            async with self._pool.acquire() as conn:
                return await list_audit_events(
                    conn,
                    municipality_code=municipality_code,
                    since=since,
                    until=until,
                    actor=actor,
                    action=action,
                    outcome=outcome,
                    before_id=before_id,
                    limit=limit,
                )

    async def audit_chain(self, municipality_code: str) -> AuditChainReport:
        """The municipality's audit chain status (`vrs_client.verify_audit_chain`)."""
        with db.translate_driver_errors():
            async with self._pool.acquire() as conn:
                return await verify_audit_chain(conn, municipality_code=municipality_code)


#: The demo's accounts: (staff ID, role).
DEMO_ACCOUNTS = (
    ("demo-admin", Role.ADMINISTRATOR),
    ("demo-staff", Role.COUNTER_STAFF),
    ("demo-supervisor", Role.SUPERVISOR),
    ("demo-contractor", Role.CONTRACTOR),
)


async def create_demo_accounts(
    service: StaffService, *, municipalities: Sequence[str]
) -> builtins.list[tuple[str, Role, str]]:
    """The demo's staff accounts (an administrator, counter staff, a supervisor, a contractor),
    granted `municipalities`, each with a one-time password: (staff ID, role, password). An
    account that exists already gets a new one-time password."""
    today = service._today(service._now())
    out: builtins.list[tuple[str, Role, str]] = []
    for staff_id, role in DEMO_ACCOUNTS:
        contract_end = today + timedelta(days=180) if role is Role.CONTRACTOR else None
        try:
            password = await service.create(
                staff_id=staff_id,
                role=role,
                municipalities=municipalities,
                expires_on=contract_end or today + timedelta(days=365),
                contract_end=contract_end,
                created_by="demo",
            )
        except StaffAdminError as exc:
            if exc.code is not AdminRefusal.STAFF_ID_TAKEN:
                raise
            reset = await service.reset_password(staff_id, by="demo")
            if reset is None:
                raise RuntimeError("a demo account vanished while it was reset") from None
            password = reset
        out.append((staff_id, role, password))
    return out
