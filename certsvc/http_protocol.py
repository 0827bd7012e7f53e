"""The HTTP/1.1 connection of every listener: uvicorn's httptools protocol with the limits it
lacks.

uvicorn parses headers without any bound on their size or number and waits for them forever, and
its `limit_concurrency` answers in plain text. This protocol, passed to uvicorn as
`http="certsvc.http_protocol:GuardedHttpProtocol"` (an import path, so that `uvicorn.run` with
workers uses it too), adds:

- a request head (request line and header fields) of at most `HEAD_MAX_BYTES` and
  `HEAD_MAX_FIELDS` fields, else `431 HEADERS_TOO_LARGE` and the connection closed;
- a head that must arrive within `HEAD_TIMEOUT_S` of the connection (or of the previous
  request's end), else `408 REQUEST_TIMEOUT` and the connection closed (slowloris);
- uvicorn's `limit_concurrency` (connections or requests in flight) answered as
  `503 SERVER_BUSY` problem+json with `Retry-After`;
- the ASGI extension `certsvc.disconnected`, a callable that tells the application whether the
  client hung up before its answer was written (uvicorn then drops the answer silently).
"""

from __future__ import annotations

import asyncio
import http
import weakref
from typing import Any

import msgspec
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from certsvc.errors import CATALOGUE, PROBLEM_CONTENT_TYPE, PROBLEM_TYPE_BASE
from certsvc.logs import new_request_id

HEAD_MAX_BYTES = 16 * 1024
"""Largest request head: the request line and every header field (RFC 9110 §5.4: 431)."""
HEAD_MAX_FIELDS = 100
"""Most header fields in one request."""
HEAD_TIMEOUT_S = 10.0
"""Seconds a client has to send a whole request head."""
BUSY_RETRY_AFTER_S = 1
"""`Retry-After` of a 503 at the concurrency limit."""

LINGER_S = 2.0
"""Seconds a refused connection's input is still read (and dropped) before it is closed."""

PROTOCOL_PATH = "certsvc.http_protocol:GuardedHttpProtocol"
"""What `uvicorn.Config(http=...)` and `uvicorn.run(http=...)` are given."""

DISCONNECTED_EXTENSION = "certsvc.disconnected"

_FIELD_OVERHEAD = 4  # ": " and CRLF of each header field


def problem_answer(code: str) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """`(status, headers, body)` of a problem+json answer made by the server itself (the
    application never saw the request)."""
    info = CATALOGUE[code]
    request_id = new_request_id()
    body = msgspec.json.encode(
        {
            "type": PROBLEM_TYPE_BASE + code.lower().replace("_", "-"),
            "title": info.title,
            "status": info.status,
            "code": code,
            "request_id": request_id,
        }
    )
    headers = [
        (b"content-type", PROBLEM_CONTENT_TYPE.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
        (b"x-request-id", request_id.encode()),
        (b"connection", b"close"),
    ]
    return info.status, headers, body


def _raw_answer(code: str) -> bytes:
    status, headers, body = problem_answer(code)
    lines = [f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}".encode()]
    lines += [name + b": " + value for name, value in headers]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


async def _busy(scope: Any, receive: Any, send: Any) -> None:
    """The ASGI app of a request over the concurrency limit."""
    status, headers, body = problem_answer("SERVER_BUSY")
    headers.append((b"retry-after", str(BUSY_RETRY_AFTER_S).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def _disconnected(ref: weakref.ReferenceType[Any]) -> bool:
    cycle = ref()
    return cycle is not None and bool(cycle.disconnected)


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with head limits, a head timeout and a problem+json 503."""

    head_max_bytes = HEAD_MAX_BYTES
    head_max_fields = HEAD_MAX_FIELDS
    head_timeout_s = HEAD_TIMEOUT_S

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        # uvicorn's own check would answer text/plain: the limit is applied here instead.
        self._concurrency_limit = self.limit_concurrency
        self.limit_concurrency = None
        self._in_head = True
        self._head_begun = False  # a request's first bytes parsed, its head not complete yet
        self._head_raw = 0  # bytes received while the head was incomplete
        self._head_size = 0  # request line + fields, as parsed
        self._head_fields = 0
        self._head_timer: asyncio.TimerHandle | None = None
        self._refused = False
        self._linger: asyncio.TimerHandle | None = None

    # --- the head timer ------------------------------------------------------------------------

    def _arm_head_timer(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.head_timeout_s, self._head_timed_out)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        if self._head_raw:
            self._refuse("REQUEST_TIMEOUT")
        else:
            self.transport.close()  # nothing started: an idle connection, closed quietly

    def _refuse(self, code: str) -> None:
        """Answer `code` on the connection itself and close it; nothing more is parsed. The close
        lingers (our side shut, what still arrives read and dropped for `LINGER_S`): closing a
        socket with unread input sends a reset, which can destroy the answer before the client
        reads it."""
        self._refused = True
        self._disarm_head_timer()
        if self.transport.is_closing():
            return
        self.transport.write(_raw_answer(code))
        if self.transport.can_write_eof():
            self.transport.write_eof()
            self._linger = self.loop.call_later(LINGER_S, self.transport.close)
        else:
            self.transport.close()

    # --- protocol and parser callbacks ---------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        if self._linger is not None:
            self._linger.cancel()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self._in_head:
            self._head_raw += len(data)
        super().data_received(data)
        # Bytes of a head still incomplete are all head: llhttp would buffer them without end.
        if self._in_head and not self._refused and self._head_raw > self.head_max_bytes:
            self._refuse("HEADERS_TOO_LARGE")
        # The head timer runs only for a head these bytes left incomplete: a head that came
        # whole (nearly every request) neither arms nor cancels one.
        if self._head_begun and not self._refused:
            self._arm_head_timer()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._head_begun = True
        self._head_size = 0
        self._head_fields = 0

    def on_url(self, url: bytes) -> None:
        if self._refused:
            return
        self._head_size += len(url)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._refused:
            return
        self._head_fields += 1
        self._head_size += len(name) + len(value) + _FIELD_OVERHEAD
        if self._head_fields > self.head_max_fields or self._head_size > self.head_max_bytes:
            self._refuse("HEADERS_TOO_LARGE")
            return
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if self._refused:
            return
        self._in_head = False
        self._head_begun = False
        self._head_raw = 0
        self._disarm_head_timer()
        limit = self._concurrency_limit
        busy = limit is not None and (len(self.connections) > limit or len(self.tasks) >= limit)
        app = self.app
        if busy:
            self.app = _busy
        try:
            super().on_headers_complete()
        finally:
            self.app = app
        cycle = self.cycle
        if cycle is not None and cycle.scope is self.scope:
            extensions: dict[str, Any] = self.scope.setdefault("extensions", {})
            if extensions is not None:
                # A weak reference: the scope belongs to the cycle, and a strong one would make
                # every request a reference cycle, left to the garbage collector (tail latency).
                ref = weakref.ref(cycle)
                extensions[DISCONNECTED_EXTENSION] = lambda: _disconnected(ref)

    def on_body(self, body: bytes) -> None:
        if self._refused:
            return
        super().on_body(body)

    def on_message_complete(self) -> None:
        if self._refused:
            return
        super().on_message_complete()
        self._in_head = True
        self._head_raw = 0
