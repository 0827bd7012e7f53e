"""ICAO VDS-NC `icao.vacc` v1 seals and their PKI (CSCA, barcode signer, CRL).

Follows `specs/vdsnc.md` (ICAO TR "VDS for Non-Constrained Environments" 1.1 as implemented by
the public verifiers, and Japan's real seal).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Final, Protocol

import msgspec
import rfc8785
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from signing._errors import SigningError
from signing.certificate import Certificate, product

__all__ = [
    "BSC_PRIVATE_KEY_USAGE",
    "CERTIFICATE_LIFETIME",
    "DOCUMENT_TYPE_LIST_DER",
    "DOCUMENT_TYPE_LIST_OID",
    "EKU_VDSNC_SIGNER",
    "VdsncError",
    "VdsncSigner",
    "barcode_signer_builder",
    "csca_builder",
    "csca_crl_builder",
    "issue_barcode_signer",
    "issue_csca",
    "issue_csca_crl",
    "mrz_name",
    "seal_bytes",
    "sign_vdsnc",
]

#: ICAO VDS-NC barcode signer extended key usage (critical).
EKU_VDSNC_SIGNER: Final = x509.ObjectIdentifier("2.23.136.1.1.14.2")
#: ICAO document-type-list extension.
DOCUMENT_TYPE_LIST_OID: Final = x509.ObjectIdentifier("2.23.136.1.1.6.2")
#: DER of `SEQUENCE { INTEGER 0, SET { PrintableString "NV" } }`, encoded by hand:
#: 30 09 | 02 01 00 | 31 04 | 13 02 'N' 'V'  (NV = non-constrained vaccination)
DOCUMENT_TYPE_LIST_DER: Final = bytes.fromhex("3009020100310413024e56")
#: A barcode signer signs for about three months (vdsnc.md), then a new one takes over.
BSC_PRIVATE_KEY_USAGE: Final = timedelta(days=92)
#: Longest lifetime we give a seal: one year. A certificate for use abroad has no expiry of its
#: own; verifiers that check the BSC validity at scan time accept a seal for a year after its
#: signer stopped signing, after which the resident asks for a new issuance.
CERTIFICATE_LIFETIME: Final = timedelta(days=365)
#: The CSCA lives ten years; it signs barcode signers and CRLs only.
CSCA_LIFETIME: Final = timedelta(days=3652)
#: A CRL is re-issued at every change and at least this often.
CRL_LIFETIME: Final = timedelta(days=90)

#: The largest byte-mode payload of a QR code at level M: version 40-M holds 2331 bytes.
MAX_SEAL_BYTES: Final = 2331

# vdsnc.md: keep every string in this ASCII subset (verifiers canonicalize with their own writer)
_ASCII_RE: Final = re.compile(r"[A-Za-z0-9 !@#$%&'*+/=?^_`{|}~.-]*")
_NAME_MAX: Final = 39
_PRIMARY_MAX: Final = 31

_encoder: Final = msgspec.json.Encoder()


class VdsncError(SigningError):
    """A VDS-NC seal or its PKI could not be produced (codes start with `VDSNC_`)."""


class VdsncSigner(Protocol):
    """The barcode signer: a P-256 key and its certificate. A PKCS#11 key slots in here."""

    @property
    def certificate_der(self) -> bytes:
        """DER of the barcode signer certificate."""
        ...

    def sign(self, data: bytes) -> bytes:
        """ES256 over `data`: the 64-byte r‖s; deterministic (RFC 6979) in the file store,
        randomized in an HSM (reprints re-attach kept signatures)."""
        ...


def b64url_padded(data: bytes) -> str:
    """base64url WITH `=` padding (vdsnc.md: a widely used verifier rejects unpadded `cer`)."""
    return base64.urlsafe_b64encode(data).decode("ascii")


def mrz_name(family: str, given: str | None) -> str:
    """`pid.n`: upper case, family name first, ≤ 39 characters, by the MRZ name rule.

    The rule implemented: the primary identifier (family name) keeps at most 31 characters; then
    one space separates it from the secondary identifier (given names, words separated by single
    spaces), which is cut at the character where the whole reaches 39. A cut that would leave a
    trailing space drops it. Input is already MRZ text (`[A-Z ]`), so no transliteration.
    """
    primary = family.strip()[:_PRIMARY_MAX].rstrip()
    secondary = (given or "").strip()
    if not secondary:
        return primary
    return (primary + " " + secondary)[:_NAME_MAX].rstrip()


