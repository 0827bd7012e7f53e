"""The face of certsvc for its channels: the only certsvc module a channel imports.

The kiosk adapter (`kiosk_adapter/`) and the city counter (`certsvc/counter/`) are channels: they
translate their wire formats into an `IssueCommand` and their answers out of an outcome, and
re-implement no step of issuance. What a channel may use is listed here, in five groups:

- **The use case** (`certsvc.issuance`): `issue_certificates`, `preview_issuance`,
  `reprint_certificate`, `void_certificate`, `record_audit`, the command and outcome types, and
  `channel_offered`; and (`certsvc.revocation`) `revoke_certificate` and `certificate_status`
  for administrators and supervisors, with `RevocationReason`, `Revoked` and
  `CertificateStatus`. Refusals are `Refused` values; match outcomes exhaustively.
- **Wire helpers**: `CardFiles` (the card files as base64 members), `card_evidence`,
  `decode_strict` (a raw body through a module-level msgspec decoder; nothing coerced).
- **Errors**: `Problem` (a problem+json answer; a channel passes the `CodeInfo` of its own codes),
  `refusal_problem` (a `Refused` as its `Problem`, from the one `REFUSALS` table),
  `problem_response`.
- **The print-out**: `render_pdf` (an issued certificate as its A4 PDF, off the event loop).
- **The app builder and listeners**: `create_channel_app` (the lifespan opens PostgreSQL and
  Redis and builds `ChannelResources`; the channel's `on_start` puts its context in
  `app.state`), `json_routes` (handlers behind the strict JSON body rules), `mtls_listener` (a
  listener that requires a client certificate), `ListenerSpec`, `free_port`, `edge_options`
  (what `uvicorn.run` needs for the listeners' HTTP limits), settings, logging and the clock.
- **The API description**: `documented_openapi` (a listener's complete OpenAPI, with Swagger UI
  and ReDoc from `docs_assets()`), `api_doc` (what a handler takes and refuses, in its `opt`).

Everything else in certsvc is internal to the app listener and the command line.
"""

from __future__ import annotations

import asyncio
import functools
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import msgspec

import signing
from certsvc.api.wire import CardFiles, card_evidence
from certsvc.app import OnStart, create_channel_app, json_routes
from certsvc.errors import REFUSALS, CodeInfo, Problem, problem_response, refusal_problem
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
    Voided,
    channel_offered,
    issue_certificates,
    preview_issuance,
    record_audit,
    reprint_certificate,
    void_certificate,
)
from certsvc.logs import configure_logging, mask_text
from certsvc.openapi import api_doc, docs_assets, documented_openapi
from certsvc.ops import run_workers, serve_beside_ops_listener
from certsvc.printout import render_certificate_pdf
from certsvc.resources import ChannelResources, Clock, ConfigurationError, system_clock
from certsvc.revocation import (
    CertificateStatus,
    RevocationReason,
    Revoked,
    certificate_status,
    revoke_certificate,
)
from certsvc.server import ListenerSpec, edge_options, free_port
from certsvc.settings import Settings, SettingsError, load_settings
from vrs_client import AuditEvent, Channel, Municipality

__all__ = [
    "JST",
    "REFUSALS",
    "AuditEvent",
    "CardFiles",
    "CardProof",
    "CertificateStatus",
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
    "OnStart",
    "Preview",
    "Problem",
    "RefusalCode",
    "Refused",
    "RevocationReason",
    "Revoked",
    "Settings",
    "SettingsError",
    "StaffVerifiedIdentity",
    "VerifiedPerson",
    "Voided",
    "api_doc",
    "card_evidence",
    "certificate_pdf",
    "certificate_status",
    "channel_offered",
    "configure_logging",
    "create_channel_app",
    "decode_strict",
    "docs_assets",
    "documented_openapi",
    "edge_options",
    "free_port",
    "issue_certificates",
    "json_routes",
    "load_settings",
    "mask_text",
    "mtls_listener",
    "preview_issuance",
    "problem_response",
    "record_audit",
    "refusal_problem",
    "render_certificate_pdf",
    "render_pdf",
    "reprint_certificate",
    "revoke_certificate",
    "run_workers",
    "serve_beside_ops_listener",
    "system_clock",
    "void_certificate",
]

_T = TypeVar("_T")


def decode_strict(decoder: msgspec.json.Decoder[_T], body: bytes) -> _T:
    """`body` decoded by `decoder` (a module-level `msgspec.json.Decoder` of a Struct with
    `forbid_unknown_fields`): nothing coerced. `MALFORMED_REQUEST` otherwise, with msgspec's
    message (it names the path and the expected type) masked of any digit run."""
    try:
        return decoder.decode(body)
    except msgspec.ValidationError as exc:
        raise Problem("MALFORMED_REQUEST", detail=mask_text(str(exc))[:200]) from None
    except msgspec.DecodeError:
        raise Problem("MALFORMED_REQUEST", detail="the body is not JSON") from None


# reportlab is not known to be thread-safe: one rendering thread per process, off the loop.
_RENDERER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="certsvc-pdf")


def certificate_pdf(issued: Issued, *, sample: bool | None = None) -> bytes:
    """`render_pdf` on the calling thread: for a process whose only heavy work is the PDF (the
    kiosk adapter), where a rendering thread would cost more in handing the GIL back and forth
    than it saves. Holds personal data: send it, never store or log it."""
    return render_certificate_pdf(
        issued.certificate,
        shc_qr_texts=[signing.shc_qr_text(j) for j in issued.shc_jws],
        vdsnc_payloads=[signing.seal_bytes(s) for s in issued.vdsnc],
        sample=sample,
    )


async def render_pdf(issued: Issued, *, sample: bool | None = None) -> bytes:
    """The A4 PDF of an issued certificate (the same codes give the same bytes: a reprint too),
    rendered off the event loop. Holds personal data: send it, never store or log it.
    `sample`: mark it 見本 / SAMPLE; by default when its issuer is a reserved example name, as
    every demo and test deployment's is."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(
        _RENDERER, functools.partial(certificate_pdf, issued, sample=sample)
    )


def mtls_listener(
    app: object,
    *,
    name: str,
    host: str,
    port: int,
    tls_cert: Path | None,
    tls_key: Path | None,
    client_ca: Path | None,
    concurrency_limit: int = 1000,
) -> ListenerSpec:
    """A listener whose TLS layer refuses any handshake without a client certificate from
    `client_ca`. Refuses to build one without all three files (named in the error)."""
    if tls_cert is None or tls_key is None:
        raise ConfigurationError(f"the {name} listener needs its TLS certificate and key")
    if client_ca is None:
        raise ConfigurationError(f"the {name} listener needs the client CA (mutual TLS)")
    return ListenerSpec(
        app,
        host=host,
        port=port,
        name=name,
        tls_cert=tls_cert,
        tls_key=tls_key,
        client_ca=client_ca,
        concurrency_limit=concurrency_limit,
    )
