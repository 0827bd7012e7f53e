"""The app channel end to end through HTTP: challenge → verified card → VRS → signed codes,
and every refusal with its specific code."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import date, timedelta
from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

import mrz
import signing
from certsvc.synthetic import ResidentEntry, World, card_json, load_card
from tests.conftest import WORLD_NOW
from tests.e2e.app_flow import certificate_request, new_challenge, request_certificate
from tests.e2e.conftest import MovableClock

AMAGASAKI, CHIYODA, KYOTO = "282022", "131016", "261009"


def resident(
    entries: dict[str, ResidentEntry], code: str = AMAGASAKI, status: str = "resident", nth: int = 0
) -> ResidentEntry:
    found = [e for e in entries.values() if e.municipality_code == code and e.status == status]
    return found[nth]


def with_status(entries: dict[str, ResidentEntry], status: str) -> ResidentEntry:
    return next(e for e in entries.values() if e.status == status)


async def jwks_of(client: AsyncTestClient[Litestar]) -> dict[str, Any]:
    body: dict[str, Any] = (await client.get("/issuer/.well-known/jwks.json")).json()
    return body


def assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    assert body["status"] == status
    assert body["request_id"] == response.headers["x-request-id"]
    return body


# --- issued ------------------------------------------------------------------------------------


async def test_domestic_certificate_is_issued_and_verifies(
    app_client: AsyncTestClient[Litestar], world: World, resident_entries: dict[str, ResidentEntry]
) -> None:
    entry = resident(resident_entries)
    response = await request_certificate(app_client, world, entry, now=WORLD_NOW)
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    (cert,) = response.json()["certificates"]
    assert cert["kind"] == "domestic"
    assert cert["holder"] == {"name": entry.name, "birth_date": entry.birth_date.isoformat()}
    assert [v["dose"] for v in cert["vaccinations"]] == list(range(1, entry.doses + 1))
    assert "vdsnc" not in cert
    assert cert["municipality"]["code"] == AMAGASAKI
    jwks = await jwks_of(app_client)
    for jws, qr in zip(cert["shc"]["jws"], cert["shc"]["qr"], strict=True):
        assert signing.shc_qr_to_jws(qr) == jws
        report = signing.verify_shc_jws(jws, jwks=jwks, now=WORLD_NOW)
        assert report.exit_code == 0, report.findings


async def test_abroad_certificate_carries_passport_and_a_verifying_vdsnc(
    app_client: AsyncTestClient[Litestar],
    world: World,
    resident_entries: dict[str, ResidentEntry],
) -> None:
    entry = resident(resident_entries, CHIYODA)
    response = await request_certificate(app_client, world, entry, now=WORLD_NOW, kind="abroad")
    assert response.status_code == 201, response.text
    (cert,) = response.json()["certificates"]
    passport = mrz.parse_td3(entry.passport_mrz, today=WORLD_NOW.date())
    assert cert["holder"]["passport_number"] == passport.document_number
    assert cert["holder"]["nationality"] == "JPN"
    assert cert["holder"]["name_roman"] == f"{passport.family_name} {passport.given_names}"
    assert cert["vdsnc"]
    csca = world.key_dir / "vdsnc" / "csca.cert.pem"
    for seal in cert["vdsnc"]:
        assert seal["data"]["msg"]["uvci"] == cert["certificate_id"]
        report = signing.verify_vdsnc(seal, csca_pem=csca.read_bytes(), now=WORLD_NOW)
        assert report.exit_code == 0, report.findings


async def test_moved_out_resident_still_gets_the_doses_given_there(
    app_client: AsyncTestClient[Litestar], world: World, resident_entries: dict[str, ResidentEntry]
) -> None:
    entry = with_status(resident_entries, "moved_out")
    response = await request_certificate(app_client, world, entry, now=WORLD_NOW)
    assert response.status_code == 201, response.text


async def test_smart_health_card_file_on_request(
    app_client: AsyncTestClient[Litestar], world: World, resident_entries: dict[str, ResidentEntry]
) -> None:
    entry = resident(resident_entries, nth=1)
    response = await request_certificate(
        app_client,
        world,
        entry,
        now=WORLD_NOW,
        headers={"Accept": "application/smart-health-card"},
    )
    assert response.status_code == 201, response.text
    assert response.headers["content-type"].startswith("application/smart-health-card")
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert list(body) == ["verifiableCredential"]
    jwks = await jwks_of(app_client)
    for jws in body["verifiableCredential"]:
        assert signing.verify_shc_jws(jws, jwks=jwks, now=WORLD_NOW).exit_code == 0


async def test_issuance_is_recorded_without_plaintext_passport(
    app_client: AsyncTestClient[Litestar],
    world: World,
    resident_entries: dict[str, ResidentEntry],
    loaded_db: asyncpg.Pool,
) -> None:
    entry = resident(resident_entries, CHIYODA, nth=1)
    response = await request_certificate(app_client, world, entry, now=WORLD_NOW, kind="abroad")
    cid = response.json()["certificates"][0]["certificate_id"]
    async with loaded_db.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT channel, kind, municipality_code FROM issuances WHERE certificate_id = $1", cid
        )
        dump = json.dumps(
            [dict(r) for r in await conn.fetch("SELECT * FROM issuances")], default=str
        )
    assert row is not None
    assert (row["channel"], row["kind"], row["municipality_code"]) == ("app", "abroad", CHIYODA)
    number = mrz.parse_td3(entry.passport_mrz, today=WORLD_NOW.date()).document_number
    assert number not in dump


# --- refusals before the card ------------------------------------------------------------------


async def test_certificates_terms_not_accepted_names_the_current_version(
    app_client: AsyncTestClient[Litestar], world: World, resident_entries: dict[str, ResidentEntry]
) -> None:
    entry = resident(resident_entries)
    response = await request_certificate(
        app_client, world, entry, now=WORLD_NOW, terms_version="2025-01-01"
    )
    body = assert_problem(response, 422, "TERMS_NOT_ACCEPTED")
    assert body["current_terms_version"] == "2026-04-01"


async def test_certificates_attestation_missing(
    app_client: AsyncTestClient[Litestar], world: World, resident_entries: dict[str, ResidentEntry]
) -> None:
    challenge = await new_challenge(app_client)
    body = certificate_request(world, resident(resident_entries), challenge, now=WORLD_NOW)
    del body["attestation"]
    response = await app_client.post("/v1/app/certificates", json=body)
    assert_problem(response, 401, "ATTESTATION_MISSING")


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"audience": "https://elsewhere.invalid"}, "ATTESTATION_AUDIENCE_INVALID"),
        ({"app_id": "jp.example.clone"}, "ATTESTATION_APP_NOT_ALLOWED"),
        ({"app_version": "1.9.9"}, "ATTESTATION_APP_VERSION_TOO_OLD"),
        ({"lifetime": timedelta(minutes=30)}, "ATTESTATION_LIFETIME_TOO_LONG"),
    ],
)
async def test_certificates_attestation_refused(
    app_client: AsyncTestClient[Litestar],
    world: World,
    resident_entries: dict[str, ResidentEntry],
    change: dict[str, Any],
    code: str,
) -> None:
    challenge = await new_challenge(app_client)
    body = certificate_request(world, resident(resident_entries), challenge, now=WORLD_NOW)
    claims: dict[str, Any] = {
        "nonce": challenge["nonce"],
        "audience": world.audience,
        "app_id": world.app_id,
        "app_version": world.app_version,
        "now": WORLD_NOW,
    } | change
    body["attestation"] = world.authority().mint(**claims)
    response = await app_client.post("/v1/app/certificates", json=body)
    assert_problem(response, 401, code)


async def test_certificates_attestation_signed_by_another_key(
    app_client: AsyncTestClient[Litestar], world: World, resident_entries: dict[str, ResidentEntry]
) -> None:
    from signing.synthetic import SyntheticAttestationAuthority

    impostor = SyntheticAttestationAuthority.create(issuer=world.attestation_issuer)
    challenge = await new_challenge(app_client)
    body = certificate_request(world, resident(resident_entries), challenge, now=WORLD_NOW)
    body["attestation"] = impostor.mint(
        nonce=challenge["nonce"],
        audience=world.audience,
        app_id=world.app_id,
        app_version=world.app_version,
        now=WORLD_NOW,
    )
    response = await app_client.post("/v1/app/certificates", json=body)
    assert_problem(response, 401, "ATTESTATION_KEY_UNKNOWN")


async def test_certificates_replayed_challenge(
    app_client: AsyncTestClient[Litestar], world: World, resident_entries: dict[str, ResidentEntry]
) -> None:
    challenge = await new_challenge(app_client)
    body = certificate_request(world, resident(resident_entries), challenge, now=WORLD_NOW)
    first = await app_client.post("/v1/app/certificates", json=body)
    assert first.status_code == 201
    again = await app_client.post("/v1/app/certificates", json=body)
    assert_problem(again, 409, "CHALLENGE_ALREADY_USED")


async def test_certificates_expired_challenge(
    app_client: AsyncTestClient[Litestar],
    world: World,
    resident_entries: dict[str, ResidentEntry],
    clock: MovableClock,
) -> None:
    challenge = await new_challenge(app_client)
    clock.now = WORLD_NOW + timedelta(minutes=6)
    body = certificate_request(world, resident(resident_entries), challenge, now=clock.now)
    response = await app_client.post("/v1/app/certificates", json=body)
    assert_problem(response, 409, "CHALLENGE_EXPIRED")


async def test_certificates_unknown_challenge(
    app_client: AsyncTestClient[Litestar], world: World, resident_entries: dict[str, ResidentEntry]
) -> None:
    challenge = await new_challenge(app_client)
    body = certificate_request(world, resident(resident_entries), challenge, now=WORLD_NOW)
    body["challenge_id"] = "never-issued"
    response = await app_client.post("/v1/app/certificates", json=body)
    assert_problem(response, 409, "CHALLENGE_EXPIRED")


async def test_certificates_replayed_attestation_jti(
    app_client: AsyncTestClient[Litestar], world: World, resident_entries: dict[str, ResidentEntry]
) -> None:
    entry = resident(resident_entries)
    codes = []
    for _ in range(2):
        challenge = await new_challenge(app_client)
        body = certificate_request(world, entry, challenge, now=WORLD_NOW)
        body["attestation"] = world.authority().mint(
            nonce=challenge["nonce"],
            audience=world.audience,
            app_id=world.app_id,
            app_version=world.app_version,
            now=WORLD_NOW,
            jti="the-same-jti",
        )
        response = await app_client.post("/v1/app/certificates", json=body)
        codes.append(response.status_code)
    assert codes[0] == 201
    assert_problem(response, 409, "ATTESTATION_REPLAYED")


# --- refusals of the card ----------------------------------------------------------------------


def _flip(b64: str, index: int) -> str:
    raw = bytearray(base64.b64decode(b64))
    raw[index] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


@pytest.mark.parametrize(
    ("field", "index", "code"),
    [
        ("ef0001", 5, "CARD_MY_NUMBER_DIGEST_MISMATCH"),
        ("ef0002", -1, "CARD_ATTRIBUTES_DIGEST_MISMATCH"),  # the sex digit: 1 <-> 0
        ("ef0003", 100, "CARD_DATA_SIGNATURE_INVALID"),
        ("ef0004", 200, "CARD_CERTIFICATE_SIGNATURE_INVALID"),
        ("ef0007", 100, "CARD_KEY_SIGNATURE_INVALID"),
        ("challenge_signature", 10, "CARD_CHALLENGE_SIGNATURE_INVALID"),
        ("ef0004", 0, "CARD_MALFORMED"),
    ],
)
async def test_certificates_tampered_card(
    app_client: AsyncTestClient[Litestar],
    world: World,
    resident_entries: dict[str, ResidentEntry],
    field: str,
    index: int,
    code: str,
) -> None:
    challenge = await new_challenge(app_client)
    body = certificate_request(world, resident(resident_entries), challenge, now=WORLD_NOW)
    body["card"][field] = _flip(body["card"][field], index)
    response = await app_client.post("/v1/app/certificates", json=body)
    assert_problem(response, 422, code)


async def test_certificates_card_signed_another_nonce(
    app_client: AsyncTestClient[Litestar], world: World, resident_entries: dict[str, ResidentEntry]
) -> None:
    entry = resident(resident_entries)
    challenge = await new_challenge(app_client)
    body = certificate_request(world, entry, challenge, now=WORLD_NOW)
    card = load_card(world.directory, entry)
    body["card"] = card_json(card, card.sign_challenge(b"\x00" * 32))
    response = await app_client.post("/v1/app/certificates", json=body)
    assert_problem(response, 422, "CARD_CHALLENGE_SIGNATURE_INVALID")


# --- refusals of the records -------------------------------------------------------------------


async def _change_record(pool: asyncpg.Pool, entry: ResidentEntry, statement: str) -> None:
    """Change `entry`'s VRS record as the municipality's own system would (as the owner);
    `{person}` in `statement` selects the person's row of `persons`."""
    person = "municipality_code = $1 AND address_number = $2"
    async with pool.acquire() as conn:
        await conn.execute(
            statement.format(person=person), entry.municipality_code, entry.address_number
        )


