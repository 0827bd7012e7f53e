"""The kiosk listener over real TLS (DESIGN §1.2 item 1): a client certificate from the center's
CA is required by the TLS layer; `certsvc kiosk-sim` drives a session through it."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import msgspec
import pytest
import redis.asyncio as redis_asyncio

from certsvc import cli
from certsvc.commands import kiosk_sim
from certsvc.server import free_port, serve_until_stopped
from certsvc.settings import Settings
from certsvc.synthetic import ResidentEntry, World
from kiosk_adapter import DemoTls, create_demo_tls, create_kiosk_app, kiosk_listener
from tests.conftest import WORLD_NOW
from tests.e2e.conftest import MovableClock


@pytest.fixture
async def listener(
    world: World,
    world_settings: Settings,
    loaded_db: asyncpg.Pool,
    redis_client: redis_asyncio.Redis,
    resident_entries: dict[str, ResidentEntry],
) -> AsyncIterator[tuple[str, DemoTls]]:
    """The adapter on a real uvicorn mTLS listener on 127.0.0.1; the demo TLS files are in
    `<world>/kiosk/`, where `certsvc kiosk-sim` looks for them."""
    tls = create_demo_tls(world.directory / kiosk_sim.TLS_DIR, now=WORLD_NOW)
    settings = msgspec.structs.replace(
        world_settings,
        kiosk_port=free_port(),
        kiosk_tls_cert=tls.server_cert,
        kiosk_tls_key=tls.server_key,
        kiosk_client_ca=tls.center_ca,
    )
    app = create_kiosk_app(settings, clock=MovableClock())
    spec = kiosk_listener(app, settings, host="127.0.0.1")
    started = asyncio.Event()
    server = asyncio.create_task(
        serve_until_stopped([spec], log_level="ERROR", on_started=started.set)
    )
    await asyncio.wait_for(started.wait(), 10)
    try:
        yield f"https://127.0.0.1:{settings.kiosk_port}", tls
    finally:
        # serve_until_stopped stops on SIGTERM (its own handler; nothing else sees it)
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(server, 10)


def _context(tls: DemoTls, cert: Path | None, key: Path | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(tls.server_ca))
    if cert is not None:
        context.load_cert_chain(str(cert), str(key))
    return context


def _exchange_blocking(url: str, context: ssl.SSLContext) -> bytes:
    host, port = url.removeprefix("https://").split(":")
    with (
        socket.create_connection((host, int(port)), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls_socket,
    ):
        tls_socket.sendall(
            b"GET /kiosk/v1/municipalities HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        chunks = []
        while chunk := tls_socket.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


async def _exchange(url: str, context: ssl.SSLContext) -> bytes:
    """A raw HTTP/1.1 request over TLS with the `ssl` module: the server's verdict on the client
    certificate arrives as an alert at the first read (TLS 1.3 sends it after the client's
    Finished), raised as `ssl.SSLError` with the alert's name."""
    return await asyncio.to_thread(_exchange_blocking, url, context)


def _handshake_blocking(url: str, context: ssl.SSLContext) -> str:
    host, port = url.removeprefix("https://").split(":")
    with (
        socket.create_connection((host, int(port)), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls_socket,
    ):
        return str(tls_socket.version())


async def test_kiosk_listener_requires_a_center_client_certificate(
    listener: tuple[str, DemoTls],
) -> None:
    url, tls = listener
    refused = {
        "no client certificate": (None, None),
        "a client certificate from another CA": (tls.other_client_cert, tls.other_client_key),
    }
    for cert, key in refused.values():
        # TLS 1.2: the server decides before its Finished, so the handshake itself fails.
        tls12 = _context(tls, cert, key)
        tls12.maximum_version = ssl.TLSVersion.TLSv1_2
        with pytest.raises(ssl.SSLError):
            await asyncio.to_thread(_handshake_blocking, url, tls12)
        # TLS 1.3: the client's side completes first; the server then drops the connection
        # without a byte of HTTP (asyncio does not flush the alert: EOF or an SSL error).
        try:
            answer = await _exchange(url, _context(tls, cert, key))
        except (ssl.SSLError, ConnectionError):
            answer = b""
        assert answer == b""
        # and as a center's HTTP client sees it
        async with httpx.AsyncClient(verify=_context(tls, cert, key)) as client:
            with pytest.raises(httpx.TransportError):
                await client.get(f"{url}/kiosk/v1/municipalities")

    right = _context(tls, tls.center_client_cert, tls.center_client_key)
    assert await asyncio.to_thread(_handshake_blocking, url, right) == "TLSv1.3"
    answer = await _exchange(url, right)
    assert answer.startswith(b"HTTP/1.1 200")
    assert b'"282022"' in answer


async def test_kiosk_sim_drives_a_session_over_mtls(
    listener: tuple[str, DemoTls],
    world: World,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, _ = listener
    argv = [
        "kiosk-sim",
        "--demo-dir",
        str(world.directory),
        "--url",
        url,
        "--municipality",
        "282022",
        "--kind",
        "abroad",
        "--copies",
        "2",
        "--out",
        str(tmp_path),
        "--domestic-fallback",
    ]
    # The command runs its own event loop: give it a thread.
    status = await asyncio.to_thread(cli.main, argv)
    out = capsys.readouterr().out
    assert status == 0, out
    for screen in ("[remove_card]", "[abroad_unavailable]", "[take_certificate]"):
        assert screen in out
    assert "マイナンバーカードをお取りください" in out
    assert "Please take your certificate" in out
    assert ": COMPLETED" in out
    saved = sorted(tmp_path.glob("*.pdf"))
    assert len(saved) == 2
    assert saved[0].read_bytes() == saved[1].read_bytes()
    assert saved[0].read_bytes().startswith(b"%PDF-")

    refused = await asyncio.to_thread(
        cli.main, [*argv[:5], "--municipality", "011002", "--out", str(tmp_path)]
    )
    assert refused == 1
    assert "KIOSK_NOT_OFFERED" in capsys.readouterr().out
