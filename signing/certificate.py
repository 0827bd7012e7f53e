"""The vaccination certificate as the signing layer composes it, and the shipped product table.

`certsvc` maps VRS records into these values; `signing` turns them into SMART Health Cards and
ICAO VDS-NC seals. There is no My Number field anywhere, by design (DESIGN §5).
"""

from __future__ import annotations

import re
import secrets
from datetime import date, datetime
from typing import Final, Literal

import msgspec

from signing._errors import SigningError

__all__ = [
    "PRODUCTS",
    "Certificate",
    "CertificateError",
    "Dose",
    "Holder",
    "Municipality",
    "OtherName",
    "Product",
    "new_certificate_id",
    "product",
]

CertificateKind = Literal["domestic", "abroad"]

_ID_ALPHABET: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"  # RFC 4648 base32
_ID_RE: Final = re.compile(r"[A-Z2-7]{12}")
_MRZ_NAME_RE: Final = re.compile(r"[A-Z]+(?: [A-Z]+)*")
_PASSPORT_RE: Final = re.compile(r"[A-Z0-9]{1,9}")
# ICAO 9303-3 §5 codes: mostly alpha-3, but Germany is `D` (fillers removed).
_NATIONALITY_RE: Final = re.compile(r"[A-Z]{1,3}")
_LOT_RE: Final = re.compile(r"[A-Za-z0-9-]{1,20}")


class CertificateError(SigningError):
    """A certificate value breaks an invariant (codes start with `CERT_`)."""


class Product(msgspec.Struct, frozen=True, kw_only=True):
    """One vaccine product: what each code carries for it."""

    code: str
    """The project's product code (contracts §4), e.g. `COMIRNATY`."""
    name: str
    """Product name for VDS-NC `ve.nam` and the print-out (ASCII)."""
    manufacturer: str
    """Marketing authorisation holder, for the print-out."""
    cvx: str
    """CDC CVX code for SHC `vaccineCode`."""
    icd11: str
    """ICD-11 vaccine-type code for VDS-NC `ve.des`."""


# ICD-11 vaccine types (WHO DDCC value set, ICD-11 MMS chapter "XM" extension codes):
#   XM0GQ8 COVID-19 vaccine, RNA based; XM9QW8 COVID-19 vaccine, non-replicating viral vector;
#   XM5JC5 COVID-19 vaccine, virus protein subunit. Japan put the type in `des` (vdsnc.md).
_RNA: Final = "XM0GQ8"
_VECTOR: Final = "XM9QW8"
_SUBUNIT: Final = "XM5JC5"

# CVX: CDC "IIS: HL7 Standard Code Set, CVX — Vaccines Administered"
# (https://www2a.cdc.gov/vaccines/iis/iisstandards/vaccines.asp?rpt=cvx), checked against the
# entries as published in 2022-2023:
#   207 COVID-19, mRNA, LNP-S, PF, 100 mcg/0.5 mL or 50 mcg/0.25 mL dose (Moderna)
#   208 COVID-19, mRNA, LNP-S, PF, 30 mcg/0.3 mL dose (Pfizer-BioNTech, 12 years and older)
#   210 COVID-19 vaccine, vector-nr, rS-ChAdOx1, PF, 0.5 mL (AstraZeneca)
#   211 COVID-19 vaccine, Subunit, rS-nanoparticle+Matrix-M1 Adjuvant, PF, 0.5 mL (Novavax)
#   212 COVID-19 vaccine, vector-nr, rS-Ad26, PF, 0.5 mL (Janssen)
#   229 COVID-19, mRNA, LNP-S, bivalent booster, PF, 50 mcg/0.5 mL (Moderna bivalent)
#   300 COVID-19, mRNA, LNP-S, bivalent booster, PF, 30 mcg/0.3 mL (Pfizer bivalent, 12+)
# (218/219 are Pfizer's paediatric formulations; Japan's adult products are not those.)
PRODUCTS: Final[dict[str, Product]] = {
    p.code: p
    for p in (
        Product(
            code="COMIRNATY",
            name="COMIRNATY",
            manufacturer="Pfizer/BioNTech",
            cvx="208",
            icd11=_RNA,
        ),
        Product(
            code="COMIRNATY_BIVALENT",
            name="COMIRNATY BIVALENT",
            manufacturer="Pfizer/BioNTech",
            cvx="300",
            icd11=_RNA,
        ),
        Product(
            code="SPIKEVAX",
            name="SPIKEVAX",
            manufacturer="Moderna",
            cvx="207",
            icd11=_RNA,
        ),
        Product(
            code="SPIKEVAX_BIVALENT",
            name="SPIKEVAX BIVALENT",
            manufacturer="Moderna",
            cvx="229",
            icd11=_RNA,
        ),
        Product(
            code="VAXZEVRIA",
            name="VAXZEVRIA",
            manufacturer="AstraZeneca",
            cvx="210",
            icd11=_VECTOR,
        ),
        Product(
            code="NUVAXOVID",
            name="NUVAXOVID",
            manufacturer="Novavax/Takeda",
            cvx="211",
            icd11=_SUBUNIT,
        ),
        Product(
            code="JCOVDEN",
            name="JCOVDEN",
            manufacturer="Janssen",
            cvx="212",
            icd11=_VECTOR,
        ),
    )
}