async def test_certificates_channel_not_offered(
    app_client: AsyncTestClient[Litestar], world: World, resident_entries: dict[str, ResidentEntry]
) -> None:
    entry = resident(resident_entries, KYOTO)
    response = await request_certificate(app_client, world, entry, now=WORLD_NOW)
    assert_problem(response, 403, "CHANNEL_NOT_OFFERED")


async def test_certificates_person_not_found(
    app_client: AsyncTestClient[Litestar], world: World, resident_entries: dict[str, ResidentEntry]
) -> None:
    entry = resident(resident_entries, CHIYODA)
    response = await request_certificate(
        app_client, world, entry, now=WORLD_NOW, municipality_code=AMAGASAKI
    )
    assert_problem(response, 422, "PERSON_NOT_FOUND")


async def test_certificates_person_deceased(
    app_client: AsyncTestClient[Litestar],
    world: World,
    resident_entries: dict[str, ResidentEntry],
    loaded_db: asyncpg.Pool,
) -> None:
    entry = resident(resident_entries, nth=2)
    await _change_record(loaded_db, entry, "UPDATE persons SET status = 'deceased' WHERE {person}")
    response = await request_certificate(app_client, world, entry, now=WORLD_NOW)
    assert_problem(response, 422, "PERSON_DECEASED")


