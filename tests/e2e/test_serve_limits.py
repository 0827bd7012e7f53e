"""`certsvc serve` and `serve-kiosk` run uvicorn with workers (`uvicorn.run`): the HTTP limits
and the strict bodies apply there too, not only to the demo's in-process listeners."""

from __future__ import annotations

import argparse
import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from certsvc.http_protocol import PROTOCOL_PATH
from certsvc.server import free_port
from certsvc.synthetic import World
from kiosk_adapter import create_demo_tls


def _raw(port: int, request: bytes) -> tuple[int, dict[str, Any]]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), json.loads(body)


def test_serve_with_workers_applies_the_http_limits(
    world: World,
    db_url: str,
    redis_url: str,
    loaded_db: asyncpg.Pool,
    master_key: bytes,
    lookup_key: bytes,
) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTSVC_")} | {
        **world.env(),
        "CERTSVC_JLIS_HIERARCHIES": "production",
        "CERTSVC_DATABASE_URL": db_url,
        "CERTSVC_REDIS_URL": redis_url,
        "CERTSVC_MASTER_KEY": base64.b64encode(master_key).decode(),
        "CERTSVC_LOOKUP_KEY": base64.b64encode(lookup_key).decode(),
        "CERTSVC_SHC_ISSUER": "https://vc.example.jp/issuer",
        "CERTSVC_TERMS_VERSION": "2026-04-01",
        "CERTSVC_PORT": str(port),
        "CERTSVC_OPS_PORT": str(free_port()),
        "CERTSVC_WORKERS": "2",
        "CERTSVC_LOG_LEVEL": "WARNING",
    }
    base = f"http://127.0.0.1:{port}"
    with subprocess.Popen(
        [sys.executable, "-m", "certsvc", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    ) as server:
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert server.poll() is None, "serve exited"
                assert time.monotonic() < deadline
                time.sleep(0.2)
            fields = "".join(f"X-F{i}: v\r\n" for i in range(101))
            status, body = _raw(port, f"GET /health HTTP/1.1\r\nHost: x\r\n{fields}\r\n".encode())
            assert (status, body["code"]) == (431, "HEADERS_TOO_LARGE")
            refused = httpx.post(
                f"{base}/v1/app/certificates",
                content=b"{}",
                headers={"content-type": "text/plain"},
            )
            assert refused.status_code == 415
            assert refused.json()["code"] == "UNSUPPORTED_MEDIA_TYPE"
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)


def test_serve_kiosk_passes_the_protocol_and_the_limit_to_uvicorn(
    tmp_path: Path,
    world: World,
    db_url: str,
    redis_url: str,
    master_key: bytes,
    lookup_key: bytes,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import uvicorn

    from kiosk_adapter import serve

    tls = create_demo_tls(tmp_path / "kiosk")
    for name, value in {
        "CERTSVC_DATABASE_URL": db_url,
        "CERTSVC_REDIS_URL": redis_url,
        "CERTSVC_KIOSK_PORT": str(free_port()),
        "CERTSVC_OPS_PORT": str(free_port()),
        "CERTSVC_MASTER_KEY": base64.b64encode(master_key).decode(),
        "CERTSVC_LOOKUP_KEY": base64.b64encode(lookup_key).decode(),
        "CERTSVC_JLIS_TRUST_FILE": str(world.trust_file),
        "CERTSVC_SHC_ISSUER": "https://vc.example.jp/issuer",
        "CERTSVC_KEY_DIR": str(world.key_dir),
        "CERTSVC_KIOSK_TLS_CERT": str(tls.server_cert),
        "CERTSVC_KIOSK_TLS_KEY": str(tls.server_key),
        "CERTSVC_KIOSK_CLIENT_CA": str(tls.center_ca),
        "CERTSVC_KIOSK_SESSION_KEY": base64.b64encode(os.urandom(32)).decode(),
        "CERTSVC_HTTP_CONCURRENCY_LIMIT": "77",
    }.items():
        monkeypatch.setenv(name, value)
    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: seen.update(kw))
    assert serve.run(argparse.Namespace()) == 0
    assert seen["http"] == PROTOCOL_PATH
    assert seen["limit_concurrency"] == 77
