"""`certsvc serve-kiosk`: the kiosk adapter in production from settings alone, on its own port,
answering only clients with a certificate from the center's CA."""

from __future__ import annotations

import base64
import os
import signal
import ssl
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import httpx
import pytest

from certsvc.server import free_port
from certsvc.synthetic import World
from kiosk_adapter import create_demo_tls


def test_serve_kiosk_requires_the_center_certificate(
    tmp_path: Path,
    world: World,
    db_url: str,
    redis_url: str,
    loaded_db: asyncpg.Pool,
    master_key: bytes,
    lookup_key: bytes,
) -> None:
    tls = create_demo_tls(tmp_path / "kiosk")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTSVC_")} | {
        "CERTSVC_DATABASE_URL": db_url,
        "CERTSVC_REDIS_URL": redis_url,
        "CERTSVC_MASTER_KEY": base64.b64encode(master_key).decode(),
        "CERTSVC_LOOKUP_KEY": base64.b64encode(lookup_key).decode(),
        "CERTSVC_JLIS_TRUST_FILE": str(world.trust_file),
        "CERTSVC_SHC_ISSUER": "https://vc.example.jp/issuer",
        "CERTSVC_KEY_DIR": str(world.key_dir),
        "CERTSVC_KIOSK_PORT": str(port),
        "CERTSVC_KIOSK_TLS_CERT": str(tls.server_cert),
        "CERTSVC_KIOSK_TLS_KEY": str(tls.server_key),
        "CERTSVC_KIOSK_CLIENT_CA": str(tls.center_ca),
        "CERTSVC_KIOSK_SESSION_KEY": base64.b64encode(os.urandom(32)).decode(),
        "CERTSVC_OPS_PORT": str(free_port()),
        "CERTSVC_LOG_LEVEL": "WARNING",
    }
    url = f"https://127.0.0.1:{port}/kiosk/v1/municipalities"
    center = ssl.create_default_context(cafile=str(tls.server_ca))
    center.load_cert_chain(str(tls.center_client_cert), str(tls.center_client_key))
    stranger = ssl.create_default_context(cafile=str(tls.server_ca))
    with subprocess.Popen(
        [sys.executable, "-m", "certsvc", "serve-kiosk"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    ) as server:
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    response = httpx.get(url, verify=center, timeout=2)
                    break
                except httpx.TransportError:
                    assert server.poll() is None, "serve-kiosk exited"
                    assert time.monotonic() < deadline
                    time.sleep(0.2)
            assert response.status_code == 200
            codes = {m["code"] for m in response.json()["municipalities"]}
            assert {"282022", "131016"} <= codes
            assert "011002" not in codes  # Sapporo offers no kiosk issuance
            with pytest.raises(httpx.TransportError):
                httpx.get(url, verify=stranger, timeout=2)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
