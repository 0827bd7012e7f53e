"""The typed values the store takes and returns."""

from __future__ import annotations

from datetime import date, datetime, time
from enum import StrEnum

import msgspec


class PersonStatus(StrEnum):
    RESIDENT = "resident"
    MOVED_OUT = "moved_out"
    DECEASED = "deceased"


class Product(StrEnum):
    """The vaccine products of contracts §4."""

    COMIRNATY = "COMIRNATY"
    COMIRNATY_BIVALENT = "COMIRNATY_BIVALENT"
    SPIKEVAX = "SPIKEVAX"
    SPIKEVAX_BIVALENT = "SPIKEVAX_BIVALENT"
    VAXZEVRIA = "VAXZEVRIA"
    NUVAXOVID = "NUVAXOVID"
    JCOVDEN = "JCOVDEN"


class Channel(StrEnum):
    APP = "app"
    KIOSK = "kiosk"
    COUNTER = "counter"


class IssuanceKind(StrEnum):
    DOMESTIC = "domestic"
    ABROAD = "abroad"


class Municipality(msgspec.Struct, frozen=True, kw_only=True):
    """Public reference data: a municipality served and its channels."""

    code: str
    name_ja: str
    name_en: str
    app_enabled: bool
    kiosk_enabled: bool
    counter_enabled: bool
    kiosk_fee_yen: int
    kiosk_open: time
    kiosk_close: time


class Vaccination(msgspec.Struct, frozen=True, kw_only=True):
    dose_number: int
    vaccinated_on: date
    product: Product
    lot_number: str


class Person(msgspec.Struct, frozen=True, kw_only=True):
    """A person record, decrypted, with the doses given in this municipality (by dose number).

    `record_digest` is what a certificate made now would be made from: store it with the
    issuance (`IssuanceRecord.records_digest`); a reprint whose digest differs is refused."""

    id: int
    municipality_code: str
    address_number: str
    family_name: str
    given_name: str
    birth_date: date
    sex: str
    status: PersonStatus
    record_digest: bytes
    record_version: int
    vaccinations: tuple[Vaccination, ...]

    @property
    def name(self) -> str:
        """Family and given name separated by U+3000, as on the card."""
        return f"{self.family_name}\u3000{self.given_name}"


class PassportItems(msgspec.Struct, frozen=True, kw_only=True):
    """The passport items a certificate for use abroad shows (kept encrypted for kiosk reuse)."""

    family_name: str
    given_names: str
    nationality: str
    passport_number: str
    expiry_date: date
    other_name: str | None = None


class IssuanceSignatures(msgspec.Struct, frozen=True, kw_only=True):
    """The signatures a certificate was issued with, kept (encrypted) so that a reprint
    re-attaches them instead of signing again: byte-identical even with randomized signatures."""

    shc: tuple[bytes, ...]
    """The ES256 r‖s of each SHC JWS, in order."""
    vdsnc: tuple[bytes, ...] = ()
    """The ES256 r‖s of each VDS-NC seal, in order (abroad only)."""
    barcode_signer: bytes = b""
    """SHA-256 of the barcode signer certificate (DER) that made `vdsnc`."""


class IssuanceRecord(msgspec.Struct, frozen=True, kw_only=True):
    """An issuance to record; the municipality is the scope's."""

    certificate_id: str
    person_id: int
    issued_at: datetime
    channel: Channel
    kind: IssuanceKind
    rid: str
    kid: str
    records_digest: bytes
    passport: PassportItems | None = None
    copies: int = 1
    fee_yen: int = 0
    signatures: IssuanceSignatures | None = None


class Issuance(msgspec.Struct, frozen=True, kw_only=True):
    """A recorded issuance, passport items decrypted. `person_id` is None after the person was
    deleted."""

    certificate_id: str
    municipality_code: str
    person_id: int | None
    issued_at: datetime
    channel: Channel
    kind: IssuanceKind
    rid: str
    kid: str
    records_digest: bytes
    passport: PassportItems | None
    copies: int
    fee_yen: int
    voided_at: datetime | None
    void_reason: str | None
    revoked_at: datetime | None
    revoke_reason: str | None
    signatures: IssuanceSignatures | None = None
    """None when recorded without them (before they were kept, or after the person's deletion)."""


