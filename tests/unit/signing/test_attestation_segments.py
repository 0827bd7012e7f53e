"""verify_attestation splits and decodes the token once and has pyjwt's ES256 verify the
signature over it: for any payload and signature segment it refuses exactly where pyjwt's own
`PyJWS.decode_complete` of the same token refuses, and for the same reason."""

from __future__ import annotations

import functools
from datetime import UTC, datetime

import jwt
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from signing import AttestationError, AttestationKeySet, verify_attestation
from signing.synthetic import SyntheticAttestationAuthority

ISSUER = "https://attest.example.invalid"
NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
NONCE = "bm9uY2Ugb2YgdGhlIGNoYWxsZW5nZSwgMzIgYnl0ZXM"


@functools.cache
def _authority() -> SyntheticAttestationAuthority:
    return SyntheticAttestationAuthority.create(issuer=ISSUER)


@functools.cache
def _token() -> str:
    return _authority().mint(
        nonce=NONCE, audience="https://certsvc.invalid", app_id="app", app_version="2.0", now=NOW
    )


def _pyjws_outcome(token: str) -> str:
    """pyjwt's verdict on the token's segments and signature: the reference."""
    key = AttestationKeySet.from_jwks(_authority().jwks()).keys[_authority().kid]
    try:
        jwt.PyJWS(algorithms=["ES256"]).decode_complete(token, key=key, algorithms=["ES256"])
    except jwt.InvalidSignatureError:
        return "ATTESTATION_SIGNATURE_INVALID"
    except jwt.PyJWTError:
        return "unreadable"
    return "verified"


def _our_outcome(token: str) -> str:
    try:
        verify_attestation(
            token,
            jwks=_authority().jwks(),
            issuer=ISSUER,
            audience="https://certsvc.invalid",
            nonce=NONCE,
            app_ids={"app"},
            min_version="1.0",
            now=NOW,
        )
    except AttestationError as exc:
        if exc.code == "ATTESTATION_MALFORMED" and "token unreadable" in str(exc):
            return "unreadable"
        if exc.code == "ATTESTATION_SIGNATURE_INVALID":
            return exc.code
        return "verified"  # refused by a later check: the signature held
    return "verified"


_CHARS = "AQgw_-=!.%+/ \n"


def _spoil(segment: str, cut: int, insert: str, at: int) -> str:
    """`segment` without its last `cut` characters, with `insert` at `at` (at most the end)."""
    kept = segment[: max(0, len(segment) - cut)]
    at = min(at, len(kept))
    return kept[:at] + insert + kept[at:]


@settings(max_examples=300, deadline=None)
@given(
    which=st.sampled_from([1, 2]),
    cut=st.integers(0, 6),
    insert=st.text(alphabet=_CHARS, max_size=3),
    at=st.integers(0, 200),
)
@example(which=2, cut=0, insert="=", at=200)  # padded signature
@example(which=2, cut=0, insert="==", at=200)
@example(which=1, cut=0, insert="==", at=200)
@example(which=2, cut=1, insert="", at=0)  # non-canonical last character or short signature
@example(which=1, cut=0, insert="", at=0)  # untouched: verifies
def test_segments_are_refused_as_pyjwt_refuses_them(
    which: int, cut: int, insert: str, at: int
) -> None:
    parts = _token().split(".")
    parts[which] = _spoil(parts[which], cut, insert, at)
    token = ".".join(parts)
    if token.count(".") != 2:
        return  # a dot inserted: refused by the shape check before either decodes anything
    assert _our_outcome(token) == _pyjws_outcome(token), token


@pytest.mark.parametrize("last", list("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"))
def test_non_canonical_signature_endings_match_pyjwt(last: str) -> None:
    header, payload, signature = _token().split(".")
    token = f"{header}.{payload}.{signature[:-1]}{last}"
    assert _our_outcome(token) == _pyjws_outcome(token)
