"""The kiosk channel end to end through HTTP (DESIGN §1.2): sessions, refusals, print data."""

from __future__ import annotations

import base64
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
import pytest
import redis.asyncio as redis_asyncio
from litestar import Litestar
from litestar.testing import AsyncTestClient

import signing
from certsvc.commands.kiosk_sim import KioskRefused, card_files, run_kiosk_session
from certsvc.settings import Settings
from certsvc.synthetic import ResidentEntry, World, load_card
from tests.conftest import WORLD_NOW
from tests.e2e.app_flow import request_certificate
from tests.e2e.conftest import MovableClock
from tests.e2e.kiosk_flow import (
    KioskClient,
    confirm,
    kiosk_client,
    preview,
    previewed,
    print_result,
    qr_codes,
    resident,
    start,
)
from vrs_client import KeyRing, import_files
from vrs_client.synthetic import SyntheticResident, write_csv_files


@pytest.fixture
async def kiosk(
    world_settings: Settings,
    loaded_db: asyncpg.Pool,
    redis_client: redis_asyncio.Redis,
    clock: MovableClock,
) -> AsyncIterator[KioskClient]:
    async with kiosk_client(world_settings, clock) as client:
        yield client


def _code(response: Any) -> str:
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    code: str = response.json()["code"]
    return code


def _bytes(value: object) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


def _jst(hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2026, 11, 27, hour, minute, second, tzinfo=UTC) - timedelta(hours=9)


# --- municipalities ----------------------------------------------------------------------------


async def test_municipalities_lists_kiosk_enabled_only(kiosk: KioskClient) -> None:
    response = await kiosk.get("/kiosk/v1/municipalities")
    assert response.status_code == 200
    listed = {m["code"]: m for m in response.json()["municipalities"]}
    assert {"282022", "131016"} <= set(listed)
    assert "011002" not in listed  # Sapporo: no kiosk
    amagasaki = listed["282022"]
    assert amagasaki["name_ja"] == "尼崎市"
    assert amagasaki["name_en"]
    assert amagasaki["fee_per_copy_yen"] == 120
    assert amagasaki["hours"] == {"open": "06:30", "close": "23:00"}
    assert amagasaki["open_now"] is True


# --- whole sessions ----------------------------------------------------------------------------


async def test_kiosk_domestic_session_prints_verifiable_copies(
    kiosk: KioskClient,
    app_client: AsyncTestClient[Litestar],
    world: World,
    resident_entries: dict[str, ResidentEntry],
) -> None:
    entry = resident(resident_entries)
    result = await run_kiosk_session(
        kiosk,
        card=load_card(world.directory, entry),
        municipality_code="282022",
        kind="domestic",
        copies=2,
    )
    assert result.state == "COMPLETED"
    assert result.fee_yen == 240
    assert len(result.pdfs) == 2
    assert result.pdfs[0] == result.pdfs[1]  # the same certificate on every copy
    assert result.preview["holder"]["name"].replace("\u3000", " ") == entry.name.replace(
        "\u3000", " "
    )
    assert len(result.preview["doses"]) == entry.doses
    assert result.preview["kinds"]["domestic"] == {"available": True}
    names = [s.name for s in result.screens]
    assert names.index("remove_card") < names.index("confirm_content") < names.index("print")
    assert names[-1] == "take_certificate"
    for screen in result.screens:
        if screen.name in ("remove_card", "take_certificate"):
            assert all((screen.ja, screen.en, screen.voice_ja, screen.voice_en))
    assert result.preview["card_reminder"]["screen"]["ja"].startswith("マイナンバーカード")
    assert "certificate" in result.confirm["certificate_reminder"]["voice"]["en"]

    # The QR codes read off a raster of the printed page and verify.
    jwks = (await app_client.get("/issuer/.well-known/jwks.json")).json()
    codes = qr_codes(result.pdfs[0])
    assert codes
    for code in codes:
        jws = signing.shc_qr_to_jws(code.text)
        report = signing.verify_shc_jws(jws, jwks=jwks, now=WORLD_NOW)
        assert report.valid, report


