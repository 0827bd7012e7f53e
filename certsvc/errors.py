"""Errors on the wire: every 4xx/5xx is `application/problem+json` (RFC 9457) with `type`, `title`,
`status`, a stable `code` and the `request_id`.

`CATALOGUE` is the single list of codes the service can return; the README's error table is
checked against it by a test. Nothing here ever echoes an exception message: driver errors may
quote the values of a row, and those are personal data.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final

import msgspec
import redis.exceptions
from litestar import Request, Response
from litestar.exceptions import HTTPException
from litestar.types import ExceptionHandlersMap

from certsvc.issuance import RefusalCode, Refused
from certsvc.logs import current_request_id
from certsvc.metrics import count_problem
from vrs_client import VrsError, VrsErrorCode, is_store_unavailable

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://certsvc.invalid/problems/"

_log = logging.getLogger("certsvc.errors")


class CodeInfo(msgspec.Struct, frozen=True):
    status: int
    title: str


#: The generic HTTP codes: status and a human title (English; no personal data).
GENERIC_CODES: Final[Mapping[str, CodeInfo]] = {
    # Generic HTTP
    "MALFORMED_REQUEST": CodeInfo(400, "The request is not well-formed"),
    "JSON_DUPLICATE_KEY": CodeInfo(400, "The JSON body names a member twice in one object"),
    "NOT_FOUND": CodeInfo(404, "No such resource"),
    "METHOD_NOT_ALLOWED": CodeInfo(405, "Method not allowed on this resource"),
    "NOT_ACCEPTABLE": CodeInfo(406, "No representation matches the Accept header"),
    "REQUEST_TIMEOUT": CodeInfo(408, "The request head did not arrive in time"),
    "BODY_TOO_LARGE": CodeInfo(413, "The request body is too large"),
    "UNSUPPORTED_MEDIA_TYPE": CodeInfo(415, "The request body must be application/json"),
    "RATE_LIMITED": CodeInfo(429, "Too many requests; retry after the given delay"),
    "HEADERS_TOO_LARGE": CodeInfo(431, "The request headers are too large or too many"),
    "INTERNAL_ERROR": CodeInfo(500, "Internal error; quote the request id to the operator"),
    "DEPENDENCY_UNAVAILABLE": CodeInfo(503, "A backing service is unavailable; retry shortly"),
    "DATA_KEY_UNAVAILABLE": CodeInfo(
        503, "This node cannot open the municipality's data key now; retry shortly"
    ),
    "NOT_READY": CodeInfo(503, "The service is not ready"),
    "SERVER_BUSY": CodeInfo(503, "The server is at its concurrency limit; retry shortly"),
}

_CARD = "The My Number card data were refused: "
_MRZ = "The passport lines cannot be read: "

#: The one table of refusals of the issuance use case: every `RefusalCode` member has its status
#: and title here (a test walks the enum), so no refusal can reach the wire as a 500.
REFUSALS: Final[Mapping[RefusalCode, CodeInfo]] = {
    RefusalCode.CARD_MALFORMED: CodeInfo(422, _CARD + "a file is not in the text-AP format"),
    RefusalCode.CARD_ISSUER_UNKNOWN: CodeInfo(422, _CARD + "signed by an unknown J-LIS key"),
    RefusalCode.CARD_HIERARCHY_NOT_ALLOWED: CodeInfo(
        422, _CARD + "the J-LIS key belongs to a hierarchy this service does not accept"
    ),
    RefusalCode.CARD_ISSUER_EXPIRED: CodeInfo(
        422, _CARD + "the J-LIS key is outside its validity period"
    ),
    RefusalCode.CARD_CERTIFICATE_SIGNATURE_INVALID: CodeInfo(
        422, _CARD + "the card-verifiable certificate signature is invalid"
    ),
    RefusalCode.CARD_SIGNER_REVOKED: CodeInfo(422, _CARD + "the signing key is revoked"),
    RefusalCode.CARD_DATA_SIGNATURE_INVALID: CodeInfo(
        422, _CARD + "the J-LIS signature over the card data is invalid"
    ),
    RefusalCode.CARD_MY_NUMBER_DIGEST_MISMATCH: CodeInfo(
        422, _CARD + "the My Number file does not match its signed digest"
    ),
    RefusalCode.CARD_ATTRIBUTES_DIGEST_MISMATCH: CodeInfo(
        422, _CARD + "the basic items do not match their signed digest"
    ),
    RefusalCode.CARD_KEY_SIGNATURE_INVALID: CodeInfo(
        422, _CARD + "the card's own key is not signed by the J-LIS signer"
    ),
    RefusalCode.CARD_CHALLENGE_SIGNATURE_INVALID: CodeInfo(
        422, _CARD + "the card did not sign this request's challenge"
    ),
    RefusalCode.CARD_CONTENT_INVALID: CodeInfo(422, _CARD + "the content is not well-formed"),
    RefusalCode.CARD_CHECK_DIGIT_INVALID: CodeInfo(
        422, _CARD + "the My Number check digit is wrong"
    ),
    RefusalCode.MY_NUMBER_INVALID: CodeInfo(422, "The My Number entered is not valid"),
    RefusalCode.PERSON_RATE_LIMITED: CodeInfo(
        429, "Too many certificates for this person; retry after the given delay"
    ),
    RefusalCode.MUNICIPALITY_UNKNOWN: CodeInfo(422, "This municipality is not served here"),
    RefusalCode.CHANNEL_NOT_OFFERED: CodeInfo(
        403, "This municipality does not offer certificates through this channel"
    ),
    RefusalCode.MRZ_LINE_COUNT: CodeInfo(400, _MRZ + "there must be exactly two lines"),
    RefusalCode.MRZ_LINE_LENGTH: CodeInfo(400, _MRZ + "each line must be 44 characters"),
    RefusalCode.MRZ_CHARSET: CodeInfo(400, _MRZ + "only A-Z, 0-9 and < are allowed"),
    RefusalCode.MRZ_DOCUMENT_TYPE: CodeInfo(400, _MRZ + "the document is not a passport"),
    RefusalCode.MRZ_CHECK_DIGIT_NUMBER: CodeInfo(400, _MRZ + "passport number check digit"),
    RefusalCode.MRZ_CHECK_DIGIT_BIRTH: CodeInfo(400, _MRZ + "birth date check digit"),
    RefusalCode.MRZ_CHECK_DIGIT_EXPIRY: CodeInfo(400, _MRZ + "expiry date check digit"),
    RefusalCode.MRZ_CHECK_DIGIT_PERSONAL: CodeInfo(400, _MRZ + "personal number check digit"),
    RefusalCode.MRZ_CHECK_DIGIT_COMPOSITE: CodeInfo(400, _MRZ + "composite check digit"),
    RefusalCode.MRZ_DATE_INVALID: CodeInfo(400, _MRZ + "a date does not exist"),
    RefusalCode.MRZ_STATE_UNKNOWN: CodeInfo(400, _MRZ + "unknown issuing state"),
    RefusalCode.MRZ_NATIONALITY_UNKNOWN: CodeInfo(400, _MRZ + "unknown nationality"),
    RefusalCode.MRZ_NAME_INVALID: CodeInfo(400, _MRZ + "the name field is not valid"),
    RefusalCode.MRZ_SEX_INVALID: CodeInfo(400, _MRZ + "the sex field is not F, M or <"),
    RefusalCode.MRZ_JPN_NUMBER_INVALID: CodeInfo(
        400, _MRZ + "a Japanese passport number is two letters and seven digits"
    ),
    RefusalCode.PERSON_NOT_FOUND: CodeInfo(
        422, "No vaccination record of this person in this municipality"
    ),
    RefusalCode.PERSON_DECEASED: CodeInfo(422, "The record is closed; ask the municipality"),
    RefusalCode.NO_VACCINATIONS: CodeInfo(422, "No vaccination is recorded in this municipality"),
    RefusalCode.PASSPORT_EXPIRED: CodeInfo(422, "The passport has expired"),
    RefusalCode.PASSPORT_BIRTH_DATE_MISMATCH: CodeInfo(
        422, "The passport's birth date differs from the card's"
    ),
    RefusalCode.PASSPORT_SEX_MISMATCH: CodeInfo(422, "The passport's sex differs from the card's"),
    RefusalCode.HOLDER_SEX_INVALID: CodeInfo(
        422, "The recorded sex code cannot be compared with the passport; ask the municipality"
    ),
    RefusalCode.PASSPORT_NOT_ON_RECORD: CodeInfo(
        422, "No valid passport on record: a certificate for use abroad needs one"
    ),
    RefusalCode.CERTIFICATE_NOT_COMPOSABLE: CodeInfo(
        422, "The record holds data the certificate formats cannot carry; ask the municipality"
    ),
    RefusalCode.ISSUANCE_NOT_FOUND: CodeInfo(
        404, "No such certificate of this person in this municipality"
    ),
    RefusalCode.ISSUANCE_VOIDED: CodeInfo(409, "This certificate was voided; issue a new one"),
    RefusalCode.ISSUANCE_REVOKED: CodeInfo(409, "This certificate was revoked; issue a new one"),
    RefusalCode.REPRINT_KEY_ROTATED: CodeInfo(
        409, "The signing key has changed since this certificate was issued; issue a new one"
    ),
    RefusalCode.REPRINT_RECORD_CORRECTED: CodeInfo(
        409, "The records have been corrected since this certificate was issued; issue a new one"
    ),
}

#: The app channel's own codes (contracts §1), and the base64 code every JSON channel shares.
APP_CODES: Final[Mapping[str, CodeInfo]] = {
    "BASE64_INVALID": CodeInfo(400, "A binary field is not valid standard base64"),
    "MUNICIPALITY_CODE_INVALID": CodeInfo(400, "The municipality code is not 6 valid digits"),
    "PASSPORT_REQUIRED": CodeInfo(400, "A certificate for use abroad needs the passport lines"),
    "PASSPORT_NOT_ALLOWED": CodeInfo(400, "A domestic certificate takes no passport"),
    "TERMS_NOT_ACCEPTED": CodeInfo(
        422, "The current terms of use have not been agreed to (see current_terms_version)"
    ),
    "CHALLENGE_EXPIRED": CodeInfo(409, "The challenge expired or is unknown; ask for a new one"),
    "CHALLENGE_ALREADY_USED": CodeInfo(409, "The challenge was used already; ask for a new one"),
    "ATTESTATION_MISSING": CodeInfo(401, "The app attestation token is missing"),
    "ATTESTATION_REPLAYED": CodeInfo(409, "This attestation token was used already"),
    "ATTESTATION_MALFORMED": CodeInfo(401, "The attestation token is not a well-formed JWS"),
    "ATTESTATION_ALGORITHM_NOT_ALLOWED": CodeInfo(401, "The attestation token is not ES256"),
    "ATTESTATION_HEADER_NOT_ALLOWED": CodeInfo(
        401, "The attestation token carries keys in its header"
    ),
    "ATTESTATION_KEY_UNKNOWN": CodeInfo(401, "The attestation token's key is not the authority's"),
    "ATTESTATION_SIGNATURE_INVALID": CodeInfo(401, "The attestation signature is invalid"),
    "ATTESTATION_EXPIRED": CodeInfo(401, "The attestation token has expired"),
    "ATTESTATION_NOT_YET_VALID": CodeInfo(401, "The attestation token is not valid yet"),
    "ATTESTATION_LIFETIME_TOO_LONG": CodeInfo(
        401, "The attestation token lives longer than 5 minutes"
    ),
    "ATTESTATION_ISSUER_INVALID": CodeInfo(401, "The attestation token's issuer is not trusted"),
    "ATTESTATION_AUDIENCE_INVALID": CodeInfo(401, "The attestation token is for another service"),
    "ATTESTATION_NONCE_MISMATCH": CodeInfo(401, "The attestation token is for another challenge"),
    "ATTESTATION_APP_NOT_ALLOWED": CodeInfo(401, "This app is not allowed"),
    "ATTESTATION_APP_VERSION_TOO_OLD": CodeInfo(401, "This app version is too old; update it"),
    "ATTESTATION_CLAIMS_MISSING": CodeInfo(401, "The attestation token lacks required claims"),
}

#: The codes `signing.verify_attestation` may raise that the API passes on as they are.
ATTESTATION_CODES = frozenset(code for code in APP_CODES if code.startswith("ATTESTATION_"))

#: Every code of certsvc's own listeners. Channels with codes of their own (the kiosk, the
#: counter) keep them in their own table and pass the `CodeInfo` to `Problem`; nothing is
#: registered at import time.
CATALOGUE: Final[Mapping[str, CodeInfo]] = {
    **GENERIC_CODES,
    **{code.value: info for code, info in REFUSALS.items()},
    **APP_CODES,
}


class Problem(Exception):  # noqa: N818 — it is an answer (RFC 9457 "problem"), not a fault
    """A refusal to be answered as problem+json. `detail` and `extra` must hold no personal data.
    `code` is looked up in `CATALOGUE` unless the channel passes its own `info`."""

    def __init__(
        self,
        code: str,
        *,
        detail: str | None = None,
        extra: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        status: int | None = None,
        info: CodeInfo | None = None,
    ) -> None:
        if info is None:
            info = CATALOGUE.get(code)
        if info is None:
            raise RuntimeError(f"error code {code} is not in the catalogue")
        super().__init__(code)
        self.code = code
        self.status = status if status is not None else info.status
        self.title = info.title
        self.detail = detail
        self.extra = dict(extra or {})
        self.headers = dict(headers or {})


def problem_response(problem: Problem) -> Response[bytes]:
    count_problem(problem.code, problem.status)
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + problem.code.lower().replace("_", "-"),
        "title": problem.title,
        "status": problem.status,
        "code": problem.code,
        "request_id": current_request_id(),
    }
    if problem.detail:
        body["detail"] = problem.detail
    body.update(problem.extra)
    headers = {"Cache-Control": "no-store", **problem.headers}
    return Response(
        msgspec.json.encode(body),
        status_code=problem.status,
        media_type=PROBLEM_CONTENT_TYPE,
        headers=headers,
    )


def refusal_problem(refused: Refused) -> Problem:
    """The problem+json answer for a refusal of the issuance use case."""
    headers = {}
    if refused.retry_after_s is not None:
        headers["Retry-After"] = str(refused.retry_after_s)
    return Problem(refused.code.value, headers=headers, info=REFUSALS[refused.code])


def _on_problem(_: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    if not isinstance(exc, Problem):  # pragma: no cover - registered for Problem only
        raise TypeError(type(exc).__name__)
    return problem_response(exc)


_HTTP_STATUS_CODES = {
    400: "MALFORMED_REQUEST",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    413: "BODY_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "RATE_LIMITED",
    503: "DEPENDENCY_UNAVAILABLE",
}


def _on_http_exception(_: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    code = _HTTP_STATUS_CODES.get(status)
    if code is None:
        code = "MALFORMED_REQUEST" if 400 <= status < 500 else "INTERNAL_ERROR"
    # Litestar's own messages (validation details) can quote request values: not echoed. Its
    # headers are kept: a 405 carries `Allow` (RFC 9110 §15.5.6).
    headers = exc.headers if isinstance(exc, HTTPException) and exc.headers else None
    return problem_response(
        Problem(code, status=status if 400 <= status < 500 else None, headers=headers)
    )


def _on_dependency_down(_: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    _log.warning("dependency unavailable: %s", type(exc).__name__)
    return problem_response(Problem("DEPENDENCY_UNAVAILABLE", headers={"Retry-After": "5"}))


def _on_unexpected(_: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    if is_dependency_failure(exc):
        return _on_dependency_down(_, exc)
    if isinstance(exc, VrsError) and exc.code is VrsErrorCode.DATA_KEY_UNWRAP_FAILED:
        # A node whose master keys do not open a data key (a master-key rotation done out of
        # order): nothing was written yet, and another node may hold the key, so the balancer may
        # retry. The operator's fix is named in the log (docs/keys-and-revocation.md).
        _log.error(
            "a data key is wrapped under a master key this node does not have: set"
            " CERTSVC_MASTER_KEY and CERTSVC_MASTER_KEY_PREVIOUS as the master-key procedure says"
        )
        return problem_response(Problem("DATA_KEY_UNAVAILABLE", headers={"Retry-After": "5"}))
    # The message of an arbitrary exception may quote personal data: log the type and where.
    frames = []
    tb = exc.__traceback__
    while tb is not None:
        frames.append(f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}")
        tb = tb.tb_next
    _log.error("unexpected %s at %s", type(exc).__name__, " < ".join(reversed(frames[-6:])))
    return problem_response(Problem("INTERNAL_ERROR"))


# Redis: refused, reset, timed out, or loading its data after a restart (BusyLoadingError is a
# ConnectionError). PostgreSQL's driver errors are classified by the store's own rule.
_REDIS_DOWN: tuple[type[Exception], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    # Redis Cluster: a primary is down and no replica has taken over its slots yet
    redis.exceptions.ClusterDownError,
    redis.exceptions.TryAgainError,
    redis.exceptions.RedisClusterException,
)


def is_dependency_failure(exc: BaseException) -> bool:
    """True for errors that mean PostgreSQL or Redis is unreachable, restarting, out of
    connections or too slow: the one rule by which the service answers 503
    `DEPENDENCY_UNAVAILABLE` (with `Retry-After`) instead of 500."""
    if isinstance(exc, _REDIS_DOWN) or is_store_unavailable(exc):
        return True
    if isinstance(exc, ExceptionGroup):
        return all(is_dependency_failure(e) for e in exc.exceptions)
    return False


def exception_handlers() -> ExceptionHandlersMap:
    return {
        Problem: _on_problem,
        HTTPException: _on_http_exception,
        **dict.fromkeys(_REDIS_DOWN, _on_dependency_down),
        Exception: _on_unexpected,
    }
