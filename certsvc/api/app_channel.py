"""The app channel (contracts §1): `POST /v1/app/challenges`, `POST /v1/app/certificates`.

The certificates call, in order: strict decoding of the raw body (nothing coerced, unknown fields
refused) → base64 of the card files → kind/passport consistency → rate limit per client address
→ consent (terms version) → the challenge, used once → the attestation token, verified against the
challenge's nonce, its `jti` used once → the issuance use case → the answer, `no-store`.

Redis sees it in one round trip before any heavy work (`_admit`): the client counter, the
challenge's consume and the claim of the token's `jti` (read unverified, as the nonce is) go in
one pipeline (under Redis Cluster: three single commands at once, one per slot). The claim's
answer counts only once the token has verified, so the refusals come in the order above. A
request that a local check refuses (terms, no or unreadable token) sends the client counter alone
and leaves its challenge usable. The use case's person limit is the second and last round trip.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Literal, assert_never

import msgspec
from litestar import Request, Response, post
from litestar.datastructures import State
from litestar.handlers import HTTPRouteHandler
from litestar.params import RawBody

import signing
from certsvc.api import wire
from certsvc.challenges import ConsumeOutcome, PendingConsume, b64url_decode
from certsvc.errors import APP_CODES, ATTESTATION_CODES, REFUSALS, Problem, refusal_problem
from certsvc.issuance import (
    CardProof,
    IssueCommand,
    Issued,
    MrzLines,
    Refused,
    issue_certificates,
)
from certsvc.logs import mask_text
from certsvc.openapi import api_doc
from certsvc.redis_rounds import first_round, run_pipeline
from certsvc.resources import Resources
from vrs_client import Channel, is_valid_municipality_code

SHC_MEDIA_TYPE = "application/smart-health-card"


class PassportInput(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    mrz: list[str]


class CertificateRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    terms_version: str
    challenge_id: str
    card: wire.CardFiles
    municipality_code: str
    kind: Literal["domestic", "abroad"]
    attestation: str | None = None
    passport: PassportInput | None = None


_decode_request = msgspec.json.Decoder(CertificateRequest)


class ChallengeRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The challenge call takes no parameters: its body is empty or `{}` (contracts §1)."""


_decode_challenge_request = msgspec.json.Decoder(ChallengeRequest)


def _resources(state: State) -> Resources:
    resources: Resources = state.resources
    return resources


@post(
    "/v1/app/challenges",
    status_code=201,
    tags=["app"],
    summary="A one-time challenge for the card to sign (valid 5 minutes, usable once)",
    description="The body is empty or `{}`.",
    security=[],
    opt=api_doc(request=ChallengeRequest, request_optional=True),
)
async def create_challenge(state: State, body: RawBody) -> wire.ChallengeOut:
    if body.strip():
        try:
            _decode_challenge_request.decode(body)
        except msgspec.DecodeError:  # ValidationError included
            raise Problem("MALFORMED_REQUEST", detail="the body must be empty or {}") from None
    resources = _resources(state)
    challenge = await resources.challenges.issue(now=resources.clock())
    return wire.ChallengeOut(
        challenge_id=challenge.challenge_id,
        nonce=challenge.nonce,
        expires_at=challenge.expires_at,
    )


class _UnverifiedClaims(msgspec.Struct):
    nonce: str | None = None
    jti: object = None
    """Any JSON value: its type is the verifier's to refuse, after the challenge is used."""


_decode_unverified_claims = msgspec.json.Decoder(_UnverifiedClaims)

#: How long a claimed `jti` is remembered: longer than any token that verifies now stays valid
#: (`exp` at most 5 minutes after `iat`, `iat` and `exp` each with 60 s of clock skew), plus the
#: 120 s margin the verified expiry always had.
_JTI_TTL_S = 300 + 2 * 60 + 120
_MAX_JTI_LENGTH = 256


class _Unverified(msgspec.Struct, frozen=True):
    token: str
    nonce: str
    jti: str | None
    """None when it cannot be a valid one: the verifier refuses the token anyway."""


