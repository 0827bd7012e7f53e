"""Fuzzing each JSON listener from its own OpenAPI (schemathesis), on a real uvicorn on
127.0.0.1 with the real stores: no server error, every status documented, every error
problem+json with a code of the README's table (and of the operation's documented codes), every
answer of the documented shape. Bounded: `EXAMPLES` valid and `EXAMPLES` invalid requests per
operation, the same ones on every run (derandomised)."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import hypothesis
import msgspec
import pytest
import redis.asyncio as redis_asyncio
import requests
import schemathesis
import uvicorn
from hypothesis import HealthCheck, Phase
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.result import Err

from certsvc.app import create_app
from certsvc.server import ListenerSpec, _config, free_port
from certsvc.settings import Settings
from kiosk_adapter import create_demo_tls, create_kiosk_app, kiosk_listener
from tests.conftest import WORLD_NOW
from tests.e2e.conftest import MovableClock

EXAMPLES = 150
README = Path(__file__).resolve().parents[2] / "README.md"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


def _readme_codes() -> set[str]:
    text = README.read_text(encoding="utf-8")
    return set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \| \d{3} \|", text, re.M))


class _Listener:
    """One listener served by uvicorn in a thread (its own event loop, as in production)."""

    def __init__(self, spec: ListenerSpec) -> None:
        self.server = uvicorn.Server(_config(spec, "ERROR"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> _Listener:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the listener did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(15)


def _fuzz(base_url: str, session: requests.Session, stats: dict[str, int], **call: Any) -> None:
    document = session.get(f"{base_url}/schema/openapi.json", timeout=10).json()
    schema = schemathesis.openapi.from_dict(document)
    readme = _readme_codes()

    def problem_codes(case: Any, response: Any) -> None:
        status = response.status_code
        stats["requests"] += 1
        stats[f"{status // 100}xx"] = stats.get(f"{status // 100}xx", 0) + 1
        if status < 400:
            return
        headers = {name.lower(): values[0] for name, values in response.headers.items()}
        assert headers["content-type"] == "application/problem+json", response.text
        body = response.json()
        assert body["code"] in readme, body["code"]
        assert body["status"] == status
        assert body["request_id"] == headers["x-request-id"]

    operations = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()  # the document itself does not load: a failure, not a skip
        operations.append(result.ok())
    assert len(operations) >= 5
    for operation in operations:
        spec = document["paths"][operation.path][operation.method.lower()]
        # Invalid inputs exist only for bodies here: the path parameters are free strings.
        has_body = "requestBody" in spec
        modes = [GenerationMode.POSITIVE, *([GenerationMode.NEGATIVE] if has_body else [])]
        for mode in modes:

            @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
            @hypothesis.settings(
                max_examples=EXAMPLES,
                derandomize=True,
                database=None,
                deadline=None,
                phases=[Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            def run(case: Any) -> None:
                response = case.call(base_url=base_url, session=session, timeout=10, **call)
                problem_codes(case, response)
                case.validate_response(response, checks=CHECKS)

            run()


@pytest.fixture
def fuzz_settings(world_settings: Settings) -> Settings:
    # The center's ceiling would answer most fuzzing with 429: raised, so that the steps behind
    # it are reached (the ceiling has its own tests).
    return msgspec.structs.replace(
        world_settings, kiosk_center_max_rps=100_000, rate_client_per_minute=100_000
    )


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        s.trust_env = False  # no proxy, no CA bundle from the environment: the test's own only
        yield s


def test_app_listener_survives_fuzzing_of_its_openapi(
    fuzz_settings: Settings,
    loaded_db: asyncpg.Pool,
    redis_client: redis_asyncio.Redis,
    session: requests.Session,
) -> None:
    port = free_port()
    spec = ListenerSpec(
        create_app(fuzz_settings, clock=MovableClock()), host="127.0.0.1", port=port, name="api"
    )
    stats: dict[str, int] = {"requests": 0}
    with _Listener(spec):
        _fuzz(f"http://127.0.0.1:{port}", session, stats)
        session.close()  # no keep-alive connection left for the server's shutdown
    print("app listener:", stats)  # noqa: T201
    assert stats["requests"] >= EXAMPLES * 4
    assert stats.get("4xx", 0) > 0


def test_kiosk_listener_survives_fuzzing_of_its_openapi(
    fuzz_settings: Settings,
    loaded_db: asyncpg.Pool,
    redis_client: redis_asyncio.Redis,
    session: requests.Session,
    tmp_path: Path,
) -> None:
    tls = create_demo_tls(tmp_path / "kiosk", now=WORLD_NOW)
    settings = msgspec.structs.replace(
        fuzz_settings,
        kiosk_port=free_port(),
        kiosk_tls_cert=tls.server_cert,
        kiosk_tls_key=tls.server_key,
        kiosk_client_ca=tls.center_ca,
    )
    spec = kiosk_listener(
        create_kiosk_app(settings, clock=MovableClock()), settings, host="127.0.0.1"
    )
    session.cert = (str(tls.center_client_cert), str(tls.center_client_key))
    session.verify = str(tls.server_ca)
    stats: dict[str, int] = {"requests": 0}
    with _Listener(spec):
        _fuzz(
            f"https://127.0.0.1:{settings.kiosk_port}",
            session,
            stats,
            verify=str(tls.server_ca),
            cert=session.cert,
        )
        session.close()  # no keep-alive connection left for the server's shutdown
    print("kiosk listener:", stats)  # noqa: T201
    assert stats["requests"] >= EXAMPLES * 4
    assert stats.get("4xx", 0) > 0
