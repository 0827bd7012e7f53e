"""Field encryption (AES-256-GCM), data-key wrapping and keyed digests.

Field format: version (1 byte) ‖ nonce (12 random bytes) ‖ ciphertext ‖ tag (16 bytes). The AAD
binds the table, column, municipality and row key, so a ciphertext copied to another row, column
or municipality does not open. Each municipality has its own 32-byte data key, wrapped by the
master key (AES-256-GCM, AAD = municipality code); rotating the master key re-wraps data keys and
re-encrypts no row. Unwrapped data keys are cached per process (`KeyRing`).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterable, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from vrs_client._errors import VrsError, VrsErrorCode

FIELD_VERSION = 1
WRAP_VERSION = 1
_NONCE = 12
_SEP = b"\x1f"
_FIELD_VERSION_BYTE = bytes([FIELD_VERSION])


def _aad(*parts: str) -> bytes:
    return _SEP.join(p.encode() for p in parts)


def _check_key(key: bytes) -> None:
    if not isinstance(key, bytes) or len(key) != 32:
        raise VrsError(VrsErrorCode.KEY_INVALID, "keys are 32 bytes")


def master_key_id(master_key: bytes) -> bytes:
    """8 bytes naming a master key (an HMAC under it: says nothing about the key)."""
    return hmac.new(master_key, b"vrs.master-key-id", hashlib.sha256).digest()[:8]


def wrap_data_key(master_key: bytes, municipality_code: str, data_key: bytes) -> bytes:
    """The data key sealed under the master key, bound to its municipality."""
    _check_key(master_key)
    nonce = os.urandom(_NONCE)
    sealed = AESGCM(master_key).encrypt(nonce, data_key, _aad("vrs.data-key", municipality_code))
    return bytes([WRAP_VERSION]) + nonce + sealed


def unwrap_data_key(master_key: bytes, municipality_code: str, wrapped: bytes) -> bytes:
    """Inverse of `wrap_data_key`; raises `DATA_KEY_UNWRAP_FAILED` on any mismatch."""
    _check_key(master_key)
    if len(wrapped) != 1 + _NONCE + 32 + 16 or wrapped[0] != WRAP_VERSION:
        raise VrsError(VrsErrorCode.DATA_KEY_UNWRAP_FAILED)
    try:
        return AESGCM(master_key).decrypt(
            wrapped[1 : 1 + _NONCE], wrapped[1 + _NONCE :], _aad("vrs.data-key", municipality_code)
        )
    except InvalidTag:
        raise VrsError(VrsErrorCode.DATA_KEY_UNWRAP_FAILED) from None


class FieldCipher:
    """AES-256-GCM under one municipality's data key."""

    __slots__ = ("_aead", "_prefixes", "municipality_code")

    def __init__(self, municipality_code: str, data_key: bytes) -> None:
        _check_key(data_key)
        self.municipality_code = municipality_code
        self._aead = AESGCM(data_key)
        self._prefixes: dict[tuple[str, str], bytes] = {}

    def encrypt(self, table: str, column: str, row_key: str, plaintext: bytes) -> bytes:
        """A fresh ciphertext of `plaintext` bound to (table, column, municipality, row key)."""
        nonce = os.urandom(_NONCE)
        aad = _aad("vrs.field", table, column, self.municipality_code, row_key)
        return bytes([FIELD_VERSION]) + nonce + self._aead.encrypt(nonce, plaintext, aad)

    def encrypt_row(
        self, table: str, row_key: str, fields: Sequence[tuple[str, bytes]]
    ) -> list[bytes]:
        """`encrypt` of each (column, plaintext) of one row, the same format and AAD, with one
        draw of random bytes for all the nonces (a bulk import encrypts five fields a row)."""
        nonces = os.urandom(_NONCE * len(fields))
        key = row_key.encode()
        out = []
        for i, (column, plaintext) in enumerate(fields):
            nonce = nonces[i * _NONCE : (i + 1) * _NONCE]
            aad = self._prefix(table, column) + key
            out.append(_FIELD_VERSION_BYTE + nonce + self._aead.encrypt(nonce, plaintext, aad))
        return out

    def _prefix(self, table: str, column: str) -> bytes:
        prefix = self._prefixes.get((table, column))
        if prefix is None:
            prefix = _aad("vrs.field", table, column, self.municipality_code) + _SEP
            self._prefixes[(table, column)] = prefix
        return prefix

    def decrypt(self, table: str, column: str, row_key: str, blob: bytes) -> bytes:
        """The plaintext; raises `FIELD_DECRYPT_FAILED` if the blob was altered or moved."""
        if len(blob) < 1 + _NONCE + 16 or blob[0] != FIELD_VERSION:
            raise VrsError(VrsErrorCode.FIELD_DECRYPT_FAILED)
        aad = _aad("vrs.field", table, column, self.municipality_code, row_key)
        try:
            return self._aead.decrypt(blob[1 : 1 + _NONCE], blob[1 + _NONCE :], aad)
        except InvalidTag:
            raise VrsError(VrsErrorCode.FIELD_DECRYPT_FAILED) from None


