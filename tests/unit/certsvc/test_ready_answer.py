"""The hot route's answer encoded up front (`wire.ReadyAnswer`) reaches the client exactly as the
Litestar `Response` of the same Struct would: status, body bytes and headers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import Litestar, Response, Router, post
from litestar.datastructures import ResponseHeader
from litestar.testing import TestClient

from certsvc.api import wire


class _Out(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    issued_at: datetime
    name: str
    extra: list[dict[str, Any]] | None = None


_OUT = _Out(
    issued_at=datetime(2026, 12, 1, 9, 30, 15, 123456, tzinfo=UTC),
    name="黒桐\u3000幹也",
    extra=[{"a": 1, "b": [True, None]}],
)


@post("/litestar", status_code=201)
async def _litestar() -> Response[Any]:
    return Response(_OUT, status_code=201, headers={"Cache-Control": "no-store"})


@post("/ready", status_code=201)
async def _ready() -> Response[Any]:
    return wire.ReadyAnswer(wire.encode_json(_OUT), status_code=201)


@post("/ready-file", status_code=201)
async def _ready_file() -> Response[Any]:
    return wire.ReadyAnswer(b'{"v":1}', status_code=201, media_type="application/x-test")


@post("/layered", status_code=201)
async def _ready_layered() -> Response[Any]:
    return wire.ReadyAnswer(wire.encode_json(_OUT), status_code=201)


def _answer(client: TestClient[Litestar], path: str) -> tuple[int, bytes, dict[str, str]]:
    response = client.post(path)
    return response.status_code, response.content, dict(response.headers)


def test_a_ready_answer_is_what_litestar_would_send() -> None:
    app = Litestar(route_handlers=[_litestar, _ready, _ready_file])
    with TestClient(app) as client:
        expected = _answer(client, "/litestar")
        assert _answer(client, "/ready") == expected
        status, body, headers = _answer(client, "/ready-file")
    assert expected[0] == 201
    assert expected[2]["content-type"] == "application/json"
    assert expected[2]["cache-control"] == "no-store"
    assert msgspec.json.decode(expected[1]) == {
        "issued_at": "2026-12-01T09:30:15.123456Z",
        "name": "黒桐\u3000幹也",
        "extra": [{"a": 1, "b": [True, None]}],
    }
    assert (status, body) == (201, b'{"v":1}')
    assert headers["content-type"] == "application/x-test"
    assert headers["content-length"] == "7"


def test_a_ready_answer_keeps_the_headers_of_its_layers() -> None:
    layered = Router(
        path="/",
        route_handlers=[_ready_layered],
        response_headers=[ResponseHeader(name="X-Layer", value="1")],
    )
    with TestClient(Litestar(route_handlers=[layered])) as client:
        status, body, headers = _answer(client, "/layered")
    assert status == 201
    assert headers["x-layer"] == "1"
    assert headers["cache-control"] == "no-store"
    assert msgspec.json.decode(body)["name"] == "黒桐\u3000幹也"
