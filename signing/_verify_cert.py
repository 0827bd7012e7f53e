"""Verification of SMART Health Cards and VDS-NC seals, listing every spec violation.

Not a gate in front of issuance: a checker's tool (`certsvc verify`) and the tests' oracle. Each
finding is a `Finding` with a stable code and a kind: `signature` (the signature does not verify,
the key is unknown, the signer is not trusted or revoked) or `spec` (signatures verify but the
item breaks shc-jp.md / vdsnc.md). Input that cannot be read at all raises `VerifyError`.
"""

from __future__ import annotations

import base64
import binascii
import re
import zlib
from collections.abc import Iterator, Mapping
from datetime import date, datetime
from typing import Any, Final, Literal

import msgspec
import rfc8785
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from signing._errors import SigningError
from signing._shc import CVX_SYSTEM, MAX_JWS_CHARS, VC_TYPES, jwk_thumbprint
from signing._vdsnc import DOCUMENT_TYPE_LIST_OID, EKU_VDSNC_SIGNER

__all__ = [
    "Finding",
    "ShcReport",
    "VdsncReport",
    "VerifyError",
    "verify_shc_jws",
    "verify_vdsnc",
]

_ES256: Final = ec.ECDSA(hashes.SHA256())
_B64URL_RE: Final = re.compile(r"[A-Za-z0-9_-]*")
_B64URL_PADDED_RE: Final = re.compile(
    r"(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-]{2}==|[A-Za-z0-9_-]{3}=)?"
)
_VDS_ASCII_RE: Final = re.compile(r"[A-Za-z0-9 !@#$%&'*+/=?^_`{|}~.-]*")
_DATE_RE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_ALPHA3_RE: Final = re.compile(r"[A-Z]{3}")
_RID_RE: Final = re.compile(r"[A-Za-z0-9_-]{1,24}")
_FORBIDDEN_FHIR: Final = ("id", "text", "extension", "modifierExtension")

Kind = Literal["signature", "spec"]


class VerifyError(SigningError):
    """The input could not be read as the format at all (codes start with `VERIFY_`)."""


class Finding(msgspec.Struct, frozen=True):
    """One reason an item is not valid."""

    code: str
    kind: Kind
    message: str


class _Report(msgspec.Struct, kw_only=True):
    findings: list[Finding] = msgspec.field(default_factory=list)

    def _add(self, code: str, kind: Kind, message: str) -> None:
        self.findings.append(Finding(code, kind, message))

    @property
    def signature_ok(self) -> bool:
        """No finding of kind `signature`."""
        return not any(f.kind == "signature" for f in self.findings)

    @property
    def valid(self) -> bool:
        """No finding at all."""
        return not self.findings

    @property
    def exit_code(self) -> int:
        """contracts §5: 0 valid, 1 signature or unknown key, 2 spec violation."""
        if not self.signature_ok:
            return 1
        return 2 if self.findings else 0


class ShcReport(_Report, kw_only=True):
    """What was found in one SMART Health Card JWS."""

    header: dict[str, Any] = msgspec.field(default_factory=dict)
    payload: dict[str, Any] | None = None
    kid: str | None = None


class VdsncReport(_Report, kw_only=True):
    """What was found in one VDS-NC seal."""

    seal: dict[str, Any] | None = None
    signer_subject: str | None = None


