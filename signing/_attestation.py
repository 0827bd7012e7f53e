"""App attestation tokens (DESIGN §4.3, contracts.md §1): a compact JWS, ES256 only.

`verify_attestation` checks, in this order, one stable code per refusal:

(1) the token is a compact JWS of sane size with a JSON header (ATTESTATION_MALFORMED);
(2) `alg` is exactly ES256 — never `none`, HS*, RS* (ATTESTATION_ALGORITHM_NOT_ALLOWED) — and the
    header carries no key and nothing we must understand: `jwk`, `jku`, `x5c`, `x5u`, `x5t`,
    `x5t#S256`, `crit`, `b64` (ATTESTATION_HEADER_NOT_ALLOWED);
(3) `kid` names a key of the configured JWKS (ATTESTATION_KEY_UNKNOWN);
(4) the signature verifies under that key (ATTESTATION_SIGNATURE_INVALID);
(5) every required claim is present (ATTESTATION_CLAIMS_MISSING) with the right type
    (ATTESTATION_MALFORMED);
(6) `iss` (ATTESTATION_ISSUER_INVALID), `aud` (ATTESTATION_AUDIENCE_INVALID);
(7) times against the caller's `now`, never the wall clock, with at most 60 s of clock skew:
    `exp` at most 5 minutes after `iat` (ATTESTATION_LIFETIME_TOO_LONG), `iat`/`nbf` not in the
    future (ATTESTATION_NOT_YET_VALID), `exp` not past (ATTESTATION_EXPIRED);
(8) `nonce` equals the challenge, in constant time (ATTESTATION_NONCE_MISMATCH);
(9) `app_id` on the allow-list (ATTESTATION_APP_NOT_ALLOWED), `app_version` at least the minimum
    (ATTESTATION_APP_VERSION_TOO_OLD).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import math
import re
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Final

import jwt
import msgspec
from cryptography.hazmat.primitives.asymmetric import ec

from signing._errors import SigningError

__all__ = ["AttestationClaims", "AttestationError", "AttestationKeySet", "verify_attestation"]

MAX_TOKEN_LENGTH: Final = 8192
MAX_LIFETIME_SECONDS: Final = 300  # DESIGN §4.3: exp at most 5 minutes after iat
MAX_CLOCK_SKEW_SECONDS: Final = 60
ALGORITHM: Final = "ES256"
_FORBIDDEN_HEADERS: Final = frozenset(
    {"jwk", "jku", "x5c", "x5u", "x5t", "x5t#S256", "crit", "b64"}
)
_REQUIRED_CLAIMS: Final = ("iss", "aud", "iat", "exp", "jti", "nonce", "app_id", "app_version")
_VERSION: Final = re.compile(r"[0-9]{1,9}(?:\.[0-9]{1,9}){0,7}")
_MAX_JTI_LENGTH: Final = 256

#: pyjwt's ES256 (P-256, SHA-256): the verifier of the signature. The token is split and its
#: segments decoded once, here, and the algorithm verifies the raw r||s signature over the
#: signing input exactly as `PyJWS.decode_complete` would, without parsing the token again.
_ES256: Final = jwt.algorithms.get_default_algorithms()[ALGORITHM]
_BASE64URL: Final = re.compile(rb"[A-Za-z0-9_-]*")


class AttestationError(SigningError):
    """An attestation token was refused; `code` names the check (see `verify_attestation`)."""


class AttestationClaims(msgspec.Struct, frozen=True, kw_only=True):
    """The verified claims the caller needs: `jti` to record as used (until `exp`), the app and
    its version, and `iat`/`exp` as timezone-aware UTC datetimes."""

    jti: str
    app_id: str
    app_version: str
    iat: datetime
    exp: datetime


def _b64url_int(value: object, what: str) -> int:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_-]{43}", value):
        raise AttestationError("ATTESTATION_JWKS_INVALID", f"JWKS key {what} is not 32 bytes")
    try:
        return int.from_bytes(base64.urlsafe_b64decode(value + "="), "big")
    except (binascii.Error, ValueError):
        raise AttestationError("ATTESTATION_JWKS_INVALID", f"JWKS key {what} invalid") from None


class AttestationKeySet(msgspec.Struct, frozen=True, kw_only=True):
    """The attestation authority's P-256 keys by `kid`, parsed once from its JWKS."""

    keys: Mapping[str, ec.EllipticCurvePublicKey]

    @classmethod
    def from_jwks(cls, jwks: Mapping[str, Any]) -> AttestationKeySet:
        """Parse a JWKS (RFC 7517). Keys that cannot verify ES256 (other types, curves, `alg`
        or `use`) are skipped; a broken JWKS, a P-256 key without `kid`, a duplicate `kid` or a
        private key raises `AttestationError("ATTESTATION_JWKS_INVALID")`."""
        entries = jwks.get("keys") if isinstance(jwks, Mapping) else None
        if not isinstance(entries, list):
            raise AttestationError("ATTESTATION_JWKS_INVALID", "JWKS has no keys list")
        keys: dict[str, ec.EllipticCurvePublicKey] = {}
        for entry in entries:
            if not isinstance(entry, Mapping):
                raise AttestationError("ATTESTATION_JWKS_INVALID", "JWKS entry is not an object")
            if "d" in entry:
                raise AttestationError("ATTESTATION_JWKS_INVALID", "JWKS holds a private key")
            if (
                entry.get("kty") != "EC"
                or entry.get("crv") != "P-256"
                or entry.get("alg", ALGORITHM) != ALGORITHM
                or entry.get("use", "sig") != "sig"
            ):
                continue
            kid = entry.get("kid")
            if not isinstance(kid, str) or not kid:
                raise AttestationError("ATTESTATION_JWKS_INVALID", "JWKS key without kid")
            if kid in keys:
                raise AttestationError("ATTESTATION_JWKS_INVALID", "duplicate kid in JWKS")
            x = _b64url_int(entry.get("x"), "x")
            y = _b64url_int(entry.get("y"), "y")
            try:
                keys[kid] = ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
            except ValueError:
                raise AttestationError(
                    "ATTESTATION_JWKS_INVALID", "JWKS key is not a P-256 point"
                ) from None
        return cls(keys=MappingProxyType(keys))


