"""Playing the app in tests: challenge → card signature → attestation → certificate request."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from httpx import Response
from litestar import Litestar
from litestar.testing import AsyncTestClient

from certsvc.synthetic import ResidentEntry, World, card_json, load_card
from vrs_client import KeyRing, PersonStatus, import_files
from vrs_client.synthetic import generate_residents, write_csv_files


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


async def load_many_residents(
    world: World,
    pool: asyncpg.Pool,
    directory: Path,
    count: int,
    *,
    master_key: bytes,
    lookup_key: bytes,
) -> list[ResidentEntry]:
    """`count` more residents of Amagasaki with cards (one shared card key keeps it quick)."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    residents = [
        r
        for r in generate_residents(count * 2, municipalities=1, seed=4242)
        if r.status is PersonStatus.RESIDENT
    ][:count]
    persons, vaccinations = directory / "many-persons.csv", directory / "many-vacc.csv"
    write_csv_files(residents, persons, vaccinations)
    async with pool.acquire() as conn:
        await import_files(
            conn,
            KeyRing(master_key=master_key, lookup_key=lookup_key),
            persons=persons,
            vaccinations=vaccinations,
            now=datetime.now(UTC),
            write_reports=False,
        )
    jlis = world.jlis()
    card_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    entries = []
    cards = directory / "many-cards"
    cards.mkdir(exist_ok=True)
    for r in residents:
        card = jlis.issue_card(
            my_number=r.my_number,
            family_name=r.family_name,
            given_name=r.given_name,
            birth_date=r.birth_date,
            sex=r.sex,
            address="兵庫県尼崎市",
            card_key=card_key,
        )
        path = cards / f"{r.address_number}.json"
        card.save(path)
        entries.append(
            ResidentEntry(
                municipality_code=r.municipality_code,
                address_number=r.address_number,
                status=r.status.value,
                card=str(path),
                name=r.name,
                birth_date=r.birth_date,
                doses=len(r.doses),
                passport_mrz=("", ""),
            )
        )
    return entries