class KeyRing:
    """The master and lookup keys, and the per-process cache of unwrapped data keys.

    During a master-key rotation a process holds the new key as `master_key` and the old one as
    `previous_master_key`: it opens data keys wrapped under either, and wraps new ones under the
    new key only."""

    def __init__(
        self, *, master_key: bytes, lookup_key: bytes, previous_master_key: bytes | None = None
    ) -> None:
        _check_key(master_key)
        _check_key(lookup_key)
        if previous_master_key is not None:
            _check_key(previous_master_key)
        self._master_key = master_key
        self._lookup_key = lookup_key
        # RFC 2104 with the pads hashed once: a 32-byte key is zero-padded to SHA-256's 64-byte
        # block; each HMAC then copies the two states (OpenSSL 3 sets up a MAC per one-shot call,
        # 4x the cost, and an import computes three per person).
        block = lookup_key.ljust(64, b"\x00")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))
        self.master_key_id = master_key_id(master_key)
        self._unwrapping = {self.master_key_id: master_key}
        if previous_master_key is not None:
            self._unwrapping.setdefault(master_key_id(previous_master_key), previous_master_key)
        self._ciphers: dict[str, FieldCipher] = {}

    def my_number_hmac(self, my_number: str) -> bytes:
        """The lookup handle of a My Number: HMAC-SHA-256 under the lookup key."""
        return self._hmac(b"vrs.my_number\x1f" + my_number.encode())

    def keyed_digest(self, label: str, parts: Iterable[str]) -> bytes:
        """HMAC-SHA-256 under the lookup key of unit-separated `parts` (row digests: keyed, so
        that a digest of low-entropy personal data cannot be brute-forced from a dump)."""
        return self._hmac(_aad(label, *parts))

    def _hmac(self, msg: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(msg)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()

    def cached(self, municipality_code: str) -> FieldCipher | None:
        return self._ciphers.get(municipality_code)

    def remember(self, cipher: FieldCipher) -> None:
        self._ciphers[cipher.municipality_code] = cipher

    def forget(self) -> None:
        """Drop every cached data key (after a master-key rotation elsewhere, or in tests)."""
        self._ciphers.clear()

    def open_wrapped(self, municipality_code: str, wrapped: bytes, key_id: bytes) -> FieldCipher:
        """The cipher of a stored data key wrapped under the master key or the previous one."""
        master = self._unwrapping.get(key_id)
        if master is None:
            raise VrsError(VrsErrorCode.DATA_KEY_UNWRAP_FAILED, "wrapped by another master key")
        return FieldCipher(municipality_code, unwrap_data_key(master, municipality_code, wrapped))

    def new_data_key(self, municipality_code: str) -> tuple[FieldCipher, bytes]:
        """A fresh data key: its cipher and its wrapped form (to store)."""
        key = AESGCM.generate_key(bit_length=256)
        return FieldCipher(municipality_code, key), wrap_data_key(
            self._master_key, municipality_code, key
        )
