"""The service on a Redis Cluster (CERTSVC_REDIS_CLUSTER=true): 3 primaries with a replica each,
on loopback, from the same valkey-server binary. The app and kiosk flows run on it (every
script stays in one slot: no CROSSSLOT), and a primary killed mid-way has its replica promoted:
until then requests answer 503 DEPENDENCY_UNAVAILABLE (never 500), afterwards they succeed
again without a restart."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest
import redis.asyncio as redis_asyncio
import uvicorn
from litestar import Litestar
from litestar.testing import AsyncTestClient
from redis.asyncio.cluster import ClusterNode, RedisCluster

from certsvc import challenges, rate_limits
from certsvc.app import create_app
from certsvc.commands.kiosk_sim import run_kiosk_session
from certsvc.embedded_cluster import EmbeddedRedisCluster
from certsvc.server import free_port
from certsvc.settings import Settings
from certsvc.synthetic import ResidentEntry, World, load_card
from tests.conftest import WORLD_NOW
from tests.e2e.app_flow import certificate_request
from tests.e2e.conftest import MovableClock
from tests.e2e.kiosk_flow import KioskClient, kiosk_client, resident
from tests.e2e.redis_counting import counting_redis_sends


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[EmbeddedRedisCluster]:
    started = EmbeddedRedisCluster(tmp_path / "cluster", primaries=3, replicas=1).start()
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
def cluster_settings(world_settings: Settings, cluster: EmbeddedRedisCluster) -> Settings:
    return msgspec.structs.replace(
        world_settings,
        redis_url=cluster.url,
        redis_cluster=True,
        # the failover test issues many certificates for a few residents
        rate_person_per_hour=100_000,
        rate_client_per_minute=100_000,
    )


@pytest.fixture
async def cluster_app(
    cluster_settings: Settings, loaded_db: asyncpg.Pool, clock: MovableClock
) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=create_app(cluster_settings, clock=clock)) as client:
        yield client


@pytest.fixture
async def cluster_kiosk(
    cluster_settings: Settings, loaded_db: asyncpg.Pool, clock: MovableClock
) -> AsyncIterator[KioskClient]:
    async with kiosk_client(cluster_settings, clock) as client:
        yield client


async def _issue(
    client: AsyncTestClient[Litestar], world: World, entry: ResidentEntry, kind: str = "domestic"
) -> tuple[int, dict[str, Any]]:
    """One app issuance from a fresh challenge; (status, body) of whichever call answered last."""
    challenge = await client.post("/v1/app/challenges")
    if challenge.status_code != 201:
        return challenge.status_code, challenge.json()
    body = certificate_request(world, entry, challenge.json(), now=WORLD_NOW, kind=kind)
    response = await client.post("/v1/app/certificates", json=body)
    if response.status_code != 201:
        return response.status_code, response.json()
    replay = await client.post("/v1/app/certificates", json=body)
    # the consume script touches the challenge and its "used" marker: one slot, or CROSSSLOT
    assert replay.json()["code"] == "CHALLENGE_ALREADY_USED", replay.text
    return response.status_code, response.json()


async def _keys_with_ttl(cluster: EmbeddedRedisCluster) -> list[bytes]:
    """Every key of every primary (each asked directly), each checked for a TTL."""
    keys: list[bytes] = []
    for node in cluster.primary_nodes():
        client = redis_asyncio.Redis(host="127.0.0.1", port=node.port)
        try:
            async for key in client.scan_iter(count=1000):
                assert await client.ttl(key) > 0, "every Redis key has a TTL"
                keys.append(key)
        finally:
            await client.aclose()
    return keys


async def test_cluster_app_and_kiosk_flows(
    cluster_app: AsyncTestClient[Litestar],
    cluster_kiosk: KioskClient,
    cluster: EmbeddedRedisCluster,
    world: World,
    resident_entries: dict[str, ResidentEntry],
) -> None:
    entry = resident(resident_entries, "131016")
    for kind in ("domestic", "abroad"):
        status, body = await _issue(cluster_app, world, entry, kind)
        assert status == 201, body
    ready = await cluster_app.get("/ready")
    assert ready.status_code == 200, ready.text

    session = await run_kiosk_session(
        cluster_kiosk,
        card=load_card(world.directory, entry),
        municipality_code="131016",
        kind="abroad",
    )
    assert session.state == "COMPLETED"
    assert session.pdfs

    keys = await _keys_with_ttl(cluster)
    challenge_keys = [k for k in keys if k.startswith(b"ch:{")]
    assert challenge_keys  # the used markers of the challenges above
    assert any(k.startswith(b"kiosk:s:") for k in keys)
    # keys of one challenge share a hash tag, hence a slot
    tag = challenge_keys[0].split(b"}")[0] + b"}"
    probe = RedisCluster(host="127.0.0.1", port=cluster.nodes[0].port)
    try:
        slot_open = await probe.cluster_keyslot((tag + b":open").decode())
        slot_used = await probe.cluster_keyslot((tag + b":used").decode())
    finally:
        await probe.aclose()
    assert slot_open == slot_used


async def test_cluster_primary_killed_replica_promoted(
    cluster_app: AsyncTestClient[Litestar],
    cluster_kiosk: KioskClient,
    cluster: EmbeddedRedisCluster,
    world: World,
    resident_entries: dict[str, ResidentEntry],
) -> None:
    entries = [resident(resident_entries, "282022", i) for i in range(2)]
    for entry in entries:
        status, body = await _issue(cluster_app, world, entry)
        assert status == 201, body

    victim = cluster.primary_nodes()[0]
    victim.kill()
    killed_at = time.monotonic()

    statuses: list[int] = []
    consecutive_ok = 0
    # bounded: at most 40 s or 400 issuances, until 10 in a row succeed after a promotion
    while time.monotonic() - killed_at < 40 and len(statuses) < 400:
        status, body = await _issue(cluster_app, world, entries[len(statuses) % 2])
        statuses.append(status)
        if status == 201:
            consecutive_ok += 1
        else:
            consecutive_ok = 0
            assert status == 503, body  # never a 500, never a half answer
            assert body["code"] == "DEPENDENCY_UNAVAILABLE"
        if consecutive_ok >= 10 and cluster.is_ok():
            break
    assert consecutive_ok >= 10, f"did not recover: {statuses[-20:]}"
    assert 503 in statuses  # the outage was seen, and answered as such
    # the killed primary's replica took over its slots: still 3 primaries, one fewer node
    assert len(cluster.primary_nodes()) == 3
    assert cluster.is_ok()

    ready = await cluster_app.get("/ready")
    assert ready.status_code == 200, ready.text
    session = await run_kiosk_session(
        cluster_kiosk, card=load_card(world.directory, entries[0]), municipality_code="282022"
    )
    assert session.state == "COMPLETED"


async def test_cluster_node_started_under_load_answers_every_request(
    cluster_settings: Settings,
    cluster_app: AsyncTestClient[Litestar],
    clock: MovableClock,
    world: World,
    resident_entries: dict[str, ResidentEntry],
) -> None:
    """A node that starts while requests pour in (real sockets, concurrent connections): it
    has learnt the cluster's map before the first request, so concurrent first commands do not
    knock each other's connections over (which answered most requests 503 for seconds)."""
    entries = [resident(resident_entries, code, i) for code in ("282022", "131016") for i in (0, 1)]
    bodies = []
    for i in range(32):  # challenges from the running node
        challenge = (await cluster_app.post("/v1/app/challenges")).json()
        bodies.append(certificate_request(world, entries[i % 4], challenge, now=WORLD_NOW))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(cluster_settings, clock=clock),
            host="127.0.0.1",
            port=port,
            log_config=None,
            access_log=False,
            lifespan="on",
        )
    )
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            assert not serving.done(), "the node did not start"
            await asyncio.sleep(0.02)
        limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=60
        ) as http:
            answers = await asyncio.gather(
                *(http.post("/v1/app/certificates", json=body) for body in bodies)
            )
    finally:
        server.should_exit = True
        await serving
    assert [a.status_code for a in answers] == [201] * len(bodies), [a.text for a in answers][:2]


