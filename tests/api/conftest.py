"""Fixtures for HTTP tests: a client of the app on the session's real stores."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
import redis.asyncio as redis_asyncio
from litestar import Litestar
from litestar.testing import AsyncTestClient

from certsvc.app import create_app
from certsvc.settings import Settings


@pytest.fixture
async def client(
    world_settings: Settings, db: asyncpg.Pool, redis_client: redis_asyncio.Redis
) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=create_app(world_settings)) as test_client:
        yield test_client
