"""Errors on the wire: every 4xx/5xx is `application/problem+json` (RFC 9457) with `type`, `title`,
`status`, a stable `code` and the `request_id`.

`CATALOGUE` is the single list of codes the service can return; the README's error table is
checked against it by a test. Nothing here ever echoes an exception message: driver errors may
quote the values of a row, and those are personal data.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import asyncpg
import msgspec
import redis.exceptions
from litestar import Request, Response
from litestar.exceptions import HTTPException
from litestar.types import ExceptionHandlersMap

from certsvc.logs import current_request_id
from vrs_client import VrsError, VrsErrorCode

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://certsvc.invalid/problems/"

_log = logging.getLogger("certsvc.errors")


class CodeInfo(msgspec.Struct, frozen=True):
    status: int
    title: str


#: Every code the service answers with: status and a human title (English; no personal data).
CATALOGUE: dict[str, CodeInfo] = {
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
    "NOT_READY": CodeInfo(503, "The service is not ready"),
    "SERVER_BUSY": CodeInfo(503, "The server is at its concurrency limit; retry shortly"),
}


def register_codes(codes: Mapping[str, CodeInfo]) -> None:
    """Add a feature's codes to the catalogue (at import time of that feature's module)."""
    for code, info in codes.items():
        existing = CATALOGUE.get(code)
        if existing is not None and existing != info:
            raise RuntimeError(f"error code {code} registered twice with different meanings")
        CATALOGUE[code] = info


class Problem(Exception):  # noqa: N818 — it is an answer (RFC 9457 "problem"), not a fault
    """A refusal to be answered as problem+json. `detail` and `extra` must hold no personal data."""

    def __init__(
        self,
        code: str,
        *,
        detail: str | None = None,
        extra: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        status: int | None = None,
    ) -> None:
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


def _on_store_error(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    if isinstance(exc, VrsError) and exc.code is VrsErrorCode.STORE_UNAVAILABLE:
        return _on_dependency_down(request, exc)
    return _on_unexpected(request, exc)


def _on_unexpected(_: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    if is_dependency_failure(exc):
        return _on_dependency_down(_, exc)
    # The message of an arbitrary exception may quote personal data: log the type and where.
    frames = []
    tb = exc.__traceback__
    while tb is not None:
        frames.append(f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}")
        tb = tb.tb_next
    _log.error("unexpected %s at %s", type(exc).__name__, " < ".join(reversed(frames[-6:])))
    return problem_response(Problem("INTERNAL_ERROR"))


_DEPENDENCY_ERRORS: tuple[type[Exception], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.ConnectionFailureError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.TooManyConnectionsError,
    ConnectionError,
    TimeoutError,
)


def is_dependency_failure(exc: BaseException) -> bool:
    """True for errors that mean PostgreSQL or Redis is unreachable (answer 503, not 500)."""
    if isinstance(exc, _DEPENDENCY_ERRORS):
        return True
    return isinstance(exc, OSError) and exc.errno is not None


def exception_handlers() -> ExceptionHandlersMap:
    return {
        Problem: _on_problem,
        HTTPException: _on_http_exception,
        VrsError: _on_store_error,
        **dict.fromkeys(_DEPENDENCY_ERRORS, _on_dependency_down),
        Exception: _on_unexpected,
    }
