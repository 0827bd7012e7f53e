"""The counter's part in `certsvc demo`, found through the `certsvc.listeners` entry point: a
generated visit-token key, a free port (8081 if it is free), the demo's staff accounts with
one-time passwords, and the listener."""

from __future__ import annotations

import asyncio
import base64
import secrets
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncpg
import redis.asyncio as redis_asyncio

from certsvc.channel import Clock, ListenerSpec, Settings, free_port
from certsvc.counter import create_counter_app
from certsvc.staff import Role, StaffService, create_demo_accounts

NAME = "counter"
#: The demo grants its staff the two municipalities that offer every channel.
DEMO_MUNICIPALITIES = ("282022", "131016")


_LABELS = {
    Role.ADMINISTRATOR: "administrator",
    Role.COUNTER_STAFF: "counter staff",
    Role.SUPERVISOR: "supervisor",
    Role.CONTRACTOR: "contractor staff",
}


def prepare(demo_dir: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """The `CERTSVC_COUNTER_*` settings the demo lacks."""
    generated = {"CERTSVC_COUNTER_SESSION_KEY": base64.b64encode(secrets.token_bytes(32)).decode()}
    if "CERTSVC_COUNTER_PORT" not in environ:
        host = environ.get("CERTSVC_COUNTER_HOST", "127.0.0.1")
        generated["CERTSVC_COUNTER_PORT"] = str(free_port(host, 8081))
    return {k: v for k, v in generated.items() if k not in environ}


async def _demo_accounts(settings: Settings, clock: Clock) -> list[tuple[str, Role, str]]:
    if settings.database_url is None or settings.redis_url is None or not settings.lookup_key:
        raise RuntimeError("the demo runs with a database, Redis and a lookup key")
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=2)
    redis = redis_asyncio.Redis.from_url(settings.redis_url)
    try:
        service = StaffService(pool=pool, redis=redis, lookup_key=settings.lookup_key, clock=clock)
        return await create_demo_accounts(service, municipalities=DEMO_MUNICIPALITIES)
    finally:
        await redis.aclose()
        await pool.close()


def listener(settings: Settings, demo_dir: Path, clock: Clock) -> tuple[ListenerSpec, str]:
    """The counter's listener and the lines the demo prints about it."""
    # The demo calls this from its running event loop: the accounts are made on a loop of
    # their own, before any listener starts.
    with ThreadPoolExecutor(max_workers=1) as pool:
        accounts = pool.submit(asyncio.run, _demo_accounts(settings, clock)).result()
    spec = ListenerSpec(
        create_counter_app(settings, clock=clock),
        host=settings.counter_host,
        port=settings.counter_port,
        name=NAME,
    )
    url = f"http://{settings.counter_host}:{settings.counter_port}"
    lines = [
        f"counter URL: {url} (city counter staff pages; the demo needs no terminal enrolment: "
        "personal IDs sign in from any browser)"
    ]
    for staff_id, role, password in accounts:
        lines.append(f"counter {_LABELS[role]}: {staff_id} one-time password: {password}")
    lines.append(
        f"counter card reader: .venv/bin/certsvc card-sim --demo-dir {demo_dir} --card 1 "
        f"--nonce=NONCE --out card.json"
    )
    return spec, "\n".join(lines)
