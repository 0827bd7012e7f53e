"""Issuance with the signing keys in an HSM (SoftHSM2 over PKCS#11), end to end: the app's
certificates verify under the JWKS served from the token, and kiosk print retries are
byte-identical although the token's signatures are randomized — the issuance history keeps
them. Reprint refusals: key rotated, records changed, nothing kept."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import asyncpg
import msgspec
import pytest
import redis.asyncio as redis_asyncio
from litestar import Litestar
from litestar.testing import AsyncTestClient
from pkcs11 import Attribute

import signing
from certsvc.app import create_app
from certsvc.issuance import RefusalCode, Refused, reprint_certificate
from certsvc.keystores import open_key_store
from certsvc.resources import ChannelResources
from certsvc.settings import Settings
from certsvc.softhsm import SoftHsm
from certsvc.synthetic import ResidentEntry, World
from tests.conftest import WORLD_NOW, hsm_settings_env
from tests.e2e.app_flow import request_certificate
from tests.e2e.conftest import MovableClock
from tests.e2e.kiosk_flow import KioskClient, confirm, kiosk_client, previewed, resident

TOKEN = "certsvc-app"


@pytest.fixture
def hsm_world_settings(world_settings: Settings, softhsm: SoftHsm) -> Settings:
    """The world's settings with the signing keys in a freshly filled token."""
    settings = msgspec.structs.replace(
        world_settings,
        key_store="pkcs11",
        pkcs11_module=softhsm.module,
        pkcs11_token_label=TOKEN,
        pkcs11_pin_file=softhsm.pin_files[TOKEN],
    )
    assert hsm_settings_env(softhsm, TOKEN)["CERTSVC_PKCS11_TOKEN_LABEL"] == TOKEN
    store = open_key_store(settings)
    if not isinstance(store, signing.Pkcs11KeyStore):
        raise TypeError("expected the PKCS#11 store")
    for obj in list(store._open().get_objects()):
        if str(obj[Attribute.LABEL]).startswith("certsvc-"):
            obj.destroy()
    store.create(now=WORLD_NOW - timedelta(days=1))
    return settings


@pytest.fixture
async def hsm_app(
    hsm_world_settings: Settings,
    loaded_db: asyncpg.Pool,
    redis_client: redis_asyncio.Redis,
    clock: MovableClock,
) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=create_app(hsm_world_settings, clock=clock)) as client:
        yield client


@pytest.fixture
async def hsm_kiosk(
    hsm_world_settings: Settings,
    loaded_db: asyncpg.Pool,
    redis_client: redis_asyncio.Redis,
    clock: MovableClock,
) -> AsyncIterator[KioskClient]:
    async with kiosk_client(hsm_world_settings, clock) as client:
        yield client


def _code(response: Any) -> str:
    code: str = response.json()["code"]
    return code


async def test_hsm_app_certificates_verify_under_the_token_jwks(
    hsm_app: AsyncTestClient[Litestar],
    hsm_world_settings: Settings,
    world: World,
    resident_entries: dict[str, ResidentEntry],
) -> None:
    entry = resident(resident_entries, "131016")
    issued = await request_certificate(hsm_app, world, entry, now=WORLD_NOW, kind="abroad")
    assert issued.status_code == 201, issued.text
    jwks = (await hsm_app.get("/issuer/.well-known/jwks.json")).json()
    # Served from the token's public keys (not the key directory), each with the crlVersion
    # the database keeps.
    token_keys = open_key_store(hsm_world_settings).public_keys()
    assert [{k: v for k, v in jwk.items() if k != "crlVersion"} for jwk in jwks["keys"]] == (
        token_keys
    )
    assert all(jwk["crlVersion"] >= 1 for jwk in jwks["keys"])
    file_kids = {k["kid"] for k in signing.FileKeyStore(world.key_dir).jwks()["keys"]}
    assert not file_kids & {k["kid"] for k in jwks["keys"]}
    cert = issued.json()["certificates"][0]
    for jws in cert["shc"]["jws"]:
        report = signing.verify_shc_jws(jws, jwks=jwks, now=WORLD_NOW)
        assert report.valid, report.findings
    store = open_key_store(hsm_world_settings)
    for seal in cert["vdsnc"]:
        vreport = signing.verify_vdsnc(
            seal, csca_pem=store.csca_certificate_pem(), crl_pem=store.csca_crl_pem(), now=WORLD_NOW
        )
        assert vreport.valid, vreport.findings