async def test_kiosk_abroad_uses_the_latest_passport_on_record(
    kiosk: KioskClient,
    app_client: AsyncTestClient[Litestar],
    world: World,
    resident_entries: dict[str, ResidentEntry],
) -> None:
    entry = resident(resident_entries, "131016")
    issued = await request_certificate(app_client, world, entry, now=WORLD_NOW, kind="abroad")
    assert issued.status_code == 201, issued.text
    app_cert = issued.json()["certificates"][0]

    result = await run_kiosk_session(
        kiosk, card=load_card(world.directory, entry), municipality_code="131016", kind="abroad"
    )
    assert result.preview["kinds"]["abroad"] == {"available": True}
    assert result.state == "COMPLETED"
    assert result.kind == "abroad"
    assert result.confirm["kind"] == "abroad"
    texts = [c.text for c in qr_codes(result.pdfs[0], scale=2.5)]
    shc = [t for t in texts if t.startswith("shc:/")]
    assert shc
    jwks = (await app_client.get("/issuer/.well-known/jwks.json")).json()
    report = signing.verify_shc_jws(signing.shc_qr_to_jws(shc[0]), jwks=jwks, now=WORLD_NOW)
    assert report.valid, report
    # the same passport as the app's certificate
    assert app_cert["holder"]["passport_number"] in "".join(texts)


async def test_kiosk_abroad_without_history_offers_domestic_only(
    kiosk: KioskClient, world: World, resident_entries: dict[str, ResidentEntry]
) -> None:
    entry = resident(resident_entries)
    shown = await previewed(kiosk, world, entry, kind="abroad")
    abroad = shown["kinds"]["abroad"]
    assert abroad["available"] is False
    assert abroad["reason_code"] == "PASSPORT_NOT_ON_RECORD"
    assert "旅券" in abroad["reason"]["ja"]
    assert "passport" in abroad["reason"]["en"]

    refused = await confirm(kiosk, shown, kind="abroad")
    assert refused.status_code == 422
    assert _code(refused) == "PASSPORT_NOT_ON_RECORD"
    # The session is still at PREVIEWED: the domestic certificate can be confirmed.
    domestic = await confirm(kiosk, shown, kind="domestic")
    assert domestic.status_code == 201, domestic.text
    assert domestic.json()["kind"] == "domestic"


async def test_kiosk_confirm_again_with_same_key_reprints_identical_bytes(
    kiosk: KioskClient, world: World, resident_entries: dict[str, ResidentEntry]
) -> None:
    entry = resident(resident_entries, index=1)
    shown = await previewed(kiosk, world, entry, copies=2)
    key = "print-retry-key-0001"
    first = await confirm(kiosk, shown, copies=2, idempotency_key=key)
    assert first.status_code == 201, first.text
    again = await confirm(kiosk, shown, copies=2, idempotency_key=key)
    assert again.status_code == 200, again.text
    assert again.json()["certificate_id"] == first.json()["certificate_id"]
    assert again.json()["documents"] == first.json()["documents"]  # byte-identical PDFs

    other = await confirm(kiosk, shown, copies=2, idempotency_key="another-key-00000002")
    assert other.status_code == 409
    assert _code(other) == "KIOSK_ALREADY_ISSUED"
    changed = await confirm(kiosk, shown, copies=1, idempotency_key=key)
    assert _code(changed) == "KIOSK_ALREADY_ISSUED"

    done = await print_result(kiosk, shown)
    assert done.status_code == 200
    assert done.json() == {
        "session_id": shown["session_id"],
        "state": "COMPLETED",
        "certificate_id": first.json()["certificate_id"],
        "fee_collected": True,
    }
    for late in (
        await confirm(kiosk, shown, copies=2, idempotency_key=key),
        await print_result(kiosk, shown),
    ):
        assert late.status_code == 409
        assert _code(late) == "KIOSK_SESSION_CLOSED"