def _unverified_claims(token: str) -> _Unverified:
    """The `nonce` and `jti` claims, read before verification only to find the challenge and to
    claim the `jti` in the same round trip; the token is verified against them right after
    (`_check_attestation`)."""
    parts = token.split(".")
    if len(parts) != 3 or len(token) > 8192:
        raise Problem("ATTESTATION_MALFORMED")
    try:
        claims = _decode_unverified_claims.decode(b64url_decode(parts[1]))
    except (ValueError, msgspec.DecodeError):
        raise Problem("ATTESTATION_MALFORMED") from None
    if not claims.nonce:
        raise Problem("ATTESTATION_CLAIMS_MISSING")
    jti = claims.jti if isinstance(claims.jti, str) else None
    if jti is not None and not 0 < len(jti) <= _MAX_JTI_LENGTH:
        jti = None
    return _Unverified(token=token, nonce=claims.nonce, jti=jti)


def _local_checks(payload: CertificateRequest, terms_version: str | None) -> _Unverified | Problem:
    """What is checked without Redis, after the rate limit in the order of refusals: consent
    (before anything of the card is looked at: PIA), then the token's presence and shape."""
    if payload.terms_version != terms_version:
        return Problem("TERMS_NOT_ACCEPTED", extra={"current_terms_version": terms_version})
    if not payload.attestation:
        return Problem("ATTESTATION_MISSING")
    try:
        return _unverified_claims(payload.attestation)
    except Problem as refusal:
        return refusal


class _Admission(msgspec.Struct, frozen=True):
    consumed: ConsumeOutcome
    jti_first_use: bool | None
    """The reply to the `jti` claim; None when none was sent."""


async def _admit(
    resources: Resources, client: bytes, checked: _Unverified | Problem, challenge_id: str
) -> _Admission:
    """Round trip 1: the client counter, and for a request the local checks let through the
    challenge's consume and the `jti` claim, in one pipeline. Raises RATE_LIMITED, then the
    local checks' refusal."""
    now = resources.clock()
    pipe = first_round(resources.redis)
    hit = resources.client_limiter.queue_hit(pipe, 0, client)
    pending: PendingConsume | ConsumeOutcome = ConsumeOutcome.EXPIRED
    claimed_at: int | None = None
    if not isinstance(checked, Problem):
        pending = resources.challenges.queue_consume(pipe, 1, challenge_id, checked.nonce, now=now)
        if isinstance(pending, PendingConsume) and checked.jti is not None:
            resources.jti_once.queue_claim(pipe, checked.jti, ttl_s=_JTI_TTL_S)
            claimed_at = 2
    results = await run_pipeline(pipe)
    wait = await hit.wait(results)
    if wait is not None:
        raise Problem("RATE_LIMITED", headers={"Retry-After": str(wait)})
    if isinstance(checked, Problem):
        raise checked
    consumed = pending if isinstance(pending, ConsumeOutcome) else await pending.outcome(results)
    if claimed_at is None:
        return _Admission(consumed=consumed, jti_first_use=None)
    claimed = results[claimed_at]
    if isinstance(claimed, BaseException):
        raise claimed
    return _Admission(consumed=consumed, jti_first_use=bool(claimed))


async def _check_attestation(
    resources: Resources, unverified: _Unverified, admission: _Admission
) -> str:
    settings = resources.settings
    now = resources.clock()
    if resources.attestation_keys is None:  # `serve` refuses to start without it
        raise Problem("ATTESTATION_KEY_UNKNOWN")
    try:
        claims = signing.verify_attestation(
            unverified.token,
            jwks=resources.attestation_keys,
            issuer=settings.attestation_issuer or "",
            audience=settings.attestation_audience or "",
            nonce=unverified.nonce,
            app_ids=settings.app_ids,
            min_version=settings.app_min_version,
            now=now,
        )
    except signing.AttestationError as exc:
        raise Problem(
            exc.code if exc.code in ATTESTATION_CODES else "ATTESTATION_MALFORMED"
        ) from None
    if admission.jti_first_use is not None and unverified.jti == claims.jti:
        first_use = admission.jti_first_use
    else:  # not claimed in round trip 1 (never for a token that verifies): claim it now
        first_use = await resources.jti_once.first_use(claims.jti, until=claims.exp, now=now)
    if not first_use:
        raise Problem("ATTESTATION_REPLAYED")
    return claims.app_id


