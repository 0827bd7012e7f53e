"""The app's certificate call against Redis: two round trips per issuance (the client counter,
the challenge and the `jti` in one pipeline; then the person limit), no script bookkeeping, and
the refusals in the same order as when each was its own call."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import msgspec
import pytest
import redis.asyncio as redis_asyncio
from litestar import Litestar
from litestar.testing import AsyncTestClient

from certsvc.app import create_app
from certsvc.settings import Settings
from certsvc.synthetic import ResidentEntry, World
from tests.conftest import WORLD_NOW
from tests.e2e.app_flow import certificate_request, new_challenge, request_certificate
from tests.e2e.conftest import MovableClock
from tests.e2e.redis_counting import command_names, counting_redis_sends
from tests.e2e.test_app_channel import assert_problem, resident


async def test_issuance_takes_two_redis_round_trips(
    app_client: AsyncTestClient[Litestar],
    world: World,
    resident_entries: dict[str, ResidentEntry],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    entry = resident(resident_entries)
    warm = await request_certificate(app_client, world, entry, now=WORLD_NOW)  # connects
    assert warm.status_code == 201, warm.text
    body = certificate_request(world, entry, await new_challenge(app_client), now=WORLD_NOW)
    with counting_redis_sends(monkeypatch) as sends:
        response = await app_client.post("/v1/app/certificates", json=body)
    assert response.status_code == 201, response.text
    assert len(sends.batches) == 2, sends.commands
    first, second = (sorted(command_names(packed)) for _, packed in sends.batches)
    # the client counter and the challenge's consume (scripts by their SHA), the jti claim
    assert first == [b"EVALSHA", b"EVALSHA", b"SET"]
    assert second == [b"EVALSHA"]  # the person limit, in the use case
    assert b"SCRIPT" not in sends.commands


async def test_certificates_terms_refusal_leaves_the_challenge_usable(
    app_client: AsyncTestClient[Litestar],
    world: World,
    resident_entries: dict[str, ResidentEntry],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    entry = resident(resident_entries)
    challenge = await new_challenge(app_client)
    refused = certificate_request(world, entry, challenge, now=WORLD_NOW, terms_version="2025-01")
    with counting_redis_sends(monkeypatch) as sends:
        response = await app_client.post("/v1/app/certificates", json=refused)
    assert_problem(response, 422, "TERMS_NOT_ACCEPTED")
    assert len(sends.batches) == 1
    assert b"rl:client:" in sends.batches[0][1]  # the client counter alone
    assert sends.commands == [b"EVALSHA"]
    body = certificate_request(world, entry, challenge, now=WORLD_NOW)
    accepted = await app_client.post("/v1/app/certificates", json=body)
    assert accepted.status_code == 201, accepted.text


@pytest.mark.parametrize(
    ("token", "code"),
    [(None, "ATTESTATION_MISSING"), ("not-a-token", "ATTESTATION_MALFORMED")],
)
async def test_certificates_unreadable_attestation_leaves_the_challenge_usable(
    app_client: AsyncTestClient[Litestar],
    world: World,
    resident_entries: dict[str, ResidentEntry],
    token: str | None,
    code: str,
) -> None:
    entry = resident(resident_entries)
    challenge = await new_challenge(app_client)
    body = certificate_request(world, entry, challenge, now=WORLD_NOW)
    spoilt = dict(body)
    if token is None:
        del spoilt["attestation"]
    else:
        spoilt["attestation"] = token
    assert_problem(await app_client.post("/v1/app/certificates", json=spoilt), 401, code)
    accepted = await app_client.post("/v1/app/certificates", json=body)
    assert accepted.status_code == 201, accepted.text


async def test_certificates_replayed_jti_is_refused_after_the_challenge_checks(
    app_client: AsyncTestClient[Litestar], world: World, resident_entries: dict[str, ResidentEntry]
) -> None:
    """The `jti` is claimed in round trip 1 but counts only for a token that verified: the
    replay of a used `jti` over an expired challenge is told CHALLENGE_EXPIRED, over a fresh
    one ATTESTATION_REPLAYED."""
    entry = resident(resident_entries)

    def with_jti(challenge: dict[str, str], jti: str) -> dict[str, object]:
        body = certificate_request(world, entry, challenge, now=WORLD_NOW)
        body["attestation"] = world.authority().mint(
            nonce=challenge["nonce"],
            audience=world.audience,
            app_id=world.app_id,
            app_version=world.app_version,
            now=WORLD_NOW,
            jti=jti,
        )
        return body

    first = await app_client.post(
        "/v1/app/certificates", json=with_jti(await new_challenge(app_client), "jti-once")
    )
    assert first.status_code == 201, first.text
    unknown = with_jti(await new_challenge(app_client), "jti-once") | {"challenge_id": "gone"}
    assert_problem(
        await app_client.post("/v1/app/certificates", json=unknown), 409, "CHALLENGE_EXPIRED"
    )
    replay = with_jti(await new_challenge(app_client), "jti-once")
    assert_problem(
        await app_client.post("/v1/app/certificates", json=replay), 409, "ATTESTATION_REPLAYED"
    )


async def test_certificates_forged_replay_is_refused_for_its_signature(
    app_client: AsyncTestClient[Litestar], world: World, resident_entries: dict[str, ResidentEntry]
) -> None:
    """A token whose `jti` was used, with a signature that does not verify, is refused for its
    signature (check 4), not as a replay: the claim's answer counts only for a verified token."""
    entry = resident(resident_entries)

    def with_jti(challenge: dict[str, str]) -> dict[str, object]:
        body = certificate_request(world, entry, challenge, now=WORLD_NOW)
        body["attestation"] = world.authority().mint(
            nonce=challenge["nonce"],
            audience=world.audience,
            app_id=world.app_id,
            app_version=world.app_version,
            now=WORLD_NOW,
            jti="jti-seen",
        )
        return body

    used = with_jti(await new_challenge(app_client))
    assert (await app_client.post("/v1/app/certificates", json=used)).status_code == 201
    forged = with_jti(await new_challenge(app_client))
    header, payload, _ = str(forged["attestation"]).split(".")
    forged["attestation"] = f"{header}.{payload}.{str(used['attestation']).split('.')[2]}"
    assert_problem(
        await app_client.post("/v1/app/certificates", json=forged),
        401,
        "ATTESTATION_SIGNATURE_INVALID",
    )


