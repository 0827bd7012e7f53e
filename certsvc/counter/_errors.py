"""Refusals as HTML pages that show the code (the counter never answers JSON)."""

from __future__ import annotations

import logging
from typing import Any

import redis.exceptions
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException
from litestar.types import ExceptionHandlersMap

from certsvc.channel import Problem
from certsvc.counter._codes import COUNTER_CODES
from certsvc.counter._context import CounterContext, Signed, lang_of
from certsvc.counter._texts import text

_log = logging.getLogger("certsvc.counter")

_HTTP = {
    400: "MALFORMED_REQUEST",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "BODY_TOO_LARGE",
    503: "DEPENDENCY_UNAVAILABLE",
}
_FALLBACK = """<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>{code}</title>
</head><body><main><h1>{heading}</h1><p>{code}</p></main></body></html>"""


def _error_page(
    request: Request[Any, Any, Any], code: str, status: int, title: str, detail: str | None
) -> Response[Any]:
    ctx: CounterContext | None = getattr(request.app.state, "counter", None)
    headers = CounterContext.security_headers()
    if ctx is None:
        lang = lang_of(request)
        html = _FALLBACK.format(lang=lang, code=code, heading=text("error_title", lang))
        return Response(html, status_code=status, media_type=MediaType.HTML, headers=headers)
    who: Signed | None = getattr(request.state, "counter_who", None)
    html, cookie = ctx.render(
        request,
        "error.html",
        who=who,
        code=code,
        status=status,
        title=title,
        detail=detail,
        signed_out=code in ("COUNTER_SIGNED_OUT", "STAFF_SIGN_IN_FAILED", "STAFF_LOCKED_OUT"),
    )
    return Response(
        html,
        status_code=status,
        media_type=MediaType.HTML,
        headers=headers,
        cookies=[cookie] if cookie is not None else [],
    )


def _on_problem(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if not isinstance(exc, Problem):
        raise TypeError(type(exc).__name__)
    return _error_page(request, exc.code, exc.status, exc.title, exc.detail)


def _on_http(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    code = _HTTP.get(status, "MALFORMED_REQUEST" if 400 <= status < 500 else "INTERNAL_ERROR")
    info = COUNTER_CODES[code]
    # Litestar's own messages can quote request values: never echoed.
    shown = status if 400 <= status < 500 else info.status
    return _error_page(request, code, shown, info.title, None)


def _on_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    # A store that is down answers 503; anything else 500. Only the type is logged: the
    # message of an arbitrary exception may quote personal data.
    code = "DEPENDENCY_UNAVAILABLE" if isinstance(exc, _DEPENDENCY) else "INTERNAL_ERROR"
    _log.error("counter: %s answered %s", type(exc).__name__, code)
    info = COUNTER_CODES[code]
    return _error_page(request, code, info.status, info.title, None)


_DEPENDENCY: tuple[type[Exception], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    ConnectionError,
    TimeoutError,
    OSError,
)


def html_exception_handlers() -> ExceptionHandlersMap:
    return {Problem: _on_problem, HTTPException: _on_http, Exception: _on_unexpected}
