"""Playing the app in tests: challenge → card signature → attestation → certificate request."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from httpx import Response

from certsvc.synthetic import ResidentEntry, World, card_json, load_card


async def new_challenge(client: AsyncTestClient[Litestar]) -> dict[str, Any]:
    response = await client.post("/v1/app/challenges")
    assert response.status_code == 201
    body: dict[str, Any] = response.json()
    return body


def certificate_request(
    world: World,
    entry: ResidentEntry,
    challenge: dict[str, Any],
    *,
    now: datetime,
    kind: str = "domestic",
    municipality_code: str | None = None,
    terms_version: str = "2026-04-01",
    mrz: tuple[str, str] | list[str] | None = None,
) -> dict[str, Any]:
    """A well-formed request body for `entry`'s card over `challenge` (tests then spoil it)."""
    card = load_card(world.directory, entry)
    nonce = base64.urlsafe_b64decode(challenge["nonce"] + "=" * (-len(challenge["nonce"]) % 4))
    attestation = world.authority().mint(
        nonce=challenge["nonce"],
        audience=world.audience,
        app_id=world.app_id,
        app_version=world.app_version,
        now=now,
    )
    body: dict[str, Any] = {
        "terms_version": terms_version,
        "challenge_id": challenge["challenge_id"],
        "attestation": attestation,
        "card": card_json(card, card.sign_challenge(nonce)),
        "municipality_code": municipality_code or entry.municipality_code,
        "kind": kind,
    }
    if kind == "abroad":
        body["passport"] = {"mrz": list(mrz if mrz is not None else entry.passport_mrz)}
    return body


async def request_certificate(
    client: AsyncTestClient[Litestar],
    world: World,
    entry: ResidentEntry,
    *,
    now: datetime,
    headers: dict[str, str] | None = None,
    **kwargs: Any,
) -> Response:
    challenge = await new_challenge(client)
    body = certificate_request(world, entry, challenge, now=now, **kwargs)
    return await client.post("/v1/app/certificates", json=body, headers=headers or {})
