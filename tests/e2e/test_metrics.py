"""Metrics and the operations listener: counts with the right labels after an issuance, no
personal data in the exposition, and /health, /ready, /metrics on the loopback operations
listener of `serve` (one worker and several) and of `serve-kiosk`."""

from __future__ import annotations

import base64
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import httpx
import redis.asyncio as redis_asyncio
from litestar import Litestar
from litestar.testing import AsyncTestClient
from prometheus_client import REGISTRY

from certsvc.ops import create_ops_app, exposition
from certsvc.server import free_port
from certsvc.settings import Settings
from certsvc.synthetic import ResidentEntry, World
from kiosk_adapter import create_demo_tls
from tests.conftest import WORLD_NOW
from tests.e2e.app_flow import request_certificate
from vrs_client.synthetic import SyntheticResident

AMAGASAKI = "282022"


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_metrics_count_an_issuance_and_a_refusal_without_personal_data(
    app_client: AsyncTestClient[Litestar],
    world: World,
    resident_entries: dict[str, ResidentEntry],
    residents: list[SyntheticResident],
) -> None:
    entry = next(e for e in resident_entries.values() if e.municipality_code == AMAGASAKI)
    person = next(r for r in residents if r.address_number == entry.address_number)
    issued_label = {"channel": "app", "kind": "domestic", "outcome": "issued"}
    route = {"route": "/v1/app/certificates", "method": "POST"}
    before_issued = sample("certsvc_issuances_total", **issued_label)
    before_201 = sample("certsvc_http_requests_total", **route, status="201")
    refusals = "certsvc_issuance_refusals_total"
    before_refused = sample(refusals, channel="app", code="NO_VACCINATIONS")
    before_latency = sample("certsvc_http_request_duration_seconds_count", **route)

    response = await request_certificate(app_client, world, entry, now=WORLD_NOW)
    assert response.status_code == 201, response.text
    certificate = response.json()["certificates"][0]
    # A valid code of a municipality where this resident has no record.
    other = next(e for e in resident_entries.values() if e.municipality_code != AMAGASAKI)
    refused = await request_certificate(
        app_client, world, entry, now=WORLD_NOW, municipality_code=other.municipality_code
    )
    assert refused.status_code == 422, refused.text
    refusal_code = refused.json()["code"]
    # A raw path with a My Number in it must never become a label.
    assert (await app_client.get(f"/v1/persons/{person.my_number}")).status_code == 404

    assert sample("certsvc_issuances_total", **issued_label) == before_issued + 1
    assert sample("certsvc_http_requests_total", **route, status="201") == before_201 + 1
    assert sample("certsvc_http_request_duration_seconds_count", **route) == before_latency + 2
    assert sample("certsvc_issuance_refusals_total", channel="app", code=refusal_code) >= 1
    if refusal_code == "NO_VACCINATIONS":
        assert sample("certsvc_issuance_refusals_total", channel="app", code="NO_VACCINATIONS") == (
            before_refused + 1
        )
    assert sample("certsvc_problems_total", code=refusal_code, status="422") >= 1
    assert sample("certsvc_http_requests_total", route="unmatched", method="GET", status="404") >= 1
    assert sample("certsvc_db_pool_connections", state="open") >= 1

    text = exposition().decode()
    holder = certificate["holder"]
    for secret in (
        person.my_number,
        entry.address_number,
        holder["name"],
        holder["birth_date"],
        certificate["certificate_id"],
        *holder["name"].split("\u3000"),
    ):
        assert secret not in text, secret
    labels = re.findall(r'="([^"]*)"', text)
    assert labels
    assert not [v for v in labels if re.search(r"\d{8}", v)], "a long digit run in a label"
    routes = set(re.findall(r'route="([^"]*)"', text))
    assert routes >= {"/v1/app/certificates", "unmatched"}
    assert not any(route.startswith("/v1/persons") for route in routes)


async def test_metrics_on_the_demo_app_listener(
    world_settings: Settings, loaded_db: asyncpg.Pool, redis_client: redis_asyncio.Redis
) -> None:
    from certsvc.app import create_app
    from certsvc.ops import metrics_route

    app = create_app(world_settings)
    app.register(metrics_route())
    async with AsyncTestClient(app=app) as client:
        await client.get("/v1/municipalities")
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert 'certsvc_http_requests_total{method="GET",route="/v1/municipalities"' in response.text


async def test_ops_ready_names_the_store_that_does_not_answer(world_settings: Settings) -> None:
    down = free_port()
    settings = Settings(
        **{
            **{f: getattr(world_settings, f) for f in world_settings.__struct_fields__},
            "redis_url": f"redis://127.0.0.1:{down}/0",
        }
    )
    async with AsyncTestClient(app=create_ops_app(settings)) as client:
        assert (await client.get("/health")).json() == {"status": "ok"}
        ready = await client.get("/ready")
        metrics = await client.get("/metrics")
    assert ready.status_code == 503
    assert ready.json()["code"] == "NOT_READY"
    assert ready.json()["failing"] == ["redis"]
    assert 'certsvc_dependency_up{dependency="redis"} 0.0' in metrics.text
    assert 'certsvc_dependency_up{dependency="postgres"} 1.0' in metrics.text


