"""Limits of every listener, against a real uvicorn on 127.0.0.1 with the service's protocol
(certsvc.http_protocol): head size and field count, the head timeout (slowloris), the
concurrency limit answered as problem+json, and a client hanging up logged as such."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
import redis.asyncio as redis_asyncio

from certsvc.app import create_app
from certsvc.http_protocol import PROTOCOL_PATH, GuardedHttpProtocol
from certsvc.server import ListenerSpec, _config, free_port, serve_until_stopped
from certsvc.settings import Settings

HEAD_TIMEOUT_S = 1.5


@pytest.fixture
async def api(
    world_settings: Settings,
    loaded_db: asyncpg.Pool,
    redis_client: redis_asyncio.Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[int]:
    """The app listener on a real uvicorn, a concurrency limit of 4 and a short head timeout
    (the default is 10 s; the class attribute is what the listener reads)."""
    monkeypatch.setattr(GuardedHttpProtocol, "head_timeout_s", HEAD_TIMEOUT_S)
    port = free_port()
    spec = ListenerSpec(
        create_app(world_settings), host="127.0.0.1", port=port, name="api", concurrency_limit=4
    )
    started = asyncio.Event()
    server = asyncio.create_task(
        serve_until_stopped([spec], log_level="ERROR", on_started=started.set)
    )
    await asyncio.wait_for(started.wait(), 10)
    try:
        yield port
    finally:
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(server, 10)


async def _answer(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of one answer (the server closes after an edge refusal)."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    body = await asyncio.wait_for(reader.readexactly(int(headers.get("content-length", "0"))), 10)
    return status, headers, body


async def _send(port: int, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        with contextlib.suppress(ConnectionError):
            writer.write(raw)
            await writer.drain()
        return await _answer(reader)
    finally:
        writer.close()


def _problem(answer: tuple[int, dict[str, str], bytes], status: int, code: str) -> dict[str, Any]:
    got, headers, body = answer
    assert got == status, body
    assert headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = json.loads(body)
    assert problem["code"] == code
    assert problem["status"] == status
    assert problem["request_id"] == headers["x-request-id"]
    return problem


def _get(*fields: str) -> bytes:
    return ("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n" + "".join(fields) + "\r\n").encode()


async def test_listener_uses_the_guarded_protocol() -> None:
    spec = ListenerSpec(object(), host="127.0.0.1", port=0, name="x")
    config = _config(spec, "ERROR")
    assert config.http == PROTOCOL_PATH
    assert config.limit_concurrency == 1000


async def test_headers_of_up_to_100_fields_and_16_kib_are_served(api: int) -> None:
    fields = [f"X-F{i}: {'v' * 100}\r\n" for i in range(98)]
    status, _, _ = await _send(api, _get(*fields))
    assert status == 200


async def test_more_than_100_header_fields_get_431(api: int) -> None:
    fields = [f"X-F{i}: v\r\n" for i in range(101)]
    _problem(await _send(api, _get(*fields)), 431, "HEADERS_TOO_LARGE")


async def test_5000_header_fields_get_431(api: int) -> None:
    fields = [f"X-F{i}: v\r\n" for i in range(5000)]
    _problem(await _send(api, _get(*fields)), 431, "HEADERS_TOO_LARGE")


async def test_a_header_over_16_kib_gets_431(api: int) -> None:
    _problem(await _send(api, _get(f"X-Big: {'a' * 17000}\r\n")), 431, "HEADERS_TOO_LARGE")


async def test_a_megabyte_of_headers_is_cut_off(api: int) -> None:
    # Sent in pieces: the server answers once 16 KiB are in, drops the rest and closes.
    reader, writer = await asyncio.open_connection("127.0.0.1", api)
    try:
        with contextlib.suppress(ConnectionError):
            writer.write(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ")
            for _ in range(256):
                writer.write(b"a" * 4096)
                await writer.drain()
                await asyncio.sleep(0)
        _problem(await _answer(reader), 431, "HEADERS_TOO_LARGE")
        assert await reader.read() == b""  # closed
    finally:
        writer.close()


async def test_slow_heads_are_closed_by_the_head_timeout(api: int) -> None:
    # A handful of slowloris clients: one header byte every 0.25 s, a head that would take
    # 60 s. Each is answered 408 and closed by the server while it is still sending.
    async def slowloris() -> tuple[bool, tuple[int, dict[str, str], bytes] | None]:
        reader, writer = await asyncio.open_connection("127.0.0.1", api)
        try:
            writer.write(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            drip = (b"X-Slow: " + b"s" * 200 + b"\r\n") * 1
            for i in range(4 * 60):
                if reader.at_eof() or writer.is_closing():
                    break
                try:
                    writer.write(drip[i % len(drip) : i % len(drip) + 1])
                    await writer.drain()
                except ConnectionError:
                    break
                with contextlib.suppress(TimeoutError):
                    data = await asyncio.wait_for(reader.read(1), 0.25)
                    if data:
                        rest = await reader.read()
                        return True, _parse(data + rest)
                    return True, None  # closed without a word
            return False, None
        finally:
            writer.close()

    results = await asyncio.gather(*(slowloris() for _ in range(5)))
    for closed, answer in results:
        assert closed, "the server kept a slow head open"
        assert answer is not None
        _problem(answer, 408, "REQUEST_TIMEOUT")


def _parse(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split(" ")[1]), headers, body


async def test_an_idle_connection_is_closed_quietly(api: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", api)
    try:
        assert await asyncio.wait_for(reader.read(), HEAD_TIMEOUT_S * 10) == b""
    finally:
        writer.close()


async def test_over_the_concurrency_limit_is_a_problem_503(api: int) -> None:
    # Four connections are the limit: with four open, a fifth request is told to retry.
    idle = [await asyncio.open_connection("127.0.0.1", api) for _ in range(4)]
    try:
        answer = await _send(api, _get())
        _problem(answer, 503, "SERVER_BUSY")
        assert answer[1]["retry-after"] == "1"
    finally:
        for _, writer in idle:
            writer.close()
    await asyncio.sleep(0.1)
    status, _, _ = await _send(api, _get("Connection: close\r\n"))
    assert status == 200


async def test_a_client_that_hangs_up_is_logged_as_disconnected(
    api: int, caplog: pytest.LogCaptureFixture
) -> None:
    # Half a certificate request, then the client is gone.
    reader, writer = await asyncio.open_connection("127.0.0.1", api)
    writer.write(
        b"POST /v1/app/certificates HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"terms_version"'
    )
    await writer.drain()
    caplog.set_level(logging.INFO, logger="certsvc.access")
    await asyncio.sleep(0.2)
    writer.close()
    for _ in range(100):
        records = [r for r in caplog.records if r.name == "certsvc.access"]
        if records:
            break
        await asyncio.sleep(0.05)
    (record,) = [r for r in caplog.records if r.name == "certsvc.access"]
    assert record.getMessage() == "client disconnected"
    assert record.status == 499  # type: ignore[attr-defined]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    del reader


async def test_an_answer_the_client_did_not_wait_for_is_logged_as_disconnected(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The whole request arrives, the client hangs up, then the handler answers: uvicorn drops
    # the answer silently; the access log says what happened instead of "200".
    import uvicorn
    from litestar import get

    from certsvc.app import CertsvcApp

    release = asyncio.Event()

    @get("/slow")
    async def slow() -> dict[str, str]:
        await release.wait()
        return {"status": "ok"}

    app = CertsvcApp(route_handlers=[slow], logging_config=None)
    port = free_port()
    server = uvicorn.Server(
        _config(ListenerSpec(app, host="127.0.0.1", port=port, name="t"), "ERROR")
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    caplog.set_level(logging.INFO, logger="certsvc.access")
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /slow HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        await writer.drain()
        while not server.server_state.tasks:  # the request is in the handler
            await asyncio.sleep(0.01)
        writer.close()
        while server.server_state.connections:  # the server saw the hang-up
            await asyncio.sleep(0.01)
        release.set()
        while server.server_state.tasks:
            await asyncio.sleep(0.01)
        (record,) = [r for r in caplog.records if r.name == "certsvc.access"]
        assert record.getMessage() == "client disconnected"
        assert record.status == 499  # type: ignore[attr-defined]
        assert record.answer_status == 200  # type: ignore[attr-defined]
        del reader
    finally:
        server.should_exit = True
        await serving
