"""The issuance use case (DESIGN §2): one function that every channel calls.

`issue_certificates(command, services, now=…)` takes a typed command — who the resident is
(card evidence with its challenge nonce, or an identity staff verified at the counter, or a person
a kiosk session verified earlier), the municipality, the kind, where the passport comes from, the
channel and the actor — and returns `Issued` or a `Refused` value. The steps, in order:

  (1) identity: verify the card and its challenge (or take the verified identity)
  (2) rate limit per person (an HMAC of the My Number; the limiter lives in Redis)
  (3) the municipality exists and offers this channel
  (4) passport lines parsed (abroad, before any database work)
  (5) in the municipality's partition, two statements (`VrsStore.statements`): the person by My
      Number with their doses (not found / deceased / none) and, when it is needed, the latest
      passport on record for use abroad; then — the passport bound to the holder, the
      certificate composed and signed in between — the issuance + audit rows, in one statement
  (6) the certificate is returned only once that statement has committed.

Channels translate their wire formats into `IssueCommand`; they re-implement none of this.
Refusals are values; real failures (a store that is down) are exceptions.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, date, datetime, timedelta, timezone
from enum import StrEnum
from typing import Any, Final, Literal, assert_never

import msgspec
from cryptography.hazmat.primitives.asymmetric import ec

import mrz
import signing
from certsvc.metrics import counts_issuances
from certsvc.municipalities import MunicipalityDirectory
from vrs_client import (
    AuditEvent,
    Channel,
    FoundPerson,
    IssuanceKind,
    IssuanceOutcome,
    IssuanceRecord,
    IssuanceSignatures,
    IssuanceStatements,
    Municipality,
    PassportItems,
    Person,
    PersonStatus,
    VoidOutcome,
    VrsStore,
)

JST = timezone(timedelta(hours=9), "JST")
Kind = Literal["domestic", "abroad"]


class RefusalCode(StrEnum):
    """Why a certificate was not issued. The value is the `code` on the wire."""

    # (1) identity — one per card verification step (signing.CardVerificationError codes)
    CARD_MALFORMED = "CARD_MALFORMED"
    CARD_ISSUER_UNKNOWN = "CARD_ISSUER_UNKNOWN"
    CARD_HIERARCHY_NOT_ALLOWED = "CARD_HIERARCHY_NOT_ALLOWED"
    CARD_ISSUER_EXPIRED = "CARD_ISSUER_EXPIRED"
    CARD_CERTIFICATE_SIGNATURE_INVALID = "CARD_CERTIFICATE_SIGNATURE_INVALID"
    CARD_SIGNER_REVOKED = "CARD_SIGNER_REVOKED"
    CARD_DATA_SIGNATURE_INVALID = "CARD_DATA_SIGNATURE_INVALID"
    CARD_MY_NUMBER_DIGEST_MISMATCH = "CARD_MY_NUMBER_DIGEST_MISMATCH"
    CARD_ATTRIBUTES_DIGEST_MISMATCH = "CARD_ATTRIBUTES_DIGEST_MISMATCH"
    CARD_KEY_SIGNATURE_INVALID = "CARD_KEY_SIGNATURE_INVALID"
    CARD_CHALLENGE_SIGNATURE_INVALID = "CARD_CHALLENGE_SIGNATURE_INVALID"
    CARD_CONTENT_INVALID = "CARD_CONTENT_INVALID"
    CARD_CHECK_DIGIT_INVALID = "CARD_CHECK_DIGIT_INVALID"
    MY_NUMBER_INVALID = "MY_NUMBER_INVALID"
    # (2)
    PERSON_RATE_LIMITED = "PERSON_RATE_LIMITED"
    # (3)
    MUNICIPALITY_UNKNOWN = "MUNICIPALITY_UNKNOWN"
    CHANNEL_NOT_OFFERED = "CHANNEL_NOT_OFFERED"
    # (4) passport lines — mrz.MrzError codes
    MRZ_LINE_COUNT = "MRZ_LINE_COUNT"
    MRZ_LINE_LENGTH = "MRZ_LINE_LENGTH"
    MRZ_CHARSET = "MRZ_CHARSET"
    MRZ_DOCUMENT_TYPE = "MRZ_DOCUMENT_TYPE"
    MRZ_CHECK_DIGIT_NUMBER = "MRZ_CHECK_DIGIT_NUMBER"
    MRZ_CHECK_DIGIT_BIRTH = "MRZ_CHECK_DIGIT_BIRTH"
    MRZ_CHECK_DIGIT_EXPIRY = "MRZ_CHECK_DIGIT_EXPIRY"
    MRZ_CHECK_DIGIT_PERSONAL = "MRZ_CHECK_DIGIT_PERSONAL"
    MRZ_CHECK_DIGIT_COMPOSITE = "MRZ_CHECK_DIGIT_COMPOSITE"
    MRZ_DATE_INVALID = "MRZ_DATE_INVALID"
    MRZ_STATE_UNKNOWN = "MRZ_STATE_UNKNOWN"
    MRZ_NATIONALITY_UNKNOWN = "MRZ_NATIONALITY_UNKNOWN"
    MRZ_NAME_INVALID = "MRZ_NAME_INVALID"
    MRZ_SEX_INVALID = "MRZ_SEX_INVALID"
    MRZ_JPN_NUMBER_INVALID = "MRZ_JPN_NUMBER_INVALID"
    # (5)
    PERSON_NOT_FOUND = "PERSON_NOT_FOUND"
    PERSON_DECEASED = "PERSON_DECEASED"
    NO_VACCINATIONS = "NO_VACCINATIONS"
    PASSPORT_EXPIRED = "PASSPORT_EXPIRED"
    PASSPORT_BIRTH_DATE_MISMATCH = "PASSPORT_BIRTH_DATE_MISMATCH"
    PASSPORT_SEX_MISMATCH = "PASSPORT_SEX_MISMATCH"
    HOLDER_SEX_INVALID = "HOLDER_SEX_INVALID"
    PASSPORT_NOT_ON_RECORD = "PASSPORT_NOT_ON_RECORD"
    CERTIFICATE_NOT_COMPOSABLE = "CERTIFICATE_NOT_COMPOSABLE"
    # reprints
    ISSUANCE_NOT_FOUND = "ISSUANCE_NOT_FOUND"
    ISSUANCE_VOIDED = "ISSUANCE_VOIDED"
    ISSUANCE_REVOKED = "ISSUANCE_REVOKED"
    REPRINT_KEY_ROTATED = "REPRINT_KEY_ROTATED"
    REPRINT_RECORD_CORRECTED = "REPRINT_RECORD_CORRECTED"


#: `signing.verify_card`'s codes, each to the refusal that names the same step. Explicit, so that
#: a new library code is a test failure here rather than a wrong answer on the wire.
CARD_REFUSALS: Final[Mapping[str, RefusalCode]] = {
    "CARD_MALFORMED": RefusalCode.CARD_MALFORMED,
    "CARD_ISSUER_UNKNOWN": RefusalCode.CARD_ISSUER_UNKNOWN,
    "CARD_HIERARCHY_NOT_ALLOWED": RefusalCode.CARD_HIERARCHY_NOT_ALLOWED,
    "CARD_ISSUER_EXPIRED": RefusalCode.CARD_ISSUER_EXPIRED,
    "CARD_CERTIFICATE_SIGNATURE_INVALID": RefusalCode.CARD_CERTIFICATE_SIGNATURE_INVALID,
    "CARD_SIGNER_REVOKED": RefusalCode.CARD_SIGNER_REVOKED,
    "CARD_DATA_SIGNATURE_INVALID": RefusalCode.CARD_DATA_SIGNATURE_INVALID,
    "CARD_MY_NUMBER_DIGEST_MISMATCH": RefusalCode.CARD_MY_NUMBER_DIGEST_MISMATCH,
    "CARD_ATTRIBUTES_DIGEST_MISMATCH": RefusalCode.CARD_ATTRIBUTES_DIGEST_MISMATCH,
    "CARD_KEY_SIGNATURE_INVALID": RefusalCode.CARD_KEY_SIGNATURE_INVALID,
    "CARD_CHALLENGE_SIGNATURE_INVALID": RefusalCode.CARD_CHALLENGE_SIGNATURE_INVALID,
    "CARD_CONTENT_INVALID": RefusalCode.CARD_CONTENT_INVALID,
    "CARD_CHECK_DIGIT_INVALID": RefusalCode.CARD_CHECK_DIGIT_INVALID,
}

#: `mrz.parse_td3`'s and `mrz.bind_to_holder`'s codes.
MRZ_REFUSALS: Final[Mapping[str, RefusalCode]] = {
    "MRZ_LINE_COUNT": RefusalCode.MRZ_LINE_COUNT,
    "MRZ_LINE_LENGTH": RefusalCode.MRZ_LINE_LENGTH,
    "MRZ_CHARSET": RefusalCode.MRZ_CHARSET,
    "MRZ_DOCUMENT_TYPE": RefusalCode.MRZ_DOCUMENT_TYPE,
    "MRZ_CHECK_DIGIT_NUMBER": RefusalCode.MRZ_CHECK_DIGIT_NUMBER,
    "MRZ_CHECK_DIGIT_BIRTH": RefusalCode.MRZ_CHECK_DIGIT_BIRTH,
    "MRZ_CHECK_DIGIT_EXPIRY": RefusalCode.MRZ_CHECK_DIGIT_EXPIRY,
    "MRZ_CHECK_DIGIT_PERSONAL": RefusalCode.MRZ_CHECK_DIGIT_PERSONAL,
    "MRZ_CHECK_DIGIT_COMPOSITE": RefusalCode.MRZ_CHECK_DIGIT_COMPOSITE,
    "MRZ_DATE_INVALID": RefusalCode.MRZ_DATE_INVALID,
    "MRZ_STATE_UNKNOWN": RefusalCode.MRZ_STATE_UNKNOWN,
    "MRZ_NATIONALITY_UNKNOWN": RefusalCode.MRZ_NATIONALITY_UNKNOWN,
    "MRZ_NAME_INVALID": RefusalCode.MRZ_NAME_INVALID,
    "MRZ_SEX_INVALID": RefusalCode.MRZ_SEX_INVALID,
    "MRZ_JPN_NUMBER_INVALID": RefusalCode.MRZ_JPN_NUMBER_INVALID,
    "HOLDER_SEX_INVALID": RefusalCode.HOLDER_SEX_INVALID,
    "PASSPORT_BIRTH_DATE_MISMATCH": RefusalCode.PASSPORT_BIRTH_DATE_MISMATCH,
    "PASSPORT_SEX_MISMATCH": RefusalCode.PASSPORT_SEX_MISMATCH,
    "PASSPORT_EXPIRED": RefusalCode.PASSPORT_EXPIRED,
}


def library_refusal(table: Mapping[str, RefusalCode], code: str) -> RefusalCode:
    """The refusal for a library's error `code`. A code missing from `table` is a bug of this
    module (the tests walk every code the libraries declare), never a guess."""
    refusal = table.get(code)
    if refusal is None:
        raise RuntimeError(f"library error code {code} has no refusal")
    return refusal


# --- the command -------------------------------------------------------------------------------


class CardProof(msgspec.Struct, frozen=True, kw_only=True):
    """The raw card files and the challenge signature, with the nonce that was issued for them
    (already consumed: its single use is the channel's job)."""

    evidence: signing.CardEvidence
    nonce: bytes


class StaffVerifiedIdentity(msgspec.Struct, frozen=True, kw_only=True):
    """The counter: staff checked identity themselves (DESIGN §1.3) and entered the My Number."""

    my_number: str
    method: Literal["my_number_card", "notification_card_and_photo_id"]


class VerifiedPerson(msgspec.Struct, frozen=True, kw_only=True):
    """A person verified by card earlier in the same channel session (the kiosk's confirm step,
    which carries the address number in its sealed session token)."""

    address_number: str


Identity = CardProof | StaffVerifiedIdentity | VerifiedPerson


class MrzLines(msgspec.Struct, frozen=True, kw_only=True):
    """Passport lines as read (app camera OCR, counter typing or OCR)."""

    lines: tuple[str, ...]
    other_name: signing.OtherName | None = None


class LatestOnRecord(msgspec.Struct, frozen=True, kw_only=True):
    """The passport items of the latest issuance for use abroad (kiosks cannot read passports)."""


PassportSource = MrzLines | LatestOnRecord | None


class IssueCommand(msgspec.Struct, frozen=True, kw_only=True):
    identity: Identity
    municipality_code: str
    kind: Kind
    passport: PassportSource
    channel: Channel
    actor: str
    """Who acts, for the audit log: the app id, the center's name, a staff id. No personal data."""
    copies: int = 1
    fee_yen: int = 0
    audit_reason: str | None = None
    """A code for the audit log (the counter's reason code)."""


# --- the outcome -------------------------------------------------------------------------------


class Issued(msgspec.Struct, frozen=True, kw_only=True):
    """A recorded issuance and its signed codes. Holds personal data: never log or store it."""

    certificate: signing.Certificate
    shc_jws: tuple[str, ...]
    vdsnc: tuple[dict[str, Any], ...]
    address_number: str
    """The municipality's person key (audit and kiosk session token; not shown to anyone)."""


class Refused(msgspec.Struct, frozen=True, kw_only=True):
    code: RefusalCode
    retry_after_s: int | None = None


Outcome = Issued | Refused

#: Refusals the person limiter gives: the number of seconds to wait, or None to go on.
PersonLimiter = Callable[[bytes], Awaitable[int | None]]


class IssuanceServices:
    """The long-lived things the use case needs: built once per process."""

    def __init__(
        self,
        *,
        store: VrsStore,
        keys: signing.KeyStore,
        trust: signing.TrustStore,
        shc_issuer: str,
        vaccination_authority: str,
        lookup_key: bytes,
        person_limiter: PersonLimiter | None = None,
        mrz_test_mode: bool = False,
        municipality_ttl_s: float = 30.0,
    ) -> None:
        self.store = store
        self.municipalities = MunicipalityDirectory(store, ttl_s=municipality_ttl_s)
        self.keys = keys
        self.trust = trust
        self.shc_issuer = shc_issuer
        self.vaccination_authority = vaccination_authority
        self.lookup_key = lookup_key
        self.person_limiter = person_limiter
        self.mrz_test_mode = mrz_test_mode

    def person_key(self, my_number: str) -> bytes:
        """A keyed hash of a My Number for rate-limit keys (never the number itself)."""
        return hmac.new(self.lookup_key, b"person:" + my_number.encode(), hashlib.sha256).digest()


# --- steps -------------------------------------------------------------------------------------


class _Holder(msgspec.Struct, frozen=True, kw_only=True):
    """What the identity step established: the My Number (or address number) to look up, and
    the birth date and sex to bind a passport to (from the card, when there is one)."""

    my_number: str | None
    address_number: str | None
    birth_date: date | None
    sex: str | None


def _identify(identity: Identity, services: IssuanceServices, now: datetime) -> _Holder | Refused:
    if isinstance(identity, CardProof):
        try:
            holder = signing.verify_card(
                identity.evidence, services.trust, nonce=identity.nonce, now=now
            )
        except signing.CardVerificationError as exc:
            return Refused(code=library_refusal(CARD_REFUSALS, exc.code))
        return _Holder(
            my_number=holder.my_number,
            address_number=None,
            birth_date=holder.birth_date,
            sex=holder.sex,
        )
    if isinstance(identity, StaffVerifiedIdentity):
        if not signing.is_valid_my_number(identity.my_number):
            return Refused(code=RefusalCode.MY_NUMBER_INVALID)
        return _Holder(my_number=identity.my_number, address_number=None, birth_date=None, sex=None)
    if isinstance(identity, VerifiedPerson):
        return _Holder(
            my_number=None, address_number=identity.address_number, birth_date=None, sex=None
        )
    assert_never(identity)


def channel_offered(municipality: Municipality, channel: Channel) -> bool:
    """Whether `municipality` offers issuance through `channel`."""
    match channel:
        case Channel.APP:
            return municipality.app_enabled
        case Channel.KIOSK:
            return municipality.kiosk_enabled
        case Channel.COUNTER:
            return municipality.counter_enabled
        case _:
            assert_never(channel)


def _parse_passport(
    lines: MrzLines, services: IssuanceServices, today: date
) -> mrz.Passport | Refused:
    try:
        return mrz.parse_td3(lines.lines, today=today, test_mode=services.mrz_test_mode)
    except mrz.MrzError as exc:
        return Refused(code=library_refusal(MRZ_REFUSALS, exc.code))


def _bind_passport(
    passport: mrz.Passport, holder: _Holder, person: Person, today: date
) -> Refused | None:
    # The card's birth date and sex when a card was read, else the VRS record's (DESIGN §4.2).
    birth_date = holder.birth_date or person.birth_date
    sex = holder.sex or person.sex
    try:
        mrz.bind_to_holder(passport, birth_date=birth_date, sex=sex, today=today)
    except mrz.MrzError as exc:
        return Refused(code=library_refusal(MRZ_REFUSALS, exc.code))
    return None


def passport_items(passport: mrz.Passport, other_name: signing.OtherName | None) -> PassportItems:
    """The items a certificate for use abroad shows (and the VRS keeps, encrypted)."""
    return PassportItems(
        family_name=passport.family_name,
        given_names=passport.given_names,
        nationality=passport.nationality_code,
        passport_number=passport.document_number,
        expiry_date=passport.expiry_date,
        other_name=None if other_name is None else f"{other_name.kind}:{other_name.name}",
    )


def _other_name(encoded: str | None) -> signing.OtherName | None:
    if not encoded:
        return None
    kind, _, name = encoded.partition(":")
    if kind not in ("former", "alias") or not name:
        return None
    return signing.OtherName(kind=kind, name=name)  # type: ignore[arg-type]


def compose_certificate(
    *,
    certificate_id: str,
    issued_at: datetime,
    kind: Kind,
    person: Person,
    municipality: Municipality,
    passport: PassportItems | None,
    rid: str | None,
) -> signing.Certificate:
    """The certificate model for `person`'s doses in `municipality` (never the My Number)."""
    holder = signing.Holder(
        family_name=person.family_name,
        given_name=person.given_name,
        birth_date=person.birth_date,
        sex=person.sex if person.sex in ("1", "2", "9", "0") else None,  # type: ignore[arg-type]
        family_name_roman=passport.family_name if passport else None,
        given_names_roman=(passport.given_names or None) if passport else None,
        nationality=passport.nationality if passport else None,
        passport_number=passport.passport_number if passport else None,
        other_name=_other_name(passport.other_name) if passport else None,
    )
    doses = tuple(
        signing.Dose(
            number=v.dose_number, date=v.vaccinated_on, product=v.product.value, lot=v.lot_number
        )
        for v in person.vaccinations
    )
    return signing.Certificate(
        certificate_id=certificate_id,
        issued_at=issued_at,
        kind=kind,
        holder=holder,
        doses=doses,
        municipality=signing.Municipality(
            code=municipality.code, name_ja=municipality.name_ja, name_en=municipality.name_en
        ),
        rid=rid,
    )


def sign_certificate(
    certificate: signing.Certificate,
    services: IssuanceServices,
    *,
    kept: IssuanceSignatures | None = None,
) -> tuple[tuple[str, ...], tuple[dict[str, Any], ...]]:
    """The SHC JWS list and (abroad) the VDS-NC seals of `certificate`.

    With `kept` (a reprint) nothing is signed: each part gets its kept signature back, once it
    verifies over what was composed now under the same keys; `signing.ReplayError` when one
    does not (the records changed) or the barcode signer is another one (`KeyRotatedError`)."""
    shc_signer: signing.ShcSigner = services.keys.shc_signer()
    bsc_signer: signing.VdsncSigner = services.keys.barcode_signer()
    replays: list[signing.ReplaySigner] = []
    if kept is not None:
        shc_signer = signing.ReplaySigner(
            kid=shc_signer.kid,
            public_key=_shc_public_key(services, shc_signer.kid),
            signatures=kept.shc,
        )
        replays.append(shc_signer)
        if certificate.kind == "abroad":
            if not hmac.compare_digest(
                _fingerprint(bsc_signer.certificate_der), kept.barcode_signer
            ):
                raise KeyRotatedError("the barcode signer changed since the issuance")
            bsc_signer = signing.ReplaySigner(
                public_key=signing.certificate_public_key(bsc_signer.certificate_der),
                signatures=kept.vdsnc,
                certificate_der=bsc_signer.certificate_der,
            )
            replays.append(bsc_signer)
    jws = signing.sign_shc(
        certificate,
        issuer=services.shc_issuer,
        signer=shc_signer,
        vaccination_authority=services.vaccination_authority,
    )
    seals: list[dict[str, Any]] = []
    if certificate.kind == "abroad":
        seals = signing.sign_vdsnc(
            certificate,
            signer=bsc_signer,
            vaccination_authority=services.vaccination_authority,
        )
    if not all(replay.exhausted for replay in replays):
        raise signing.ReplayError("REPLAY_MISMATCH", "fewer parts than kept signatures")
    return tuple(jws), tuple(seals)


class KeyRotatedError(Exception):
    """A reprint's kept signatures were made by a key that no longer signs."""


def kept_signatures(
    services: IssuanceServices, jws: tuple[str, ...], seals: tuple[dict[str, Any], ...]
) -> IssuanceSignatures:
    """What the issuance history keeps of a certificate's signatures, for its reprints."""
    return IssuanceSignatures(
        shc=signing.shc_signatures(jws),
        vdsnc=signing.vdsnc_signatures(seals),
        barcode_signer=(
            _fingerprint(services.keys.barcode_signer().certificate_der) if seals else b""
        ),
    )


def _fingerprint(certificate_der: bytes) -> bytes:
    return hashlib.sha256(certificate_der).digest()


def _shc_public_key(services: IssuanceServices, kid: str) -> ec.EllipticCurvePublicKey:
    for jwk in services.keys.jwks()["keys"]:
        if jwk["kid"] == kid:
            return signing.jwk_public_key(jwk)
    raise KeyRotatedError("the SHC key is not in the JWKS")


async def _find_person(
    statements: IssuanceStatements, holder: _Holder, *, abroad_passport_on: date | None = None
) -> FoundPerson | None:
    if holder.my_number is not None:
        return await statements.find_person(
            my_number=holder.my_number, abroad_passport_on=abroad_passport_on
        )
    if holder.address_number is not None:
        return await statements.find_person(
            address_number=holder.address_number, abroad_passport_on=abroad_passport_on
        )
    return None


async def _admit(
    command: IssueCommand, services: IssuanceServices, now: datetime
) -> tuple[_Holder, Municipality] | Refused:
    """Steps (1)–(3): who it is, whether they may ask again now, and whether the municipality
    serves them through this channel."""
    # (1) identity
    holder = _identify(command.identity, services, now)
    if isinstance(holder, Refused):
        return holder
    # (2) rate limit per person
    if services.person_limiter is not None and holder.my_number is not None:
        wait = await services.person_limiter(services.person_key(holder.my_number))
        if wait is not None:
            return Refused(code=RefusalCode.PERSON_RATE_LIMITED, retry_after_s=wait)
    # (3) municipality and channel
    municipality = await services.municipalities.get(command.municipality_code)
    if municipality is None:
        return Refused(code=RefusalCode.MUNICIPALITY_UNKNOWN)
    if not channel_offered(municipality, command.channel):
        return Refused(code=RefusalCode.CHANNEL_NOT_OFFERED)
    return holder, municipality


_MAX_ID_DRAWS = 3


class _RollBack(Exception):  # noqa: N818 — control flow, never escapes this module
    def __init__(self, refused: Refused) -> None:
        super().__init__(refused.code.value)
        self.refused = refused


async def _issue_in_partition(
    statements: IssuanceStatements,
    *,
    command: IssueCommand,
    services: IssuanceServices,
    holder: _Holder,
    municipality: Municipality,
    parsed: mrz.Passport | None,
    issued_at: datetime,
    today: date,
) -> Outcome:
    # The latest passport on record is read with the person only when it is what the
    # certificate will carry (a kiosk's abroad issuance without a passport read now).
    reuse_passport = command.kind == "abroad" and parsed is None
    found = await _find_person(
        statements, holder, abroad_passport_on=today if reuse_passport else None
    )
    if found is None:
        return Refused(code=RefusalCode.PERSON_NOT_FOUND)
    person = found.person
    if person.status is PersonStatus.DECEASED:
        return Refused(code=RefusalCode.PERSON_DECEASED)
    if not person.vaccinations:
        return Refused(code=RefusalCode.NO_VACCINATIONS)

    items: PassportItems | None = None
    if command.kind == "abroad":
        if parsed is not None:
            refused = _bind_passport(parsed, holder, person, today)
            if refused is not None:
                return refused
            source = command.passport
            items = passport_items(
                parsed, source.other_name if isinstance(source, MrzLines) else None
            )
        else:
            items = found.abroad_passport
            if items is None:
                return Refused(code=RefusalCode.PASSPORT_NOT_ON_RECORD)

    kid = services.keys.shc_signer().kid
    for _ in range(_MAX_ID_DRAWS):
        certificate_id = signing.new_certificate_id()
        rid = services.keys.rid_for(certificate_id, kid=kid)
        try:
            certificate = compose_certificate(
                certificate_id=certificate_id,
                issued_at=issued_at,
                kind=command.kind,
                person=person,
                municipality=municipality,
                passport=items,
                rid=rid,
            )
            jws, seals = sign_certificate(certificate, services)
        except signing.SigningError:
            # Record data that the certificate formats cannot carry (an over-long field): a
            # data-quality problem of this person's record, reported as such.
            return Refused(code=RefusalCode.CERTIFICATE_NOT_COMPOSABLE)
        # Kept for reprints: an HSM's signatures are randomized, so signing again would not
        # give the same bytes.
        signatures = kept_signatures(services, jws, seals)
        outcome = await statements.record_issuance(
            IssuanceRecord(
                certificate_id=certificate_id,
                person_id=person.id,
                issued_at=issued_at,
                channel=command.channel,
                kind=IssuanceKind(command.kind),
                rid=rid,
                kid=kid,
                records_digest=person.record_digest,
                passport=items,
                copies=command.copies,
                fee_yen=command.fee_yen,
                signatures=signatures,
            ),
            audit=AuditEvent(
                at=issued_at,
                actor=command.actor,
                action=f"issue.{command.channel.value}.{command.kind}",
                outcome="issued",
                address_number=person.address_number,
                reason=command.audit_reason,
            ),
        )
        match outcome:
            case IssuanceOutcome.RECORDED:
                return Issued(
                    certificate=certificate,
                    shc_jws=jws,
                    vdsnc=seals,
                    address_number=person.address_number,
                )
            case IssuanceOutcome.PERSON_NOT_FOUND:
                return Refused(code=RefusalCode.PERSON_NOT_FOUND)
            case IssuanceOutcome.CERTIFICATE_ID_TAKEN:
                continue  # 60 random bits collided: draw again
            case _:
                assert_never(outcome)
    raise RuntimeError("could not draw an unused certificate id")


@counts_issuances  # certsvc_issuances_total, certsvc_issuance_refusals_total
async def issue_certificates(
    command: IssueCommand, services: IssuanceServices, *, now: datetime
) -> Outcome:
    """Run the issuance steps listed in the module docstring for `command` at `now`."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    # nbf is whole seconds, and a reprint re-creates the certificate from the recorded time.
    issued_at = now.astimezone(UTC).replace(microsecond=0)
    today = now.astimezone(JST).date()

    # (1)–(3) identity, rate limit per person, municipality and channel
    admitted = await _admit(command, services, now)
    if isinstance(admitted, Refused):
        return admitted
    holder, municipality = admitted

    # (4) passport lines, before any database work
    parsed: mrz.Passport | None = None
    if command.kind == "abroad" and isinstance(command.passport, MrzLines):
        read = _parse_passport(command.passport, services, today)
        if isinstance(read, Refused):
            return read
        parsed = read

    # (5) two statements in the municipality's partition: the lookup, then — signed in
    # between — the issuance with its audit event, written together or not at all; (6) an
    # `Issued` comes back only once that write has committed
    async with services.store.statements(municipality.code) as statements:
        return await _issue_in_partition(
            statements,
            command=command,
            services=services,
            holder=holder,
            municipality=municipality,
            parsed=parsed,
            issued_at=issued_at,
            today=today,
        )


# --- preview and reprint (the kiosk's confirm-before-pay and print retries) -------------------


class Preview(msgspec.Struct, frozen=True, kw_only=True):
    """What a certificate would show, before anything is signed or recorded. Holds personal
    data: never log or store it."""

    municipality: Municipality
    address_number: str
    family_name: str
    given_name: str
    birth_date: date
    doses: tuple[signing.Dose, ...]
    abroad_passport: PassportItems | None
    """The passport items a certificate for use abroad would carry, when there are any."""
    abroad_unavailable: RefusalCode | None
    """Why a certificate for use abroad cannot be issued now (None when it can)."""


async def preview_issuance(
    command: IssueCommand, services: IssuanceServices, *, now: datetime
) -> Preview | Refused:
    """Steps (1)–(5) of `issue_certificates` without composing, signing or recording: who, which
    doses, and whether a certificate for use abroad is possible (kiosks: from the latest
    passport on record). Nothing is written."""
    today = now.astimezone(JST).date()
    admitted = await _admit(command, services, now)
    if isinstance(admitted, Refused):
        return admitted
    holder, municipality = admitted
    async with services.store.statements(municipality.code) as statements:
        found = await _find_person(statements, holder, abroad_passport_on=today)
    if found is None:
        return Refused(code=RefusalCode.PERSON_NOT_FOUND)
    person, passport = found.person, found.abroad_passport
    if person.status is PersonStatus.DECEASED:
        return Refused(code=RefusalCode.PERSON_DECEASED)
    if not person.vaccinations:
        return Refused(code=RefusalCode.NO_VACCINATIONS)
    return Preview(
        municipality=municipality,
        address_number=person.address_number,
        family_name=person.family_name,
        given_name=person.given_name,
        birth_date=person.birth_date,
        doses=tuple(
            signing.Dose(
                number=v.dose_number,
                date=v.vaccinated_on,
                product=v.product.value,
                lot=v.lot_number,
            )
            for v in person.vaccinations
        ),
        abroad_passport=passport,
        abroad_unavailable=None if passport is not None else RefusalCode.PASSPORT_NOT_ON_RECORD,
    )


async def reprint_certificate(
    *,
    municipality_code: str,
    address_number: str,
    certificate_id: str,
    services: IssuanceServices,
) -> Issued | Refused:
    """Re-create a recorded certificate byte for byte from the VRS records and the issuance
    history: composed again (the recorded `issued_at` as `nbf`) with the signatures the history
    kept re-attached, each verified over what was composed now — nothing is signed again, so
    this holds for randomized (HSM) signatures too. Refused when the issuance was voided or
    revoked, a signing key has rotated since, or the records have been corrected since (or a
    kept signature no longer fits them) (DESIGN §1.2 step 7). The issuance must be that
    person's. Nothing is written."""
    municipality = await services.municipalities.get(municipality_code)
    if municipality is None:
        return Refused(code=RefusalCode.MUNICIPALITY_UNKNOWN)
    async with services.store.scoped(municipality.code) as tx:
        issuance = await tx.get_issuance(certificate_id)
        person = await tx.find_person_by_address_number(address_number)
    if issuance is None or person is None or issuance.person_id != person.id:
        return Refused(code=RefusalCode.ISSUANCE_NOT_FOUND)
    if issuance.voided_at is not None:
        return Refused(code=RefusalCode.ISSUANCE_VOIDED)
    if issuance.revoked_at is not None:
        return Refused(code=RefusalCode.ISSUANCE_REVOKED)
    if issuance.kid != services.keys.shc_signer().kid:
        return Refused(code=RefusalCode.REPRINT_KEY_ROTATED)
    if not hmac.compare_digest(issuance.records_digest, person.record_digest):
        return Refused(code=RefusalCode.REPRINT_RECORD_CORRECTED)
    if issuance.signatures is None:
        # recorded before the history kept signatures: it cannot be re-created byte for byte
        return Refused(code=RefusalCode.REPRINT_RECORD_CORRECTED)
    try:
        certificate = compose_certificate(
            certificate_id=issuance.certificate_id,
            issued_at=issuance.issued_at,
            kind=issuance.kind.value,
            person=person,
            municipality=municipality,
            passport=issuance.passport,
            rid=issuance.rid,
        )
        jws, seals = sign_certificate(certificate, services, kept=issuance.signatures)
    except KeyRotatedError:
        return Refused(code=RefusalCode.REPRINT_KEY_ROTATED)
    except signing.SigningError:
        # a kept signature does not verify over the certificate composed now
        return Refused(code=RefusalCode.REPRINT_RECORD_CORRECTED)
    return Issued(
        certificate=certificate, shc_jws=jws, vdsnc=seals, address_number=person.address_number
    )


# --- void and audit (a print that failed; a channel's own steps) ------------------------------


class Voided(msgspec.Struct, frozen=True, kw_only=True):
    """The issuance is marked voided (it never happened: not in the CRL, no fee)."""

    certificate_id: str
    already: bool
    """True when it was voided before (a repeated report): nothing changed."""


async def void_certificate(
    *,
    municipality_code: str,
    certificate_id: str,
    reason: str,
    actor: str,
    channel: Channel,
    services: IssuanceServices,
    now: datetime,
    address_number: str | None = None,
) -> Voided | Refused:
    """Void a recorded issuance whose print failed, with its audit event, in one transaction of
    the municipality's partition. `ISSUANCE_NOT_FOUND` when there is no such issuance there
    (nothing is written)."""
    try:
        async with services.store.scoped(municipality_code) as tx:
            outcome = await tx.void_issuance(certificate_id, reason, now)
            match outcome:
                case VoidOutcome.NOT_FOUND:
                    raise _RollBack(Refused(code=RefusalCode.ISSUANCE_NOT_FOUND))
                case VoidOutcome.VOIDED | VoidOutcome.ALREADY_VOIDED:
                    pass
                case _:
                    assert_never(outcome)
            await tx.record_audit_event(
                AuditEvent(
                    at=now,
                    actor=actor,
                    action=f"void.{channel.value}",
                    outcome="voided" if outcome is VoidOutcome.VOIDED else "already_voided",
                    address_number=address_number,
                    reason=reason,
                )
            )
    except _RollBack as rollback:
        return rollback.refused
    return Voided(certificate_id=certificate_id, already=outcome is VoidOutcome.ALREADY_VOIDED)


async def record_audit(
    services: IssuanceServices, *, municipality_code: str, event: AuditEvent
) -> None:
    """Append a channel's own audit event (a print completed, a counter step) to the
    municipality's chain. `event` holds codes only, never personal data."""
    async with services.store.scoped(municipality_code) as tx:
        await tx.record_audit_event(event)
