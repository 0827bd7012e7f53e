"""The app channel end to end through HTTP: challenge → verified card → VRS → signed codes."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient

import signing
from certsvc.synthetic import ResidentEntry, World
from tests.conftest import WORLD_NOW
from tests.e2e.app_flow import request_certificate


def _resident(entries: dict[str, ResidentEntry], code: str = "282022") -> ResidentEntry:
    return next(
        e for e in entries.values() if e.municipality_code == code and e.status == "resident"
    )


async def test_domestic_certificate_is_issued_and_verifies(
    app_client: AsyncTestClient[Litestar],
    world: World,
    resident_entries: dict[str, ResidentEntry],
) -> None:
    entry = _resident(resident_entries)
    response = await request_certificate(app_client, world, entry, now=WORLD_NOW)
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    (cert,) = body["certificates"]
    assert cert["kind"] == "domestic"
    assert cert["holder"]["name"] == entry.name
    assert len(cert["vaccinations"]) == entry.doses
    assert "vdsnc" not in cert
    jwks = (await app_client.get("/issuer/.well-known/jwks.json")).json()
    for jws in cert["shc"]["jws"]:
        report = signing.verify_shc_jws(jws, jwks=jwks, now=WORLD_NOW)
        assert report.valid, report
