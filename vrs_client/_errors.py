"""The one error root of the package. Messages and codes never carry personal data."""

from __future__ import annotations

import re
from enum import StrEnum

import asyncpg


class VrsErrorCode(StrEnum):
    """Stable codes of `VrsError` (listed in the README's error table)."""

    STORE_UNAVAILABLE = "VRS_STORE_UNAVAILABLE"
    """PostgreSQL did not answer or the connection broke."""
    STORE_FAILED = "VRS_STORE_FAILED"
    """PostgreSQL refused a statement (a bug or a schema mismatch); the cause is chained."""
    FIELD_DECRYPT_FAILED = "VRS_FIELD_DECRYPT_FAILED"
    """A ciphertext does not open under its key and AAD: altered, or moved from another row."""
    DATA_KEY_UNWRAP_FAILED = "VRS_DATA_KEY_UNWRAP_FAILED"
    """A municipality's data key does not unwrap under the configured master key."""
    KEY_INVALID = "VRS_KEY_INVALID"
    """A master or lookup key is not 32 bytes."""
    MUNICIPALITY_CODE_INVALID = "VRS_MUNICIPALITY_CODE_INVALID"
    """Not 6 digits with a valid check digit."""
    MUNICIPALITY_UNKNOWN = "VRS_MUNICIPALITY_UNKNOWN"
    """The municipality is not in the municipalities table."""
    SCOPE_CLOSED = "VRS_SCOPE_CLOSED"
    """A scoped transaction was used after its `async with` block ended."""
    RETENTION_TOO_SHORT = "VRS_RETENTION_TOO_SHORT"
    """A purge was asked with fewer years than the law's minimum (5 vaccinations, 7 issuances)."""
    IMPORT_HEADER_INVALID = "VRS_IMPORT_HEADER_INVALID"
    """An import file's header is not the contracts §4 column set."""
    IMPORT_FILE_UNREADABLE = "VRS_IMPORT_FILE_UNREADABLE"
    """An import file cannot be read as UTF-8 CSV."""
    AUDIT_EVENT_INVALID = "VRS_AUDIT_EVENT_INVALID"
    """An audit event does not fit its chain (a service-wide event naming a person)."""


class VrsError(Exception):
    """A failure of the VRS store (expected refusals are outcome enums, not this)."""

    def __init__(self, code: VrsErrorCode, message: str | None = None) -> None:
        self.code = code
        super().__init__(f"{code.value}: {message}" if message else code.value)


# SQLSTATEs that say "the server is not there for you now", not "your statement is wrong": the
# whole class 08 (connection exception), 57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot
# connect now (starting up or shutting down), 53300 too many connections.
_UNAVAILABLE_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "53300"})


_DEAD_PROTOCOL_STATE = re.compile(r"another operation \((2|4)\) is in progress")


def is_store_unavailable(exc: BaseException) -> bool:
    """True when a driver error means PostgreSQL is unreachable, restarting, crashed, out of
    connections or too slow — a condition a retry later can cure (the caller answers "try
    again", HTTP 503). False for errors of the statement itself (a bug: HTTP 500)."""
    if isinstance(exc, VrsError):
        return exc.code is VrsErrorCode.STORE_UNAVAILABLE
    if isinstance(exc, asyncpg.PostgresError):
        sqlstate = getattr(exc, "sqlstate", None) or ""
        return sqlstate.startswith("08") or sqlstate in _UNAVAILABLE_SQLSTATES
    if isinstance(exc, asyncpg.InterfaceError):
        # asyncpg has no subclass for these: "connection is closed", "pool is closing".
        text = str(exc)
        return "closed" in text or "closing" in text
    if isinstance(exc, asyncpg.InternalClientError):
        # A connection that received the server's shutdown notice (57P01) while idle is not
        # closed but left consuming that error (protocol state 2), terminating (4) or "failed";
        # its next statement raises this. Another state in progress is a bug (500).
        text = str(exc)
        return '"failed" state' in text or bool(_DEAD_PROTOCOL_STATE.search(text))
    # Refused, reset, broken pipe, a unix socket that is not there (server stopped), and
    # timeouts (asyncio.TimeoutError is TimeoutError: a pool acquire or a command timeout).
    return isinstance(exc, ConnectionError | TimeoutError) or (
        isinstance(exc, OSError) and exc.errno is not None
    )
