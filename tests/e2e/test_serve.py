"""`certsvc serve`: production from settings alone. It serves the API, and it refuses the
synthetic J-LIS hierarchy that the demo and the tests use: a synthetic card gets no certificate
from a production process."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx

from certsvc.server import free_port
from certsvc.synthetic import ResidentEntry, World, card_json, load_card


def test_serve_answers_and_refuses_synthetic_cards(
    world: World,
    resident_entries: dict[str, ResidentEntry],
    db_url: str,
    redis_url: str,
    loaded_db: asyncpg.Pool,
    master_key: bytes,
    lookup_key: bytes,
    tmp_path: Path,
) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTSVC_")} | {
        **world.env(),
        "CERTSVC_JLIS_HIERARCHIES": "production",  # what production runs with
        "CERTSVC_DATABASE_URL": db_url,
        "CERTSVC_REDIS_URL": redis_url,
        "CERTSVC_MASTER_KEY": base64.b64encode(master_key).decode(),
        "CERTSVC_LOOKUP_KEY": base64.b64encode(lookup_key).decode(),
        "CERTSVC_SHC_ISSUER": "https://vc.example.jp/issuer",
        "CERTSVC_TERMS_VERSION": "2026-04-01",
        "CERTSVC_PORT": str(port),
        "CERTSVC_OPS_PORT": str(free_port()),
        "CERTSVC_LOG_LEVEL": "WARNING",
    }
    base = f"http://127.0.0.1:{port}"
    entry = next(e for e in resident_entries.values() if e.municipality_code == "282022")
    with subprocess.Popen(
        [sys.executable, "-m", "certsvc", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    ) as server:
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    ready = httpx.get(f"{base}/ready", timeout=2)
                    break
                except httpx.TransportError:
                    assert server.poll() is None, "serve exited"
                    assert time.monotonic() < deadline
                    time.sleep(0.2)
            assert ready.status_code == 200
            assert httpx.get(f"{base}/issuer/.well-known/jwks.json").status_code == 200
            challenge = httpx.post(f"{base}/v1/app/challenges").json()
            nonce = base64.urlsafe_b64decode(
                challenge["nonce"] + "=" * (-len(challenge["nonce"]) % 4)
            )
            card = load_card(world.directory, entry)
            body = {
                "terms_version": "2026-04-01",
                "challenge_id": challenge["challenge_id"],
                "attestation": world.authority().mint(
                    nonce=challenge["nonce"],
                    audience=world.audience,
                    app_id=world.app_id,
                    app_version=world.app_version,
                    now=datetime.now(UTC),
                ),
                "card": card_json(card, card.sign_challenge(nonce)),
                "municipality_code": entry.municipality_code,
                "kind": "domestic",
            }
            refused = httpx.post(f"{base}/v1/app/certificates", json=body, timeout=10)
            assert refused.status_code == 422
            assert refused.json()["code"] == "CARD_HIERARCHY_NOT_ALLOWED"
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
