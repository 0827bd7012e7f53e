"""Reprints without re-signing: the signatures a certificate was issued with, attached again.

An HSM's ECDSA signatures are randomized, so signing the same certificate twice gives different
bytes. The issuance history keeps each certificate's signatures (encrypted); a reprint composes
the certificate again and `ReplaySigner` hands `sign_shc` / `sign_vdsnc` the kept signature of
each part in turn — after checking that it verifies over what was composed now. A record that
changed since, a signature that was altered, or a key that changed, raises `ReplayError`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from signing._errors import SigningError
from signing._shc import b64url_decode

__all__ = [
    "ReplayError",
    "ReplaySigner",
    "certificate_public_key",
    "jwk_public_key",
    "shc_signatures",
    "vdsnc_signatures",
]


class ReplayError(SigningError):
    """A kept signature does not fit what was composed again (`REPLAY_MISMATCH`)."""


def shc_signatures(jws_list: Sequence[str]) -> tuple[bytes, ...]:
    """The 64-byte r‖s signature of each compact JWS (its third part)."""
    out = []
    for jws in jws_list:
        parts = jws.split(".")
        if len(parts) != 3:
            raise ReplayError("REPLAY_MISMATCH", "not a compact JWS")
        out.append(b64url_decode(parts[2]))
    return tuple(out)


def vdsnc_signatures(seals: Sequence[dict[str, Any]]) -> tuple[bytes, ...]:
    """The r‖s signature value (`sig.sigvl`) of each VDS-NC seal."""
    try:
        return tuple(base64.urlsafe_b64decode(seal["sig"]["sigvl"]) for seal in seals)
    except (KeyError, TypeError, binascii.Error, ValueError):
        raise ReplayError("REPLAY_MISMATCH", "a seal has no readable signature") from None


def jwk_public_key(jwk: Mapping[str, Any]) -> ec.EllipticCurvePublicKey:
    """The P-256 public key of a published JWK (`x`, `y`)."""
    try:
        return ec.EllipticCurvePublicNumbers(
            int.from_bytes(b64url_decode(jwk["x"]), "big"),
            int.from_bytes(b64url_decode(jwk["y"]), "big"),
            ec.SECP256R1(),
        ).public_key()
    except (KeyError, TypeError, ValueError, binascii.Error):
        raise ReplayError("REPLAY_MISMATCH", "not a P-256 JWK") from None


def certificate_public_key(certificate_der: bytes) -> ec.EllipticCurvePublicKey:
    """The EC public key of an X.509 certificate (DER)."""
    try:
        key = x509.load_der_x509_certificate(certificate_der).public_key()
    except ValueError:
        raise ReplayError("REPLAY_MISMATCH", "not a certificate") from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ReplayError("REPLAY_MISMATCH", "not an EC certificate")
    return key


class ReplaySigner:
    """An `ShcSigner` / `VdsncSigner` that signs nothing: each `sign(data)` returns the next kept
    signature once it verifies over `data` under `public_key` (ES256)."""

    __slots__ = ("_certificate_der", "_kid", "_next", "_public_key", "_signatures")

    def __init__(
        self,
        *,
        public_key: ec.EllipticCurvePublicKey,
        signatures: Sequence[bytes],
        kid: str = "",
        certificate_der: bytes = b"",
    ) -> None:
        self._public_key = public_key
        self._signatures = tuple(signatures)
        self._kid = kid
        self._certificate_der = certificate_der
        self._next = 0

    @property
    def kid(self) -> str:
        return self._kid

    @property
    def certificate_der(self) -> bytes:
        return self._certificate_der

    @property
    def exhausted(self) -> bool:
        """Whether every kept signature was used (a reprint must use all of them)."""
        return self._next == len(self._signatures)

    def sign(self, data: bytes) -> bytes:
        if self._next >= len(self._signatures):
            raise ReplayError("REPLAY_MISMATCH", "more parts than kept signatures")
        signature = self._signatures[self._next]
        self._next += 1
        if len(signature) != 64:
            raise ReplayError("REPLAY_MISMATCH", "a kept signature is not ES256 r||s")
        der = encode_dss_signature(
            int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        )
        try:
            self._public_key.verify(der, data, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            raise ReplayError("REPLAY_MISMATCH", "a kept signature does not verify") from None
        return signature

    def __repr__(self) -> str:
        return f"<replay signer kid={self._kid!r} {len(self._signatures)} signatures>"
