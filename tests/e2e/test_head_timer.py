"""The head timeout on a kept-alive connection: the timer runs only for a head that arrived
incomplete (certsvc.http_protocol), so a second request whose head stalls is still answered
408 and closed, after a first request that came whole."""

from __future__ import annotations

import asyncio

from tests.e2e.test_http_limits import _answer, _parse, _problem, api

__all__ = ["api"]  # the listener fixture, shared with the other limit tests


async def test_a_stalled_second_head_on_a_kept_alive_connection_is_answered_408(api: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", api)
    try:
        writer.write(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        await writer.drain()
        status, headers, _ = await _answer(reader)
        assert status == 200
        assert headers.get("connection", "").lower() != "close"
        # The next head starts and stops half-way: no more bytes come.
        writer.write(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Half")
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), 20)  # until the server closes
    finally:
        writer.close()
    assert raw, "the server closed the stalled connection without an answer"
    _problem(_parse(raw), 408, "REQUEST_TIMEOUT")
