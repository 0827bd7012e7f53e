"""Bodies of the app and public APIs (contracts §1–2), and the decoding of binary fields."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any

import msgspec

import signing
from certsvc.errors import Problem
from certsvc.issuance import Issued


class CardFiles(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The raw text-AP files and the challenge signature, standard base64 each (contracts §1;
    the kiosk protocol sends the same member)."""

    ef0001: str
    ef0002: str
    ef0003: str
    ef0004: str
    ef0007: str
    challenge_signature: str


def card_evidence(files: CardFiles) -> signing.CardEvidence:
    """The card files decoded for `signing.verify_card`; `BASE64_INVALID` on a bad field."""
    return signing.CardEvidence(
        ef0001=decode_base64_field(files.ef0001),
        ef0002=decode_base64_field(files.ef0002),
        ef0003=decode_base64_field(files.ef0003),
        ef0004=decode_base64_field(files.ef0004),
        ef0007=decode_base64_field(files.ef0007),
        challenge_signature=decode_base64_field(files.challenge_signature),
    )


def decode_base64_field(text: str) -> bytes:
    """A binary field of a request body: standard base64 with padding (RFC 4648 §4), nothing
    outside the alphabet; `BASE64_INVALID` otherwise."""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise Problem("BASE64_INVALID") from None


class ChallengeOut(msgspec.Struct, frozen=True, kw_only=True):
    challenge_id: str
    nonce: str
    expires_at: datetime


class MunicipalityRef(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    name_ja: str
    name_en: str


class HolderOut(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    name: str
    birth_date: str
    name_roman: str | None = None
    nationality: str | None = None
    passport_number: str | None = None
    other_name: str | None = None


class VaccinationOut(msgspec.Struct, frozen=True, kw_only=True):
    dose: int
    date: str
    product: str
    manufacturer: str
    lot: str


class ShcOut(msgspec.Struct, frozen=True, kw_only=True):
    jws: list[str]
    qr: list[str]


class CertificateOut(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    certificate_id: str
    issued_at: datetime
    kind: str
    municipality: MunicipalityRef
    holder: HolderOut
    vaccinations: list[VaccinationOut]
    shc: ShcOut
    vdsnc: list[dict[str, Any]] | None = None


class CertificatesOut(msgspec.Struct, frozen=True, kw_only=True):
    certificates: list[CertificateOut]


def certificate_out(issued: Issued) -> CertificateOut:
    """The contracts §1 view of an issued certificate (never the My Number)."""
    cert = issued.certificate
    holder = cert.holder
    abroad = cert.kind == "abroad"
    roman = " ".join(p for p in (holder.family_name_roman, holder.given_names_roman) if p)
    return CertificateOut(
        certificate_id=cert.certificate_id,
        issued_at=cert.issued_at,
        kind=cert.kind,
        municipality=MunicipalityRef(
            code=cert.municipality.code,
            name_ja=cert.municipality.name_ja,
            name_en=cert.municipality.name_en,
        ),
        holder=HolderOut(
            name=f"{holder.family_name}\u3000{holder.given_name}",
            birth_date=holder.birth_date.isoformat(),
            name_roman=roman if abroad else None,
            nationality=holder.nationality if abroad else None,
            passport_number=holder.passport_number if abroad else None,
            other_name=holder.other_name.name if holder.other_name else None,
        ),
        vaccinations=[
            VaccinationOut(
                dose=dose.number,
                date=dose.date.isoformat(),
                product=dose.product,
                manufacturer=signing.PRODUCTS[dose.product].manufacturer,
                lot=dose.lot,
            )
            for dose in cert.doses
        ],
        shc=ShcOut(
            jws=list(issued.shc_jws), qr=[signing.shc_qr_text(jws) for jws in issued.shc_jws]
        ),
        vdsnc=list(issued.vdsnc) if abroad else None,
    )