@contextmanager
def running(args: list[str], env: dict[str, str], probe: str) -> Iterator[None]:
    with subprocess.Popen(
        [sys.executable, "-m", "certsvc", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    ) as server:
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    httpx.get(probe, timeout=2)
                    break
                except httpx.TransportError:
                    assert server.poll() is None, server.stderr.read() if server.stderr else ""
                    assert time.monotonic() < deadline
                    time.sleep(0.2)
            yield
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)


def _env(
    world: World, db_url: str, redis_url: str, master_key: bytes, lookup_key: bytes
) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("CERTSVC_")} | {
        **world.env(),
        "CERTSVC_JLIS_HIERARCHIES": "production",
        "CERTSVC_DATABASE_URL": db_url,
        "CERTSVC_REDIS_URL": redis_url,
        "CERTSVC_MASTER_KEY": base64.b64encode(master_key).decode(),
        "CERTSVC_LOOKUP_KEY": base64.b64encode(lookup_key).decode(),
        "CERTSVC_SHC_ISSUER": "https://vc.example.jp/issuer",
        "CERTSVC_TERMS_VERSION": "2026-04-01",
        "CERTSVC_LOG_LEVEL": "WARNING",
    }


def _requests_of(text: str, route: str) -> float:
    pattern = rf'certsvc_http_requests_total\{{[^}}]*route="{re.escape(route)}"[^}}]*\}} (\S+)'
    return sum(float(v) for v in re.findall(pattern, text))


def test_serve_with_two_workers_sums_metrics_on_the_ops_listener(
    world: World,
    db_url: str,
    redis_url: str,
    loaded_db: asyncpg.Pool,
    master_key: bytes,
    lookup_key: bytes,
) -> None:
    port, ops = free_port(), free_port()
    env = _env(world, db_url, redis_url, master_key, lookup_key) | {
        "CERTSVC_PORT": str(port),
        "CERTSVC_OPS_PORT": str(ops),
        "CERTSVC_WORKERS": "2",
    }
    base, ops_base = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{ops}"
    with running(["serve"], env, f"{base}/health"):
        for _ in range(20):  # new connections: both workers get some
            assert httpx.get(f"{base}/v1/municipalities", timeout=5).status_code == 200
        assert httpx.get(f"{ops_base}/health", timeout=5).json() == {"status": "ok"}
        assert httpx.get(f"{ops_base}/ready", timeout=5).json() == {"status": "ready"}
        # A worker counts a request just after its answer is sent: give the last one a moment.
        deadline = time.monotonic() + 10
        while True:
            text = httpx.get(f"{ops_base}/metrics", timeout=5).text
            if _requests_of(text, "/v1/municipalities") >= 20 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert _requests_of(text, "/v1/municipalities") == 20
        assert 'certsvc_dependency_up{dependency="postgres"} 1.0' in text
        # The app listener faces the internet: no metrics there.
        assert httpx.get(f"{base}/metrics", timeout=5).status_code == 404


def test_serve_kiosk_answers_health_and_ready_on_the_ops_listener(
    tmp_path: Path,
    world: World,
    db_url: str,
    redis_url: str,
    loaded_db: asyncpg.Pool,
    master_key: bytes,
    lookup_key: bytes,
) -> None:
    tls = create_demo_tls(tmp_path / "kiosk")
    ops = free_port()
    env = _env(world, db_url, redis_url, master_key, lookup_key) | {
        "CERTSVC_KIOSK_PORT": str(free_port()),
        "CERTSVC_KIOSK_TLS_CERT": str(tls.server_cert),
        "CERTSVC_KIOSK_TLS_KEY": str(tls.server_key),
        "CERTSVC_KIOSK_CLIENT_CA": str(tls.center_ca),
        "CERTSVC_KIOSK_SESSION_KEY": base64.b64encode(os.urandom(32)).decode(),
        "CERTSVC_OPS_PORT": str(ops),
    }
    ops_base = f"http://127.0.0.1:{ops}"
    with running(["serve-kiosk"], env, f"{ops_base}/health"):
        assert httpx.get(f"{ops_base}/health", timeout=5).json() == {"status": "ok"}
        assert httpx.get(f"{ops_base}/ready", timeout=5).json() == {"status": "ready"}
        text = httpx.get(f"{ops_base}/metrics", timeout=5).text
        assert "certsvc_dependency_up" in text
        assert "certsvc_http_requests_total" in text