class AuditEvent(msgspec.Struct, frozen=True, kw_only=True):
    """One audit row (the municipality is the scope's). Codes only: `action`, `reason`,
    `outcome`, `actor_role`, `identity_method` match `[a-z][a-z0-9_.]*`; `actor`, `terminal` and
    `subject` are staff ids, terminal or channel/center names and may not contain a 12-digit run.
    Never a My Number, passport number, name or birth date."""

    at: datetime
    actor: str
    action: str
    outcome: str
    address_number: str | None = None
    reason: str | None = None
    detail: str | None = None
    """What an admin action touched: `key=value` items separated by spaces (counts, a key id, a
    certificate id); never personal data."""
    actor_role: str | None = None
    """The actor's staff role at the counter (`counter_staff`, `contractor`, …)."""
    terminal: str | None = None
    """The counter terminal the actor worked from (its name)."""
    identity_method: str | None = None
    """How the resident was identified at the counter (`card`, `notification_card_photo_id`)."""
    subject: str | None = None
    """What an administration action was about: a staff ID or a terminal name."""


class AuditEntry(msgspec.Struct, frozen=True, kw_only=True):
    """A stored audit row as the audit review lists it. `seq` is None until the chainer has
    linked the row."""

    id: int
    municipality_code: str
    seq: int | None
    at: datetime
    actor: str
    action: str
    outcome: str
    address_number: str | None
    reason: str | None
    actor_role: str | None
    terminal: str | None
    identity_method: str | None
    subject: str | None
    detail: str | None = None
    """What an admin action touched (counts, ids); None for the other events."""


class RevokedRid(msgspec.Struct, frozen=True, kw_only=True):
    rid: str
    revoked_at: datetime


class IssuanceOutcome(StrEnum):
    RECORDED = "recorded"
    """The issuance (and its audit event, when given) is written."""
    PERSON_NOT_FOUND = "person_not_found"
    """No person with that id in this municipality."""
    CERTIFICATE_ID_TAKEN = "certificate_id_taken"
    """The certificate id exists already (draw another)."""


class VoidOutcome(StrEnum):
    VOIDED = "voided"
    NOT_FOUND = "not_found"
    ALREADY_VOIDED = "already_voided"


class RevokeOutcome(StrEnum):
    REVOKED = "revoked"
    NOT_FOUND = "not_found"
    ALREADY_REVOKED = "already_revoked"


class DeleteOutcome(StrEnum):
    DELETED = "deleted"
    NOT_FOUND = "not_found"


class AuditChainProblem(StrEnum):
    ROW_ALTERED = "row_altered"
    """A chained row's hash does not match its content and predecessor (edited or inserted)."""
    SEQUENCE_GAP = "sequence_gap"
    """A sequence number is missing or out of place (a row deleted or inserted)."""
    TAIL_MISSING = "tail_missing"
    """The chain ends before the checkpoint says it does (rows deleted from the end)."""
    HEAD_MISMATCH = "head_mismatch"
    """The first kept row does not link to what the retention purge recorded."""


class AuditChainReport(msgspec.Struct, frozen=True, kw_only=True):
    municipality_code: str
    ok: bool
    checked: int
    """Chained rows whose hashes were recomputed."""
    unchained: int
    """Rows not linked yet (the chainer has not run since they were written)."""
    problem: AuditChainProblem | None = None
    at_seq: int | None = None
    """The sequence number where the first problem was found."""


class PurgeSummary(msgspec.Struct, frozen=True, kw_only=True):
    vaccinations: int
    issuances: int
    audit_events: int
    persons: int
    revocations: int
    dry_run: bool = False
    """Nothing was deleted: the counts say what a purge now would delete."""
    persons_keeping_records: int = 0
    """Persons who lose doses but stay on record: a certificate made for them after the purge
    no longer shows those doses."""
    live_certificates_affected: int = 0
    """Issued (not voided, not revoked) certificates that show a purged dose: their reprint is
    refused afterwards (the record changed)."""


class ShcCrlState(msgspec.Struct, frozen=True, kw_only=True):
    """One SHC key's revocation list as the database holds it (SHC: ctr starts at 1)."""

    kid: str
    ctr: int
    rids: list[str]


class MunicipalitySeed(msgspec.Struct, frozen=True, kw_only=True):
    """A municipality row for `seed_municipalities` (demo and tests)."""

    code: str
    name_ja: str
    name_en: str
    app_enabled: bool = True
    kiosk_enabled: bool = False
    counter_enabled: bool = True
    kiosk_fee_yen: int = 120
    kiosk_open: time = time(6, 30)
    kiosk_close: time = time(23, 0)
