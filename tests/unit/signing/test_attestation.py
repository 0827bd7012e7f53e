"""verify_attestation: ES256 only, the caller's clock, one code per refusal."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from signing import AttestationError, AttestationKeySet, SigningError, verify_attestation
from signing.synthetic import SyntheticAttestationAuthority

ISSUER = "https://attest.example.invalid"
AUDIENCE = "https://certsvc.example.invalid"
NONCE = "q1w2e3r4t5y6u7i8o9p0a1s2d3f4g5h6j7k8l9z0x1c"
APP_ID = "jp.example.vaccine-certificate"
NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)


@functools.cache
def _authority() -> SyntheticAttestationAuthority:
    return SyntheticAttestationAuthority.create(issuer=ISSUER)


@functools.cache
def _attacker() -> SyntheticAttestationAuthority:
    return SyntheticAttestationAuthority.create(issuer=ISSUER)


def _mint(**changes: Any) -> str:
    args: dict[str, Any] = {
        "nonce": NONCE,
        "audience": AUDIENCE,
        "app_id": APP_ID,
        "app_version": "2.3.0",
        "now": NOW,
    }
    args.update(changes)
    return _authority().mint(**args)


def _verify(token: str, **changes: Any) -> Any:
    args: dict[str, Any] = {
        "jwks": _authority().jwks(),
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "nonce": NONCE,
        "app_ids": {APP_ID},
        "min_version": "2.1",
        "now": NOW,
    }
    args.update(changes)
    return verify_attestation(token, **args)


def _refused(token: str, code: str, **changes: Any) -> None:
    with pytest.raises(AttestationError) as info:
        _verify(token, **changes)
    assert info.value.code == code
    assert isinstance(info.value, SigningError)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(**changes: Any) -> dict[str, Any]:
    iat = int(NOW.timestamp())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": iat,
        "exp": iat + 300,
        "jti": "jti-1",
        "nonce": NONCE,
        "app_id": APP_ID,
        "app_version": "2.3.0",
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _es256(
    claims: dict[str, Any], *, key: ec.EllipticCurvePrivateKey | None = None, **headers: Any
) -> str:
    authority = _authority()
    return jwt.encode(
        claims,
        key or authority.private_key,
        algorithm="ES256",
        headers={"kid": authority.kid, **headers},
    )


def _unsigned(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    return (
        f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}.{_b64(signature)}"
    )


# --- Accepted ---


def test_verify_attestation_returns_the_claims() -> None:
    claims = _verify(_mint(jti="abc"))
    assert claims.jti == "abc"
    assert claims.app_id == APP_ID
    assert claims.app_version == "2.3.0"
    assert claims.iat == NOW
    assert claims.exp == NOW + timedelta(minutes=5)
    assert claims.exp.tzinfo is not None


def test_verify_attestation_uses_the_given_now_not_the_wall_clock() -> None:
    later = datetime(2031, 5, 1, tzinfo=UTC)
    assert _verify(_mint(now=later), now=later).iat == later


def test_verify_attestation_with_a_parsed_key_set_and_random_jti() -> None:
    keys = AttestationKeySet.from_jwks(_authority().jwks())
    a, b = _verify(_mint(), jwks=keys), _verify(_mint(), jwks=keys)
    assert a.jti != b.jti


@pytest.mark.parametrize(
    ("version", "minimum"), [("2.1", "2.1"), ("2.1.0", "2.1"), ("2.10", "2.9"), ("10", "9.9.9")]
)
def test_verify_attestation_version_at_least_minimum(version: str, minimum: str) -> None:
    assert _verify(_mint(app_version=version), min_version=minimum).app_version == version


def test_verify_attestation_skew_within_sixty_seconds() -> None:
    _verify(_mint(now=NOW + timedelta(seconds=59)))  # iat slightly in the future
    _verify(_mint(), now=NOW + timedelta(minutes=5, seconds=59))  # just past exp


def test_verify_attestation_audience_list() -> None:
    _verify(_es256(_claims(aud=["other", AUDIENCE])))


# --- Algorithms and headers ---


def test_alg_none_refused() -> None:
    token = _unsigned({"alg": "none", "kid": _authority().kid}, _claims())
    _refused(token, "ATTESTATION_ALGORITHM_NOT_ALLOWED")


def test_hs256_with_the_public_key_refused() -> None:
    # Algorithm confusion: HMAC keyed with the authority's public key bytes.
    public_pem = (
        _authority()
        .private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    header = {"alg": "HS256", "kid": _authority().kid, "typ": "JWT"}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(_claims()).encode())}"
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    _refused(f"{signing_input}.{_b64(mac)}", "ATTESTATION_ALGORITHM_NOT_ALLOWED")


def test_rs256_refused() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(_claims(), key, algorithm="RS256", headers={"kid": _authority().kid})
    _refused(token, "ATTESTATION_ALGORITHM_NOT_ALLOWED")


def test_es384_refused() -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    token = jwt.encode(_claims(), key, algorithm="ES384", headers={"kid": _authority().kid})
    _refused(token, "ATTESTATION_ALGORITHM_NOT_ALLOWED")


def test_jwk_in_header_refused() -> None:
    # The attacker signs with its own key and ships the public half in the header.
    attacker = _attacker()
    jwk = attacker.jwks()["keys"][0]
    token = _es256(_claims(), key=attacker.private_key, jwk=jwk)
    _refused(token, "ATTESTATION_HEADER_NOT_ALLOWED")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("jku", "https://attacker.invalid/jwks.json"),
        ("x5u", "https://attacker.invalid/cert.pem"),
        ("x5c", ["MIIB"]),
        ("crit", ["exp"]),
    ],
)
def test_key_bearing_headers_refused(name: str, value: Any) -> None:
    _refused(_es256(_claims(), **{name: value}), "ATTESTATION_HEADER_NOT_ALLOWED")


# --- Keys and signature ---


def test_unknown_kid_refused() -> None:
    attacker = _attacker()
    token = jwt.encode(
        _claims(), attacker.private_key, algorithm="ES256", headers={"kid": attacker.kid}
    )
    _refused(token, "ATTESTATION_KEY_UNKNOWN")


def test_missing_kid_refused() -> None:
    token = jwt.encode(_claims(), _authority().private_key, algorithm="ES256")
    _refused(token, "ATTESTATION_KEY_UNKNOWN")


def test_signed_by_another_key_with_our_kid_refused() -> None:
    _refused(_es256(_claims(), key=_attacker().private_key), "ATTESTATION_SIGNATURE_INVALID")


def test_tampered_payload_refused() -> None:
    header, _, signature = _mint().split(".")
    forged = _b64(json.dumps(_claims(app_id="jp.example.other")).encode())
    _refused(f"{header}.{forged}.{signature}", "ATTESTATION_SIGNATURE_INVALID")


# --- Claims ---


@pytest.mark.parametrize(
    "claim", ["iss", "aud", "iat", "exp", "jti", "nonce", "app_id", "app_version"]
)
def test_missing_claim_refused(claim: str) -> None:
    _refused(_es256(_claims(**{claim: None})), "ATTESTATION_CLAIMS_MISSING")


@pytest.mark.parametrize(
    "changes",
    [
        {"iat": "1764212400"},
        {"exp": True},
        {"nonce": 5},
        {"jti": ""},
        {"app_version": "2.3.0-beta"},
        {"exp": int(NOW.timestamp())},  # exp == iat
    ],
)
def test_claims_of_the_wrong_type_refused(changes: dict[str, Any]) -> None:
    _refused(_es256(_claims(**changes)), "ATTESTATION_MALFORMED")


def test_wrong_issuer_refused() -> None:
    _refused(_es256(_claims(iss="https://other.invalid")), "ATTESTATION_ISSUER_INVALID")


def test_wrong_audience_refused() -> None:
    _refused(_mint(audience="https://other.invalid"), "ATTESTATION_AUDIENCE_INVALID")


def test_expired_refused() -> None:
    _refused(_mint(now=NOW - timedelta(minutes=7)), "ATTESTATION_EXPIRED")
    _refused(_mint(), "ATTESTATION_EXPIRED", now=NOW + timedelta(minutes=6))


def test_issued_in_the_future_refused() -> None:
    _refused(_mint(now=NOW + timedelta(seconds=61)), "ATTESTATION_NOT_YET_VALID")
    future_nbf = _es256(_claims(nbf=int(NOW.timestamp()) + 120))
    _refused(future_nbf, "ATTESTATION_NOT_YET_VALID")


def test_lifetime_over_five_minutes_refused() -> None:
    _refused(_mint(lifetime=timedelta(minutes=5, seconds=1)), "ATTESTATION_LIFETIME_TOO_LONG")


def test_wrong_nonce_refused() -> None:
    _refused(_mint(nonce=NONCE[:-1] + "X"), "ATTESTATION_NONCE_MISMATCH")


def test_unknown_app_refused() -> None:
    _refused(_mint(app_id="jp.example.clone"), "ATTESTATION_APP_NOT_ALLOWED")


@pytest.mark.parametrize("version", ["2.0.9", "2", "1.99", "2.0"])
def test_old_version_refused(version: str) -> None:
    _refused(_mint(app_version=version), "ATTESTATION_APP_VERSION_TOO_OLD")


# --- Malformed tokens and configuration ---


@pytest.mark.parametrize(
    "token",
    [
        "",
        "abc",
        "a.b.c",
        "a.b",
        "a" * 9000,
        "トークン.b.c",
        _unsigned({"alg": "ES256"}, _claims()).replace(".", "..", 1),
    ],
)
def test_malformed_token_refused(token: str) -> None:
    _refused(token, "ATTESTATION_MALFORMED")


def test_payload_not_an_object_refused() -> None:
    authority = _authority()
    token = jwt.api_jws.encode(
        b"[1, 2]", authority.private_key, algorithm="ES256", headers={"kid": authority.kid}
    )
    _refused(token, "ATTESTATION_MALFORMED")


@pytest.mark.parametrize(
    "jwks",
    [
        {},
        {"keys": "x"},
        {"keys": [1]},
        {"keys": [{"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA", "kid": "k"}]},
        {"keys": [{**_authority().jwks()["keys"][0], "kid": None}]},
        {"keys": [_authority().jwks()["keys"][0]] * 2},
        {"keys": [{**_authority().jwks()["keys"][0], "d": "secret"}]},
    ],
)
def test_invalid_jwks_refused(jwks: dict[str, Any]) -> None:
    _refused(_mint(), "ATTESTATION_JWKS_INVALID", jwks=jwks)


def test_jwks_skips_keys_that_cannot_verify_es256() -> None:
    rsa_jwk = {"kty": "RSA", "kid": "r", "n": "AQAB", "e": "AQAB"}
    keys = AttestationKeySet.from_jwks({"keys": [rsa_jwk, *_authority().jwks()["keys"]]})
    assert list(keys.keys) == [_authority().kid]


def test_naive_now_and_bad_minimum_are_caller_errors() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        _verify(_mint(), now=NOW.replace(tzinfo=None))
    with pytest.raises(ValueError, match="min_version"):
        _verify(_mint(), min_version="v2")
