"""SMART Health Cards: compose the compact FHIR bundle, DEFLATE, sign (ES256, r‖s), split.

Follows `specs/shc-jp.md` (the SMART Health Cards framework 1.4 and Japan's profile).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import zlib
from collections.abc import Sequence
from typing import Any, Final, Protocol

import msgspec
from cryptography.hazmat.primitives.asymmetric import ec

from signing._errors import SigningError
from signing.certificate import Certificate, Dose, product

__all__ = [
    "MAX_JWS_CHARS",
    "ShcError",
    "ShcSigner",
    "compute_rid",
    "jwk_thumbprint",
    "public_jwk",
    "shc_file",
    "shc_qr_text",
    "shc_qr_to_jws",
    "sign_shc",
]

#: QR version 22 at level L holds 2 × 1195 + 5 header digits (shc-jp.md "QR").
MAX_JWS_CHARS: Final = 1195

VC_TYPES: Final = (
    "https://smarthealth.cards#health-card",
    "https://smarthealth.cards#immunization",
    "https://smarthealth.cards#covid19",
)
CVX_SYSTEM: Final = "http://hl7.org/fhir/sid/cvx"
V2_0203: Final = "http://terminology.hl7.org/CodeSystem/v2-0203"

# runtime-facts suggested memLevel=1 to cut the zlib set-up; measured here on a 1.4 KB payload
# (bench/bench_certificates.py, 2026-11-27) it was slower (28 vs 18 µs) and 10 % larger
# (527 vs 477 B) than memLevel=8. Level 9 costs ≈ 4 µs over 6 and never compresses worse, and
# every byte saved lets more doses share one QR.
_DEFLATE_LEVEL: Final = 9
_DEFLATE_MEMLEVEL: Final = 8

_encoder: Final = msgspec.json.Encoder()

# JWS characters are in "-" (45) .. "z" (122): each becomes two digits, ord(c) - 45
_QR_DIGITS: Final = {c: f"{c - 45:02d}" for c in range(45, 123)}


class ShcError(SigningError):
    """An SMART Health Card could not be composed (codes start with `SHC_`)."""


class ShcSigner(Protocol):
    """Signs for SMART Health Cards with one P-256 key. A PKCS#11 key slots in here."""

    @property
    def kid(self) -> str:
        """RFC 7638 thumbprint of the public key (base64url)."""
        ...

    def sign(self, data: bytes) -> bytes:
        """ES256 over `data`: the 64-byte r‖s (JOSE form); deterministic (RFC 6979) in the file
        store, randomized in an HSM (reprints re-attach kept signatures)."""
        ...


def b64url(data: bytes) -> str:
    """base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Inverse of `b64url`; accepts missing padding; raises `binascii.Error`/`ValueError`."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def public_jwk(public_key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    """The published JWK of a P-256 key: kty, crv, use, alg, kid, x, y (never d)."""
    if not isinstance(public_key.curve, ec.SECP256R1):
        raise ShcError("SHC_KEY_NOT_P256", "SHC keys are P-256 only")
    numbers = public_key.public_numbers()
    x = b64url(numbers.x.to_bytes(32, "big"))
    y = b64url(numbers.y.to_bytes(32, "big"))
    jwk = {"kty": "EC", "crv": "P-256", "x": x, "y": y}
    return {
        "kty": "EC",
        "crv": "P-256",
        "use": "sig",
        "alg": "ES256",
        "kid": jwk_thumbprint(jwk),
        "x": x,
        "y": y,
    }


def jwk_thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 SHA-256 thumbprint of an EC JWK, base64url: over `{"crv","kty","x","y"}` in
    lexicographic order, no whitespace."""
    required = (
        '{"crv":' + _json_str(jwk["crv"]) + ',"kty":' + _json_str(jwk["kty"]) + ',"x":'
        + _json_str(jwk["x"]) + ',"y":' + _json_str(jwk["y"]) + "}"
    )  # fmt: skip
    return b64url(hashlib.sha256(required.encode("utf-8")).digest())


def _json_str(value: Any) -> str:
    if not isinstance(value, str):
        raise ShcError("SHC_BAD_JWK", "JWK members must be strings")
    return _encoder.encode(value).decode("utf-8")


def compute_rid(secret: bytes, kid: str, internal_id: str) -> str:
    """The revocation id the SHC framework recommends:
    `base64url(first 8 bytes of HMAC-SHA-256(key = secret ‖ kid, msg = internal id))` —
    11 characters, meaningless to verifiers, stable for a reprint under the same key."""
    mac = hmac.new(secret + kid.encode("ascii"), internal_id.encode("utf-8"), hashlib.sha256)
    return b64url(mac.digest()[:8])


def _header_b64(kid: str) -> str:
    # SHC: header exactly {"alg","kid","zip"}, no typ
    return b64url(b'{"alg":"ES256","kid":"' + kid.encode("ascii") + b'","zip":"DEF"}')


def _patient(cert: Certificate) -> dict[str, Any]:
    h = cert.holder
    kanji = {"use": "usual", "family": h.family_name, "given": [h.given_name]}
    patient: dict[str, Any] = {"resourceType": "Patient"}
    if cert.kind == "abroad":
        roman: dict[str, Any] = {"use": "usual", "family": h.family_name_roman}
        if h.given_names_roman:
            roman["given"] = h.given_names_roman.split(" ")
        # Japan's profile: romanized name first, then the kanji name; passport as PPN identifier
        patient["name"] = [roman, kanji]
        patient["birthDate"] = h.birth_date.isoformat()
        patient["identifier"] = [
            {"type": {"coding": [{"system": V2_0203, "code": "PPN"}]}, "value": h.passport_number}
        ]
    else:
        patient["name"] = [kanji]
        patient["birthDate"] = h.birth_date.isoformat()
    return patient


