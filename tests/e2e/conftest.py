"""A client of the whole app on the loaded synthetic world, at the world's fixed time."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
import redis.asyncio as redis_asyncio
from litestar import Litestar
from litestar.testing import AsyncTestClient

from certsvc.app import create_app
from certsvc.settings import Settings
from certsvc.staff import StaffService
from tests.conftest import WORLD_NOW


class MovableClock:
    def __init__(self) -> None:
        self.now = WORLD_NOW

    def __call__(self):  # type: ignore[no-untyped-def]
        return self.now


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
async def app_client(
    world_settings: Settings,
    loaded_db: asyncpg.Pool,
    redis_client: redis_asyncio.Redis,
    clock: MovableClock,
) -> AsyncIterator[AsyncTestClient[Litestar]]:
    app = create_app(world_settings, clock=clock)
    async with AsyncTestClient(app=app) as client:
        yield client


# --- the city counter ---------------------------------------------------------------------------


@pytest.fixture
async def counter_client(
    world_settings: Settings,
    loaded_db: asyncpg.Pool,
    redis_client: redis_asyncio.Redis,
    clock: MovableClock,
) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """A client of the counter's pages (https, so that Secure cookies come back)."""
    from certsvc.counter import create_counter_app
    from tests.e2e.counter_flow import BASE_URL, COUNTER_KEY

    app = create_counter_app(world_settings, clock=clock, session_key=COUNTER_KEY)
    async with AsyncTestClient(app=app, base_url=BASE_URL) as client:
        client.follow_redirects = False
        yield client


@pytest.fixture
def staff(
    loaded_db: asyncpg.Pool,
    redis_client: redis_asyncio.Redis,
    lookup_key: bytes,
    clock: MovableClock,
) -> StaffService:
    """The staff accounts layer on the test's stores and clock."""
    from tests.e2e.counter_flow import staff_service

    return staff_service(loaded_db, redis_client, lookup_key, clock)