async def test_certificates_no_vaccinations(
    app_client: AsyncTestClient[Litestar],
    world: World,
    resident_entries: dict[str, ResidentEntry],
    loaded_db: asyncpg.Pool,
) -> None:
    entry = resident(resident_entries, nth=2)
    await _change_record(
        loaded_db,
        entry,
        "DELETE FROM vaccinations WHERE person_id = (SELECT id FROM persons WHERE {person})",
    )
    response = await request_certificate(app_client, world, entry, now=WORLD_NOW)
    assert_problem(response, 422, "NO_VACCINATIONS")


# --- refusals of the passport ------------------------------------------------------------------


def _mrz(entry: ResidentEntry, **change: Any) -> tuple[str, str]:
    p = mrz.parse_td3(entry.passport_mrz, today=WORLD_NOW.date())
    fields: dict[str, Any] = {
        "issuing_state": p.issuing_state,
        "family_name": p.family_name,
        "given_names": p.given_names,
        "number": p.number,
        "nationality": p.nationality,
        "birth_date": p.birth_date,
        "sex": p.sex,
        "expiry_date": p.expiry_date,
    } | change
    return mrz.compose_td3(**fields)


async def test_certificates_passport_expired(
    app_client: AsyncTestClient[Litestar], world: World, resident_entries: dict[str, ResidentEntry]
) -> None:
    entry = resident(resident_entries)
    lines = _mrz(entry, expiry_date=date(2026, 11, 26))
    response = await request_certificate(
        app_client, world, entry, now=WORLD_NOW, kind="abroad", mrz=lines
    )
    assert_problem(response, 422, "PASSPORT_EXPIRED")


