"""Playing the Certificate Issuance Center in tests: an in-process client of the kiosk adapter
and the protocol steps one by one (tests spoil them), beside the whole-session simulator."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import pypdfium2
from httpx import Response
from litestar import Litestar
from litestar.testing import AsyncTestClient

import signing
from certsvc.commands.kiosk_sim import card_files
from certsvc.settings import Settings
from certsvc.synthetic import ResidentEntry, World, load_card
from kiosk_adapter import create_kiosk_app

KioskClient = AsyncTestClient[Litestar]


@asynccontextmanager
async def kiosk_client(
    settings: Settings, clock: Callable[[], datetime]
) -> AsyncIterator[KioskClient]:
    """The adapter's app in process (the TLS layer is tested separately, on a real listener)."""
    app = create_kiosk_app(settings, clock=clock)
    async with AsyncTestClient(app=app) as client:
        yield client


def resident(
    entries: dict[str, ResidentEntry], code: str = "282022", index: int = 0
) -> ResidentEntry:
    found = [e for e in entries.values() if e.municipality_code == code and e.status == "resident"]
    return found[index]


async def start(client: KioskClient, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = await client.post("/kiosk/v1/sessions", json=body or {})
    assert response.status_code == 201, response.text
    started: dict[str, Any] = response.json()
    return started


async def preview(
    client: KioskClient,
    world: World,
    entry: ResidentEntry,
    started: dict[str, Any],
    *,
    municipality_code: str | None = None,
    kind: str = "domestic",
    copies: int = 1,
    card: dict[str, str] | None = None,
) -> Response:
    body = {
        "token": started["token"],
        "card": card or card_files(load_card(world.directory, entry), started["nonce"]),
        "municipality_code": municipality_code or entry.municipality_code,
        "kind": kind,
        "copies": copies,
    }
    return await client.post(f"/kiosk/v1/sessions/{started['session_id']}/preview", json=body)


async def previewed(
    client: KioskClient, world: World, entry: ResidentEntry, **kwargs: Any
) -> dict[str, Any]:
    """A session started and previewed for `entry`."""
    started = await start(client)
    response = await preview(client, world, entry, started, **kwargs)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def confirm(
    client: KioskClient,
    shown: dict[str, Any],
    *,
    kind: str = "domestic",
    copies: int = 1,
    fee_paid_yen: int | None = None,
    idempotency_key: str | None = None,
    token: str | None = None,
) -> Response:
    body = {
        "token": token or shown["token"],
        "kind": kind,
        "copies": copies,
        "fee_paid_yen": copies * shown["fee_per_copy_yen"]
        if fee_paid_yen is None
        else fee_paid_yen,
        "idempotency_key": idempotency_key or secrets.token_urlsafe(18),
    }
    return await client.post(f"/kiosk/v1/sessions/{shown['session_id']}/confirm", json=body)


async def print_result(
    client: KioskClient, shown: dict[str, Any], outcome: str = "ok", reason: str | None = None
) -> Response:
    body: dict[str, Any] = {"token": shown["token"], "outcome": outcome}
    if reason is not None:
        body["reason"] = reason
    return await client.post(f"/kiosk/v1/sessions/{shown['session_id']}/print-result", json=body)


def qr_codes(pdf: bytes, *, scale: float = 3.0) -> list[signing.DecodedQr]:
    """Every QR code read off a raster of every page of `pdf` (as a scanner would)."""
    document = pypdfium2.PdfDocument(pdf)
    try:
        found: list[signing.DecodedQr] = []
        for index in range(len(document)):
            image = document[index].render(scale=scale).to_pil()
            found += signing.decode_qr_image(image)
        return found
    finally:
        document.close()