def _b64url_decode(segment: str) -> bytes:
    # RFC 7515 §2: base64url without padding.
    if not re.fullmatch(r"[A-Za-z0-9_-]*", segment) or len(segment) % 4 == 1:
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _jws_segment(segment: bytes) -> bytes:
    """A payload or signature segment by pyjwt's rules (`PyJWS._load`): base64url, at most two
    trailing `=` only where they pad to a multiple of 4, no other character, and canonical (it
    encodes back to itself); raises ValueError."""
    stripped = segment.rstrip(b"=")
    padding = len(segment) - len(stripped)
    if padding > 2 or (padding and len(segment) % 4 != 0):
        raise ValueError("bad padding")
    if len(stripped) % 4 == 1 or not _BASE64URL.fullmatch(stripped):
        raise ValueError("not base64url")
    decoded = base64.urlsafe_b64decode(stripped + b"=" * (-len(stripped) % 4))
    if base64.urlsafe_b64encode(decoded).rstrip(b"=") != stripped:
        raise ValueError("not canonical")
    return decoded


def _fail(code: str, message: str) -> AttestationError:
    return AttestationError(code, f"attestation refused: {message}")


def _parse_version(text: str) -> tuple[int, ...] | None:
    if not _VERSION.fullmatch(text):
        return None
    parts = [int(p) for p in text.split(".")]
    while len(parts) > 1 and parts[-1] == 0:  # 1.2 == 1.2.0
        parts.pop()
    return tuple(parts)


def _numeric_date(value: object) -> float | None:
    # RFC 7519 §2 NumericDate: a JSON number (bool is not one).
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    if not math.isfinite(number) or not 0 <= number < 253402300800:  # before year 10000
        return None
    return number