async def test_certificates_passport_of_someone_else(
    app_client: AsyncTestClient[Litestar], world: World, resident_entries: dict[str, ResidentEntry]
) -> None:
    entry = resident(resident_entries)
    lines = _mrz(entry, birth_date=entry.birth_date - timedelta(days=1))
    response = await request_certificate(
        app_client, world, entry, now=WORLD_NOW, kind="abroad", mrz=lines
    )
    assert_problem(response, 422, "PASSPORT_BIRTH_DATE_MISMATCH")


async def test_certificates_passport_check_digit(
    app_client: AsyncTestClient[Litestar], world: World, resident_entries: dict[str, ResidentEntry]
) -> None:
    entry = resident(resident_entries)
    line1, line2 = entry.passport_mrz
    bad = line2[:43] + str((int(line2[43]) + 1) % 10)
    response = await request_certificate(
        app_client, world, entry, now=WORLD_NOW, kind="abroad", mrz=(line1, bad)
    )
    assert_problem(response, 400, "MRZ_CHECK_DIGIT_COMPOSITE")


async def test_certificates_passport_required_for_abroad(
    app_client: AsyncTestClient[Litestar], world: World, resident_entries: dict[str, ResidentEntry]
) -> None:
    challenge = await new_challenge(app_client)
    body = certificate_request(world, resident(resident_entries), challenge, now=WORLD_NOW)
    body["kind"] = "abroad"
    response = await app_client.post("/v1/app/certificates", json=body)
    assert_problem(response, 400, "PASSPORT_REQUIRED")


