"""Public endpoints (contracts §2): municipalities, the SHC keys and their revocation lists.

Verifiers fetch `<iss>/.well-known/jwks.json`, so when the issuer URL has a path the key set and
the CRLs are served under that path too. Both are read from the database and the key store, and
a GET writes nothing: every node serves the same documents. A key's CRL and the JWKS's
`crlVersion` come from the `ctr` the database bumps with each change of the key's list (1 while
it never changed), so `crlVersion` is there from the first key and `ctr` only grows. Browsers'
CORS preflights (`OPTIONS`) are answered on the key set and the CRLs.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import msgspec
from litestar import Response, get, route
from litestar.datastructures import State
from litestar.enums import HttpMethod
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath

from certsvc.errors import Problem
from certsvc.openapi import api_doc
from certsvc.resources import Resources

_CORS = {"Access-Control-Allow-Origin": "*"}
# SHC: the keys are fetched by web verifiers from any origin (`Access-Control-Allow-Origin: *`).
_PREFLIGHT = {
    **_CORS,
    "Access-Control-Allow-Methods": "GET, OPTIONS",
    "Access-Control-Allow-Headers": "*",
    "Access-Control-Max-Age": "86400",
}
_PUBLIC_CACHE = "public, max-age=300"


class Channels(msgspec.Struct, frozen=True, kw_only=True):
    app: bool
    kiosk: bool
    counter: bool


class Hours(msgspec.Struct, frozen=True, kw_only=True):
    open: str
    close: str


class MunicipalityOut(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    name_ja: str
    name_en: str
    channels: Channels
    kiosk_fee_yen: int
    kiosk_hours: Hours


class MunicipalitiesOut(msgspec.Struct, frozen=True, kw_only=True):
    municipalities: list[MunicipalityOut]


def _resources(state: State) -> Resources:
    resources: Resources = state.resources
    return resources


@get(
    "/v1/municipalities",
    tags=["public"],
    summary="Municipalities served and their channels",
    security=[],
    opt=api_doc(),
)
async def list_municipalities(state: State) -> Response[MunicipalitiesOut]:
    rows = await _resources(state).services.municipalities.all()
    body = MunicipalitiesOut(
        municipalities=[
            MunicipalityOut(
                code=m.code,
                name_ja=m.name_ja,
                name_en=m.name_en,
                channels=Channels(
                    app=m.app_enabled, kiosk=m.kiosk_enabled, counter=m.counter_enabled
                ),
                kiosk_fee_yen=m.kiosk_fee_yen,
                kiosk_hours=Hours(
                    open=m.kiosk_open.strftime("%H:%M"), close=m.kiosk_close.strftime("%H:%M")
                ),
            )
            for m in rows
        ]
    )
    return Response(body, headers={"Cache-Control": "public, max-age=60"})


async def jwks_document(resources: Resources) -> dict[str, Any]:
    """The JWKS as every node serves it: the key store's public keys, each with the
    `crlVersion` the database holds for it."""
    keys = resources.keys.public_keys()
    versions = await resources.store.crl_versions([k["kid"] for k in keys])
    return {"keys": [{**k, "crlVersion": versions.get(k["kid"], 1)} for k in keys]}


def issuer_path(issuer: str | None) -> str:
    """The path of the issuer URL (`/issuer` for `https://vc.example.jp/issuer`), or ''."""
    return urlsplit(issuer).path.rstrip("/") if issuer else ""


def routes(issuer: str | None) -> list[HTTPRouteHandler]:
    prefixes = sorted({"", issuer_path(issuer)})

    @get(
        [f"{p}/.well-known/jwks.json" for p in prefixes],
        tags=["public"],
        summary="SMART Health Card public keys (CORS open)",
        security=[],
        opt=api_doc(),
    )
    async def jwks(state: State) -> Response[Any]:
        document = await jwks_document(_resources(state))
        return Response(document, headers={**_CORS, "Cache-Control": _PUBLIC_CACHE})

    @get(
        [f"{p}/.well-known/crl/{{filename:str}}" for p in prefixes],
        tags=["public"],
        summary="SMART Health Card revocation list of one key",
        security=[],
        opt=api_doc(codes=["NOT_FOUND"]),
    )
    async def crl(state: State, filename: FromPath[str]) -> Response[Any]:
        resources = _resources(state)
        # A path parameter is a whole segment: `<kid>.json`.
        kid = filename.removesuffix(".json")
        kids = {k["kid"] for k in resources.keys.public_keys()}
        if not filename.endswith(".json") or kid not in kids:
            raise Problem("NOT_FOUND")
        state_ = await resources.store.shc_crl(kid)
        # SHC: {"kid", "method": "rid", "ctr", "rids"}
        document = {"kid": kid, "method": "rid", "ctr": state_.ctr, "rids": state_.rids}
        return Response(document, headers={**_CORS, "Cache-Control": _PUBLIC_CACHE})

    @route(
        [
            *(f"{p}/.well-known/jwks.json" for p in prefixes),
            *(f"{p}/.well-known/crl/{{filename:str}}" for p in prefixes),
        ],
        http_method=[HttpMethod.OPTIONS],
        include_in_schema=False,
    )
    async def preflight() -> Response[None]:
        return Response(None, status_code=204, headers=_PREFLIGHT)

    # The preflight first: registered after the GETs, it would clash with the OPTIONS handler
    # Litestar adds to a path that has none.
    return [preflight, list_municipalities, jwks, crl]