def _wants_shc_file(request: Request[Any, Any, Any]) -> bool:
    accept = wire.first_header(request.scope, b"accept")
    return SHC_MEDIA_TYPE in accept


@post(
    "/v1/app/certificates",
    status_code=201,
    tags=["app"],
    summary="Issue certificates from verified card data (and passport lines for use abroad)",
    description="Request body per contracts §1 (decoded strictly: unknown fields are refused). "
    "With `Accept: application/smart-health-card` the answer is a `.smart-health-card` file. "
    "Authorisation is in the body: the app attestation token (`attestation`, a JWS of the app "
    "attestation authority bound to the challenge's nonce, used once) and the card's signature "
    "over the challenge (`card.challenge_signature`).",
    security=[],
    opt=api_doc(
        request=CertificateRequest,
        response=wire.CertificatesOut,
        codes=[
            *APP_CODES,
            *(code.value for code in REFUSALS),
            "RATE_LIMITED",
        ],
    ),
)
async def create_certificates(request: Request[Any, Any, Any]) -> Response[Any]:
    # The request only: each further parameter is per-request work of Litestar's injection.
    resources = _resources(request.app.state)
    body = await request.body()  # read and checked once by certsvc.strict_body
    settings = resources.settings

    # Strict decoding: msgspec's messages name the path and the expected type, not the value.
    try:
        payload = _decode_request.decode(body)
    except msgspec.ValidationError as exc:
        raise Problem("MALFORMED_REQUEST", detail=mask_text(str(exc))[:200]) from None
    except msgspec.DecodeError:
        raise Problem("MALFORMED_REQUEST", detail="the body is not JSON") from None
    evidence = wire.card_evidence(payload.card)
    if not is_valid_municipality_code(payload.municipality_code):
        raise Problem("MUNICIPALITY_CODE_INVALID")
    if payload.kind == "abroad" and payload.passport is None:
        raise Problem("PASSPORT_REQUIRED")
    if payload.kind == "domestic" and payload.passport is not None:
        raise Problem("PASSPORT_NOT_ALLOWED")

    client = (request.client.host if request.client else "unknown").encode()
    checked = _local_checks(payload, settings.terms_version)
    admission = await _admit(resources, client, checked, payload.challenge_id)
    if isinstance(checked, Problem):  # _admit raised it; for the type checker
        raise checked
    if admission.consumed is ConsumeOutcome.ALREADY_USED:
        raise Problem("CHALLENGE_ALREADY_USED")
    if admission.consumed is not ConsumeOutcome.OK:
        raise Problem("CHALLENGE_EXPIRED")
    app_id = await _check_attestation(resources, checked, admission)
    nonce = checked.nonce

    try:
        nonce_bytes = base64.urlsafe_b64decode(nonce + "=" * (-len(nonce) % 4))
    except (binascii.Error, ValueError):
        raise Problem("ATTESTATION_MALFORMED") from None
    outcome = await issue_certificates(
        IssueCommand(
            identity=CardProof(evidence=evidence, nonce=nonce_bytes),
            municipality_code=payload.municipality_code,
            kind=payload.kind,
            passport=None
            if payload.passport is None
            else MrzLines(lines=tuple(payload.passport.mrz)),
            channel=Channel.APP,
            actor=f"app:{app_id}"[:64],
        ),
        resources.services,
        now=resources.clock(),
    )
    match outcome:
        case Refused():
            raise refusal_problem(outcome)
        case Issued():
            pass
        case _:
            assert_never(outcome)

    if _wants_shc_file(request):
        shc_file = signing.shc_file(list(outcome.shc_jws))
        return wire.ReadyAnswer(shc_file, status_code=201, media_type=SHC_MEDIA_TYPE)
    body_out = wire.CertificatesOut(certificates=[wire.certificate_out(outcome)])
    return wire.ReadyAnswer(wire.encode_json(body_out), status_code=201)


def routes() -> list[HTTPRouteHandler]:
    return [create_challenge, create_certificates]
