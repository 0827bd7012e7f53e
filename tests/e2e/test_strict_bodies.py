"""Strict HTTP edges of the app listener: JSON bodies only, every body read and bounded, no
duplicate members, `Allow` on a 405."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from certsvc.strict_body import check_json, is_json_media_type
from certsvc.synthetic import ResidentEntry, World
from tests.conftest import WORLD_NOW
from tests.e2e.app_flow import certificate_request, new_challenge
from tests.e2e.test_app_channel import AMAGASAKI, CHIYODA, assert_problem, resident


async def _issuances(pool: asyncpg.Pool) -> int:
    async with pool.acquire() as conn:
        count: int = await conn.fetchval("SELECT count(*) FROM issuances")
        return count


async def _valid_body(
    client: AsyncTestClient[Litestar], world: World, entries: dict[str, ResidentEntry]
) -> dict[str, Any]:
    challenge = await new_challenge(client)
    return certificate_request(world, resident(entries), challenge, now=WORLD_NOW)


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
        None,
        "application/json; charset=latin-1",
        "application/jsonx",
    ],
)
async def test_certificates_refuse_a_body_that_is_not_json(
    app_client: AsyncTestClient[Litestar],
    world: World,
    resident_entries: dict[str, ResidentEntry],
    loaded_db: asyncpg.Pool,
    content_type: str | None,
) -> None:
    body = json.dumps(await _valid_body(app_client, world, resident_entries)).encode()
    headers = {} if content_type is None else {"content-type": content_type}
    response = await app_client.post("/v1/app/certificates", content=body, headers=headers)
    assert_problem(response, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert await _issuances(loaded_db) == 0


async def test_certificates_accept_json_with_utf8_charset(
    app_client: AsyncTestClient[Litestar], world: World, resident_entries: dict[str, ResidentEntry]
) -> None:
    body = json.dumps(await _valid_body(app_client, world, resident_entries)).encode()
    response = await app_client.post(
        "/v1/app/certificates",
        content=body,
        headers={"content-type": "Application/JSON; charset=UTF-8"},
    )
    assert response.status_code == 201, response.text


async def test_certificates_duplicate_member_is_refused(
    app_client: AsyncTestClient[Litestar],
    world: World,
    resident_entries: dict[str, ResidentEntry],
    loaded_db: asyncpg.Pool,
) -> None:
    body = json.dumps(await _valid_body(app_client, world, resident_entries))
    assert f'"municipality_code": "{AMAGASAKI}"' in body
    # A second municipality_code, last: msgspec alone would use Chiyoda's.
    spoiled = body[:-1] + f', "municipality_code": "{CHIYODA}"}}'
    response = await app_client.post(
        "/v1/app/certificates", content=spoiled, headers={"content-type": "application/json"}
    )
    assert_problem(response, 400, "JSON_DUPLICATE_KEY")
    assert await _issuances(loaded_db) == 0


async def test_certificates_duplicate_member_in_a_nested_object_is_refused(
    app_client: AsyncTestClient[Litestar], world: World, resident_entries: dict[str, ResidentEntry]
) -> None:
    body = json.dumps(await _valid_body(app_client, world, resident_entries))
    spoiled = body.replace('"card": {', '"card": {"ef0001": "AAAA", ', 1)
    response = await app_client.post(
        "/v1/app/certificates", content=spoiled, headers={"content-type": "application/json"}
    )
    assert_problem(response, 400, "JSON_DUPLICATE_KEY")


async def test_challenges_take_an_empty_body_or_an_empty_object(
    app_client: AsyncTestClient[Litestar],
) -> None:
    assert (await app_client.post("/v1/app/challenges")).status_code == 201
    response = await app_client.post("/v1/app/challenges", json={})
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (b"x" * (10 * 1024 * 1024), "application/json", 413, "BODY_TOO_LARGE"),
        (b"\x00garbage\xff", "application/octet-stream", 415, "UNSUPPORTED_MEDIA_TYPE"),
        (b"{garbage", "application/json", 400, "MALFORMED_REQUEST"),
        (b'{"unexpected": 1}', "application/json", 400, "MALFORMED_REQUEST"),
        (b"[]", "application/json", 400, "MALFORMED_REQUEST"),
    ],
)
async def test_challenges_refuse_any_other_body(
    app_client: AsyncTestClient[Litestar], body: bytes, content_type: str, status: int, code: str
) -> None:
    response = await app_client.post(
        "/v1/app/challenges", content=body, headers={"content-type": content_type}
    )
    assert_problem(response, status, code)


async def test_a_405_names_the_allowed_methods(app_client: AsyncTestClient[Litestar]) -> None:
    response = await app_client.get("/v1/app/certificates")
    assert_problem(response, 405, "METHOD_NOT_ALLOWED")
    assert "POST" in {m.strip() for m in response.headers["allow"].split(",")}
    response = await app_client.delete("/v1/municipalities")
    assert_problem(response, 405, "METHOD_NOT_ALLOWED")
    assert "GET" in response.headers["allow"]


# --- the duplicate check itself -----------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": 1, "a": 2}',
        b'{"a": {"b": 1, "b": 1}}',
        b'[{"x": 1}, {"y": 2, "y": 3}]',
        b'{"t": "10:00", "a": 1, "a": 1}',  # a colon in a string: the slow path
        b'{"a": 1, "\\u0061": 2}',  # the same name, escaped
    ],
)
def test_check_json_finds_duplicates(body: bytes) -> None:
    with pytest.raises(Exception, match="JSON_DUPLICATE_KEY"):
        check_json(body)


@pytest.mark.parametrize(
    "body",
    [b"{}", b'{"a": 1, "b": {"a": 1}}', b'{"t": "10:00:00", "u": "a:b"}', b'["a:", 1]', b"3"],
)
def test_check_json_passes_bodies_without_duplicates(body: bytes) -> None:
    check_json(body)


def test_json_media_types() -> None:
    assert is_json_media_type(b"application/json")
    assert is_json_media_type(b'application/json; charset="utf-8"')
    assert not is_json_media_type(b"application/json; charset=utf-16")
    assert not is_json_media_type(b"text/json")
    assert not is_json_media_type(b"")