def _immunization(dose: Dose, authority: str) -> dict[str, Any]:
    return {
        "resourceType": "Immunization",
        "status": "completed",
        "vaccineCode": {"coding": [{"system": CVX_SYSTEM, "code": product(dose.product).cvx}]},
        "patient": {"reference": "resource:0"},
        "occurrenceDateTime": dose.date.isoformat(),
        "performer": [{"actor": {"display": authority}}],
        "lotNumber": dose.lot,
    }


def _payload_json(
    cert: Certificate,
    patient: dict[str, Any],
    immunizations: Sequence[dict[str, Any]],
    issuer: str,
) -> bytes:
    entries = [{"fullUrl": "resource:0", "resource": patient}]
    entries.extend(
        {"fullUrl": f"resource:{i}", "resource": imm} for i, imm in enumerate(immunizations, 1)
    )
    vc: dict[str, Any] = {
        "type": list(VC_TYPES),
        "credentialSubject": {
            "fhirVersion": "4.0.1",
            "fhirBundle": {"resourceType": "Bundle", "type": "collection", "entry": entries},
        },
    }
    if cert.rid is not None:
        vc["rid"] = cert.rid
    # SHC: nbf is integer seconds (Japan's own samples had a fraction; do not)
    payload = {"iss": issuer, "nbf": int(cert.issued_at.timestamp()), "vc": vc}
    return _encoder.encode(payload)


def _deflate(data: bytes) -> bytes:
    # SHC: raw DEFLATE, RFC 1951, no zlib header
    c = zlib.compressobj(_DEFLATE_LEVEL, zlib.DEFLATED, -15, _DEFLATE_MEMLEVEL)
    return c.compress(data) + c.flush()


def _jws_len(header_b64: str, deflated: bytes) -> int:
    # header "." payload "." 86 characters of a 64-byte signature
    return len(header_b64) + 1 + (len(deflated) * 4 + 2) // 3 + 1 + 86


def sign_shc(
    cert: Certificate,
    *,
    issuer: str,
    signer: ShcSigner,
    vaccination_authority: str,
) -> list[str]:
    """Sign `cert` as one or more compact JWS SMART Health Cards.

    Each JWS is ≤ `MAX_JWS_CHARS` characters (one QR of version ≤ 22 at level L). When every
    dose does not fit one card, several complete cards are issued, each with the Patient and a
    consecutive run of doses, all with the same `rid`; no dose is ever dropped
    (`SHC_DOSE_TOO_LARGE` if a single dose cannot fit). Deterministic for deterministic
    signers: the same certificate gives the same bytes (reprints).
    """
    if not issuer.startswith("https://") or issuer.endswith("/"):
        raise ShcError("SHC_BAD_ISSUER", "iss must be an https URL without a trailing slash")
    header = _header_b64(signer.kid)
    patient = _patient(cert)
    imms = [_immunization(d, vaccination_authority) for d in cert.doses]

    deflated = _deflate(_payload_json(cert, patient, imms, issuer))
    if _jws_len(header, deflated) <= MAX_JWS_CHARS:
        groups = [deflated]
    else:
        groups = _split(cert, patient, imms, issuer, header)

    out = []
    for body in groups:
        signing_input = header + "." + b64url(body)
        signature = signer.sign(signing_input.encode("ascii"))
        out.append(signing_input + "." + b64url(signature))
    return out


def _split(
    cert: Certificate,
    patient: dict[str, Any],
    imms: list[dict[str, Any]],
    issuer: str,
    header: str,
) -> list[bytes]:
    """Greedy: the longest run of consecutive doses that fits, then the next run."""
    groups: list[bytes] = []
    start = 0
    while start < len(imms):
        best: bytes | None = None
        end = start + 1
        while end <= len(imms):
            body = _deflate(_payload_json(cert, patient, imms[start:end], issuer))
            if _jws_len(header, body) > MAX_JWS_CHARS:
                break
            best = body
            end += 1
        if best is None:
            raise ShcError("SHC_DOSE_TOO_LARGE", "a single dose does not fit one QR code")
        groups.append(best)
        start = end - 1
    return groups


def shc_qr_text(jws: str) -> str:
    """The QR content of one card: `shc:/` then two digits `ord(c) - 45` per JWS character."""
    if not jws.isascii():
        raise ShcError("SHC_BAD_QR", "a JWS is ASCII")
    return "shc:/" + jws.translate(_QR_DIGITS)


def shc_qr_to_jws(text: str) -> str:
    """Inverse of `shc_qr_text`; `SHC_BAD_QR` on anything else (chunked `shc:/1/2/…` too)."""
    if not text.startswith("shc:/"):
        raise ShcError("SHC_BAD_QR", "not an shc:/ QR")
    digits = text[5:]
    if len(digits) % 2 or not digits.isdigit() or not digits.isascii():
        raise ShcError("SHC_BAD_QR", "shc:/ must be followed by an even number of digits")
    return "".join(chr(int(digits[i : i + 2]) + 45) for i in range(0, len(digits), 2))


def shc_file(jws_list: Sequence[str]) -> bytes:
    """The body of a `.smart-health-card` file (`application/smart-health-card`)."""
    return _encoder.encode({"verifiableCredential": list(jws_list)})