async def test_kiosk_print_failure_voids_and_a_new_session_issues(
    kiosk: KioskClient,
    loaded_db: asyncpg.Pool,
    world: World,
    resident_entries: dict[str, ResidentEntry],
) -> None:
    entry = resident(resident_entries, "131016", index=1)
    card = load_card(world.directory, entry)
    failed = await run_kiosk_session(
        kiosk, card=card, municipality_code="131016", print_outcome="paper_jam"
    )
    assert failed.state == "VOIDED"
    async with loaded_db.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT voided_at, void_reason FROM issuances WHERE certificate_id = $1",
            failed.certificate_id,
        )
    assert row is not None
    assert row["voided_at"] is not None
    assert row["void_reason"] == "print_paper_jam"

    shown = {**failed.preview, "session_id": failed.session_id}
    closed = await confirm(kiosk, shown)
    assert closed.status_code == 409
    assert _code(closed) == "KIOSK_SESSION_CLOSED"

    retried = await run_kiosk_session(kiosk, card=card, municipality_code="131016")
    assert retried.state == "COMPLETED"
    assert retried.certificate_id != failed.certificate_id


# --- refusals ----------------------------------------------------------------------------------


async def test_kiosk_municipality_not_enabled(
    kiosk: KioskClient, world: World, resident_entries: dict[str, ResidentEntry]
) -> None:
    response = await kiosk.post("/kiosk/v1/sessions", json={"municipality_code": "011002"})
    assert response.status_code == 403
    assert _code(response) == "KIOSK_NOT_OFFERED"
    entry = resident(resident_entries, "011002")
    started = await start(kiosk)
    refused = await preview(kiosk, world, entry, started)
    assert refused.status_code == 403
    assert _code(refused) == "KIOSK_NOT_OFFERED"


async def test_kiosk_outside_hours_at_start_and_at_confirm(
    kiosk: KioskClient,
    clock: MovableClock,
    world: World,
    resident_entries: dict[str, ResidentEntry],
) -> None:
    for closed_at in (_jst(23, 0), _jst(6, 29, 59)):
        clock.now = closed_at
        response = await kiosk.post("/kiosk/v1/sessions", json={})
        assert response.status_code == 403
        assert _code(response) == "KIOSK_OUTSIDE_HOURS"
        response = await kiosk.post("/kiosk/v1/sessions", json={"municipality_code": "282022"})
        assert _code(response) == "KIOSK_OUTSIDE_HOURS"
        assert response.json()["hours"] == {"open": "06:30", "close": "23:00"}

    clock.now = _jst(22, 59, 59)
    shown = await previewed(kiosk, world, resident(resident_entries))
    clock.now = _jst(23, 0)
    late = await confirm(kiosk, shown)
    assert late.status_code == 403
    assert _code(late) == "KIOSK_OUTSIDE_HOURS"


async def test_kiosk_card_failures_leave_the_session_started(
    kiosk: KioskClient, world: World, resident_entries: dict[str, ResidentEntry]
) -> None:
    entry = resident(resident_entries)
    card = load_card(world.directory, entry)
    started = await start(kiosk)
    other = await start(kiosk)
    # signed the nonce of another session
    wrong_nonce = card_files(card, other["nonce"])
    response = await preview(kiosk, world, entry, started, card=wrong_nonce)
    assert response.status_code == 422
    assert _code(response) == "CARD_CHALLENGE_SIGNATURE_INVALID"

    tampered = card_files(card, started["nonce"])
    ef0002 = bytearray(base64.b64decode(tampered["ef0002"]))
    ef0002[-1] ^= 0x01
    tampered["ef0002"] = base64.b64encode(bytes(ef0002)).decode()
    response = await preview(kiosk, world, entry, started, card=tampered)
    assert response.status_code == 422
    assert _code(response).startswith("CARD_")

    bad = {**card_files(card, started["nonce"]), "ef0001": "not base64!"}
    response = await preview(kiosk, world, entry, started, card=bad)
    assert response.status_code == 400
    assert _code(response) == "BASE64_INVALID"

    ok = await preview(kiosk, world, entry, started)
    assert ok.status_code == 200, ok.text


