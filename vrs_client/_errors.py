"""The one error root of the package. Messages and codes never carry personal data."""

from __future__ import annotations

from enum import StrEnum


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
