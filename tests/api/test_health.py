"""GET /health and GET /ready (contracts §2), including stores that stop and come back."""

from __future__ import annotations

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from certsvc.embedded import EmbeddedStores


async def test_health_ok(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert len(response.headers["x-request-id"]) == 32


async def test_ready_ok(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


def _needs_embedded(embedded: EmbeddedStores | None, which: str) -> EmbeddedStores:
    if embedded is None or getattr(embedded, which) is None:
        pytest.skip(f"{which} is an external server (URL given): this test stops the server")
    return embedded


async def test_ready_not_ready_when_redis_stops_then_recovers(
    client: AsyncTestClient[Litestar], embedded: EmbeddedStores | None
) -> None:
    stores = _needs_embedded(embedded, "redis")
    assert stores.redis is not None
    stores.redis.pause()
    try:
        response = await client.get("/ready")
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/problem+json"
        body = response.json()
        assert body["code"] == "NOT_READY"
        assert body["failing"] == ["redis"]
        assert body["request_id"] == response.headers["x-request-id"]
    finally:
        stores.redis.resume()
    response = await client.get("/ready")
    assert response.status_code == 200


async def test_ready_not_ready_when_postgres_stops_then_recovers(
    client: AsyncTestClient[Litestar], embedded: EmbeddedStores | None, db: asyncpg.Pool
) -> None:
    stores = _needs_embedded(embedded, "postgres")
    assert stores.postgres is not None
    stores.postgres.pause()
    try:
        response = await client.get("/ready")
        assert response.status_code == 503
        assert response.json()["failing"] == ["postgres"]
    finally:
        stores.postgres.resume()
        await db.expire_connections()  # the session pool's connections were cut by the restart
    response = await client.get("/ready")
    assert response.status_code == 200


async def test_unknown_path_is_problem_json(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/no/such/thing")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "NOT_FOUND"
    assert response.headers["cache-control"] == "no-store"


async def test_wrong_method_is_problem_json(client: AsyncTestClient[Litestar]) -> None:
    response = await client.post("/health")
    assert response.status_code == 405
    assert response.json()["code"] == "METHOD_NOT_ALLOWED"


async def test_openapi_schema_is_served(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    assert "/ready" in response.json()["paths"]
