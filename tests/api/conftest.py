"""Fixtures for HTTP tests: settings on the session's real stores and a client of the app."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import asyncpg
import pytest
import redis.asyncio as redis_asyncio
from litestar import Litestar
from litestar.testing import AsyncTestClient

from certsvc.app import create_app
from certsvc.settings import Settings


@pytest.fixture
def settings(db_url: str, redis_url: str) -> Settings:
    return Settings(
        mode="test",
        database_url=db_url,
        redis_url=redis_url,
        master_key=secrets.token_bytes(32),
        lookup_key=secrets.token_bytes(32),
        terms_version="2026-04-01",
        shc_issuer="https://demo.certsvc.invalid/issuer",
        jlis_hierarchies=("synthetic",),
        db_pool_min=1,
        db_pool_max=4,
    )


@pytest.fixture
async def client(
    settings: Settings, db: asyncpg.Pool, redis_client: redis_asyncio.Redis
) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=create_app(settings)) as test_client:
        yield test_client