def verify_attestation(
    token: str,
    *,
    jwks: Mapping[str, Any] | AttestationKeySet,
    issuer: str,
    audience: str,
    nonce: str,
    app_ids: Collection[str],
    min_version: str,
    now: datetime,
) -> AttestationClaims:
    """Verify an app attestation token against the authority's JWKS (a dict, or an
    `AttestationKeySet` parsed once) and the request's challenge `nonce` (the string exactly as
    the challenge endpoint returned it).

    Guarantees, when it returns: the token is an ES256 JWS by a key of `jwks`, from `issuer`, for
    `audience`, valid at `now` (±60 s) with a lifetime of at most 5 minutes, bound to `nonce`,
    from an allowed app at `min_version` or later. Otherwise raises `AttestationError` with the
    code of the first failed check (module docstring).

    Single use is the caller's job: record `jti` (e.g. in Redis until `exp` + 60 s) and refuse a
    `jti` seen before.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    minimum = _parse_version(min_version)
    if minimum is None:
        raise ValueError("min_version must be dotted numbers, e.g. 1.4.0")
    keys = jwks if isinstance(jwks, AttestationKeySet) else AttestationKeySet.from_jwks(jwks)

    # (1) Shape.
    if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN_LENGTH:
        raise _fail("ATTESTATION_MALFORMED", "not a token of sane size")
    if not token.isascii() or token.count(".") != 2:
        raise _fail("ATTESTATION_MALFORMED", "not a compact JWS")
    # The header is read here, not by pyjwt, so that a `crit` it does not know is refused as a
    # header we do not allow rather than lost in a generic decoding error.
    header_segment = token.split(".", 1)[0]
    try:
        header = msgspec.json.decode(_b64url_decode(header_segment))
    except (msgspec.DecodeError, ValueError):
        raise _fail("ATTESTATION_MALFORMED", "header unreadable") from None
    if not isinstance(header, dict):
        raise _fail("ATTESTATION_MALFORMED", "header is not a JSON object")

    # (2) Algorithm and header parameters.
    if header.get("alg") != ALGORITHM:
        raise _fail("ATTESTATION_ALGORITHM_NOT_ALLOWED", "algorithm is not ES256")
    if _FORBIDDEN_HEADERS.intersection(header):
        raise _fail("ATTESTATION_HEADER_NOT_ALLOWED", "header carries a key or extension")

    # (3) The key, by kid, from the configured JWKS only.
    kid = header.get("kid")
    key = keys.keys.get(kid) if isinstance(kid, str) else None
    if key is None:
        raise _fail("ATTESTATION_KEY_UNKNOWN", "kid names no configured key")

    # (4) Signature, by pyjwt's ES256 over the signing input split here (one parse of the token).
    signing_input, _, signature_segment = token.encode("ascii").rpartition(b".")
    payload_segment = signing_input.split(b".", 1)[1]
    try:
        payload = _jws_segment(payload_segment)
        signature = _jws_segment(signature_segment)
    except ValueError:
        raise _fail("ATTESTATION_MALFORMED", "token unreadable") from None
    if not _ES256.verify(signing_input, _ES256.prepare_key(key), signature):
        raise _fail("ATTESTATION_SIGNATURE_INVALID", "signature does not verify")
    try:
        claims = msgspec.json.decode(payload)
    except msgspec.DecodeError:
        raise _fail("ATTESTATION_MALFORMED", "payload is not JSON") from None
    if not isinstance(claims, dict):
        raise _fail("ATTESTATION_MALFORMED", "payload is not a JSON object")

    # (5) Required claims and their types.
    missing = [c for c in _REQUIRED_CLAIMS if c not in claims]
    if missing:
        raise _fail("ATTESTATION_CLAIMS_MISSING", f"claims missing: {', '.join(missing)}")
    iat = _numeric_date(claims["iat"])
    exp = _numeric_date(claims["exp"])
    nbf = _numeric_date(claims["nbf"]) if "nbf" in claims else None
    jti = claims["jti"]
    if (
        iat is None
        or exp is None
        or ("nbf" in claims and nbf is None)
        or not all(isinstance(claims[c], str) for c in ("iss", "nonce", "app_id", "app_version"))
        or not isinstance(jti, str)
        or not 0 < len(jti) <= _MAX_JTI_LENGTH
    ):
        raise _fail("ATTESTATION_MALFORMED", "claim of the wrong type")

    # (6) Issuer and audience (RFC 7519 §4.1.3: a string or an array of strings).
    if claims["iss"] != issuer:
        raise _fail("ATTESTATION_ISSUER_INVALID", "issuer is not the attestation authority")
    aud = claims["aud"]
    audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if audience not in audiences:
        raise _fail("ATTESTATION_AUDIENCE_INVALID", "audience is not this service")

    # (7) Times, against `now` with bounded skew.
    if exp <= iat:
        raise _fail("ATTESTATION_MALFORMED", "exp not after iat")
    if exp - iat > MAX_LIFETIME_SECONDS:
        raise _fail("ATTESTATION_LIFETIME_TOO_LONG", "lifetime longer than 5 minutes")
    now_ts = now.timestamp()
    if iat > now_ts + MAX_CLOCK_SKEW_SECONDS or (
        nbf is not None and nbf > now_ts + MAX_CLOCK_SKEW_SECONDS
    ):
        raise _fail("ATTESTATION_NOT_YET_VALID", "issued in the future")
    if now_ts >= exp + MAX_CLOCK_SKEW_SECONDS:
        raise _fail("ATTESTATION_EXPIRED", "token expired")

    # (8) Bound to this request's challenge.
    if not hmac.compare_digest(
        claims["nonce"].encode("utf-8", "surrogatepass"), nonce.encode("utf-8", "surrogatepass")
    ):
        raise _fail("ATTESTATION_NONCE_MISMATCH", "nonce is not this challenge")

    # (9) The app and its version.
    app_id = claims["app_id"]
    if app_id not in app_ids:
        raise _fail("ATTESTATION_APP_NOT_ALLOWED", "app is not on the allow-list")
    version = _parse_version(claims["app_version"])
    if version is None:
        raise _fail("ATTESTATION_MALFORMED", "app_version is not dotted numbers")
    if version < minimum:
        raise _fail("ATTESTATION_APP_VERSION_TOO_OLD", "app version below the minimum")

    return AttestationClaims(
        jti=jti,
        app_id=app_id,
        app_version=claims["app_version"],
        iat=datetime.fromtimestamp(iat, UTC),
        exp=datetime.fromtimestamp(exp, UTC),
    )
