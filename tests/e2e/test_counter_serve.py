"""`certsvc serve-counter`: the counter's pages in production, on their own listener, from
settings alone; the app listener (`certsvc serve`) never serves them."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import httpx
from litestar import Litestar
from litestar.testing import AsyncTestClient

from certsvc.server import free_port
from certsvc.synthetic import World


def _env(
    world: World, db_url: str, redis_url: str, master_key: bytes, lookup_key: bytes
) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("CERTSVC_")} | {
        "CERTSVC_DATABASE_URL": db_url,
        "CERTSVC_REDIS_URL": redis_url,
        "CERTSVC_MASTER_KEY": base64.b64encode(master_key).decode(),
        "CERTSVC_LOOKUP_KEY": base64.b64encode(lookup_key).decode(),
        "CERTSVC_JLIS_TRUST_FILE": str(world.trust_file),
        "CERTSVC_SHC_ISSUER": "https://vc.example.jp/issuer",
        "CERTSVC_KEY_DIR": str(world.key_dir),
        "CERTSVC_LOG_LEVEL": "WARNING",
    }


def test_serve_counter_needs_its_session_key(
    world: World, db_url: str, redis_url: str, master_key: bytes, lookup_key: bytes
) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "certsvc", "serve-counter"],
        env=_env(world, db_url, redis_url, master_key, lookup_key),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 2
    assert "CERTSVC_COUNTER_SESSION_KEY" in run.stderr
    assert "Traceback" not in run.stderr


def test_serve_counter_serves_the_pages_on_its_own_port(
    tmp_path: Path,
    world: World,
    db_url: str,
    redis_url: str,
    loaded_db: asyncpg.Pool,
    master_key: bytes,
    lookup_key: bytes,
) -> None:
    port = free_port()
    env = _env(world, db_url, redis_url, master_key, lookup_key) | {
        "CERTSVC_COUNTER_PORT": str(port),
        "CERTSVC_OPS_PORT": str(free_port()),
        "CERTSVC_COUNTER_SESSION_KEY": base64.b64encode(os.urandom(32)).decode(),
    }
    with subprocess.Popen(
        [sys.executable, "-m", "certsvc", "serve-counter"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    ) as server:
        try:
            page = None
            for _ in range(150):
                try:
                    page = httpx.get(f"http://127.0.0.1:{port}/sign-in", timeout=2)
                    break
                except httpx.TransportError:
                    if server.poll() is not None:
                        break
                    time.sleep(0.2)
            assert page is not None, server.stderr.read() if server.stderr else ""
            assert page.status_code == 200
            assert page.headers["content-type"].startswith("text/html")
            assert "script-src 'self'" in page.headers["content-security-policy"]
            assert "職員ID" in page.text
            # The same HTTP edges as every listener: at most 100 header fields.
            crowded = httpx.get(
                f"http://127.0.0.1:{port}/sign-in",
                headers={f"x-field-{n}": "1" for n in range(101)},
                timeout=5,
            )
            assert crowded.status_code == 431
            assert crowded.json()["code"] == "HEADERS_TOO_LARGE"
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)


async def test_the_app_listener_does_not_serve_the_counter(
    app_client: AsyncTestClient[Litestar],
) -> None:
    for path in ("/sign-in", "/issue", "/audit", "/terminal/enrol?token=x"):
        response = await app_client.get(path)
        assert (path, response.status_code) == (path, 404)


def test_card_sim_refuses_a_nonce_that_is_not_the_page_s(world: World, tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "certsvc", "card-sim", "--demo-dir", str(world.directory),
         "--card", "1", "--nonce", "not-a-nonce", "--out", str(tmp_path / "card.json")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert run.returncode == 2
    assert "--nonce" in run.stderr
    assert not (tmp_path / "card.json").exists()
