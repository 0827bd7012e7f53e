"""The kiosk protocol v1 on the wire (PROTOCOL.md): msgspec Structs, inbound ones strict."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

import msgspec

from certsvc.channel import CardFiles
from kiosk_adapter._texts import Bilingual, Reminder

Kind = Literal["domestic", "abroad"]
Copies = Annotated[int, msgspec.Meta(ge=1, le=10)]
MunicipalityCode = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{6}$")]
IdempotencyKey = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{16,64}$")]
Token = Annotated[str, msgspec.Meta(min_length=1, max_length=4096)]
PrintFailure = Literal["paper_out", "paper_jam", "printer_fault", "cancelled", "other"]


# --- inbound -----------------------------------------------------------------------------------


class StartRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    municipality_code: MunicipalityCode | None = None
    """Optional: kiosks choose the municipality after the card; when given, it is checked now."""


class PreviewRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    token: Token
    card: CardFiles
    municipality_code: MunicipalityCode
    kind: Kind
    copies: Copies


class ConfirmRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    token: Token
    kind: Kind
    copies: Copies
    fee_paid_yen: Annotated[int, msgspec.Meta(ge=0, le=100_000)]
    idempotency_key: IdempotencyKey


class PrintResultRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    token: Token
    outcome: Literal["ok", "failed"]
    reason: PrintFailure | None = None
    """Required when `outcome` is `failed`."""


# --- outbound ----------------------------------------------------------------------------------


class Hours(msgspec.Struct, frozen=True, kw_only=True):
    open: str
    close: str


class KioskMunicipality(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    name_ja: str
    name_en: str
    fee_per_copy_yen: int
    hours: Hours
    """Service hours, JST (open ≤ t < close)."""
    open_now: bool


class MunicipalitiesOut(msgspec.Struct, frozen=True, kw_only=True):
    municipalities: list[KioskMunicipality]


class SessionStarted(msgspec.Struct, frozen=True, kw_only=True):
    session_id: str
    state: str
    nonce: str
    """base64url (no padding) of the 32 bytes the card signs."""
    expires_at: datetime
    token: str


class MunicipalityRef(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    name_ja: str
    name_en: str


class HolderOut(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    birth_date: date


class DoseOut(msgspec.Struct, frozen=True, kw_only=True):
    dose: int
    date: date
    product: str
    manufacturer: str
    lot: str


class KindAvailability(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    available: bool
    reason_code: str | None = None
    reason: Bilingual | None = None


class Kinds(msgspec.Struct, frozen=True, kw_only=True):
    domestic: KindAvailability
    abroad: KindAvailability


class PreviewOut(msgspec.Struct, frozen=True, kw_only=True):
    session_id: str
    state: str
    token: str
    municipality: MunicipalityRef
    holder: HolderOut
    doses: list[DoseOut]
    kinds: Kinds
    kind: Kind
    """The kind asked for (check `kinds` before confirming it)."""
    copies: int
    fee_per_copy_yen: int
    fee_yen: int
    card_reminder: Reminder


class Document(msgspec.Struct, frozen=True, kw_only=True):
    copy: int
    media_type: str
    pdf: str
    """Standard base64 of the A4 PDF."""


class ConfirmOut(msgspec.Struct, frozen=True, kw_only=True):
    session_id: str
    state: str
    certificate_id: str
    issued_at: datetime
    kind: Kind
    copies: int
    fee_yen: int
    documents: list[Document]
    certificate_reminder: Reminder


class PrintResultOut(msgspec.Struct, frozen=True, kw_only=True):
    session_id: str
    state: str
    certificate_id: str
    fee_collected: bool
    """True for a completed print; False for a voided one (the kiosk refunds the fee)."""
