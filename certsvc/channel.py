"""Temporary stand-in for the channel face (replaced by the real module at merge)."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar
from litestar.openapi import OpenAPIConfig

import signing
from certsvc import errors as _errors
from certsvc.api.refusals import refusal_problem as _refusal_problem
from certsvc.api.wire import CardFiles
from certsvc.api.wire import card_evidence as _card_evidence
from certsvc.app import CertsvcApp, open_pool, open_redis
from certsvc.errors import CodeInfo, exception_handlers, problem_response
from certsvc.issuance import (
    JST,
    CardProof,
    IssuanceServices,
    IssueCommand,
    Issued,
    LatestOnRecord,
    MrzLines,
    Preview,
    RefusalCode,
    Refused,
    StaffVerifiedIdentity,
    VerifiedPerson,
    channel_offered,
    issue_certificates,
    preview_issuance,
    reprint_certificate,
)
from certsvc.logs import configure_logging, mask_text
from certsvc.printout import render_certificate_pdf
from certsvc.resources import Clock, ConfigurationError, system_clock
from certsvc.resources import Resources as ChannelResources
from certsvc.server import ListenerSpec, free_port
from certsvc.settings import Settings, SettingsError, load_settings
from vrs_client import AuditEvent, Channel, Municipality


class Problem(_errors.Problem):
    """The face's Problem: a channel passes the CodeInfo of its own codes."""

    def __init__(self, code: str, *, info: CodeInfo | None = None, **kw: Any) -> None:
        if info is not None:
            _errors.CATALOGUE.setdefault(code, info)
        super().__init__(code, **kw)


def _face(problem: _errors.Problem) -> Problem:
    return Problem(
        problem.code,
        info=CodeInfo(problem.status, problem.title),
        headers=problem.headers,
        detail=problem.detail,
    )


def refusal_problem(refused: Refused) -> Problem:
    if refused.code.value not in _errors.CATALOGUE:
        _errors.CATALOGUE[refused.code.value] = CodeInfo(422, refused.code.value)
    return _face(_refusal_problem(refused))


def card_evidence(files: CardFiles) -> signing.CardEvidence:
    try:
        return _card_evidence(files)
    except _errors.Problem as exc:
        raise _face(exc) from None


OnStart = Callable[[ChannelResources, Litestar], None]


async def record_audit(
    services: IssuanceServices, *, municipality_code: str, event: AuditEvent
) -> None:
    async with services.store.scoped(municipality_code) as tx:
        await tx.record_audit_event(event)


_RENDERER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="certsvc-pdf")


def _render(issued: Issued) -> bytes:
    return render_certificate_pdf(
        issued.certificate,
        shc_qr_texts=[signing.shc_qr_text(j) for j in issued.shc_jws],
        vdsnc_payloads=[signing.seal_bytes(s) for s in issued.vdsnc],
    )


async def render_pdf(issued: Issued) -> bytes:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_RENDERER, functools.partial(_render, issued))


def create_channel_app(
    settings: Settings,
    *,
    route_handlers: Sequence[Any],
    on_start: OnStart | None = None,
    clock: Clock = system_clock,
    person_limit: bool = True,
    openapi_config: OpenAPIConfig | None = None,
    codes: Mapping[str, CodeInfo] | None = None,
) -> Litestar:
    _errors.register_codes(codes or {})

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        pool = await open_pool(settings)
        redis = open_redis(settings)
        try:
            resources = ChannelResources(settings=settings, pool=pool, redis=redis, clock=clock)
            app.state.resources = resources
            if on_start is not None:
                on_start(resources, app)
            yield
        finally:
            await redis.aclose()
            await pool.close()

    return CertsvcApp(
        route_handlers=list(route_handlers),
        lifespan=[lifespan],
        exception_handlers=exception_handlers(),
        request_max_body_size=settings.max_body_bytes,
        openapi_config=openapi_config,
        logging_config=None,
        debug=False,
    )


__all__ = [
    "JST",
    "AuditEvent",
    "CardFiles",
    "CardProof",
    "Channel",
    "ChannelResources",
    "Clock",
    "CodeInfo",
    "ConfigurationError",
    "IssuanceServices",
    "IssueCommand",
    "Issued",
    "LatestOnRecord",
    "ListenerSpec",
    "MrzLines",
    "Municipality",
    "Preview",
    "Problem",
    "RefusalCode",
    "Refused",
    "Settings",
    "SettingsError",
    "StaffVerifiedIdentity",
    "VerifiedPerson",
    "card_evidence",
    "channel_offered",
    "configure_logging",
    "create_channel_app",
    "free_port",
    "issue_certificates",
    "load_settings",
    "mask_text",
    "preview_issuance",
    "problem_response",
    "record_audit",
    "refusal_problem",
    "render_pdf",
    "reprint_certificate",
    "system_clock",
]
