"""The app channel (contracts §1): `POST /v1/app/challenges`, `POST /v1/app/certificates`.

The certificates call, in order: strict decoding of the raw body (nothing coerced, unknown fields
refused) → base64 of the card files → kind/passport consistency → rate limit per client address
→ consent (terms version) → the challenge, used once → the attestation token, verified against the
challenge's nonce, its `jti` used once → the issuance use case → the answer, `no-store`.
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
from certsvc.challenges import ConsumeOutcome, b64url_decode
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


class _NonceClaim(msgspec.Struct):
    nonce: str | None = None


_decode_nonce_claim = msgspec.json.Decoder(_NonceClaim)


def _unverified_nonce(token: str) -> str:
    """The `nonce` claim, read before verification only to find the challenge; the token is
    verified against it right after (`_check_attestation`)."""
    parts = token.split(".")
    if len(parts) != 3 or len(token) > 8192:
        raise Problem("ATTESTATION_MALFORMED")
    try:
        claims = _decode_nonce_claim.decode(b64url_decode(parts[1]))
    except (ValueError, msgspec.DecodeError):
        raise Problem("ATTESTATION_MALFORMED") from None
    if not claims.nonce:
        raise Problem("ATTESTATION_CLAIMS_MISSING")
    return claims.nonce


async def _check_attestation(resources: Resources, token: str, nonce: str) -> str:
    settings = resources.settings
    now = resources.clock()
    if resources.attestation_keys is None:  # `serve` refuses to start without it
        raise Problem("ATTESTATION_KEY_UNKNOWN")
    try:
        claims = signing.verify_attestation(
            token,
            jwks=resources.attestation_keys,
            issuer=settings.attestation_issuer or "",
            audience=settings.attestation_audience or "",
            nonce=nonce,
            app_ids=settings.app_ids,
            min_version=settings.app_min_version,
            now=now,
        )
    except signing.AttestationError as exc:
        raise Problem(
            exc.code if exc.code in ATTESTATION_CODES else "ATTESTATION_MALFORMED"
        ) from None
    if not await resources.jti_once.first_use(claims.jti, until=claims.exp, now=now):
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
    wait = await resources.client_limiter.hit(client)
    if wait is not None:
        raise Problem("RATE_LIMITED", headers={"Retry-After": str(wait)})

    # Consent comes before anything of the card is looked at (PIA: consent before reading).
    if payload.terms_version != settings.terms_version:
        raise Problem("TERMS_NOT_ACCEPTED", extra={"current_terms_version": settings.terms_version})

    if not payload.attestation:
        raise Problem("ATTESTATION_MISSING")
    nonce = _unverified_nonce(payload.attestation)
    consumed = await resources.challenges.consume(
        payload.challenge_id, nonce, now=resources.clock()
    )
    if consumed is ConsumeOutcome.ALREADY_USED:
        raise Problem("CHALLENGE_ALREADY_USED")
    if consumed is not ConsumeOutcome.OK:
        raise Problem("CHALLENGE_EXPIRED")
    app_id = await _check_attestation(resources, payload.attestation, nonce)

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