async def test_certificates_after_a_script_flush(
    app_client: AsyncTestClient[Litestar],
    world: World,
    resident_entries: dict[str, ResidentEntry],
    redis_client: redis_asyncio.Redis,
) -> None:
    """A Redis that has lost its scripts (restarted, failed over) answers NOSCRIPT to the
    consume's EVALSHA: the request runs the script by its text and goes on."""
    entry = resident(resident_entries)
    challenge = await new_challenge(app_client)
    body = certificate_request(world, entry, challenge, now=WORLD_NOW)
    await redis_client.script_flush()
    response = await app_client.post("/v1/app/certificates", json=body)
    assert response.status_code == 201, response.text
    again = await app_client.post("/v1/app/certificates", json=body)
    assert_problem(again, 409, "CHALLENGE_ALREADY_USED")


@pytest.fixture
async def limited_client(
    world_settings: Settings,
    loaded_db: asyncpg.Pool,
    redis_client: redis_asyncio.Redis,
    clock: MovableClock,
) -> AsyncIterator[AsyncTestClient[Litestar]]:
    settings = msgspec.structs.replace(world_settings, rate_client_per_minute=2)
    async with AsyncTestClient(app=create_app(settings, clock=clock)) as client:
        yield client


async def test_certificates_client_rate_limited_before_any_other_refusal(
    limited_client: AsyncTestClient[Litestar],
    world: World,
    resident_entries: dict[str, ResidentEntry],
) -> None:
    entry = resident(resident_entries)
    for _ in range(2):
        response = await request_certificate(limited_client, world, entry, now=WORLD_NOW)
        assert response.status_code == 201, response.text
    challenge = await new_challenge(limited_client)
    terms = certificate_request(world, entry, challenge, now=WORLD_NOW, terms_version="2025-01")
    refused = await limited_client.post("/v1/app/certificates", json=terms)
    assert_problem(refused, 429, "RATE_LIMITED")
    assert int(refused.headers["retry-after"]) > 0
    body = certificate_request(world, entry, challenge, now=WORLD_NOW)
    assert_problem(
        await limited_client.post("/v1/app/certificates", json=body), 429, "RATE_LIMITED"
    )
