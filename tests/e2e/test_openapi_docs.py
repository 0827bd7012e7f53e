"""The API description of the app and kiosk listeners: complete (a request body for every
operation that takes one, every problem+json response with its codes, the real error shape,
security schemes), and its pages served from local assets (no CDN)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import redis.asyncio as redis_asyncio
from litestar import Litestar
from litestar.testing import AsyncTestClient

from certsvc.settings import Settings
from tests.e2e.conftest import MovableClock
from tests.e2e.kiosk_flow import KioskClient, kiosk_client

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture
async def kiosk(
    world_settings: Settings,
    loaded_db: asyncpg.Pool,
    redis_client: redis_asyncio.Redis,
    clock: MovableClock,
) -> AsyncIterator[KioskClient]:
    async with kiosk_client(world_settings, clock) as client:
        yield client


def _readme_codes() -> dict[str, int]:
    text = README.read_text(encoding="utf-8")
    return {
        code: int(status)
        for code, status in re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \| (\d{3}) \|", text, re.M)
    }


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


def _check_complete(document: dict[str, Any]) -> None:
    readme = _readme_codes()
    assert "Problem" in document["components"]["schemas"]
    for path, method, operation in _operations(document):
        label = f"{method.upper()} {path}"
        if method == "post":
            body = operation.get("requestBody")
            assert body is not None, f"{label} has no request body"
            assert body["content"]["application/json"]["schema"], label
        errors = {s: r for s, r in operation["responses"].items() if s[0] in "45"}
        assert "500" in errors, label
        assert "503" in errors, label
        for status, response in errors.items():
            assert list(response["content"]) == ["application/problem+json"], label
            schema = response["content"]["application/problem+json"]["schema"]
            assert schema["allOf"][0] == {"$ref": "#/components/schemas/Problem"}, label
            codes = schema["allOf"][1]["properties"]["code"]["enum"]
            assert codes, label
            for code in codes:
                assert readme.get(code) == int(status), f"{label}: {code} under {status}"
            if status in ("429", "503"):
                assert "Retry-After" in response["headers"], label


async def test_app_openapi_is_complete(app_client: AsyncTestClient[Litestar]) -> None:
    response = await app_client.get("/schema/openapi.json")
    assert response.status_code == 200
    document = response.json()
    _check_complete(document)
    certificates = document["paths"]["/v1/app/certificates"]["post"]
    schema = certificates["requestBody"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/CertificateRequest"}
    request = document["components"]["schemas"]["CertificateRequest"]
    assert request["additionalProperties"] is False
    assert {"terms_version", "challenge_id", "card", "municipality_code", "kind"} <= set(
        request["required"]
    )
    for status, code in [
        ("400", "JSON_DUPLICATE_KEY"),
        ("401", "ATTESTATION_MISSING"),
        ("409", "CHALLENGE_ALREADY_USED"),
        ("413", "BODY_TOO_LARGE"),
        ("415", "UNSUPPORTED_MEDIA_TYPE"),
        ("422", "CARD_DATA_SIGNATURE_INVALID"),
        ("429", "PERSON_RATE_LIMITED"),
        ("431", "HEADERS_TOO_LARGE"),
        ("503", "SERVER_BUSY"),
    ]:
        content = certificates["responses"][status]["content"]["application/problem+json"]
        assert code in content["schema"]["allOf"][1]["properties"]["code"]["enum"]
        assert content["examples"][code]["value"]["code"] == code
    challenge = document["paths"]["/v1/app/challenges"]["post"]["requestBody"]
    assert challenge["required"] is False


async def test_kiosk_openapi_is_complete_with_its_mutual_tls_scheme(kiosk: KioskClient) -> None:
    response = await kiosk.get("/schema/openapi.json")
    assert response.status_code == 200
    document = response.json()
    _check_complete(document)
    assert document["components"]["securitySchemes"]["centerCertificate"]["type"] == "mutualTLS"
    assert document["security"] == [{"centerCertificate": []}]
    confirm = document["paths"]["/kiosk/v1/sessions/{session_id}/confirm"]["post"]
    enum = confirm["responses"]["429"]["content"]["application/problem+json"]["schema"]
    assert {"KIOSK_CENTER_RATE_LIMITED", "KIOSK_SESSION_STEP_LIMIT", "PERSON_RATE_LIMITED"} <= set(
        enum["allOf"][1]["properties"]["code"]["enum"]
    )
    assert "ConfirmRequest" in document["components"]["schemas"]


@pytest.mark.parametrize("page", ["/schema/swagger", "/schema/redoc"])
async def test_api_pages_use_only_local_assets(
    app_client: AsyncTestClient[Litestar], page: str
) -> None:
    response = await app_client.get(page)
    assert response.status_code == 200
    html = response.text
    sources = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
    assert sources
    for source in sources:
        assert source.startswith("/schema/assets/"), source
        asset = await app_client.get(source)
        assert asset.status_code == 200, source
        assert len(asset.content) > 10_000, source
    assert "googleapis" not in html
    assert "cdn." not in html