def _check_ascii(value: str, field: str, limit: int | None) -> str:
    if not value.isascii() or not _ASCII_RE.fullmatch(value):
        raise VdsncError("VDSNC_NON_ASCII", f"{field} must be printable ASCII")
    if limit is not None and len(value) > limit:
        raise VdsncError("VDSNC_FIELD_TOO_LONG", f"{field} is longer than {limit}")
    return value


def _data(cert: Certificate, ve: list[dict[str, Any]]) -> dict[str, Any]:
    h = cert.holder
    if h.family_name_roman is None or h.passport_number is None:
        raise VdsncError("VDSNC_NOT_ABROAD", "a VDS-NC needs the passport data")
    pid: dict[str, Any] = {
        "n": _check_ascii(mrz_name(h.family_name_roman, h.given_names_roman), "n", _NAME_MAX),
        "dob": h.birth_date.isoformat(),
        "i": _check_ascii(h.passport_number, "i", 11),
    }
    return {
        "hdr": {"t": "icao.vacc", "v": 1, "is": "JPN"},
        "msg": {"uvci": _check_ascii(cert.certificate_id, "uvci", 12), "pid": pid, "ve": ve},
    }


def _ve(cert: Certificate, authority: str) -> list[dict[str, Any]]:
    _check_ascii(authority, "adm", 20)
    out = []
    for dose in cert.doses:
        p = product(dose.product)
        out.append(
            {
                "des": _check_ascii(p.icd11, "des", 6),
                "nam": _check_ascii(p.name, "nam", None),
                "dis": "RA01.0",
                "vd": [
                    {
                        "dvc": dose.date.isoformat(),
                        "seq": dose.number,
                        "ctr": "JPN",
                        "adm": authority,
                        "lot": _check_ascii(dose.lot, "lot", 20),
                    }
                ],
            }
        )
    return out


def _seal(data: dict[str, Any], signer: VdsncSigner, cer: str) -> dict[str, Any]:
    # vdsnc.md: ES256 over the RFC 8785 canonical form of `data` only
    sig = signer.sign(rfc8785.dumps(data))
    return {"data": data, "sig": {"alg": "ES256", "cer": cer, "sigvl": b64url_padded(sig)}}


def sign_vdsnc(
    cert: Certificate, *, signer: VdsncSigner, vaccination_authority: str
) -> list[dict[str, Any]]:
    """Sign `cert` as one or more `icao.vacc` seals `{"data", "sig"}`.

    One `ve` per dose (Japan's shape). Each seal, as compact JSON, fits one QR code in byte mode
    at level M (≤ 2331 bytes, version ≤ 40); when the doses do not fit, several seals carry
    consecutive runs of doses with the same `uvci` — no dose is dropped. Non-ASCII values are
    refused (`VDSNC_NON_ASCII`), over-long fields too (`VDSNC_FIELD_TOO_LONG`).
    """
    if cert.kind != "abroad":
        raise VdsncError("VDSNC_NOT_ABROAD", "a VDS-NC is issued for use abroad only")
    ve = _ve(cert, vaccination_authority)
    cer = b64url_padded(signer.certificate_der)
    seal = _seal(_data(cert, ve), signer, cer)
    if len(seal_bytes(seal)) <= MAX_SEAL_BYTES:
        return [seal]
    seals = []
    start = 0
    while start < len(ve):
        end = start + 1
        best: dict[str, Any] | None = None
        while end <= len(ve):
            data = _data(cert, ve[start:end])
            # sigvl of a 64-byte signature is 88 characters, like the placeholder below
            size = len(_encoder.encode({"data": data, "sig": {"alg": "ES256", "cer": cer,
                                                               "sigvl": "A" * 88}}))  # fmt: skip
            if size > MAX_SEAL_BYTES:
                break
            best = data
            end += 1
        if best is None:
            raise VdsncError("VDSNC_DOSE_TOO_LARGE", "a single dose does not fit one QR code")
        seals.append(_seal(best, signer, cer))
        start = end - 1
    return seals


