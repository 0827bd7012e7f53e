"""Privacy: a canary resident goes through every endpoint, success and refusals; then the logs,
every Redis key and value, and a dump of the database are searched for the canary's My Number,
name and passport number in plaintext. Faults: a store that stops gives 503 and leaves nothing
half written, and the service resumes when it comes back."""

from __future__ import annotations

import io
from typing import Any

import asyncpg
import pytest
import redis.asyncio as redis_asyncio
from litestar import Litestar
from litestar.testing import AsyncTestClient

import mrz
from certsvc.embedded import EmbeddedStores
from certsvc.logs import configure_logging
from certsvc.synthetic import ResidentEntry, World
from tests.conftest import TEST_DATABASE, WORLD_NOW
from tests.e2e.app_flow import certificate_request, new_challenge, request_certificate
from vrs_client.synthetic import SyntheticResident


def _canary(
    entries: dict[str, ResidentEntry], residents: list[SyntheticResident]
) -> tuple[ResidentEntry, SyntheticResident]:
    entry = next(
        e for e in entries.values() if e.municipality_code == "282022" and e.status == "resident"
    )
    person = next(r for r in residents if r.address_number == entry.address_number)
    return entry, person


async def _redis_dump(client: redis_asyncio.Redis) -> bytes:
    out = []
    async for key in client.scan_iter(count=1000):
        out.append(key)
        if await client.type(key) == b"string":
            value = await client.get(key)
            out.append(value or b"")
        assert await client.ttl(key) > 0, "every Redis key has a TTL"
    return b"\n".join(out)


def _needs_embedded_postgres(embedded: EmbeddedStores | None) -> EmbeddedStores:
    if embedded is None or embedded.postgres is None:
        pytest.skip("PostgreSQL is an external server (URL given): pg_dump is taken here only")
    return embedded


async def test_canary_leaves_no_plaintext_in_logs_redis_or_database(
    app_client: AsyncTestClient[Litestar],
    world: World,
    resident_entries: dict[str, ResidentEntry],
    residents: list[SyntheticResident],
    redis_client: redis_asyncio.Redis,
    embedded: EmbeddedStores | None,
) -> None:
    stores = _needs_embedded_postgres(embedded)
    entry, person = _canary(resident_entries, residents)
    passport_number = mrz.parse_td3(entry.passport_mrz, today=WORLD_NOW.date()).document_number
    log = io.StringIO()
    configure_logging("DEBUG", stream=log)
    answers: list[str] = []
    try:
        for kind in ("domestic", "abroad"):
            r = await request_certificate(app_client, world, entry, now=WORLD_NOW, kind=kind)
            assert r.status_code == 201
        refusals: list[dict[str, Any]] = [
            {"terms_version": "old"},
            {"attestation": None},
            {"municipality_code": "131016"},
        ]
        for change in refusals:
            body = certificate_request(world, entry, await new_challenge(app_client), now=WORLD_NOW)
            body.update(change)
            if body.get("attestation") is None:
                del body["attestation"]
            r = await app_client.post("/v1/app/certificates", json=body)
            assert r.status_code >= 400
            answers.append(r.text)
        body = certificate_request(
            world, entry, await new_challenge(app_client), now=WORLD_NOW, kind="abroad"
        )
        body["passport"]["mrz"][1] = body["passport"]["mrz"][1][:-1] + "0"
        r = await app_client.post("/v1/app/certificates", json=body)
        answers.append(r.text)
        public = ("/v1/municipalities", "/issuer/.well-known/jwks.json", "/ready", "/health")
        answers.extend([(await app_client.get(path)).text for path in public])
    finally:
        configure_logging("WARNING")

    secrets_ = {
        "my_number": person.my_number,
        "name": person.name,
        "passport": passport_number,
        "mrz_line": entry.passport_mrz[1],
    }
    logs = log.getvalue()
    assert "request" in logs  # the capture worked: access lines were written
    redis_text = (await _redis_dump(redis_client)).decode("latin-1")
    dump = stores.postgres.pg_dump(TEST_DATABASE).decode("utf-8") if stores.postgres else ""
    assert "COPY public.persons" in dump  # the dump holds the tables
    for what, value in secrets_.items():
        assert value not in logs, f"{what} in the logs"
        assert value.encode().decode("latin-1") not in redis_text, f"{what} in Redis"
        assert value not in dump, f"{what} in the database"
        for answer in answers:
            assert value not in answer, f"{what} in an error or public answer"


async def test_redis_down_gives_503_then_the_service_resumes(
    app_client: AsyncTestClient[Litestar], embedded: EmbeddedStores | None
) -> None:
    if embedded is None or embedded.redis is None:
        pytest.skip("Redis is an external server (URL given): this test stops the server")
    embedded.redis.pause()
    try:
        response = await app_client.post("/v1/app/challenges")
        assert response.status_code == 503
        assert response.json()["code"] == "DEPENDENCY_UNAVAILABLE"
        assert response.headers["retry-after"]
    finally:
        embedded.redis.resume()
    response = await app_client.post("/v1/app/challenges")
    assert response.status_code == 201


async def test_postgres_down_gives_503_writes_nothing_then_resumes(
    app_client: AsyncTestClient[Litestar],
    world: World,
    resident_entries: dict[str, ResidentEntry],
    residents: list[SyntheticResident],
    loaded_db: asyncpg.Pool,
    embedded: EmbeddedStores | None,
) -> None:
    stores = _needs_embedded_postgres(embedded)
    assert stores.postgres is not None
    entry, _ = _canary(resident_entries, residents)
    body = certificate_request(world, entry, await new_challenge(app_client), now=WORLD_NOW)
    stores.postgres.pause()
    try:
        response = await app_client.post("/v1/app/certificates", json=body)
        assert response.status_code == 503
        assert response.json()["code"] == "DEPENDENCY_UNAVAILABLE"
    finally:
        stores.postgres.resume()
        # The session's own pool still holds the connections the restart cut.
        await loaded_db.expire_connections()
    async with loaded_db.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM issuances") == 0
    response = await request_certificate(app_client, world, entry, now=WORLD_NOW)
    assert response.status_code == 201, response.text
