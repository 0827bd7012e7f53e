"""Several kiosk adapter nodes: any node serves any step of a session, because the state lives
in Redis and every node opens the others' sealed tokens with the shared session key."""

from __future__ import annotations

import os

import asyncpg
import msgspec
import redis.asyncio as redis_asyncio

from certsvc.settings import Settings
from certsvc.synthetic import ResidentEntry, World
from tests.e2e.conftest import MovableClock
from tests.e2e.kiosk_flow import confirm, kiosk_client, preview, print_result, resident, start


async def test_kiosk_steps_on_alternating_nodes_complete_a_session(
    world_settings: Settings,
    loaded_db: asyncpg.Pool,
    redis_client: redis_asyncio.Redis,
    clock: MovableClock,
    world: World,
    resident_entries: dict[str, ResidentEntry],
) -> None:
    entry = resident(resident_entries, "282022", index=2)
    stranger_settings = msgspec.structs.replace(world_settings, kiosk_session_key=os.urandom(32))
    async with (
        kiosk_client(world_settings, clock) as node_a,
        kiosk_client(world_settings, clock) as node_b,
        kiosk_client(stranger_settings, clock) as stranger,
    ):
        started = await start(node_a)
        previewed = await preview(node_b, world, entry, started)
        assert previewed.status_code == 200, previewed.text
        shown = previewed.json()
        # a node with another session key cannot open this session's token
        refused = await confirm(stranger, shown)
        assert refused.status_code == 403
        assert refused.json()["code"] == "KIOSK_TOKEN_INVALID"
        confirmed = await confirm(node_a, shown, idempotency_key="alternating-nodes-0001")
        assert confirmed.status_code == 201, confirmed.text
        retried = await confirm(node_b, shown, idempotency_key="alternating-nodes-0001")
        assert retried.status_code == 200, retried.text
        assert retried.json()["documents"] == confirmed.json()["documents"]
        done = await print_result(node_b, shown)
        assert done.status_code == 200, done.text
        assert done.json()["state"] == "COMPLETED"