async def test_certificates_passport_not_allowed_for_domestic(
    app_client: AsyncTestClient[Litestar], world: World, resident_entries: dict[str, ResidentEntry]
) -> None:
    entry = resident(resident_entries)
    challenge = await new_challenge(app_client)
    body = certificate_request(world, entry, challenge, now=WORLD_NOW)
    body["passport"] = {"mrz": list(entry.passport_mrz)}
    response = await app_client.post("/v1/app/certificates", json=body)
    assert_problem(response, 400, "PASSPORT_NOT_ALLOWED")


# --- malformed requests ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mutate", "status", "code"),
    [
        (lambda b: b"{not json", 400, "MALFORMED_REQUEST"),
        (lambda b: json.dumps({**b, "extra": 1}).encode(), 400, "MALFORMED_REQUEST"),
        (lambda b: json.dumps({**b, "kind": 5}).encode(), 400, "MALFORMED_REQUEST"),
        (lambda b: json.dumps({**b, "kind": "both"}).encode(), 400, "MALFORMED_REQUEST"),
        (
            lambda b: json.dumps({**b, "card": {**b["card"], "ef0001": "%%%"}}).encode(),
            400,
            "BASE64_INVALID",
        ),
        (
            lambda b: json.dumps({**b, "municipality_code": "282021"}).encode(),
            400,
            "MUNICIPALITY_CODE_INVALID",
        ),
        (lambda b: b"[]", 400, "MALFORMED_REQUEST"),
        (lambda b: b"x" * 70_000, 413, "BODY_TOO_LARGE"),
    ],
)
async def test_certificates_malformed(
    app_client: AsyncTestClient[Litestar],
    world: World,
    resident_entries: dict[str, ResidentEntry],
    mutate: Any,
    status: int,
    code: str,
) -> None:
    entry = resident(resident_entries)
    challenge = await new_challenge(app_client)
    body = certificate_request(world, entry, challenge, now=WORLD_NOW)
    response = await app_client.post(
        "/v1/app/certificates",
        content=mutate(body),
        headers={"content-type": "application/json"},
    )
    problem = assert_problem(response, status, code)
    assert entry.name not in json.dumps(problem, ensure_ascii=False)


# --- rate limits and load ----------------------------------------------------------------------


