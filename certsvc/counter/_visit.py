"""The visit token: what the next step of one resident's visit needs, sealed by the counter.

Nothing of the resident is kept by the counter between two pages — not in the staff session,
not in Redis, not in a URL. Each page carries one hidden field, a token sealed with AES-256-GCM
under `CERTSVC_COUNTER_SESSION_KEY`; its associated data is a digest of the staff session id, so
a token opens only in the staff session that made it. Layout: version byte 0x01 ‖ 12-byte random
nonce ‖ ciphertext+tag of the JSON claims, base64url without padding.

The challenge the My Number card signs is derived, not stored: HMAC-SHA-256 of the visit id
under a key derived from the sealing key (as the kiosk adapter derives its nonce).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from typing import Literal

import msgspec
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_VERSION = b"\x01"
_NONCE_BYTES = 12

Stage = Literal["started", "identified", "previewed", "issued"]
Purpose = Literal["issue", "reprint"]
IdentityMethod = Literal["my_number_card", "notification_card_and_photo_id"]
Kind = Literal["domestic", "abroad"]


class VisitInvalid(Exception):  # noqa: N818 — a refusal, answered COUNTER_VISIT_INVALID
    """The token was not sealed by this counter for this staff session."""


class Visit(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The sealed content. Later stages carry more; a started visit carries no person."""

    stage: Stage
    visit_id: str
    purpose: Purpose
    expires_at: int
    """Unix seconds; the visit's end."""
    municipality_code: str
    address_number: str | None = None
    identity_method: IdentityMethod | None = None
    photo_id_type: str | None = None
    kind: Kind | None = None
    mrz_lines: tuple[str, ...] = ()
    other_name_kind: Literal["former", "alias"] | None = None
    other_name: str | None = None
    reason: str | None = None
    certificate_id: str | None = None


_decode_visit = msgspec.json.Decoder(Visit)


def new_visit_id() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(16)).rstrip(b"=").decode()


class VisitSealer:
    """Seals and opens visit tokens, and derives each visit's card challenge."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("the counter session key must be 32 bytes")
        self._aead = AESGCM(key)
        self._nonce_key = hashlib.sha256(b"counter-nonce-key\x00" + key).digest()
        self.csrf_key = hashlib.sha256(b"counter-csrf-key\x00" + key).digest()

    @staticmethod
    def _aad(session_id: str) -> bytes:
        return _VERSION + hashlib.sha256(b"counter-session:" + session_id.encode()).digest()

    def seal(self, session_id: str, visit: Visit) -> str:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, msgspec.json.encode(visit), self._aad(session_id))
        return base64.urlsafe_b64encode(_VERSION + nonce + sealed).rstrip(b"=").decode()

    def open(self, session_id: str, token: str) -> Visit:
        if not token or len(token) > 8192:
            raise VisitInvalid
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            raise VisitInvalid from None
        if len(raw) < 1 + _NONCE_BYTES + 16 or raw[:1] != _VERSION:
            raise VisitInvalid
        try:
            plain = self._aead.decrypt(
                raw[1 : 1 + _NONCE_BYTES], raw[1 + _NONCE_BYTES :], self._aad(session_id)
            )
            return _decode_visit.decode(plain)
        except (InvalidTag, msgspec.DecodeError):
            raise VisitInvalid from None

    def nonce(self, visit_id: str) -> bytes:
        """The 32 bytes the card signs during `visit_id`."""
        return hmac.new(self._nonce_key, visit_id.encode(), hashlib.sha256).digest()