async def test_hsm_kiosk_print_retry_is_byte_identical(
    hsm_kiosk: KioskClient,
    hsm_app: AsyncTestClient[Litestar],
    world: World,
    resident_entries: dict[str, ResidentEntry],
) -> None:
    entry = resident(resident_entries, "131016", index=1)
    # a certificate for use abroad from the app puts a passport on record for the kiosk
    issued = await request_certificate(hsm_app, world, entry, now=WORLD_NOW, kind="abroad")
    assert issued.status_code == 201, issued.text
    for kind in ("domestic", "abroad"):
        shown = await previewed(hsm_kiosk, world, entry, kind=kind, copies=2)
        key = f"hsm-retry-{kind}-000001"
        first = await confirm(hsm_kiosk, shown, kind=kind, copies=2, idempotency_key=key)
        assert first.status_code == 201, first.text
        again = await confirm(hsm_kiosk, shown, kind=kind, copies=2, idempotency_key=key)
        assert again.status_code == 200, again.text
        assert again.json()["certificate_id"] == first.json()["certificate_id"]
        assert again.json()["documents"] == first.json()["documents"]  # the same PDF bytes


async def _issued_at_kiosk(
    kiosk: KioskClient, world: World, entry: ResidentEntry, kind: str
) -> str:
    shown = await previewed(kiosk, world, entry, kind=kind)
    first = await confirm(kiosk, shown, kind=kind)
    assert first.status_code == 201, first.text
    certificate_id: str = first.json()["certificate_id"]
    return certificate_id


async def test_hsm_reprint_refusals(
    hsm_kiosk: KioskClient,
    hsm_app: AsyncTestClient[Litestar],
    hsm_world_settings: Settings,
    loaded_db: asyncpg.Pool,
    redis_client: redis_asyncio.Redis,
    world: World,
    resident_entries: dict[str, ResidentEntry],
) -> None:
    entry = resident(resident_entries, "131016", index=1)
    issued = await request_certificate(hsm_app, world, entry, now=WORLD_NOW, kind="abroad")
    assert issued.status_code == 201, issued.text
    domestic = await _issued_at_kiosk(hsm_kiosk, world, entry, "domestic")
    abroad = await _issued_at_kiosk(hsm_kiosk, world, entry, "abroad")

    def resources(settings: Settings) -> ChannelResources:
        return ChannelResources(settings=settings, pool=loaded_db, redis=redis_client)

    async def reprint(certificate_id: str, settings: Settings = hsm_world_settings) -> Any:
        return await reprint_certificate(
            municipality_code=entry.municipality_code,
            address_number=entry.address_number,
            certificate_id=certificate_id,
            services=resources(settings).services,
        )

    ok = await reprint(abroad)
    assert not isinstance(ok, Refused)
    # what the certificate says changed (here the administering authority written in it): the
    # kept signatures no longer verify over it
    changed = msgspec.structs.replace(hsm_world_settings, vaccination_authority="ANOTHER_AUTH")
    assert await reprint(domestic, changed) == Refused(code=RefusalCode.REPRINT_RECORD_CORRECTED)
    # nothing kept (an issuance recorded before signatures were kept)
    async with loaded_db.acquire() as conn:
        await conn.execute(
            "UPDATE issuances SET signatures_enc = NULL WHERE certificate_id = $1", domestic
        )
    assert await reprint(domestic) == Refused(code=RefusalCode.REPRINT_RECORD_CORRECTED)
    # a new barcode signer: the abroad certificate's seal was made by the old one
    store = open_key_store(hsm_world_settings)
    store.rotate_barcode_signer(now=WORLD_NOW)
    assert await reprint(abroad) == Refused(code=RefusalCode.REPRINT_KEY_ROTATED)
    # a new SHC key
    store.rotate_shc(now=WORLD_NOW)
    assert await reprint(abroad) == Refused(code=RefusalCode.REPRINT_KEY_ROTATED)
