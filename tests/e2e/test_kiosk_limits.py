"""The kiosk link's traffic limits (PROTOCOL.md "Traffic limits") and its strict JSON edges:
the center's overall ceiling shared by every node, the steps of one session, the per-person
limit, `application/json` only, no duplicate members."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import asyncpg
import msgspec
import pytest
import redis.asyncio as redis_asyncio

from certsvc.settings import Settings
from certsvc.synthetic import ResidentEntry, World
from tests.e2e.conftest import MovableClock
from tests.e2e.kiosk_flow import KioskClient, kiosk_client, preview, resident, start


def _problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    return body


@pytest.fixture
def limited_settings(world_settings: Settings) -> Settings:
    return msgspec.structs.replace(
        world_settings, kiosk_center_max_rps=6, kiosk_session_max_steps=4
    )


@pytest.fixture
async def two_nodes(
    limited_settings: Settings,
    loaded_db: asyncpg.Pool,
    redis_client: redis_asyncio.Redis,
    clock: MovableClock,
) -> AsyncIterator[tuple[KioskClient, KioskClient]]:
    """Two adapter processes' apps on the same Redis, at one fixed instant (one window)."""
    async with (
        kiosk_client(limited_settings, clock) as first,
        kiosk_client(limited_settings, clock) as second,
    ):
        yield first, second


async def test_kiosk_center_ceiling_is_shared_by_every_node(
    two_nodes: tuple[KioskClient, KioskClient],
) -> None:
    first, second = two_nodes
    answers = []
    for i in range(8):
        node = first if i % 2 == 0 else second
        answers.append(await node.get("/kiosk/v1/municipalities"))
    assert [a.status_code for a in answers[:6]] == [200] * 6
    for refused in answers[6:]:
        _problem(refused, 429, "KIOSK_CENTER_RATE_LIMITED")
        assert int(refused.headers["retry-after"]) >= 1


async def test_kiosk_center_ceiling_opens_again_in_the_next_second(
    two_nodes: tuple[KioskClient, KioskClient], clock: MovableClock
) -> None:
    first, _ = two_nodes
    for _ in range(6):
        assert (await first.get("/kiosk/v1/municipalities")).status_code == 200
    _problem(await first.get("/kiosk/v1/municipalities"), 429, "KIOSK_CENTER_RATE_LIMITED")
    clock.now = clock.now.replace(microsecond=0) + timedelta(seconds=1)
    assert (await first.get("/kiosk/v1/municipalities")).status_code == 200


async def test_kiosk_session_step_limit(
    limited_settings: Settings,
    loaded_db: asyncpg.Pool,
    redis_client: redis_asyncio.Redis,
    clock: MovableClock,
    world: World,
    resident_entries: dict[str, ResidentEntry],
) -> None:
    settings = msgspec.structs.replace(limited_settings, kiosk_center_max_rps=1000)
    async with kiosk_client(settings, clock) as client:
        started = await start(client)
        entry = resident(resident_entries)
        # A kiosk looping on a refused preview (another municipality each time, say).
        codes = []
        for _ in range(5):
            response = await preview(client, world, entry, started, municipality_code="999999")
            codes.append(response.json()["code"])
        assert codes[:4] == ["KIOSK_NOT_OFFERED"] * 4
        body = _problem(response, 429, "KIOSK_SESSION_STEP_LIMIT")
        assert body["status"] == 429
        assert int(response.headers["retry-after"]) >= 1
        # Another session is not affected.
        other = await start(client)
        ok = await preview(client, world, entry, other)
        assert ok.status_code == 200, ok.text


async def test_kiosk_steps_of_one_session_are_counted_on_every_node(
    two_nodes: tuple[KioskClient, KioskClient],
    world: World,
    resident_entries: dict[str, ResidentEntry],
) -> None:
    first, second = two_nodes
    started = await start(first)
    entry = resident(resident_entries)
    for node in (first, second, first, second):
        await preview(node, world, entry, started, municipality_code="999999")
    _problem(
        await preview(second, world, entry, started, municipality_code="999999"),
        429,
        "KIOSK_SESSION_STEP_LIMIT",  # the fifth step, on the node that saw only two
    )


@pytest.fixture
async def kiosk(
    world_settings: Settings,
    loaded_db: asyncpg.Pool,
    redis_client: redis_asyncio.Redis,
    clock: MovableClock,
) -> AsyncIterator[KioskClient]:
    async with kiosk_client(world_settings, clock) as client:
        yield client


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml", None]
)
async def test_kiosk_refuses_a_body_that_is_not_json(
    kiosk: KioskClient, content_type: str | None
) -> None:
    headers = {} if content_type is None else {"content-type": content_type}
    response = await kiosk.post("/kiosk/v1/sessions", content=b"{}", headers=headers)
    _problem(response, 415, "UNSUPPORTED_MEDIA_TYPE")


async def test_kiosk_refuses_duplicate_members(
    kiosk: KioskClient, world: World, resident_entries: dict[str, ResidentEntry]
) -> None:
    started = await start(kiosk)
    body = json.dumps({"municipality_code": "282022"})
    spoiled = body[:-1] + ', "municipality_code": "131016"}'
    response = await kiosk.post(
        "/kiosk/v1/sessions", content=spoiled, headers={"content-type": "application/json"}
    )
    _problem(response, 400, "JSON_DUPLICATE_KEY")
    del started


async def test_kiosk_a_405_names_the_allowed_methods(kiosk: KioskClient) -> None:
    response = await kiosk.get("/kiosk/v1/sessions")
    _problem(response, 405, "METHOD_NOT_ALLOWED")
    assert "POST" in response.headers["allow"]
