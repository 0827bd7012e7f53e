"""The store: public reference data, the municipality-scoped transaction, and the two statements
of an issuance.

Round trips of one issuance (`VrsStore.statements`): the person with their doses (and, when asked,
the latest passport on record) in one call, and the issuance with its audit event in another, each
a SQL function that enters the municipality's scope itself (migration 0007) and runs as its own
implicit transaction: no BEGIN, no COMMIT, no separate scope statement. Everything else uses
`VrsStore.scoped`: BEGIN, scope (role + partition in one SELECT), its statements, COMMIT. Data keys
are unwrapped once per process.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from datetime import date, datetime
from typing import Any, TypeAlias

import asyncpg
import msgspec
from asyncpg.pool import PoolConnectionProxy

from vrs_client._checks import is_valid_municipality_code
from vrs_client._conn import Conn, fetch_one
from vrs_client._crl import get_shc_crl, list_crl_versions
from vrs_client._crypto import FieldCipher, KeyRing
from vrs_client._errors import VrsError, VrsErrorCode, is_store_unavailable
from vrs_client._keys import enter_scope, get_data_key
from vrs_client._types import (
    AuditEvent,
    Channel,
    DeleteOutcome,
    Issuance,
    IssuanceKind,
    IssuanceOutcome,
    IssuanceRecord,
    IssuanceSignatures,
    Municipality,
    PassportItems,
    Person,
    PersonStatus,
    Product,
    RevokedRid,
    RevokeOutcome,
    ShcCrlState,
    Vaccination,
    VoidOutcome,
)

#: A connection borrowed from the pool (what `IssuanceStatements` holds).
Pooled: TypeAlias = "PoolConnectionProxy[asyncpg.Record]"

_passport_encoder = msgspec.msgpack.Encoder()
_passport_decoder = msgspec.msgpack.Decoder(PassportItems)
_signatures_encoder = msgspec.msgpack.Encoder()
_signatures_decoder = msgspec.msgpack.Decoder(IssuanceSignatures)


@contextlib.contextmanager
def translate_driver_errors() -> Any:
    """Driver failures become `VrsError` (the driver's message may quote values: it is chained
    for the logs' traceback, never put in our message)."""
    try:
        yield
    except VrsError:
        raise
    except Exception as exc:
        if is_store_unavailable(exc):
            raise VrsError(VrsErrorCode.STORE_UNAVAILABLE) from exc
        if isinstance(exc, asyncpg.PostgresError | asyncpg.InterfaceError):
            raise VrsError(VrsErrorCode.STORE_FAILED, type(exc).__name__) from exc
        if isinstance(exc, asyncpg.InternalClientError):
            raise VrsError(VrsErrorCode.STORE_FAILED, type(exc).__name__) from exc
        raise


def check_municipality_code(code: str) -> None:
    if not isinstance(code, str) or not is_valid_municipality_code(code):
        raise VrsError(VrsErrorCode.MUNICIPALITY_CODE_INVALID)


# --- public reference data ---------------------------------------------------------------------

_q_list_municipalities = """
SELECT code, name_ja, name_en, app_enabled, kiosk_enabled, counter_enabled, kiosk_fee_yen,
       kiosk_open, kiosk_close
FROM municipalities ORDER BY code
"""
_q_get_municipality = """
SELECT code, name_ja, name_en, app_enabled, kiosk_enabled, counter_enabled, kiosk_fee_yen,
       kiosk_open, kiosk_close
FROM municipalities WHERE code = $1
"""


def _municipality(row: asyncpg.Record) -> Municipality:
    return Municipality(
        code=row[0],
        name_ja=row[1],
        name_en=row[2],
        app_enabled=row[3],
        kiosk_enabled=row[4],
        counter_enabled=row[5],
        kiosk_fee_yen=row[6],
        kiosk_open=row[7],
        kiosk_close=row[8],
    )


async def list_municipalities(conn: Conn) -> list[Municipality]:
    """Every municipality served, by code."""
    return [_municipality(r) for r in await conn.fetch(_q_list_municipalities)]


async def get_municipality(conn: Conn, *, code: str) -> Municipality | None:
    """One municipality, or None."""
    row = await conn.fetchrow(_q_get_municipality, code)
    return None if row is None else _municipality(row)


_q_list_revoked_rids = """
SELECT rid, revoked_at FROM revocations WHERE kid = $1 ORDER BY revoked_at, rid
"""


async def list_revoked_rids(conn: Conn, *, kid: str) -> list[RevokedRid]:
    """The revoked rids of one signing key, across municipalities (the CRL source). Reads the
    non-partitioned `revocations` table, which holds only certificate id, kid, rid and time."""
    rows = await conn.fetch(_q_list_revoked_rids, kid)
    return [RevokedRid(rid=r[0], revoked_at=r[1]) for r in rows]


# --- persons ----------------------------------------------------------------------------------

# One query for the person and the doses (parallel arrays, in dose order).
PERSON_WITH_DOSES = """
SELECT p.id, p.address_number, p.name_enc, p.birth_date_enc, p.sex_enc, p.status,
       p.record_digest, p.record_version, v.doses, v.dates, v.products, v.lots
FROM persons p
LEFT JOIN LATERAL (
    SELECT array_agg(dose_number ORDER BY dose_number) AS doses,
           array_agg(vaccinated_on ORDER BY dose_number) AS dates,
           array_agg(product ORDER BY dose_number) AS products,
           array_agg(lot_number ORDER BY dose_number) AS lots
    FROM vaccinations WHERE person_id = p.id
) v ON true
"""
_q_find_person_by_my_number = PERSON_WITH_DOSES + "WHERE p.my_number_hmac = $1"
_q_find_person_by_address_number = PERSON_WITH_DOSES + "WHERE p.address_number = $1"
_q_list_vaccinations = """
SELECT dose_number, vaccinated_on, product, lot_number
FROM vaccinations WHERE person_id = $1 ORDER BY dose_number
"""


def _doses(
    doses: Sequence[int] | None,
    dates: Sequence[date] | None,
    products: Sequence[str] | None,
    lots: Sequence[str] | None,
) -> tuple[Vaccination, ...]:
    if not doses or dates is None or products is None or lots is None:
        return ()
    return tuple(
        Vaccination(dose_number=d, vaccinated_on=on, product=Product(p), lot_number=lot)
        for d, on, p, lot in zip(doses, dates, products, lots, strict=True)
    )


def decode_person(cipher: FieldCipher, row: asyncpg.Record) -> Person:
    address_number = row[1]
    name = cipher.decrypt("persons", "name", address_number, row[2]).decode()
    family, _, given = name.partition("\u3000")
    return Person(
        id=row[0],
        municipality_code=cipher.municipality_code,
        address_number=address_number,
        family_name=family,
        given_name=given,
        birth_date=date.fromisoformat(
            cipher.decrypt("persons", "birth_date", address_number, row[3]).decode()
        ),
        sex=cipher.decrypt("persons", "sex", address_number, row[4]).decode(),
        status=PersonStatus(row[5]),
        record_digest=row[6],
        record_version=row[7],
        vaccinations=_doses(row[8], row[9], row[10], row[11]),
    )


# --- issuances --------------------------------------------------------------------------------

# The two statements of an issuance (functions of migration 0007: each enters the scope itself).
# The write is the issuance and its audit event in one statement; no audit row when the issuance
# was not written. VrsTransaction writes through the same function.
_q_issuance_lookup = "SELECT * FROM vrs_issuance_lookup($1, $2, $3, $4)"
_q_record_issuance_call = """
SELECT * FROM vrs_record_issuance($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,
                                  $16, $17, $18, $19, $20, $21, $22, $23)
"""


_ISSUANCE_COLUMNS = """
SELECT certificate_id, municipality_code, person_id, issued_at, channel, kind, rid, kid,
       records_digest, passport_enc, copies, fee_yen, voided_at, void_reason, revoked_at,
       revoke_reason, signatures_enc
FROM issuances
"""
_q_get_issuance = _ISSUANCE_COLUMNS + "WHERE certificate_id = $1"
_q_list_issuances = _ISSUANCE_COLUMNS + "WHERE person_id = $1 ORDER BY issued_at, certificate_id"
_q_latest_abroad_passport = """
SELECT certificate_id, passport_enc FROM issuances
WHERE person_id = $1 AND kind = 'abroad' AND voided_at IS NULL AND passport_enc IS NOT NULL
ORDER BY issued_at DESC, certificate_id DESC LIMIT 1
"""
# found/changed in one round trip. The row lock orders two concurrent voids (or revokes) of one
# issuance: the second sees the first's result and answers ALREADY_*, instead of both "winning".
_q_void_issuance = """
WITH target AS (
    SELECT certificate_id, voided_at FROM issuances WHERE certificate_id = $1 FOR UPDATE
), changed AS (
    UPDATE issuances i SET voided_at = $2, void_reason = $3
    FROM target t WHERE i.certificate_id = t.certificate_id AND t.voided_at IS NULL
    RETURNING 1
)
SELECT (SELECT count(*) FROM target), (SELECT count(*) FROM changed)
"""
_q_revoke_issuance = """
WITH target AS (
    SELECT certificate_id, revoked_at FROM issuances WHERE certificate_id = $1 FOR UPDATE
), changed AS (
    UPDATE issuances i SET revoked_at = $2, revoke_reason = $3
    FROM target t WHERE i.certificate_id = t.certificate_id AND t.revoked_at IS NULL
    RETURNING 1
)
SELECT (SELECT count(*) FROM target), (SELECT count(*) FROM changed)
"""
# The person's passport items are erased with them; the issuance log (items ㊸ ㊹) and the CRL
# entries stay (person_id becomes NULL by the foreign key).
_q_erase_person_passports = """
UPDATE issuances SET passport_enc = NULL, signatures_enc = NULL
WHERE person_id = (SELECT id FROM persons WHERE address_number = $1)
"""
_q_delete_person = """
WITH deleted AS (DELETE FROM persons WHERE address_number = $1 RETURNING 1)
SELECT count(*) FROM deleted
"""
_q_record_audit_event = """
INSERT INTO audit_events (municipality_code, at, actor, action, address_number, reason, outcome,
                          actor_role, terminal, identity_method, subject, detail)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
"""


def _seal_passport(cipher: FieldCipher, certificate_id: str, items: PassportItems) -> bytes:
    return cipher.encrypt("issuances", "passport", certificate_id, _passport_encoder.encode(items))


def _open_passport(cipher: FieldCipher, certificate_id: str, blob: bytes) -> PassportItems:
    plain = cipher.decrypt("issuances", "passport", certificate_id, blob)
    return _passport_decoder.decode(plain)


def _seal_signatures(
    cipher: FieldCipher, certificate_id: str, signatures: IssuanceSignatures
) -> bytes:
    return cipher.encrypt(
        "issuances", "signatures", certificate_id, _signatures_encoder.encode(signatures)
    )


def _open_signatures(cipher: FieldCipher, certificate_id: str, blob: bytes) -> IssuanceSignatures:
    plain = cipher.decrypt("issuances", "signatures", certificate_id, blob)
    return _signatures_decoder.decode(plain)


def _issuance(cipher: FieldCipher, row: asyncpg.Record) -> Issuance:
    certificate_id = row[0]
    return Issuance(
        certificate_id=certificate_id,
        municipality_code=row[1],
        person_id=row[2],
        issued_at=row[3],
        channel=Channel(row[4]),
        kind=IssuanceKind(row[5]),
        rid=row[6],
        kid=row[7],
        records_digest=row[8],
        passport=None if row[9] is None else _open_passport(cipher, certificate_id, row[9]),
        copies=row[10],
        fee_yen=row[11],
        voided_at=row[12],
        void_reason=row[13],
        revoked_at=row[14],
        revoke_reason=row[15],
        signatures=None if row[16] is None else _open_signatures(cipher, certificate_id, row[16]),
    )


def _audit_args(code: str, event: AuditEvent) -> tuple[Any, ...]:
    return (
        code,
        event.at,
        event.actor,
        event.action,
        event.address_number,
        event.reason,
        event.outcome,
        event.actor_role,
        event.terminal,
        event.identity_method,
        event.subject,
    )


def _record_issuance_args(
    cipher: FieldCipher, municipality_code: str, record: IssuanceRecord, audit: AuditEvent | None
) -> tuple[Any, ...]:
    """The 23 arguments of `vrs_record_issuance` (migration 0007): the issuance, its sealed
    passport items and kept signatures, and the audit event (NULLs: none)."""
    passport = (
        None
        if record.passport is None
        else _seal_passport(cipher, record.certificate_id, record.passport)
    )
    signatures = (
        None
        if record.signatures is None
        else _seal_signatures(cipher, record.certificate_id, record.signatures)
    )
    audit_args: tuple[Any, ...] = (
        _audit_args(municipality_code, audit)[1:] if audit else (None,) * 10
    )
    return (
        record.certificate_id,
        municipality_code,
        record.person_id,
        record.issued_at,
        record.channel.value,
        record.kind.value,
        record.rid,
        record.kid,
        record.records_digest,
        passport,
        record.copies,
        record.fee_yen,
        signatures,
        *audit_args,
    )


class VrsTransaction:
    """One transaction bound to one municipality's partition (see `VrsStore.scoped`)."""

    def __init__(self, conn: Conn, keys: KeyRing, municipality_code: str) -> None:
        self._conn = conn
        self._keys = keys
        self.municipality_code = municipality_code
        self._cipher: FieldCipher | None = keys.cached(municipality_code)
        self._created_key = False
        self._open = True

    @property
    def connection(self) -> Conn:
        """The scoped connection, for the package's own set-based operations."""
        if not self._open:
            raise VrsError(VrsErrorCode.SCOPE_CLOSED)
        return self._conn

    async def cipher(self) -> FieldCipher:
        """This municipality's field cipher (unwrapped once per process, created on first use)."""
        if self._cipher is None:
            self._cipher, self._created_key = await get_data_key(
                self.connection, self._keys, municipality_code=self.municipality_code
            )
        return self._cipher

    def _committed(self) -> None:
        self._open = False
        if self._cipher is not None:
            self._keys.remember(self._cipher)

    def _closed(self) -> None:
        self._open = False

    async def find_person_by_my_number(self, my_number: str) -> Person | None:
        """The person with this My Number in this municipality, decrypted, with their doses."""
        digest = self._keys.my_number_hmac(my_number)
        row = await self.connection.fetchrow(_q_find_person_by_my_number, digest)
        return None if row is None else decode_person(await self.cipher(), row)

    async def find_person_by_address_number(self, address_number: str) -> Person | None:
        """The person with this address number in this municipality, with their doses."""
        row = await self.connection.fetchrow(_q_find_person_by_address_number, address_number)
        return None if row is None else decode_person(await self.cipher(), row)

    async def list_vaccinations(self, person: Person | int) -> list[Vaccination]:
        """The person's doses in this municipality, by dose number (a fresh read; `Person` already
        carries the doses read with it)."""
        person_id = person if isinstance(person, int) else person.id
        rows = await self.connection.fetch(_q_list_vaccinations, person_id)
        return [
            Vaccination(
                dose_number=r[0], vaccinated_on=r[1], product=Product(r[2]), lot_number=r[3]
            )
            for r in rows
        ]

    async def record_issuance(
        self, record: IssuanceRecord, *, audit: AuditEvent | None = None
    ) -> IssuanceOutcome:
        """Write the issuance, and `audit` with it in the same statement when given (the same
        function as `IssuanceStatements.record_issuance`, inside this transaction)."""
        args = _record_issuance_args(await self.cipher(), self.municipality_code, record, audit)
        return _outcome(await self.connection.fetchrow(_q_record_issuance_call, *args))

    async def get_issuance(self, certificate_id: str) -> Issuance | None:
        row = await self.connection.fetchrow(_q_get_issuance, certificate_id)
        return None if row is None else _issuance(await self.cipher(), row)

    async def list_issuances(self, person: Person | int) -> list[Issuance]:
        """The person's issuances in this municipality, oldest first."""
        person_id = person if isinstance(person, int) else person.id
        rows = await self.connection.fetch(_q_list_issuances, person_id)
        if not rows:
            return []
        cipher = await self.cipher()
        return [_issuance(cipher, r) for r in rows]

    async def latest_abroad_passport(
        self, person: Person | int, today: date
    ) -> PassportItems | None:
        """The passport items of the person's latest (not voided) issuance for use abroad in this
        municipality, if that passport has not expired on `today` (DESIGN §1.2 step 6)."""
        person_id = person if isinstance(person, int) else person.id
        row = await self.connection.fetchrow(_q_latest_abroad_passport, person_id)
        if row is None:
            return None
        items = _open_passport(await self.cipher(), row[0], row[1])
        return None if items.expiry_date < today else items

    async def void_issuance(self, certificate_id: str, reason: str, now: datetime) -> VoidOutcome:
        """Mark a print that failed: the issuance did not happen (not in the CRL)."""
        found, changed = await fetch_one(
            self.connection, _q_void_issuance, certificate_id, now, reason
        )
        if found == 0:
            return VoidOutcome.NOT_FOUND
        return VoidOutcome.VOIDED if changed else VoidOutcome.ALREADY_VOIDED

    async def revoke_issuance(
        self, certificate_id: str, reason: str, now: datetime
    ) -> RevokeOutcome:
        """Revoke a certificate (its rid enters the CRL of its key)."""
        found, changed = await fetch_one(
            self.connection, _q_revoke_issuance, certificate_id, now, reason
        )
        if found == 0:
            return RevokeOutcome.NOT_FOUND
        return RevokeOutcome.REVOKED if changed else RevokeOutcome.ALREADY_REVOKED

    async def delete_person(self, address_number: str) -> DeleteOutcome:
        """Delete a person and their doses; their issuances lose the passport items, the kept
        signatures and the link but stay in the log (and the CRL)."""
        # Two statements: a row this statement updated is not seen again by the key's SET NULL.
        await self.connection.execute(_q_erase_person_passports, address_number)
        deleted = await self.connection.fetchval(_q_delete_person, address_number)
        return DeleteOutcome.DELETED if deleted else DeleteOutcome.NOT_FOUND

    async def record_audit_event(self, event: AuditEvent) -> None:
        """Append an unchained audit event (the chainer links it later)."""
        await self.connection.execute(
            _q_record_audit_event, *_audit_args(self.municipality_code, event), event.detail
        )


class FoundPerson(msgspec.Struct, frozen=True, kw_only=True):
    """What the lookup of an issuance found: the person with their doses and, when asked for,
    the passport items of their latest issuance for use abroad (None when there is none, or that
    passport has expired)."""

    person: Person
    abroad_passport: PassportItems | None


def _outcome(row: asyncpg.Record | None) -> IssuanceOutcome:
    if row is None or row[0] == 0:
        return IssuanceOutcome.PERSON_NOT_FOUND
    if row[1] == 0:
        return IssuanceOutcome.CERTIFICATE_ID_TAKEN
    return IssuanceOutcome.RECORDED


class IssuanceStatements:
    """An issuance's two round trips in one municipality (see `VrsStore.statements`): `find_person`
    then `record_issuance`, each one statement in its own transaction, on one pooled connection
    held for the `async with`."""

    def __init__(self, store: VrsStore, conn: Pooled, cipher: FieldCipher, code: str) -> None:
        self._store = store
        self._conn = conn
        self._cipher = cipher
        self.municipality_code = code

    async def find_person(
        self,
        *,
        my_number: str | None = None,
        address_number: str | None = None,
        abroad_passport_on: date | None = None,
    ) -> FoundPerson | None:
        """The person with this My Number (or, without one, this address number) in this
        municipality, with their doses; with `abroad_passport_on`, also the passport items of
        their latest issuance for use abroad if that passport is still valid on that day
        (DESIGN §1.2 step 6). A read: retried once on a fresh connection when PostgreSQL is
        unavailable (see `VrsStore`)."""
        if (my_number is None) == (address_number is None):
            raise ValueError("give exactly one of my_number and address_number")
        digest = None if my_number is None else self._store.keys.my_number_hmac(my_number)
        args = (self.municipality_code, digest, address_number, abroad_passport_on is not None)
        row: asyncpg.Record | None = None
        for attempt in range(2):
            try:
                row = await self._conn.fetchrow(_q_issuance_lookup, *args)
                break
            except Exception as exc:
                if not await self._store._retryable(exc, attempt):
                    raise
                self._conn = await self._store._replace_connection(self._conn)
        if row is None:
            return None
        person = decode_person(self._cipher, row)
        passport: PassportItems | None = None
        if abroad_passport_on is not None and row[13] is not None:
            items = _open_passport(self._cipher, row[12], row[13])
            passport = None if items.expiry_date < abroad_passport_on else items
        return FoundPerson(person=person, abroad_passport=passport)

    async def record_issuance(
        self, record: IssuanceRecord, *, audit: AuditEvent | None = None
    ) -> IssuanceOutcome:
        """Write the issuance, and `audit` with it in the same statement when given. Never
        retried: the statement may have reached the server."""
        args = _record_issuance_args(self._cipher, self.municipality_code, record, audit)
        row = await self._conn.fetchrow(_q_record_issuance_call, *args)
        return _outcome(row)


async def pool_reset(conn: asyncpg.Connection) -> None:
    """The `reset` hook for the asyncpg pool of a `VrsStore` (`asyncpg.create_pool(...,
    reset=pool_reset)`). The store closes every transaction it opens and sets only
    transaction-local settings, so asyncpg's default reset (a round trip per release) is replaced
    by a local check: a connection still inside a transaction (a request cancelled mid-way) is
    rolled back before anyone else gets it."""
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


#: How long a caller waits for a pooled connection (or for a new one to be made) before the
#: store reports STORE_UNAVAILABLE: an exhausted pool or a server that does not answer gives a
#: prompt "try again" instead of a request that hangs.
DEFAULT_ACQUIRE_TIMEOUT_S = 2.0


def _lost_connection(exc: BaseException) -> bool:
    """The connection itself is gone (the server restarted or crashed): every pooled connection
    opened before is likely gone too."""
    if isinstance(exc, asyncpg.PostgresError):
        sqlstate = getattr(exc, "sqlstate", None) or ""
        return sqlstate.startswith("08") or sqlstate in {"57P01", "57P02"}
    return isinstance(exc, asyncpg.InterfaceError | asyncpg.InternalClientError | ConnectionError)


async def _select_one(conn: Conn) -> None:
    await conn.fetchval("SELECT 1")


class VrsStore:
    """The VRS store over an asyncpg pool (see the package docstring).

    Retry rule. A failure that means "PostgreSQL is not there" (`is_store_unavailable`) is
    retried once, on a fresh connection, only while nothing has been written: reading the public
    reference data, or opening a scoped transaction (acquire, BEGIN, entering the partition —
    none of which writes a row). Once `scoped` has handed the transaction to the caller, nothing
    is retried: a statement may have reached the server, and only the caller knows whether the
    body can run twice; a failure there, COMMIT included, surfaces as STORE_UNAVAILABLE and the
    transaction's outcome is PostgreSQL's (rolled back, or — if the connection died during
    COMMIT — possibly committed). Timeouts are not retried: the wait has been spent already.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        master_key: bytes,
        lookup_key: bytes,
        previous_master_key: bytes | None = None,
        acquire_timeout_s: float = DEFAULT_ACQUIRE_TIMEOUT_S,
    ) -> None:
        self._pool = pool
        self._acquire_timeout_s = acquire_timeout_s
        self.keys = KeyRing(
            master_key=master_key, lookup_key=lookup_key, previous_master_key=previous_master_key
        )

    async def _retryable(self, exc: BaseException, attempt: int) -> bool:
        if attempt > 0 or isinstance(exc, TimeoutError) or not is_store_unavailable(exc):
            return False
        if _lost_connection(exc):
            # Connections opened before a restart are dead; have the pool replace them all
            # rather than find them one failed request at a time.
            await self._pool.expire_connections()
        return True

    async def _read(self, query: Any, **kwargs: Any) -> Any:
        """Run a read-only function on a pooled connection, retried once (see the class)."""
        with translate_driver_errors():
            for attempt in range(2):
                try:
                    async with self._pool.acquire(timeout=self._acquire_timeout_s) as conn:
                        return await query(conn, **kwargs)
                except Exception as exc:
                    if not await self._retryable(exc, attempt):
                        raise
            raise RuntimeError("unreachable")  # pragma: no cover

    async def ping(self) -> None:
        """Raise `VrsError` unless PostgreSQL answers a query (readiness probes). Retried once
        like any read, so connections left from before a server restart do not count against
        a server that is back."""
        await self._read(_select_one)

    async def list_municipalities(self) -> list[Municipality]:
        """Every municipality served (public reference data)."""
        result: list[Municipality] = await self._read(list_municipalities)
        return result

    async def get_municipality(self, code: str) -> Municipality | None:
        """One municipality, or None (public reference data)."""
        result: Municipality | None = await self._read(get_municipality, code=code)
        return result

    async def list_revoked_rids(self, kid: str) -> list[RevokedRid]:
        """Revoked rids of one signing key across municipalities (the CRL source)."""
        result: list[RevokedRid] = await self._read(list_revoked_rids, kid=kid)
        return result

    async def _open_scoped(
        self, stack: contextlib.AsyncExitStack, municipality_code: str
    ) -> VrsTransaction:
        """Acquire, BEGIN and enter the partition, retried once (see the class); the open
        transaction is handed to `stack`."""
        for attempt in range(2):
            attempt_stack = contextlib.AsyncExitStack()
            try:
                conn = await attempt_stack.enter_async_context(
                    self._pool.acquire(timeout=self._acquire_timeout_s)
                )
                tx = await attempt_stack.enter_async_context(
                    scoped_transaction(conn, self.keys, municipality_code)
                )
            except BaseException as exc:
                # Whatever stopped the opening (a cancellation too), the connection goes back.
                with contextlib.suppress(Exception):
                    await attempt_stack.aclose()
                if not isinstance(exc, Exception) or not await self._retryable(exc, attempt):
                    raise
                continue
            await stack.enter_async_context(attempt_stack)
            return tx
        raise RuntimeError("unreachable")  # pragma: no cover

    async def shc_crl(self, kid: str) -> ShcCrlState:
        """The revocation list of one SHC key, as every node serves it (see `_crl`). A read:
        retried once like the other public reads."""
        result: ShcCrlState = await self._read(get_shc_crl, kid=kid)
        return result

    async def crl_versions(self, kids: Sequence[str]) -> dict[str, int]:
        """The `ctr` of each key's revocation list (1 when it never changed)."""
        result: dict[str, int] = await self._read(list_crl_versions, kids=kids)
        return result

    @contextlib.asynccontextmanager
    async def scoped(self, municipality_code: str) -> AsyncIterator[VrsTransaction]:
        """One transaction in one municipality's partition: it runs as `certsvc_app` with
        `vrs.municipality_code` set, so row-level security confines every statement to that
        municipality even when the pool's login is a superuser. Commits on normal exit, rolls
        back on any exception. Driver failures surface as `VrsError`; opening the transaction is
        retried once when PostgreSQL is unavailable, the body never is (see the class)."""
        check_municipality_code(municipality_code)
        with translate_driver_errors():
            async with contextlib.AsyncExitStack() as stack:
                yield await self._open_scoped(stack, municipality_code)

    async def _acquire(self) -> Pooled:
        conn: Pooled = await self._pool.acquire(timeout=self._acquire_timeout_s)
        return conn

    async def _replace_connection(self, conn: Pooled) -> Pooled:
        """Give back a connection that failed (the pool closes or resets it) and take another."""
        with contextlib.suppress(Exception):
            await self._pool.release(conn)
        return await self._acquire()

    async def _cipher(self, municipality_code: str) -> FieldCipher:
        cipher = self.keys.cached(municipality_code)
        if cipher is None:  # once per process and municipality
            async with self.scoped(municipality_code) as tx:
                cipher = await tx.cipher()
        return cipher

    @contextlib.asynccontextmanager
    async def statements(self, municipality_code: str) -> AsyncIterator[IssuanceStatements]:
        """The two statements of an issuance in one municipality, on one pooled connection: the
        lookup and the write are each one round trip and their own transaction (migration 0007
        says why that is enough). Acquiring is retried once like any read (see the class); the
        data key is unwrapped on first use in the process."""
        check_municipality_code(municipality_code)
        with translate_driver_errors():
            cipher = await self._cipher(municipality_code)
            try:
                conn = await self._acquire()
            except Exception as exc:
                if not await self._retryable(exc, 0):
                    raise
                conn = await self._acquire()
            statements = IssuanceStatements(self, conn, cipher, municipality_code)
            try:
                yield statements
            finally:
                # A release that fails (its reset timed out, the connection broke) has the pool
                # close that connection; it must not turn a committed issuance into an error.
                with contextlib.suppress(Exception):
                    await self._pool.release(statements._conn)

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[Conn]:
        """A pooled connection for the package's admin functions (import, purge, export, audit)."""
        with translate_driver_errors():
            async with self._pool.acquire(timeout=self._acquire_timeout_s) as conn:
                yield conn


@contextlib.asynccontextmanager
async def scoped_transaction(
    conn: Conn, keys: KeyRing, municipality_code: str
) -> AsyncIterator[VrsTransaction]:
    """`VrsStore.scoped` on a connection the caller holds."""
    check_municipality_code(municipality_code)
    tx = VrsTransaction(conn, keys, municipality_code)
    try:
        async with conn.transaction():
            await enter_scope(conn, municipality_code=municipality_code)
            yield tx
    except BaseException:
        tx._closed()
        raise
    tx._committed()