async def test_kiosk_unknown_and_expired_sessions(
    kiosk: KioskClient,
    clock: MovableClock,
    world: World,
    resident_entries: dict[str, ResidentEntry],
) -> None:
    entry = resident(resident_entries)
    unknown = await preview(
        kiosk, world, entry, {"session_id": "AAAAAAAAAAAAAAAAAAAAAA", "token": "x", "nonce": "AA"}
    )
    assert unknown.status_code == 404
    assert _code(unknown) == "KIOSK_SESSION_UNKNOWN"

    shown = await previewed(kiosk, world, entry)
    clock.now = WORLD_NOW + timedelta(minutes=10)
    expired = await confirm(kiosk, shown)
    assert expired.status_code == 409
    assert _code(expired) == "KIOSK_SESSION_EXPIRED"


async def test_kiosk_steps_out_of_order(
    kiosk: KioskClient, world: World, resident_entries: dict[str, ResidentEntry]
) -> None:
    entry = resident(resident_entries)
    started = await start(kiosk)
    early = await confirm(kiosk, {**started, "fee_per_copy_yen": 120})
    assert early.status_code == 409
    assert _code(early) == "KIOSK_STEP_OUT_OF_ORDER"
    assert early.json()["state"] == "STARTED"
    early_print = await print_result(kiosk, started)
    assert _code(early_print) == "KIOSK_STEP_OUT_OF_ORDER"

    ok = await preview(kiosk, world, entry, started)
    assert ok.status_code == 200
    twice = await preview(kiosk, world, entry, started)
    assert twice.status_code == 409
    assert _code(twice) == "KIOSK_STEP_OUT_OF_ORDER"
    shown = ok.json()
    print_before_confirm = await print_result(kiosk, shown)
    assert _code(print_before_confirm) == "KIOSK_STEP_OUT_OF_ORDER"


async def test_kiosk_token_of_another_session_and_wrong_fee(
    kiosk: KioskClient, world: World, resident_entries: dict[str, ResidentEntry]
) -> None:
    entry = resident(resident_entries)
    first = await previewed(kiosk, world, entry)
    second = await previewed(kiosk, world, entry)
    swapped = await confirm(kiosk, first, token=second["token"])
    assert swapped.status_code == 403
    assert _code(swapped) == "KIOSK_TOKEN_INVALID"
    forged = await confirm(kiosk, first, token=first["token"][:-4] + "AAAA")
    assert _code(forged) == "KIOSK_TOKEN_INVALID"

    underpaid = await confirm(kiosk, first, copies=2, fee_paid_yen=120)
    assert underpaid.status_code == 422
    assert _code(underpaid) == "KIOSK_FEE_MISMATCH"
    assert underpaid.json()["fee_yen"] == 240

    malformed = await kiosk.post(
        f"/kiosk/v1/sessions/{first['session_id']}/confirm",
        json={
            "token": first["token"],
            "kind": "domestic",
            "copies": "1",
            "fee_paid_yen": 120,
            "idempotency_key": "k" * 20,
        },
    )
    assert malformed.status_code == 400
    assert _code(malformed) == "MALFORMED_REQUEST"


# --- what Redis keeps --------------------------------------------------------------------------


