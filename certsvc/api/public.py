"""Public endpoints (contracts §2): municipalities, the SHC keys and their revocation lists.

Verifiers fetch `<iss>/.well-known/jwks.json`, so when the issuer URL has a path the key set and
the CRLs are served under that path too. The CRL of a key is derived from the revoked issuances
in the VRS each time it is asked for; its `ctr` goes up when the set changes.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import msgspec
from litestar import Response, get
from litestar.datastructures import State
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath

from certsvc.errors import Problem
from certsvc.openapi import api_doc
from certsvc.resources import Resources

_CORS = {"Access-Control-Allow-Origin": "*"}
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


async def refresh_crls(resources: Resources) -> None:
    """Bring every key's CRL in line with the revoked issuances recorded in the VRS."""
    for jwk in resources.keys.jwks()["keys"]:
        kid = jwk["kid"]
        revoked = await resources.store.list_revoked_rids(kid)
        rids = [r.rid for r in revoked]
        if rids or resources.keys.shc_crl(kid) is not None:
            resources.keys.update_shc_crl(kid, rids)


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
        resources = _resources(state)
        await refresh_crls(resources)
        return Response(
            resources.keys.jwks(),
            headers={**_CORS, "Cache-Control": _PUBLIC_CACHE},
        )

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
        kids = {k["kid"] for k in resources.keys.jwks()["keys"]}
        if not filename.endswith(".json") or kid not in kids:
            raise Problem("NOT_FOUND")
        revoked = await resources.store.list_revoked_rids(kid)
        document = resources.keys.update_shc_crl(kid, [r.rid for r in revoked])
        return Response(document, headers={**_CORS, "Cache-Control": _PUBLIC_CACHE})

    return [list_municipalities, jwks, crl]