async def test_certificates_person_rate_limited(
    app_client: AsyncTestClient[Litestar], world: World, resident_entries: dict[str, ResidentEntry]
) -> None:
    entry = resident(resident_entries)
    statuses = []
    for _ in range(11):
        response = await request_certificate(app_client, world, entry, now=WORLD_NOW)
        statuses.append(response.status_code)
    assert statuses[:10] == [201] * 10
    assert_problem(response, 429, "PERSON_RATE_LIMITED")
    assert int(response.headers["retry-after"]) > 0


async def test_fifty_parallel_issuances_for_different_people(
    app_client: AsyncTestClient[Litestar],
    world: World,
    loaded_db: asyncpg.Pool,
    master_key: bytes,
    lookup_key: bytes,
    tmp_path: Any,
) -> None:
    from tests.e2e.app_flow import load_many_residents

    entries = await load_many_residents(
        world, loaded_db, tmp_path, 50, master_key=master_key, lookup_key=lookup_key
    )
    responses = await asyncio.gather(
        *(request_certificate(app_client, world, e, now=WORLD_NOW) for e in entries)
    )
    assert [r.status_code for r in responses] == [201] * 50
    ids = {r.json()["certificates"][0]["certificate_id"] for r in responses}
    assert len(ids) == 50


async def test_issuances_are_audited_and_the_chain_verifies(
    app_client: AsyncTestClient[Litestar],
    world: World,
    resident_entries: dict[str, ResidentEntry],
    loaded_db: asyncpg.Pool,
    world_settings: Any,
) -> None:
    from certsvc.audit_chainer import chain_all
    from vrs_client import VrsStore, verify_audit_chain

    for nth in (0, 1):
        entry = resident(resident_entries, nth=nth)
        assert (
            await request_certificate(app_client, world, entry, now=WORLD_NOW)
        ).status_code == 201
    store = VrsStore(
        loaded_db, master_key=world_settings.master_key, lookup_key=world_settings.lookup_key
    )
    await chain_all(store)
    async with loaded_db.acquire() as conn:
        report = await verify_audit_chain(conn, municipality_code=AMAGASAKI)
        rows = await conn.fetch("SELECT actor, action, outcome FROM audit_events")
    assert report.ok
    assert report.unchained == 0
    assert report.checked >= 2
    assert {tuple(r) for r in rows} >= {(f"app:{world.app_id}", "issue.app.domestic", "issued")}


async def test_abroad_certificate_for_a_german_passport(
    app_client: AsyncTestClient[Litestar], world: World, resident_entries: dict[str, ResidentEntry]
) -> None:
    # ICAO codes Germany `D<<`: the certificate shows the code without fillers.
    entry = resident(resident_entries, CHIYODA, nth=2)
    lines = _mrz(entry, issuing_state="D", nationality="D", number="C01X0006H")
    response = await request_certificate(
        app_client, world, entry, now=WORLD_NOW, kind="abroad", mrz=lines
    )
    assert response.status_code == 201, response.text
    holder = response.json()["certificates"][0]["holder"]
    assert holder["nationality"] == "D"
    assert holder["passport_number"] == "C01X0006H"


@pytest.mark.parametrize(
    ("token", "code"),
    [
        ("not-a-jws", "ATTESTATION_MALFORMED"),
        ("a.%%%.c", "ATTESTATION_MALFORMED"),
        ("eyJhbGciOiJFUzI1NiJ9.W10.c2ln", "ATTESTATION_MALFORMED"),  # payload: []
        ("eyJhbGciOiJFUzI1NiJ9.eyJqdGkiOiJ4In0.c2ln", "ATTESTATION_CLAIMS_MISSING"),  # no nonce
    ],
)
async def test_certificates_attestation_unreadable(
    app_client: AsyncTestClient[Litestar],
    world: World,
    resident_entries: dict[str, ResidentEntry],
    token: str,
    code: str,
) -> None:
    challenge = await new_challenge(app_client)
    body = certificate_request(world, resident(resident_entries), challenge, now=WORLD_NOW)
    body["attestation"] = token
    response = await app_client.post("/v1/app/certificates", json=body)
    assert_problem(response, 401, code)
