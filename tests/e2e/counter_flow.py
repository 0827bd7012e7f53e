"""Playing the city counter over HTTP in tests: staff accounts, sign-in, the visit's forms."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from typing import Any

import asyncpg
import redis.asyncio as redis_asyncio
from httpx import Response
from litestar import Litestar
from litestar.testing import AsyncTestClient

from certsvc.staff import Role, StaffService
from certsvc.synthetic import ResidentEntry, World, card_json, load_card
from tests.conftest import WORLD_NOW

COUNTER_KEY = bytes(range(32))
#: https, so that the client sends the Secure cookies back.
BASE_URL = "https://counter.test"
NEW_PASSWORD = "katsura-river-lantern-42"


def staff_service(
    pool: asyncpg.Pool, redis: redis_asyncio.Redis, lookup_key: bytes, clock: Any
) -> StaffService:
    return StaffService(pool=pool, redis=redis, lookup_key=lookup_key, clock=clock)


async def create_staff(
    service: StaffService,
    staff_id: str,
    role: Role,
    *,
    municipalities: tuple[str, ...] = ("282022",),
) -> str:
    """A new account; its one-time password."""
    end = WORLD_NOW.date() + timedelta(days=90)
    return await service.create(
        staff_id=staff_id,
        role=role,
        municipalities=municipalities,
        expires_on=end,
        contract_end=end if role is Role.CONTRACTOR else None,
        created_by="test",
    )


def field(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    if found is None:
        raise AssertionError(f"no field {name} on the page")
    return html.unescape(found.group(1))


def error_code(response: Response) -> str | None:
    found = re.search(r'id="error-code">([A-Z0-9_]+)<', response.text)
    return found.group(1) if found else None


def nonce_of(page: str) -> bytes:
    import base64

    found = re.search(r'id="nonce">([A-Za-z0-9_-]+)<', page)
    if found is None:
        raise AssertionError("no nonce on the page")
    text = found.group(1)
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


async def sign_in(client: AsyncTestClient[Litestar], staff_id: str, password: str) -> Response:
    page = await client.get("/sign-in")
    return await client.post(
        "/sign-in",
        data={"_csrf": field(page.text, "_csrf"), "staff_id": staff_id, "password": password},
    )


async def signed_in(
    client: AsyncTestClient[Litestar],
    service: StaffService,
    staff_id: str,
    role: Role,
    *,
    municipalities: tuple[str, ...] = ("282022",),
) -> None:
    """`client` signed in as a new account whose forced password change is done."""
    once = await create_staff(service, staff_id, role, municipalities=municipalities)
    response = await sign_in(client, staff_id, once)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/password"
    page = await client.get("/password")
    changed = await client.post(
        "/password",
        data={
            "_csrf": field(page.text, "_csrf"),
            "current_password": once,
            "new_password": NEW_PASSWORD,
        },
    )
    assert changed.status_code == 303, changed.text


async def csrf(client: AsyncTestClient[Litestar]) -> str:
    page = await client.get("/password")
    return field(page.text, "_csrf")


async def start_visit(
    client: AsyncTestClient[Litestar], municipality: str = "282022", purpose: str = "issue"
) -> Response:
    token = await csrf(client)
    return await client.post(
        "/visit/start", data={"_csrf": token, "municipality": municipality, "purpose": purpose}
    )


async def identify_by_card(
    client: AsyncTestClient[Litestar], world: World, entry: ResidentEntry, started: str
) -> Response:
    card = load_card(world.directory, entry)
    bundle = card_json(card, card.sign_challenge(nonce_of(started)))
    import json

    return await client.post(
        "/visit/identify",
        data={"_csrf": field(started, "_csrf"), "visit": field(started, "visit"), "method": "card"},
        files={"card_file": ("card.json", json.dumps(bundle).encode(), "application/json")},
    )


async def identify_by_number(
    client: AsyncTestClient[Litestar], my_number: str, started: str
) -> Response:
    return await client.post(
        "/visit/identify",
        data={
            "_csrf": field(started, "_csrf"),
            "visit": field(started, "visit"),
            "method": "notification",
            "my_number": my_number,
            "photo_id_type": "passport",
        },
        files={"card_file": ("", b"", "application/octet-stream")},
    )


async def preview(client: AsyncTestClient[Litestar], identified: str, **fields: str) -> Response:
    data = {
        "_csrf": field(identified, "_csrf"),
        "visit": field(identified, "visit"),
        "kind": "domestic",
        "reason": "no_smartphone",
        "note": "",
        "other_name_kind": "none",
        "other_name": "",
        "mrz1": "",
        "mrz2": "",
        **fields,
    }
    return await client.post(
        "/visit/preview", data=data, files={"passport_scan": ("", b"", "application/octet-stream")}
    )


async def post_visit(
    client: AsyncTestClient[Litestar], path: str, page: str, **extra: str
) -> Response:
    return await client.post(
        path, data={"_csrf": field(page, "_csrf"), "visit": field(page, "visit"), **extra}
    )
