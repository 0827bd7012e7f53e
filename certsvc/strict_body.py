"""Request bodies of the JSON listeners (app and kiosk), checked before any handler runs.

On every request with a body method (POST, PUT, PATCH), in order: the declared length and then
the bytes read against `max_body_bytes` (413 `BODY_TOO_LARGE`: the whole body is read even when
the handler would not look at it) → a non-empty body must be `application/json` (UTF-8 only;
415 `UNSUPPORTED_MEDIA_TYPE`) → well-formed JSON (400 `MALFORMED_REQUEST`) → no object naming
a member twice (400 `JSON_DUPLICATE_KEY`: msgspec, like most parsers, keeps the last one, so
`{"municipality_code": "A", "municipality_code": "B"}` would be read as B by us and as A by a
proxy or a log reader). The handler then receives the same bytes.

A client that hangs up while sending its body gets no answer (there is no one to read it); the
access log records the disconnect.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, ReceiveMessage, Scope, Send
from litestar.utils.scope.state import ScopeState

from certsvc.errors import Problem

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_decode_any = msgspec.json.Decoder()


class _Duplicate(Exception):  # noqa: N818 - a signal inside the slow check, never raised further
    pass


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = {key for key, _ in pairs}
    if len(keys) != len(pairs):
        raise _Duplicate
    return dict(pairs)


def _member_count(tree: Any) -> int:
    """Members of every object in a decoded JSON value (duplicates already merged)."""
    count = 0
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            count += len(node)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return count


def check_json(body: bytes) -> None:
    """Raise `MALFORMED_REQUEST` unless `body` is one JSON value, and `JSON_DUPLICATE_KEY` if an
    object in it names a member twice.

    The fast path is exact: every member of the text is followed by one `:`, so a body with as
    many `:` bytes as members in its decoded (duplicate-merged) form has no duplicate. Only a
    body whose strings hold a `:` (or that has a duplicate) takes the slow path, a second parse
    that sees every member."""
    try:
        tree = _decode_any.decode(body)
    except msgspec.DecodeError:
        raise Problem("MALFORMED_REQUEST", detail="the body is not JSON") from None
    if body.count(b":") == _member_count(tree):
        return
    try:
        json.loads(body, object_pairs_hook=_refuse_duplicates)
    except _Duplicate:
        raise Problem("JSON_DUPLICATE_KEY") from None
    except (ValueError, RecursionError):
        raise Problem("MALFORMED_REQUEST", detail="the body is not JSON") from None


def is_json_media_type(content_type: bytes) -> bool:
    """`application/json`, optionally with `charset=utf-8` (RFC 8259 §8.1: JSON is UTF-8)."""
    media, _, params = content_type.decode("latin-1").partition(";")
    if media.strip().lower() != "application/json":
        return False
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if not name:
            continue
        if name.strip().lower() != "charset" or value.strip().strip('"').lower() != "utf-8":
            return False
    return True


class StrictJsonBody:
    """ASGI middleware (Litestar `middleware=[DefineMiddleware(StrictJsonBody, max_body_bytes=N)]`)
    enforcing the rules of this module on the routes it wraps."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        content_type = b""
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit():
                    raise Problem("MALFORMED_REQUEST", detail="Content-Length is not a number")
                if int(value) > self.max_body_bytes:
                    raise Problem("BODY_TOO_LARGE")
            elif name == b"content-type":
                content_type = value
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client is gone: nothing to answer
            chunk: bytes = message.get("body", b"")  # type: ignore[assignment]
            size += len(chunk)
            if size > self.max_body_bytes:
                raise Problem("BODY_TOO_LARGE")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body:
            if not is_json_media_type(content_type):
                raise Problem("UNSUPPORTED_MEDIA_TYPE")
            check_json(body)
        # The body read once: Litestar's `Request.body()` (and `RawBody`) answer it from the
        # scope without reading the stream again; an app reading `receive` gets it replayed.
        ScopeState.from_scope(scope).body = body

        replayed = False

        async def replay() -> ReceiveMessage:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)
