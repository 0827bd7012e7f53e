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