async def test_cluster_issuance_first_round_trip_at_once(
    cluster_app: AsyncTestClient[Litestar],
    cluster: EmbeddedRedisCluster,
    world: World,
    resident_entries: dict[str, ResidentEntry],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Round trip 1 (client counter, challenge, `jti`: three slots) goes as three commands at
    once, each to its node, with no script bookkeeping; round trip 2 is the person limit. A
    replayed challenge and a replayed `jti` are each refused by their code."""
    entry = resident(resident_entries, "131016")
    status, body = await _issue(cluster_app, world, entry)  # learns the nodes, connects
    assert status == 201, body
    # A node meets the consume script on the first challenge in its slots (NOSCRIPT, then EVAL
    # once: tests/e2e/test_app_redis_round_trips.py); here every primary knows it already.
    for node in cluster.primary_nodes():
        client = redis_asyncio.Redis(host="127.0.0.1", port=node.port)
        try:
            await client.script_load(challenges._CONSUME)
            await client.script_load(rate_limits._INCR)
        finally:
            await client.aclose()

    challenge = (await cluster_app.post("/v1/app/challenges")).json()
    request = certificate_request(world, entry, challenge, now=WORLD_NOW)
    request["attestation"] = world.authority().mint(
        nonce=challenge["nonce"],
        audience=world.audience,
        app_id=world.app_id,
        app_version=world.app_version,
        now=WORLD_NOW,
        jti="cluster-jti",
    )
    batches: list[int] = []  # commands per batch sent to a node by a cluster pipeline
    singles: list[bytes] = []  # commands sent alone
    in_flight = [0, 0]  # now, most at once
    send_batch, send_one = ClusterNode.execute_pipeline, RedisCluster.execute_command

    async def execute_pipeline(node: ClusterNode, commands: list[Any]) -> bool:
        batches.append(len(commands))
        return await send_batch(node, commands)

    async def execute_command(client: RedisCluster, *args: Any, **kwargs: Any) -> Any:
        singles.append(str(args[0]).encode())
        in_flight[0] += 1
        in_flight[1] = max(in_flight)
        try:
            return await send_one(client, *args, **kwargs)
        finally:
            in_flight[0] -= 1

    monkeypatch.setattr(ClusterNode, "execute_pipeline", execute_pipeline)
    monkeypatch.setattr(RedisCluster, "execute_command", execute_command)
    with counting_redis_sends(monkeypatch) as sends:
        response = await cluster_app.post("/v1/app/certificates", json=request)
    monkeypatch.undo()
    assert response.status_code == 201, response.text
    assert b"SCRIPT" not in sends.commands, sends.batches
    assert sorted(sends.commands) == [b"EVALSHA", b"EVALSHA", b"EVALSHA", b"SET"]
    # round trip 1: the client counter, consume and jti claim, three single commands at once
    # (redis-py's cluster pipeline would re-send commands still in flight when a node fails);
    # then the person limit
    assert batches == []
    assert sorted(singles) == [b"EVALSHA", b"EVALSHA", b"EVALSHA", b"SET"]
    assert in_flight[1] == 3
    assert len(sends.batches) == 4

    replayed_challenge = await cluster_app.post("/v1/app/certificates", json=request)
    assert replayed_challenge.json()["code"] == "CHALLENGE_ALREADY_USED"
    fresh = (await cluster_app.post("/v1/app/challenges")).json()
    replay = certificate_request(world, entry, fresh, now=WORLD_NOW)
    replay["attestation"] = world.authority().mint(
        nonce=fresh["nonce"],
        audience=world.audience,
        app_id=world.app_id,
        app_version=world.app_version,
        now=WORLD_NOW,
        jti="cluster-jti",
    )
    replayed_jti = await cluster_app.post("/v1/app/certificates", json=replay)
    assert replayed_jti.status_code == 409, replayed_jti.text
    assert replayed_jti.json()["code"] == "ATTESTATION_REPLAYED"