def _b64url_decode(text: str) -> bytes:
    if not _B64URL_RE.fullmatch(text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _walk(node: Any, path: str = "") -> Iterator[tuple[str, str | None, Any, Any]]:
    """(path, key, value, parent) for every member and item below `node`."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield f"{path}.{k}", k, v, node
            yield from _walk(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield f"{path}[{i}]", None, v, node
            yield from _walk(v, f"{path}[{i}]")


def verify_shc_jws(
    jws: str,
    *,
    jwks: Mapping[str, Any],
    now: datetime,
    crls: Mapping[str, Mapping[str, Any]] | None = None,
) -> ShcReport:
    """Check one compact JWS against the SMART Health Cards framework and Japan's profile.

    Steps: (1) structure and base64url; (2) header exactly alg/kid/zip; (3) length ≤ 1195;
    (4) raw DEFLATE payload; (5) claims iss/nbf/exp/vc.type/fhirVersion/rid; (6) compact FHIR
    bundle; (7) the key by kid in `jwks`; (8) the ES256 signature as r‖s; (9) the key's CRL
    (`crls` by kid). Raises `VerifyError("VERIFY_UNREADABLE")` only when (1) fails.
    """
    report = ShcReport()
    # (1) structure
    if jws != jws.strip() or jws.startswith("\ufeff"):
        report._add("SHC_TRAILING_CHARACTERS", "spec", "whitespace or BOM around the JWS")
        jws = jws.strip().lstrip("\ufeff")
    parts = jws.split(".")
    if len(parts) != 3:
        raise VerifyError("VERIFY_UNREADABLE", "not a compact JWS (three parts)")
    if any("=" in p for p in parts):
        report._add("SHC_BASE64_PADDING", "spec", "base64url parts must not be padded")
        parts = [p.rstrip("=") for p in parts]
    try:
        header_raw = _b64url_decode(parts[0])
        body = _b64url_decode(parts[1])
        signature = _b64url_decode(parts[2])
        header = msgspec.json.decode(header_raw)
    except (ValueError, binascii.Error, msgspec.DecodeError):
        raise VerifyError("VERIFY_UNREADABLE", "JWS parts are not base64url JSON") from None
    if not isinstance(header, dict):
        raise VerifyError("VERIFY_UNREADABLE", "JWS header is not an object")
    report.header = header

    # (2) header: exactly {"alg":"ES256","kid":…,"zip":"DEF"} (SHC: no typ)
    if "typ" in header:
        report._add("SHC_HEADER_TYP", "spec", "the header must not carry typ")
    extra = set(header) - {"alg", "kid", "zip", "typ"}
    if extra:
        report._add("SHC_HEADER_EXTRA", "spec", f"unexpected header fields: {sorted(extra)}")
    if header.get("alg") != "ES256":
        report._add("SHC_HEADER_ALG", "signature", "alg must be ES256")
    if header.get("zip") != "DEF":
        report._add("SHC_HEADER_ZIP", "spec", 'zip must be "DEF"')
    kid = header.get("kid")
    if not isinstance(kid, str):
        report._add("SHC_HEADER_KID", "signature", "kid missing")
        kid = None
    report.kid = kid

    # (3) length: one QR of version ≤ 22 at level L
    if len(jws) > MAX_JWS_CHARS:
        report._add("SHC_JWS_TOO_LONG", "spec", f"JWS is {len(jws)} > {MAX_JWS_CHARS} chars")

    # (4) payload: raw DEFLATE (RFC 1951), no zlib header
    try:
        d = zlib.decompressobj(-15)
        payload_raw = d.decompress(body) + d.flush()
        if not d.eof or d.unused_data:
            raise zlib.error("trailing data")
    except zlib.error:
        try:
            payload_raw = zlib.decompress(body, 47)  # zlib or gzip header
            report._add("SHC_ZLIB_HEADER", "spec", "payload has a zlib/gzip header (raw DEFLATE)")
        except zlib.error:
            payload_raw = body
            report._add("SHC_NOT_DEFLATED", "spec", "payload is not raw DEFLATE")
    if payload_raw.startswith(b"\xef\xbb\xbf"):
        report._add("SHC_BOM", "spec", "payload starts with a UTF-8 BOM")
        payload_raw = payload_raw[3:]
    try:
        payload = msgspec.json.decode(payload_raw)
    except msgspec.DecodeError:
        raise VerifyError("VERIFY_UNREADABLE", "payload is not JSON") from None
    if not isinstance(payload, dict):
        raise VerifyError("VERIFY_UNREADABLE", "payload is not a JSON object")
    report.payload = payload

    # (5) claims
    iss = payload.get("iss")
    if not isinstance(iss, str) or not iss.startswith("https://") or iss.endswith("/"):
        report._add("SHC_ISS", "spec", "iss must be an https URL without a trailing slash")
    nbf = payload.get("nbf")
    if isinstance(nbf, bool) or not isinstance(nbf, int | float):
        report._add("SHC_NBF", "spec", "nbf missing")
    else:
        if isinstance(nbf, float):
            report._add("SHC_NBF_NOT_INTEGER", "spec", "nbf must be integer seconds")
        if nbf > now.timestamp() + 60:
            report._add("SHC_NOT_YET_VALID", "spec", "nbf is in the future")
    exp = payload.get("exp")
    if exp is not None and (not isinstance(exp, int | float) or exp < now.timestamp()):
        report._add("SHC_EXPIRED", "spec", "exp is in the past")
    vc = payload.get("vc")
    if not isinstance(vc, dict):
        report._add("SHC_VC", "spec", "vc missing")
        vc = {}
    types = vc.get("type")
    if not isinstance(types, list) or VC_TYPES[0] not in types:
        report._add("SHC_VC_TYPE", "spec", "vc.type lacks #health-card")
    elif any(t not in types for t in VC_TYPES[1:]):
        report._add("SHC_VC_TYPE", "spec", "vc.type lacks #immunization or #covid19")
    subject = vc.get("credentialSubject")
    if not isinstance(subject, dict):
        report._add("SHC_VC", "spec", "vc.credentialSubject missing")
        subject = {}
    if subject.get("fhirVersion") != "4.0.1":
        report._add("SHC_FHIR_VERSION", "spec", "fhirVersion must be 4.0.1")
    rid = vc.get("rid")
    if rid is not None and (not isinstance(rid, str) or not _RID_RE.fullmatch(rid)):
        report._add("SHC_RID", "spec", "rid must be base64url, at most 24 characters")

    # (6) compact FHIR bundle
    _check_bundle(subject.get("fhirBundle"), report)

    # (7) key
    key = None
    if kid is not None:
        jwk = next((k for k in jwks.get("keys", []) if k.get("kid") == kid), None)
        if jwk is None:
            report._add("SHC_UNKNOWN_KID", "signature", "no key with this kid in the JWKS")
        else:
            key = _jwk_key(jwk, report)

    # (8) signature: 64-byte r‖s, never DER
    if key is not None:
        signing_input = (parts[0] + "." + parts[1]).encode("ascii")
        if len(signature) == 64:
            der = encode_dss_signature(
                int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
            )
            if not _verifies(key, der, signing_input):
                report._add("SHC_SIGNATURE_INVALID", "signature", "the signature does not verify")
        else:
            try:
                decode_dss_signature(signature)
                der_ok = _verifies(key, signature, signing_input)
            except ValueError:
                der_ok = False
            if der_ok:
                report._add("SHC_SIGNATURE_DER", "spec", "signature is DER, not 64-byte r‖s")
            else:
                report._add("SHC_SIGNATURE_INVALID", "signature", "the signature does not verify")

    # (9) revocation
    if crls is not None and kid is not None and isinstance(rid, str):
        crl = crls.get(kid)
        if crl is not None and _revoked(crl, rid, nbf):
            report._add("SHC_REVOKED", "signature", "the card's rid is on the key's CRL")
    return report


def _revoked(crl: Mapping[str, Any], rid: str, nbf: Any) -> bool:
    for entry in crl.get("rids", []):
        if not isinstance(entry, str):
            continue
        value, _, ts = entry.partition(".")
        if value != rid:
            continue
        # SHC: rid.<ts> revokes the cards with nbf before ts
        if not ts or (ts.isdigit() and isinstance(nbf, int | float) and nbf < int(ts)):
            return True
    return False


def _verifies(key: ec.EllipticCurvePublicKey, der: bytes, data: bytes) -> bool:
    try:
        key.verify(der, data, _ES256)
    except InvalidSignature:
        return False
    return True


def _jwk_key(jwk: Mapping[str, Any], report: ShcReport) -> ec.EllipticCurvePublicKey | None:
    if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
        report._add("SHC_JWK", "signature", "the key is not EC P-256")
        return None
    if "d" in jwk:
        report._add("SHC_JWK_PRIVATE", "spec", "the published JWK carries d")
    for member, value in (("use", "sig"), ("alg", "ES256")):
        if jwk.get(member) != value:
            report._add("SHC_JWK", "spec", f"JWK {member} must be {value}")
    try:
        x = int.from_bytes(_b64url_decode(jwk["x"]), "big")
        y = int.from_bytes(_b64url_decode(jwk["y"]), "big")
        key = ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
        if jwk_thumbprint(dict(jwk)) != jwk.get("kid"):
            report._add("SHC_KID_NOT_THUMBPRINT", "spec", "kid is not the RFC 7638 thumbprint")
    except (KeyError, ValueError, binascii.Error, SigningError):
        report._add("SHC_JWK", "signature", "the JWK is not a valid P-256 point")
        return None
    return key


def _check_bundle(bundle: Any, report: ShcReport) -> None:
    if not isinstance(bundle, dict):
        report._add("SHC_FHIR_BUNDLE", "spec", "fhirBundle missing")
        return
    if bundle.get("resourceType") != "Bundle" or bundle.get("type") != "collection":
        report._add("SHC_FHIR_BUNDLE", "spec", "fhirBundle must be a Bundle of type collection")
    for path, key, value, parent in _walk(bundle, "fhirBundle"):
        if key in _FORBIDDEN_FHIR:
            report._add(f"SHC_FHIR_{key.upper()}", "spec", f"{path} is not allowed (compact FHIR)")
        elif key == "meta" and (not isinstance(value, dict) or set(value) - {"security"}):
            report._add("SHC_FHIR_META", "spec", f"{path}: only meta.security is allowed")
        elif (
            key == "display"
            and isinstance(parent, dict)
            and ("system" in parent or "code" in parent)
        ):
            report._add("SHC_FHIR_DISPLAY", "spec", f"{path}: no Coding.display")
        if value in ("", [], {}, None):
            report._add("SHC_FHIR_EMPTY", "spec", f"{path} is empty")
    entries = bundle.get("entry")
    if not isinstance(entries, list) or not entries:
        report._add("SHC_FHIR_BUNDLE", "spec", "fhirBundle has no entries")
        return
    patients = 0
    immunizations = 0
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            report._add("SHC_FHIR_BUNDLE", "spec", f"entry[{i}] is not an object")
            continue
        if entry.get("fullUrl") != f"resource:{i}":
            report._add("SHC_FHIR_FULLURL", "spec", f"entry[{i}].fullUrl must be resource:{i}")
        res = entry.get("resource")
        if not isinstance(res, dict):
            report._add("SHC_FHIR_BUNDLE", "spec", f"entry[{i}] has no resource")
            continue
        if res.get("resourceType") == "Patient":
            patients += 1
            if not isinstance(res.get("name"), list) or not res["name"]:
                report._add("SHC_FHIR_PATIENT", "spec", "Patient.name missing")
            bd = res.get("birthDate")
            if not isinstance(bd, str) or not _is_date(bd):
                report._add("SHC_FHIR_PATIENT", "spec", "Patient.birthDate must be YYYY-MM-DD")
        elif res.get("resourceType") == "Immunization":
            immunizations += 1
            _check_immunization(res, i, report)
    if patients != 1 or immunizations == 0:
        report._add("SHC_FHIR_BUNDLE", "spec", "one Patient and at least one Immunization")


def _check_immunization(res: dict[str, Any], i: int, report: ShcReport) -> None:
    where = f"entry[{i}] Immunization"
    if res.get("status") != "completed":
        report._add("SHC_FHIR_IMMUNIZATION", "spec", f"{where}: status must be completed")
    coding = (res.get("vaccineCode") or {}).get("coding")
    if not isinstance(coding, list) or not any(
        isinstance(c, dict) and c.get("system") == CVX_SYSTEM and isinstance(c.get("code"), str)
        for c in coding
    ):
        report._add("SHC_FHIR_IMMUNIZATION", "spec", f"{where}: vaccineCode needs a CVX coding")
    if (res.get("patient") or {}).get("reference") != "resource:0":
        report._add("SHC_FHIR_IMMUNIZATION", "spec", f"{where}: patient must be resource:0")
    occ = res.get("occurrenceDateTime")
    if not isinstance(occ, str) or not (_is_date(occ[:10])):
        report._add("SHC_FHIR_IMMUNIZATION", "spec", f"{where}: occurrenceDateTime missing")


def _is_date(text: str) -> bool:
    if not _DATE_RE.fullmatch(text):
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


# --- VDS-NC ----------------------------------------------------------------------------------

_VDS_LIMITS: Final = {"uvci": 12, "n": 39, "i": 11, "ai": 24, "adm": 20, "lot": 20, "des": 6,
                      "dis": 6}  # fmt: skip


def verify_vdsnc(
    seal: bytes | str | Mapping[str, Any],
    *,
    csca_pem: bytes,
    crl_pem: bytes | None = None,
    now: datetime,
) -> VdsncReport:
    """Check one `icao.vacc` seal against vdsnc.md.

    Steps: (1) JSON shape `{data, sig}`; (2) header; (3) message fields, ASCII and limits;
    (4) `sig` encodings (base64url with padding); (5) the barcode signer certificate: issued by
    the CSCA (AKI = SKI, signature), EKU and document type, validity; (6) the CSCA's CRL;
    (7) ES256 over RFC 8785 JCS of `data`. Raises `VerifyError("VERIFY_UNREADABLE")` when (1)
    cannot parse.
    """
    report = VdsncReport()
    # (1) shape
    if isinstance(seal, bytes | str):
        try:
            obj = msgspec.json.decode(seal)
        except msgspec.DecodeError:
            raise VerifyError("VERIFY_UNREADABLE", "not JSON") from None
    else:
        obj = dict(seal)
    if not isinstance(obj, dict) or not isinstance(obj.get("data"), dict):
        raise VerifyError("VERIFY_UNREADABLE", "not a VDS-NC seal ({data, sig})")
    report.seal = obj
    if set(obj) - {"data", "sig"}:
        report._add("VDSNC_EXTRA_MEMBER", "spec", "nothing but data and sig at the top level")
    data = obj["data"]
    sig = obj.get("sig")
    if not isinstance(sig, dict):
        report._add("VDSNC_SIG_MISSING", "signature", "sig missing")
        sig = {}

    # (2) header
    hdr = data.get("hdr") if isinstance(data.get("hdr"), dict) else {}
    if hdr.get("t") != "icao.vacc":
        report._add("VDSNC_HDR_TYPE", "spec", 'hdr.t must be "icao.vacc"')
    if hdr.get("v") != 1 or isinstance(hdr.get("v"), bool):
        report._add("VDSNC_HDR_VERSION", "spec", "hdr.v must be integer 1")
    if not isinstance(hdr.get("is"), str) or not _ALPHA3_RE.fullmatch(hdr["is"]):
        report._add("VDSNC_HDR_ISSUER", "spec", "hdr.is must be an alpha-3 code")

    # (3) message: ASCII everywhere, field limits, shapes
    for path, key, value, _parent in _walk(data, "data"):
        if isinstance(value, str):
            if not value.isascii() or not _VDS_ASCII_RE.fullmatch(value):
                report._add("VDSNC_NON_ASCII", "spec", f"{path} is not in the ASCII subset")
            limit = _VDS_LIMITS.get(key or "")
            if limit is not None and len(value) > limit:
                report._add("VDSNC_FIELD_TOO_LONG", "spec", f"{path} is longer than {limit}")
        elif isinstance(value, float):
            report._add("VDSNC_NON_INTEGER", "spec", f"{path}: numbers must be integers")
    _check_vdsnc_msg(data.get("msg"), report)

    # (4) sig encodings: base64url WITH padding
    if sig.get("alg") != "ES256":
        report._add("VDSNC_ALG", "signature", "sig.alg must be ES256")
    decoded: dict[str, bytes] = {}
    for member in ("cer", "sigvl"):
        text = sig.get(member)
        if not isinstance(text, str):
            report._add("VDSNC_SIG_MISSING", "signature", f"sig.{member} missing")
            continue
        if not _B64URL_PADDED_RE.fullmatch(text):
            if _B64URL_RE.fullmatch(text):
                report._add("VDSNC_UNPADDED_BASE64", "spec", f"sig.{member} lacks = padding")
            else:
                report._add("VDSNC_NOT_BASE64URL", "spec", f"sig.{member} is not base64url")
        try:
            decoded[member] = _b64url_decode(text.rstrip("=").replace("+", "-").replace("/", "_"))
        except (binascii.Error, ValueError):
            report._add("VDSNC_SIG_ENCODING", "signature", f"sig.{member} cannot be decoded")

    # (5) barcode signer certificate and its chain to the CSCA
    try:
        csca = x509.load_pem_x509_certificate(csca_pem)
    except ValueError:
        raise VerifyError("VERIFY_BAD_TRUST_ANCHOR", "the CSCA is not a PEM certificate") from None
    bsc: x509.Certificate | None = None
    if "cer" in decoded:
        try:
            bsc = x509.load_der_x509_certificate(decoded["cer"])
        except ValueError:
            report._add("VDSNC_BAD_CERTIFICATE", "signature", "sig.cer is not a DER certificate")
    if bsc is not None:
        report.signer_subject = bsc.subject.rfc4514_string()
        _check_chain(bsc, csca, now, report)

    # (6) CRL
    if bsc is not None and crl_pem is not None:
        try:
            crl = x509.load_pem_x509_crl(crl_pem)
        except ValueError:
            try:
                crl = x509.load_der_x509_crl(crl_pem)
            except ValueError:
                raise VerifyError("VERIFY_BAD_CRL", "the CRL cannot be read") from None
        csca_key = csca.public_key()
        if crl.issuer != csca.subject or not (
            isinstance(csca_key, ec.EllipticCurvePublicKey) and crl.is_signature_valid(csca_key)
        ):
            report._add("VDSNC_CRL_SIGNATURE", "signature", "the CRL is not signed by the CSCA")
        elif crl.get_revoked_certificate_by_serial_number(bsc.serial_number) is not None:
            report._add("VDSNC_REVOKED", "signature", "the barcode signer is revoked")
        nu = crl.next_update_utc
        if nu is not None and nu < now:
            report._add("VDSNC_CRL_EXPIRED", "spec", "the CRL is past its next update")

    # (7) ES256 over JCS(data)
    if bsc is not None and "sigvl" in decoded:
        bsc_key = bsc.public_key()
        sigvl = decoded["sigvl"]
        try:
            canonical = rfc8785.dumps(data)
        except (rfc8785.CanonicalizationError, ValueError, TypeError):
            report._add("VDSNC_NOT_CANONICALIZABLE", "spec", "data cannot be canonicalized")
            canonical = b""
        if not isinstance(bsc_key, ec.EllipticCurvePublicKey):
            report._add("VDSNC_KEY", "signature", "the barcode signer key is not EC")
        elif len(sigvl) != 64:
            report._add("VDSNC_SIGNATURE_FORMAT", "signature", "sigvl must be 64-byte r‖s")
        else:
            der = encode_dss_signature(
                int.from_bytes(sigvl[:32], "big"), int.from_bytes(sigvl[32:], "big")
            )
            if not _verifies(bsc_key, der, canonical):
                report._add("VDSNC_SIGNATURE_INVALID", "signature", "no valid ES256 over JCS(data)")
    return report


def _check_chain(
    bsc: x509.Certificate, csca: x509.Certificate, now: datetime, report: VdsncReport
) -> None:
    try:
        aki = bsc.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
        ski = csca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        if aki.key_identifier != ski.digest:
            report._add("VDSNC_CHAIN", "signature", "the signer's AKI is not the CSCA's SKI")
            return
    except x509.ExtensionNotFound:
        report._add("VDSNC_CHAIN", "signature", "AKI or SKI missing")
        return
    try:
        bsc.verify_directly_issued_by(csca)
    except (ValueError, TypeError, InvalidSignature):
        report._add("VDSNC_CHAIN", "signature", "the signer is not issued by the CSCA")
        return
    try:
        bc = csca.extensions.get_extension_for_class(x509.BasicConstraints).value
        if not bc.ca:
            report._add("VDSNC_CHAIN", "signature", "the trust anchor is not a CA")
    except x509.ExtensionNotFound:
        report._add("VDSNC_CHAIN", "signature", "the trust anchor is not a CA")
    try:
        eku = bsc.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
        if EKU_VDSNC_SIGNER not in eku.value or not eku.critical:
            report._add("VDSNC_EKU", "spec", "EKU 2.23.136.1.1.14.2 (critical) missing")
    except x509.ExtensionNotFound:
        report._add("VDSNC_EKU", "spec", "EKU 2.23.136.1.1.14.2 (critical) missing")
    try:
        doc = bsc.extensions.get_extension_for_oid(DOCUMENT_TYPE_LIST_OID).value
        raw = doc.value if isinstance(doc, x509.UnrecognizedExtension) else b""
        if b"\x13\x02NV" not in raw:
            report._add("VDSNC_DOCTYPE", "spec", "document type list lacks NV")
    except x509.ExtensionNotFound:
        report._add("VDSNC_DOCTYPE", "spec", "document type list extension missing")
    if not bsc.not_valid_before_utc <= now <= bsc.not_valid_after_utc:
        report._add("VDSNC_SIGNER_EXPIRED", "spec", "the barcode signer is outside its validity")


def _check_vdsnc_msg(msg: Any, report: VdsncReport) -> None:
    if not isinstance(msg, dict):
        report._add("VDSNC_MSG", "spec", "msg missing")
        return
    if not isinstance(msg.get("uvci"), str) or not msg["uvci"]:
        report._add("VDSNC_MSG", "spec", "msg.uvci missing")
    pid = msg.get("pid")
    if not isinstance(pid, dict):
        report._add("VDSNC_MSG", "spec", "msg.pid missing")
    else:
        if not isinstance(pid.get("n"), str) or not pid["n"]:
            report._add("VDSNC_MSG", "spec", "pid.n missing")
        if not isinstance(pid.get("dob"), str) or not _is_date(pid["dob"]):
            report._add("VDSNC_MSG", "spec", "pid.dob must be YYYY-MM-DD")
        if "sex" in pid and pid["sex"] not in ("F", "M", "X"):
            report._add("VDSNC_MSG", "spec", "pid.sex must be F, M or X")
    ve = msg.get("ve")
    if not isinstance(ve, list) or not ve:
        report._add("VDSNC_MSG", "spec", "msg.ve must list the vaccinations")
        return
    for i, event in enumerate(ve):
        if not isinstance(event, dict):
            report._add("VDSNC_MSG", "spec", f"ve[{i}] is not an object")
            continue
        for member in ("des", "nam", "dis"):
            if not isinstance(event.get(member), str):
                report._add("VDSNC_MSG", "spec", f"ve[{i}].{member} missing")
        vd = event.get("vd")
        if not isinstance(vd, list) or not vd:
            report._add("VDSNC_MSG", "spec", f"ve[{i}].vd missing")
            continue
        for j, d in enumerate(vd):
            where = f"ve[{i}].vd[{j}]"
            if not isinstance(d, dict):
                report._add("VDSNC_MSG", "spec", f"{where} is not an object")
                continue
            if not isinstance(d.get("dvc"), str) or not _is_date(d["dvc"]):
                report._add("VDSNC_MSG", "spec", f"{where}.dvc must be YYYY-MM-DD")
            seq = d.get("seq")
            if isinstance(seq, bool) or not isinstance(seq, int) or not 1 <= seq <= 99:
                report._add("VDSNC_MSG", "spec", f"{where}.seq must be an integer 1..99")
            if not isinstance(d.get("ctr"), str) or not _ALPHA3_RE.fullmatch(d["ctr"]):
                report._add("VDSNC_MSG", "spec", f"{where}.ctr must be alpha-3")
            for member in ("adm", "lot"):
                if not isinstance(d.get(member), str):
                    report._add("VDSNC_MSG", "spec", f"{where}.{member} missing")
