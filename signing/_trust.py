"""J-LIS trust anchors for the text AP's card-verifiable certificates (contracts.md §3).

The trust file lists the J-LIS keys that may sign EF0004, each with its hierarchy and an inclusive
validity window in JST dates, and a deny-list of subject key IDs. The public keys are parsed once,
when the store is built, so that verifying a card never touches PEM.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, Literal

import msgspec
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from signing._errors import SigningError

Hierarchy = Literal["production", "test", "synthetic"]
HIERARCHIES: Final[frozenset[str]] = frozenset({"production", "test", "synthetic"})

# The trust file is a few kilobytes; anything far larger is not one.
_MAX_TRUST_FILE_BYTES: Final = 4 * 1024 * 1024
_KEY_ID_HEX = re.compile(r"[0-9A-Fa-f]{32}")


class TrustStoreError(SigningError):
    """The trust file or the accepted hierarchies are unusable. Codes: `TRUST_FILE_UNREADABLE`,
    `TRUST_FILE_INVALID`, `TRUST_HIERARCHIES_INVALID`."""


class _AnchorJson(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    key_id: str
    hierarchy: Hierarchy
    public_key_pem: str
    valid_from: date
    valid_until: date


class _TrustFileJson(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    anchors: list[_AnchorJson]
    revoked_subject_key_ids: list[str] = []


_trust_file_decoder: Final = msgspec.json.Decoder(_TrustFileJson)


class TrustAnchor(msgspec.Struct, frozen=True, kw_only=True):
    """One pinned J-LIS key: its 16-byte key ID, hierarchy, RSA-2048 public key and inclusive
    JST validity window."""

    key_id: bytes
    hierarchy: str
    public_key: rsa.RSAPublicKey
    valid_from: date
    valid_until: date


class TrustStore(msgspec.Struct, frozen=True, kw_only=True):
    """The J-LIS keys a verifier trusts, the hierarchies its policy accepts and the deny-list of
    signer (subject) key IDs. Built only through `load_trust_store` or the `from_*` methods, which
    validate everything, so an instance is always usable."""

    anchors: Mapping[bytes, TrustAnchor]
    revoked_subject_key_ids: frozenset[bytes]
    hierarchies: frozenset[str]

    @classmethod
    def from_json_bytes(cls, data: bytes, *, hierarchies: Iterable[str]) -> TrustStore:
        """Build a store from the bytes of a trust file (contracts.md §3); raises
        `TrustStoreError` with `TRUST_FILE_INVALID` naming what is wrong."""
        allowed = _check_hierarchies(hierarchies)
        try:
            parsed = _trust_file_decoder.decode(data)
        except msgspec.DecodeError as exc:
            raise TrustStoreError("TRUST_FILE_INVALID", f"trust file invalid: {exc}") from None
        return _build(parsed, allowed)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, hierarchies: Iterable[str]) -> TrustStore:
        """Build a store from an already decoded trust file (as `SyntheticJlis.trust_file_json`
        returns); same checks as `from_json_bytes`."""
        return cls.from_json_bytes(msgspec.json.encode(data), hierarchies=hierarchies)

    def __repr__(self) -> str:
        return (
            f"TrustStore(anchors={len(self.anchors)}, "
            f"revoked={len(self.revoked_subject_key_ids)}, "
            f"hierarchies={sorted(self.hierarchies)})"
        )


def load_trust_store(path: str | Path, *, hierarchies: Iterable[str]) -> TrustStore:
    """Read the trust file named by `CERTSVC_JLIS_TRUST_FILE` and accept the given hierarchies
    (`CERTSVC_JLIS_HIERARCHIES`).

    Guarantees: every anchor has a 16-byte key ID, a known hierarchy, an RSA-2048 public key and
    a window with `valid_from <= valid_until`; key IDs are unique; hierarchies are a non-empty
    subset of production, test and synthetic. Otherwise `TrustStoreError`.
    """
    allowed = _check_hierarchies(hierarchies)
    try:
        with Path(path).open("rb") as f:
            data = f.read(_MAX_TRUST_FILE_BYTES + 1)
    except OSError as exc:
        raise TrustStoreError(
            "TRUST_FILE_UNREADABLE", f"cannot read the trust file: {exc.strerror}"
        ) from None
    if len(data) > _MAX_TRUST_FILE_BYTES:
        raise TrustStoreError("TRUST_FILE_INVALID", "trust file too large")
    return TrustStore.from_json_bytes(data, hierarchies=allowed)


def _check_hierarchies(hierarchies: Iterable[str]) -> frozenset[str]:
    if isinstance(hierarchies, str):
        # A bare string would iterate over its letters.
        raise TrustStoreError(
            "TRUST_HIERARCHIES_INVALID", "hierarchies must be a collection of names"
        )
    allowed = frozenset(hierarchies)
    unknown = allowed - HIERARCHIES
    if unknown or not allowed:
        raise TrustStoreError(
            "TRUST_HIERARCHIES_INVALID",
            f"hierarchies must be a non-empty subset of {sorted(HIERARCHIES)}, "
            f"got {sorted(allowed)}",
        )
    return allowed


def _key_id(text: str, where: str) -> bytes:
    if not _KEY_ID_HEX.fullmatch(text):
        raise TrustStoreError("TRUST_FILE_INVALID", f"{where}: not 32 hexadecimal characters")
    return bytes.fromhex(text)


def _build(parsed: _TrustFileJson, allowed: frozenset[str]) -> TrustStore:
    anchors: dict[bytes, TrustAnchor] = {}
    for i, a in enumerate(parsed.anchors):
        where = f"anchors[{i}]"
        key_id = _key_id(a.key_id, f"{where}.key_id")
        if key_id in anchors:
            raise TrustStoreError("TRUST_FILE_INVALID", f"{where}: duplicate key_id")
        if a.valid_from > a.valid_until:
            raise TrustStoreError("TRUST_FILE_INVALID", f"{where}: valid_from after valid_until")
        try:
            key = serialization.load_pem_public_key(a.public_key_pem.encode("utf-8"))
        except (ValueError, TypeError, UnicodeError):
            raise TrustStoreError(
                "TRUST_FILE_INVALID", f"{where}.public_key_pem: not a PEM public key"
            ) from None
        # spec: the J-LIS keys are RSA-2048 (EF0004's 5F37 signature is 256 bytes).
        if not isinstance(key, rsa.RSAPublicKey) or key.key_size != 2048:
            raise TrustStoreError(
                "TRUST_FILE_INVALID", f"{where}.public_key_pem: not an RSA-2048 key"
            )
        anchors[key_id] = TrustAnchor(
            key_id=key_id,
            hierarchy=a.hierarchy,
            public_key=key,
            valid_from=a.valid_from,
            valid_until=a.valid_until,
        )
    revoked = frozenset(
        _key_id(k, f"revoked_subject_key_ids[{i}]")
        for i, k in enumerate(parsed.revoked_subject_key_ids)
    )
    return TrustStore(
        anchors=MappingProxyType(anchors),
        revoked_subject_key_ids=revoked,
        hierarchies=allowed,
    )