def seal_bytes(seal: dict[str, Any]) -> bytes:
    """The QR content of a seal: its compact JSON (byte mode)."""
    return _encoder.encode(seal)


# --- PKI -------------------------------------------------------------------------------------


def _ski(public_key: ec.EllipticCurvePublicKey) -> x509.SubjectKeyIdentifier:
    return x509.SubjectKeyIdentifier.from_public_key(public_key)


def issue_csca(
    key: ec.EllipticCurvePrivateKey, *, common_name: str, now: datetime
) -> x509.Certificate:
    """A self-signed country signing CA: CA:TRUE pathlen 0 (critical), keyCertSign + cRLSign
    (critical), subject key identifier; ten years."""
    return csca_builder(key.public_key(), common_name=common_name, now=now).sign(
        key, hashes.SHA256()
    )


def csca_builder(
    public_key: ec.EllipticCurvePublicKey, *, common_name: str, now: datetime
) -> x509.CertificateBuilder:
    """The unsigned CSCA certificate of `issue_csca` for `public_key` (a key store whose private
    key never leaves an HSM signs it there)."""
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + CSCA_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(_ski(public_key), critical=False)
    )


def issue_barcode_signer(
    public_key: ec.EllipticCurvePublicKey,
    *,
    csca: x509.Certificate,
    csca_key: ec.EllipticCurvePrivateKey,
    common_name: str,
    now: datetime,
) -> x509.Certificate:
    """A barcode signer certificate under `csca`.

    P-256; AKI = the CSCA's SKI; EKU 2.23.136.1.1.14.2 (critical); document-type list `NV`;
    private key usage period `now` .. `now + BSC_PRIVATE_KEY_USAGE`; validity = that period +
    `CERTIFICATE_LIFETIME`.
    """
    return barcode_signer_builder(public_key, csca=csca, common_name=common_name, now=now).sign(
        csca_key, hashes.SHA256()
    )


def barcode_signer_builder(
    public_key: ec.EllipticCurvePublicKey,
    *,
    csca: x509.Certificate,
    common_name: str,
    now: datetime,
) -> x509.CertificateBuilder:
    """The unsigned barcode signer certificate of `issue_barcode_signer`."""
    if not isinstance(public_key.curve, ec.SECP256R1):
        raise VdsncError("VDSNC_KEY_NOT_P256", "the barcode signer key must be P-256")
    csca_ski = csca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    usage_end = now + BSC_PRIVATE_KEY_USAGE
    return (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                    x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                ]
            )
        )
        .issuer_name(csca.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(usage_end + CERTIFICATE_LIFETIME)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(csca_ski),
            critical=False,
        )
        .add_extension(_ski(public_key), critical=False)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([EKU_VDSNC_SIGNER]), critical=True)
        .add_extension(
            x509.UnrecognizedExtension(DOCUMENT_TYPE_LIST_OID, DOCUMENT_TYPE_LIST_DER),
            critical=False,
        )
        .add_extension(
            x509.PrivateKeyUsagePeriod(
                not_before=now.replace(microsecond=0, tzinfo=None),
                not_after=usage_end.replace(microsecond=0, tzinfo=None),
            ),
            critical=False,
        )
    )


def issue_csca_crl(
    *,
    csca: x509.Certificate,
    csca_key: ec.EllipticCurvePrivateKey,
    revoked_serials: Sequence[int],
    crl_number: int,
    now: datetime,
) -> x509.CertificateRevocationList:
    """The CSCA's CRL number `crl_number` listing `revoked_serials` (barcode signers), valid
    `CRL_LIFETIME`."""
    return csca_crl_builder(
        csca=csca, revoked_serials=revoked_serials, crl_number=crl_number, now=now
    ).sign(csca_key, hashes.SHA256())


def csca_crl_builder(
    *,
    csca: x509.Certificate,
    revoked_serials: Sequence[int],
    crl_number: int,
    now: datetime,
) -> x509.CertificateRevocationListBuilder:
    """The unsigned CRL of `issue_csca_crl`."""
    csca_ski = csca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(csca.subject)
        .last_update(now)
        .next_update(now + CRL_LIFETIME)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(csca_ski),
            critical=False,
        )
        .add_extension(x509.CRLNumber(crl_number), critical=False)  # RFC 5280 §5.2.3
    )
    for serial in revoked_serials:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(now).build()
        )
    return builder
