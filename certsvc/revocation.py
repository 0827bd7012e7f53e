"""Revoking a certificate and asking for its state: one use case for the CLI and the counter.

A revocation marks the issuance revoked, which puts its `rid` on the CRL of the key that signed
it and bumps that CRL's `ctr` — all in the database, in one transaction with the audit event
naming who revoked it and why. A voided issuance (a print that failed) never reached anyone and
cannot be revoked. The status names no person: channel, kind, time, state and reason only.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

import msgspec

from certsvc.issuance import RefusalCode, Refused
from vrs_client import AuditEvent, RevokeOutcome, VrsStore, get_shc_crl


class RevocationReason(StrEnum):
    """Why a certificate is revoked (the value is recorded and shown)."""

    ISSUED_IN_ERROR = "issued_in_error"
    """Issued to the wrong person or with the wrong data by mistake."""
    RECORD_CORRECTED = "record_corrected"
    """The vaccination record it was made from has been corrected."""
    HOLDER_REQUEST = "holder_request"
    """The holder asked for it (a lost phone, a stolen print-out)."""
    KEY_COMPROMISE = "key_compromise"
    """The key that signed it is no longer trusted."""
    SUPERSEDED = "superseded"
    """A newer certificate replaces it."""


class Revoked(msgspec.Struct, frozen=True, kw_only=True):
    """The certificate is now on the CRL of `kid`, whose list is at `crl_version`."""

    certificate_id: str
    municipality_code: str
    reason: RevocationReason
    revoked_at: datetime
    kid: str
    crl_version: int


CertificateState = Literal["issued", "voided", "revoked"]


class CertificateStatus(msgspec.Struct, frozen=True, kw_only=True):
    """What is known of a certificate without naming its holder."""

    certificate_id: str
    municipality_code: str
    channel: str
    kind: str
    issued_at: datetime
    state: CertificateState
    reason: str | None
    """The void or revocation reason; None while issued."""
    changed_at: datetime | None
    """When it was voided or revoked."""
    kid: str
    """The SHC key that signed it (its CRL is where a revocation shows)."""


class _RollBack(Exception):  # noqa: N818 — control flow, never escapes this module
    def __init__(self, refused: Refused) -> None:
        self.refused = refused


async def revoke_certificate(
    *,
    municipality_code: str,
    certificate_id: str,
    reason: RevocationReason,
    actor: str,
    store: VrsStore,
    now: datetime,
) -> Revoked | Refused:
    """Revoke one certificate of the municipality. Refused with `MUNICIPALITY_UNKNOWN`,
    `ISSUANCE_NOT_FOUND` (no such certificate in this municipality), `ISSUANCE_VOIDED` (it was
    never handed over) or `ISSUANCE_REVOKED` (already revoked: nothing changes). `actor` is the
    staff id or `cli:<operator>` recorded in the audit chain."""
    if await store.get_municipality(municipality_code) is None:
        return Refused(code=RefusalCode.MUNICIPALITY_UNKNOWN)
    try:
        async with store.scoped(municipality_code) as tx:
            # The UPDATE takes the row lock first: a void or another revocation of the same
            # certificate waits for this transaction, then sees its result.
            outcome = await tx.revoke_issuance(certificate_id, reason.value, now)
            if outcome is RevokeOutcome.NOT_FOUND:
                return Refused(code=RefusalCode.ISSUANCE_NOT_FOUND)
            if outcome is RevokeOutcome.ALREADY_REVOKED:
                return Refused(code=RefusalCode.ISSUANCE_REVOKED)
            issuance = await tx.get_issuance(certificate_id)
            if issuance is None:  # the row is locked by this transaction: cannot vanish
                raise RuntimeError("revoked issuance vanished")
            if issuance.voided_at is not None:
                raise _RollBack(Refused(code=RefusalCode.ISSUANCE_VOIDED))
            await tx.record_audit_event(
                AuditEvent(
                    at=now,
                    actor=actor,
                    action="issuance.revoke",
                    outcome="revoked",
                    reason=reason.value,
                    detail=f"certificate_id={certificate_id} kid={issuance.kid}",
                )
            )
            crl = await get_shc_crl(tx.connection, kid=issuance.kid)
    except _RollBack as rollback:
        return rollback.refused
    return Revoked(
        certificate_id=certificate_id,
        municipality_code=municipality_code,
        reason=reason,
        revoked_at=now,
        kid=issuance.kid,
        crl_version=crl.ctr,
    )


async def certificate_status(
    *, municipality_code: str, certificate_id: str, store: VrsStore
) -> CertificateStatus | Refused:
    """The state of one certificate of the municipality (`MUNICIPALITY_UNKNOWN`,
    `ISSUANCE_NOT_FOUND` otherwise). Reads only; names no person."""
    if await store.get_municipality(municipality_code) is None:
        return Refused(code=RefusalCode.MUNICIPALITY_UNKNOWN)
    async with store.scoped(municipality_code) as tx:
        issuance = await tx.get_issuance(certificate_id)
    if issuance is None:
        return Refused(code=RefusalCode.ISSUANCE_NOT_FOUND)
    state: CertificateState = "issued"
    reason, changed_at = None, None
    if issuance.revoked_at is not None:
        state, reason, changed_at = "revoked", issuance.revoke_reason, issuance.revoked_at
    elif issuance.voided_at is not None:
        state, reason, changed_at = "voided", issuance.void_reason, issuance.voided_at
    return CertificateStatus(
        certificate_id=issuance.certificate_id,
        municipality_code=issuance.municipality_code,
        channel=issuance.channel.value,
        kind=issuance.kind.value,
        issued_at=issuance.issued_at,
        state=state,
        reason=reason,
        changed_at=changed_at,
        kid=issuance.kid,
    )
