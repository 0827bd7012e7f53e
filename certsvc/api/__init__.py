"""The HTTP APIs of the main listener: the app channel and the public endpoints."""

from __future__ import annotations

from litestar.handlers import HTTPRouteHandler

from certsvc.api import app_channel, public


def routes(issuer: str | None) -> list[HTTPRouteHandler]:
    return [*app_channel.routes(), *public.routes(issuer)]