def product(code: str) -> Product:
    """The shipped product entry for `code`; `CERT_UNKNOWN_PRODUCT` when there is none."""
    try:
        return PRODUCTS[code]
    except KeyError:
        raise CertificateError("CERT_UNKNOWN_PRODUCT", "unknown vaccine product code") from None


def new_certificate_id() -> str:
    """A fresh certificate ID: 12 characters of `[A-Z2-7]` carrying 60 random bits (DESIGN §5)."""
    bits = secrets.randbits(60)
    return "".join(_ID_ALPHABET[(bits >> (5 * i)) & 31] for i in range(11, -1, -1))


class OtherName(msgspec.Struct, frozen=True, kw_only=True):
    """A former or alternative name (旧姓・通称) printed with its label; never in the codes."""

    kind: Literal["former", "alias"]
    """`former` (旧姓) or `alias` (通称)."""
    name: str
    """The name as printed."""


class Holder(msgspec.Struct, frozen=True, kw_only=True):
    """The person the certificate is about. Romanized names, nationality and passport number
    are present exactly for certificates for use abroad."""

    family_name: str
    """Kanji (or as registered) family name."""
    given_name: str
    """Kanji (or as registered) given name."""
    birth_date: date
    """Date of birth."""
    sex: Literal["1", "2", "9", "0"] | None = None
    """Sex as on the My Number card; printed nowhere in the codes (Japan omitted it)."""
    family_name_roman: str | None = None
    """MRZ primary identifier, upper case, words separated by one space (abroad)."""
    given_names_roman: str | None = None
    """MRZ secondary identifier, upper case, words separated by one space (abroad)."""
    nationality: str | None = None
    """MRZ nationality code without fillers: alpha-3, or `D` for Germany (abroad)."""
    passport_number: str | None = None
    """Passport number without `<` fillers (abroad)."""
    other_name: OtherName | None = None
    """Former or alternative name, printed only."""


class Dose(msgspec.Struct, frozen=True, kw_only=True):
    """One vaccination."""

    number: int
    """Dose number, 1..99."""
    date: date
    """Day of vaccination."""
    product: str
    """Product code, a key of `PRODUCTS`."""
    lot: str
    """Lot number: 1..20 of `[A-Za-z0-9-]`."""


class Municipality(msgspec.Struct, frozen=True, kw_only=True):
    """The issuing municipality."""

    code: str
    """全国地方公共団体コード, 6 digits."""
    name_ja: str
    """Name in Japanese."""
    name_en: str
    """Name in English."""


class Certificate(msgspec.Struct, frozen=True, kw_only=True):
    """One issued certificate. Immutable: a new dose means a new issuance (DESIGN §5)."""

    certificate_id: str
    """12 of `[A-Z2-7]`; also the VDS-NC `uvci`."""
    issued_at: datetime
    """Time of issue (timezone-aware); the SHC `nbf`; fixed for reprints."""
    kind: CertificateKind
    """`domestic` (SHC only) or `abroad` (SHC and VDS-NC)."""
    holder: Holder
    """The vaccinated person."""
    doses: tuple[Dose, ...]
    """Every dose on record, in dose-number order."""
    municipality: Municipality
    """The issuing municipality."""
    language: Literal["ja", "en", "ja+en"] = "ja+en"
    """Languages of the print-out (it always carries both labels; the order follows this)."""
    rid: str | None = None
    """SHC revocation id (see `compute_rid`); None leaves `vc.rid` out."""

    def __post_init__(self) -> None:
        if not _ID_RE.fullmatch(self.certificate_id):
            raise CertificateError("CERT_BAD_ID", "certificate id must be 12 of [A-Z2-7]")
        if self.issued_at.tzinfo is None or self.issued_at.utcoffset() is None:
            raise CertificateError("CERT_NAIVE_TIME", "issued_at must be timezone-aware")
        if not self.doses:
            raise CertificateError("CERT_NO_DOSES", "a certificate needs at least one dose")
        for dose in self.doses:
            if not 1 <= dose.number <= 99:
                raise CertificateError("CERT_BAD_DOSE_NUMBER", "dose number must be 1..99")
            if not _LOT_RE.fullmatch(dose.lot):
                raise CertificateError("CERT_BAD_LOT", "lot must be 1..20 of [A-Za-z0-9-]")
            product(dose.product)
        if self.kind == "abroad":
            h = self.holder
            if h.family_name_roman is None or not _MRZ_NAME_RE.fullmatch(h.family_name_roman):
                raise CertificateError("CERT_BAD_ROMAN_NAME", "abroad needs an MRZ family name")
            if h.given_names_roman is not None and not _MRZ_NAME_RE.fullmatch(h.given_names_roman):
                raise CertificateError("CERT_BAD_ROMAN_NAME", "given names must be MRZ letters")
            if h.passport_number is None or not _PASSPORT_RE.fullmatch(h.passport_number):
                raise CertificateError("CERT_BAD_PASSPORT", "abroad needs a passport number")
            if h.nationality is None or not _NATIONALITY_RE.fullmatch(h.nationality):
                raise CertificateError(
                    "CERT_BAD_NATIONALITY", "abroad needs an ICAO nationality code"
                )
