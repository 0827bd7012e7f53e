"""Sealed session tokens (DESIGN §1.2 item 5).

What the confirm step needs — the municipality, the person's address number, the kinds the
preview allowed — is not kept by the adapter: it travels in a token the adapter seals with
AES-256-GCM under a key only it holds, and the kiosk echoes it. The associated data is the
SHA-256 of the session id, so a token opens only for the session it was made for. Layout:
version byte 0x01 ‖ 12-byte random nonce ‖ ciphertext+tag of the JSON claims.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from typing import Literal

import msgspec
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

TOKEN_VERSION = 1
_VERSION_BYTE = bytes([TOKEN_VERSION])
_NONCE_BYTES = 12

Kind = Literal["domestic", "abroad"]


class TokenInvalid(Exception):  # noqa: N818 — a refusal, answered KIOSK_TOKEN_INVALID
    """The token was not sealed by this adapter for this session (or is not a token at all)."""


class SessionClaims(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The sealed content. `stage` says which step made it; a started token carries no person."""

    stage: Literal["started", "previewed"]
    expires_at: int
    """Unix seconds; the session's end."""
    municipality_code: str | None = None
    address_number: str | None = None
    kinds: tuple[Kind, ...] = ()
    """The kinds the preview found possible (abroad only with a passport on record)."""


_decode_claims = msgspec.json.Decoder(SessionClaims)


def session_digest(session_id: str) -> bytes:
    """The SHA-256 of a session id: the token's associated data."""
    return hashlib.sha256(b"kiosk-session:" + session_id.encode()).digest()


class TokenSealer:
    """Seals and opens session tokens under one 32-byte key."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("the kiosk session key must be 32 bytes")
        self._aead = AESGCM(key)

    def seal(self, session_id: str, claims: SessionClaims) -> str:
        """base64url (no padding) of the sealed claims, bound to `session_id`."""
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = self._aead.encrypt(
            nonce, msgspec.json.encode(claims), _VERSION_BYTE + session_digest(session_id)
        )
        return base64.urlsafe_b64encode(_VERSION_BYTE + nonce + sealed).rstrip(b"=").decode()

    def open(self, session_id: str, token: str) -> SessionClaims:
        """The claims of `token`; `TokenInvalid` unless this key sealed it for `session_id`."""
        if not token or len(token) > 4096:
            raise TokenInvalid
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            raise TokenInvalid from None
        if len(raw) < 1 + _NONCE_BYTES + 16 or raw[:1] != _VERSION_BYTE:
            raise TokenInvalid
        try:
            plain = self._aead.decrypt(
                raw[1 : 1 + _NONCE_BYTES],
                raw[1 + _NONCE_BYTES :],
                _VERSION_BYTE + session_digest(session_id),
            )
            return _decode_claims.decode(plain)
        except (InvalidTag, msgspec.DecodeError):
            raise TokenInvalid from None