async def test_kiosk_keeps_no_personal_data_in_redis(
    kiosk: KioskClient,
    redis_client: redis_asyncio.Redis,
    world: World,
    residents: list[SyntheticResident],
    resident_entries: dict[str, ResidentEntry],
) -> None:
    entry = resident(resident_entries, index=1)
    card = load_card(world.directory, entry)
    done = await run_kiosk_session(kiosk, card=card, municipality_code="282022")
    assert done.state == "COMPLETED"
    voided = await run_kiosk_session(
        kiosk, card=card, municipality_code="282022", print_outcome="printer_fault"
    )
    assert voided.state == "VOIDED"
    with pytest.raises(KioskRefused):  # a refused preview leaves a STARTED session behind
        await run_kiosk_session(kiosk, card=card, municipality_code="131016")

    person = next(r for r in residents if r.address_number == entry.address_number)
    needles = [
        person.my_number.encode(),
        entry.address_number.encode(),
        person.family_name.encode(),
        person.given_name.encode(),
        entry.name.encode(),
        entry.birth_date.isoformat().encode(),
    ]
    keys = [key async for key in redis_client.scan_iter(count=1000)]
    assert any(k.startswith(b"kiosk:s:") for k in keys)
    for key in keys:
        ttl = await redis_client.ttl(key)
        assert ttl > 0, key
        kind = await redis_client.type(key)
        values: list[bytes] = []
        if kind == b"string":
            values = [_bytes(await redis_client.get(key) or b"")]
        elif kind == b"hash":
            pairs = await redis_client.hgetall(key)
            values = [_bytes(k) + b"=" + _bytes(v) for k, v in pairs.items()]
        elif kind == b"zset":
            values = [_bytes(m) for m in await redis_client.zrange(key, 0, -1)]
        else:
            raise AssertionError(f"unexpected Redis type {kind!r}")
        for blob in [key, *values]:
            for needle in needles:
                assert needle not in blob, key


# --- print retries after the records or the keys changed -----------------------------------------


async def test_kiosk_print_retry_after_a_record_correction_is_refused_with_its_code(
    kiosk: KioskClient,
    world: World,
    residents: list[SyntheticResident],
    resident_entries: dict[str, ResidentEntry],
    loaded_db: asyncpg.Pool,
    master_key: bytes,
    lookup_key: bytes,
    tmp_path: Path,
) -> None:
    entry = resident(resident_entries, index=1)
    shown = await previewed(kiosk, world, entry)
    key = "print-retry-key-0003"
    first = await confirm(kiosk, shown, idempotency_key=key)
    assert first.status_code == 201, first.text

    # The municipality corrects a lot number: the import revokes what was issued from it.
    corrected = [
        msgspec.structs.replace(
            r,
            doses=(
                msgspec.structs.replace(r.doses[0], lot_number="FIX0001"),
                *r.doses[1:],
            ),
        )
        if r.address_number == entry.address_number and r.municipality_code == "282022"
        else r
        for r in residents
    ]
    persons, vaccinations = tmp_path / "p.csv", tmp_path / "v.csv"
    write_csv_files(corrected, persons, vaccinations)
    async with loaded_db.acquire() as conn:
        await import_files(
            conn,
            KeyRing(master_key=master_key, lookup_key=lookup_key),
            persons=persons,
            vaccinations=vaccinations,
            now=WORLD_NOW,
            write_reports=False,
        )

    again = await confirm(kiosk, shown, idempotency_key=key)
    assert again.status_code == 409, again.text
    assert _code(again) == "ISSUANCE_REVOKED"


async def test_kiosk_print_retry_after_a_key_rotation_is_refused_with_its_code(
    world_settings: Settings,
    loaded_db: asyncpg.Pool,
    clock: MovableClock,
    world: World,
    resident_entries: dict[str, ResidentEntry],
    tmp_path: Path,
) -> None:
    keys = tmp_path / "keys"
    shutil.copytree(world.key_dir, keys)
    settings = msgspec.structs.replace(world_settings, key_dir=keys)
    entry = resident(resident_entries, index=0)
    key = "print-retry-key-0004"
    async with kiosk_client(settings, clock) as client:
        shown = await previewed(client, world, entry)
        first = await confirm(client, shown, idempotency_key=key)
        assert first.status_code == 201, first.text

    signing.FileKeyStore(keys).rotate_shc(now=WORLD_NOW)
    async with kiosk_client(settings, clock) as client:
        again = await confirm(client, shown, idempotency_key=key)
    assert again.status_code == 409, again.text
    assert _code(again) == "REPRINT_KEY_ROTATED"
