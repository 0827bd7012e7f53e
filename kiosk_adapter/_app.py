"""The kiosk adapter's ASGI app (DESIGN §1.2): protocol v1 under `/kiosk/v1/`.

Each step, in order: strict decoding of the raw body → the session in Redis (unknown, expired,
closed, out of order) → the sealed token opened for this session → the municipality (kiosk
enabled, within its hours) → the issuance use case (`preview_issuance`, `issue_certificates`,
`reprint_certificate`) → the state moved by compare-and-set → the answer, `no-store`.

The center's identity in the audit log is `settings.kiosk_center_name`: the TLS layer enforces
the client certificate, but uvicorn does not pass it to the app (DESIGN §1.2 item 8).
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import secrets
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

import msgspec
from litestar import Litestar, Response, get, post
from litestar.datastructures import State as AppState
from litestar.params import FromPath, RawBody

import signing
from certsvc.api.refusals import refusal_problem
from certsvc.api.wire import card_evidence
from certsvc.app import CertsvcApp, open_pool, open_redis
from certsvc.errors import CodeInfo, Problem, exception_handlers, register_codes
from certsvc.issuance import (
    JST,
    CardProof,
    IssueCommand,
    Issued,
    LatestOnRecord,
    RefusalCode,
    Refused,
    VerifiedPerson,
    channel_offered,
    issue_certificates,
    preview_issuance,
    reprint_certificate,
)
from certsvc.key_refresh import key_refresher
from certsvc.logs import mask_text
from certsvc.printout import render_certificate_pdf
from certsvc.resources import Clock, Resources, system_clock
from certsvc.settings import Settings
from kiosk_adapter import _wire as wire
from kiosk_adapter._sessions import SessionRecord, SessionStore, State, confirm_digest
from kiosk_adapter._texts import CARD_REMINDER, CERTIFICATE_REMINDER, abroad_unavailable_text
from kiosk_adapter._tokens import SessionClaims, TokenInvalid, TokenSealer
from signing.certificate import product
from vrs_client import AuditEvent, Channel, Municipality

PROTOCOL_VERSION = "v1"
PREFIX = f"/kiosk/{PROTOCOL_VERSION}"
PDF_MEDIA_TYPE = "application/pdf"

KIOSK_CODES: dict[str, CodeInfo] = {
    "KIOSK_NOT_OFFERED": CodeInfo(403, "This municipality does not offer kiosk issuance"),
    "KIOSK_OUTSIDE_HOURS": CodeInfo(403, "Kiosk issuance is closed now (see the service hours)"),
    "KIOSK_SESSION_UNKNOWN": CodeInfo(404, "No such kiosk session (unknown, or gone with its TTL)"),
    "KIOSK_SESSION_EXPIRED": CodeInfo(409, "The kiosk session has expired; start a new one"),
    "KIOSK_SESSION_CLOSED": CodeInfo(409, "The kiosk session is completed or voided"),
    "KIOSK_STEP_OUT_OF_ORDER": CodeInfo(409, "This step is not allowed in the session's state"),
    "KIOSK_SESSION_BUSY": CodeInfo(409, "Another call of this session is in progress; retry"),
    "KIOSK_ALREADY_ISSUED": CodeInfo(
        409, "The session issued already under another idempotency key or request"
    ),
    "KIOSK_TOKEN_INVALID": CodeInfo(403, "The session token was not sealed for this session"),
    "KIOSK_FEE_MISMATCH": CodeInfo(422, "The fee paid is not copies x the fee per copy"),
}
register_codes(KIOSK_CODES)

_T = TypeVar("_T")

# reportlab is not known to be thread-safe: one rendering thread, off the event loop.
_RENDERER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kiosk-pdf")


class KioskContext:
    """What the handlers reach through `app.state.kiosk`, built once per process."""

    def __init__(self, resources: Resources, *, session_key: bytes, center_name: str) -> None:
        self.resources = resources
        self.services = resources.services
        self.clock = resources.clock
        self.center_name = center_name
        self.sealer = TokenSealer(session_key)
        self.sessions = SessionStore(resources.redis, key=resources.settings.lookup_key or b"")
        self._nonce_key = hashlib.sha256(b"kiosk-nonce-key\x00" + session_key).digest()

    def nonce(self, session_id: str) -> bytes:
        """The 32 bytes the card signs in `session_id`: derived, so nothing is stored for it."""
        return hmac.new(self._nonce_key, session_id.encode(), hashlib.sha256).digest()


def _kiosk(state: AppState) -> KioskContext:
    kiosk: KioskContext = state.kiosk
    return kiosk


def _decode(decoder: msgspec.json.Decoder[_T], body: bytes) -> _T:
    try:
        return decoder.decode(body)
    except msgspec.ValidationError as exc:
        raise Problem("MALFORMED_REQUEST", detail=mask_text(str(exc))[:200]) from None
    except msgspec.DecodeError:
        raise Problem("MALFORMED_REQUEST", detail="the body is not JSON") from None


_decode_start = msgspec.json.Decoder(wire.StartRequest)
_decode_preview = msgspec.json.Decoder(wire.PreviewRequest)
_decode_confirm = msgspec.json.Decoder(wire.ConfirmRequest)
_decode_print = msgspec.json.Decoder(wire.PrintResultRequest)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def open_at(municipality: Municipality, now: datetime) -> bool:
    """Whether kiosk issuance is open at `now` (JST; open ≤ t < close, so closed at 23:00)."""
    t = now.astimezone(JST).time().replace(tzinfo=None)
    return municipality.kiosk_open <= t < municipality.kiosk_close


def _hours(m: Municipality) -> dict[str, str]:
    return {"open": m.kiosk_open.strftime("%H:%M"), "close": m.kiosk_close.strftime("%H:%M")}


async def _kiosk_municipality(kiosk: KioskContext, code: str, now: datetime) -> Municipality:
    """The municipality, if it offers kiosk issuance and is open at `now`."""
    municipality = await kiosk.services.municipalities.get(code)
    # Unknown and not enabled answer alike: only enabled ones are selectable (DESIGN §1.2 item 2).
    if municipality is None or not channel_offered(municipality, Channel.KIOSK):
        raise Problem("KIOSK_NOT_OFFERED")
    if not open_at(municipality, now):
        raise Problem("KIOSK_OUTSIDE_HOURS", extra={"hours": _hours(municipality)})
    return municipality


async def _session(kiosk: KioskContext, session_id: str, now: datetime) -> SessionRecord:
    record = await kiosk.sessions.get(session_id)
    if record is None:
        raise Problem("KIOSK_SESSION_UNKNOWN")
    if record.state in (State.COMPLETED, State.VOIDED):
        raise Problem("KIOSK_SESSION_CLOSED", extra={"state": record.state.value})
    if now.timestamp() >= record.expires_at:
        raise Problem("KIOSK_SESSION_EXPIRED")
    return record


def _out_of_order(record: SessionRecord) -> Problem:
    if record.state in (State.CONFIRMING, State.VOIDING):
        return Problem("KIOSK_SESSION_BUSY", headers={"Retry-After": "1"})
    return Problem("KIOSK_STEP_OUT_OF_ORDER", extra={"state": record.state.value})


def _claims(kiosk: KioskContext, session_id: str, token: str, stage: str) -> SessionClaims:
    try:
        claims = kiosk.sealer.open(session_id, token)
    except TokenInvalid:
        raise Problem("KIOSK_TOKEN_INVALID") from None
    if claims.stage != stage:
        raise Problem("KIOSK_TOKEN_INVALID")
    return claims


def _ref(m: Municipality) -> wire.MunicipalityRef:
    return wire.MunicipalityRef(code=m.code, name_ja=m.name_ja, name_en=m.name_en)


def _no_store(body: Any, status: int) -> Response[Any]:
    return Response(body, status_code=status, headers={"Cache-Control": "no-store"})


# --- handlers ----------------------------------------------------------------------------------


@get(f"{PREFIX}/municipalities", tags=["kiosk"], summary="Municipalities offering kiosk issuance")
async def list_municipalities(state: AppState) -> Response[wire.MunicipalitiesOut]:
    kiosk = _kiosk(state)
    now = kiosk.clock()
    rows = await kiosk.services.municipalities.all()
    body = wire.MunicipalitiesOut(
        municipalities=[
            wire.KioskMunicipality(
                code=m.code,
                name_ja=m.name_ja,
                name_en=m.name_en,
                fee_per_copy_yen=m.kiosk_fee_yen,
                hours=wire.Hours(**_hours(m)),
                open_now=open_at(m, now),
            )
            for m in rows
            if channel_offered(m, Channel.KIOSK)
        ]
    )
    return Response(body, headers={"Cache-Control": "no-cache"})


@post(f"{PREFIX}/sessions", tags=["kiosk"], summary="Start a kiosk session: a nonce for the card")
async def start_session(state: AppState, body: RawBody) -> Response[wire.SessionStarted]:
    kiosk = _kiosk(state)
    now = kiosk.clock()
    payload = _decode(_decode_start, body) if body.strip() else wire.StartRequest()
    if payload.municipality_code is not None:
        await _kiosk_municipality(kiosk, payload.municipality_code, now)
    else:
        offered = [
            m
            for m in await kiosk.services.municipalities.all()
            if channel_offered(m, Channel.KIOSK)
        ]
        if not offered:
            raise Problem("KIOSK_NOT_OFFERED")
        if not any(open_at(m, now) for m in offered):
            raise Problem("KIOSK_OUTSIDE_HOURS")
    session_id = _b64url(secrets.token_bytes(16))
    record = await kiosk.sessions.create(session_id, now=now)
    token = kiosk.sealer.seal(
        session_id, SessionClaims(stage="started", expires_at=record.expires_at)
    )
    return _no_store(
        wire.SessionStarted(
            session_id=session_id,
            state=record.state.value,
            nonce=_b64url(kiosk.nonce(session_id)),
            expires_at=datetime.fromtimestamp(record.expires_at, UTC),
            token=token,
        ),
        201,
    )


@post(
    f"{PREFIX}/sessions/{{session_id:str}}/preview",
    status_code=200,
    tags=["kiosk"],
    summary="Verify the card; show what would be issued, whether abroad is possible, the fee",
)
async def preview(
    session_id: FromPath[str], state: AppState, body: RawBody
) -> Response[wire.PreviewOut]:
    kiosk = _kiosk(state)
    now = kiosk.clock()
    payload = _decode(_decode_preview, body)
    record = await _session(kiosk, session_id, now)
    if record.state is not State.STARTED:
        raise _out_of_order(record)
    _claims(kiosk, session_id, payload.token, "started")
    evidence = card_evidence(payload.card)
    municipality = await _kiosk_municipality(kiosk, payload.municipality_code, now)
    fee = payload.copies * municipality.kiosk_fee_yen
    result = await preview_issuance(
        IssueCommand(
            identity=CardProof(evidence=evidence, nonce=kiosk.nonce(session_id)),
            municipality_code=municipality.code,
            kind=payload.kind,
            passport=LatestOnRecord(),
            channel=Channel.KIOSK,
            actor=kiosk.center_name,
            copies=payload.copies,
            fee_yen=fee,
        ),
        kiosk.services,
        now=now,
    )
    # A refused preview leaves the session STARTED: the kiosk still holds the card data and may
    # let the resident choose another municipality.
    if isinstance(result, Refused):
        raise refusal_problem(result)
    if not await kiosk.sessions.swap(
        session_id, record, msgspec.structs.replace(record, state=State.PREVIEWED)
    ):
        raise _out_of_order(await _session(kiosk, session_id, now))
    abroad_ok = result.abroad_unavailable is None
    token = kiosk.sealer.seal(
        session_id,
        SessionClaims(
            stage="previewed",
            expires_at=record.expires_at,
            municipality_code=municipality.code,
            address_number=result.address_number,
            kinds=("domestic", "abroad") if abroad_ok else ("domestic",),
        ),
    )
    abroad = (
        wire.KindAvailability(available=True)
        if result.abroad_unavailable is None
        else wire.KindAvailability(
            available=False,
            reason_code=result.abroad_unavailable.value,
            reason=abroad_unavailable_text(result.abroad_unavailable),
        )
    )
    return _no_store(
        wire.PreviewOut(
            session_id=session_id,
            state=State.PREVIEWED.value,
            token=token,
            municipality=_ref(municipality),
            holder=wire.HolderOut(
                name=f"{result.family_name}\u3000{result.given_name}",
                birth_date=result.birth_date,
            ),
            doses=[
                wire.DoseOut(
                    dose=d.number,
                    date=d.date,
                    product=product(d.product).name,
                    manufacturer=product(d.product).manufacturer,
                    lot=d.lot,
                )
                for d in result.doses
            ],
            kinds=wire.Kinds(domestic=wire.KindAvailability(available=True), abroad=abroad),
            kind=payload.kind,
            copies=payload.copies,
            fee_per_copy_yen=municipality.kiosk_fee_yen,
            fee_yen=fee,
            card_reminder=CARD_REMINDER,
        ),
        200,
    )


def _render(issued: Issued) -> bytes:
    return render_certificate_pdf(
        issued.certificate,
        shc_qr_texts=[signing.shc_qr_text(j) for j in issued.shc_jws],
        vdsnc_payloads=[signing.seal_bytes(s) for s in issued.vdsnc],
    )


async def render_pdf(issued: Issued) -> bytes:
    """The A4 PDF of an issued certificate (deterministic), rendered off the event loop."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_RENDERER, functools.partial(_render, issued))


async def _print_data(
    session_id: str, issued: Issued, *, copies: int, fee: int, status: int
) -> Response[wire.ConfirmOut]:
    pdf = base64.b64encode(await render_pdf(issued)).decode("ascii")
    # Every copy is the same certificate: the same ID and the same bytes.
    return _no_store(
        wire.ConfirmOut(
            session_id=session_id,
            state=State.ISSUED.value,
            certificate_id=issued.certificate.certificate_id,
            issued_at=issued.certificate.issued_at,
            kind=issued.certificate.kind,
            copies=copies,
            fee_yen=fee,
            documents=[
                wire.Document(copy=n, media_type=PDF_MEDIA_TYPE, pdf=pdf)
                for n in range(1, copies + 1)
            ],
            certificate_reminder=CERTIFICATE_REMINDER,
        ),
        status,
    )


@post(
    f"{PREFIX}/sessions/{{session_id:str}}/confirm",
    status_code=201,
    tags=["kiosk"],
    summary="Issue (fee collected): one PDF per copy; the same key again reprints the same bytes",
)
async def confirm(
    session_id: FromPath[str], state: AppState, body: RawBody
) -> Response[wire.ConfirmOut]:
    kiosk = _kiosk(state)
    now = kiosk.clock()
    payload = _decode(_decode_confirm, body)
    record = await _session(kiosk, session_id, now)
    if record.state not in (State.PREVIEWED, State.ISSUED):
        raise _out_of_order(record)
    claims = _claims(kiosk, session_id, payload.token, "previewed")
    if claims.municipality_code is None or claims.address_number is None:
        raise Problem("KIOSK_TOKEN_INVALID")
    digest = confirm_digest(payload.idempotency_key, payload.kind, payload.copies)

    if record.state is State.ISSUED:
        # A print retry: the same certificate, byte for byte, from the VRS records. Not subject
        # to the hours: the fee was collected when it was issued.
        if not hmac.compare_digest(digest, record.confirm_digest):
            raise Problem("KIOSK_ALREADY_ISSUED")
        again = await reprint_certificate(
            municipality_code=claims.municipality_code,
            address_number=claims.address_number,
            certificate_id=record.certificate_id,
            services=kiosk.services,
        )
        if isinstance(again, Refused):
            raise refusal_problem(again)
        municipality = await kiosk.services.municipalities.get(claims.municipality_code)
        fee = payload.copies * (municipality.kiosk_fee_yen if municipality else 0)
        return await _print_data(session_id, again, copies=payload.copies, fee=fee, status=200)
    if record.state is not State.PREVIEWED:
        raise _out_of_order(record)

    municipality = await _kiosk_municipality(kiosk, claims.municipality_code, now)
    if payload.kind not in claims.kinds:
        raise refusal_problem(Refused(code=RefusalCode.PASSPORT_NOT_ON_RECORD))
    fee = payload.copies * municipality.kiosk_fee_yen
    if payload.fee_paid_yen != fee:
        raise Problem("KIOSK_FEE_MISMATCH", extra={"fee_yen": fee})

    # CONFIRMING is the lock: a concurrent confirm of this session is told to retry.
    locked = msgspec.structs.replace(record, state=State.CONFIRMING, confirm_digest=digest)
    if not await kiosk.sessions.swap(session_id, record, locked):
        raise _out_of_order(await _session(kiosk, session_id, now))
    try:
        outcome = await issue_certificates(
            IssueCommand(
                identity=VerifiedPerson(address_number=claims.address_number),
                municipality_code=municipality.code,
                kind=payload.kind,
                passport=LatestOnRecord() if payload.kind == "abroad" else None,
                channel=Channel.KIOSK,
                actor=kiosk.center_name,
                copies=payload.copies,
                fee_yen=fee,
            ),
            kiosk.services,
            now=now,
        )
    except BaseException:
        await kiosk.sessions.swap(session_id, locked, record)
        raise
    if isinstance(outcome, Refused):
        await kiosk.sessions.swap(session_id, locked, record)
        raise refusal_problem(outcome)
    await kiosk.sessions.swap(
        session_id,
        locked,
        msgspec.structs.replace(
            locked, state=State.ISSUED, certificate_id=outcome.certificate.certificate_id
        ),
    )
    return await _print_data(session_id, outcome, copies=payload.copies, fee=fee, status=201)


@post(
    f"{PREFIX}/sessions/{{session_id:str}}/print-result",
    status_code=200,
    tags=["kiosk"],
    summary="Report the print: ok completes the session, failed voids the issuance (no fee)",
)
async def print_result(
    session_id: FromPath[str], state: AppState, body: RawBody
) -> Response[wire.PrintResultOut]:
    kiosk = _kiosk(state)
    now = kiosk.clock()
    payload = _decode(_decode_print, body)
    if payload.outcome == "failed" and payload.reason is None:
        raise Problem("MALFORMED_REQUEST", detail="a failed print needs a reason")
    record = await _session(kiosk, session_id, now)
    if record.state is not State.ISSUED:
        raise _out_of_order(record)
    claims = _claims(kiosk, session_id, payload.token, "previewed")
    if claims.municipality_code is None or claims.address_number is None:
        raise Problem("KIOSK_TOKEN_INVALID")
    store = kiosk.services.store

    if payload.outcome == "ok":
        if not await kiosk.sessions.swap(
            session_id, record, msgspec.structs.replace(record, state=State.COMPLETED)
        ):
            raise _out_of_order(await _session(kiosk, session_id, now))
        async with store.scoped(claims.municipality_code) as tx:
            await tx.record_audit_event(
                AuditEvent(
                    at=now,
                    actor=kiosk.center_name,
                    action="print.kiosk",
                    outcome="completed",
                    address_number=claims.address_number,
                )
            )
        return _no_store(
            wire.PrintResultOut(
                session_id=session_id,
                state=State.COMPLETED.value,
                certificate_id=record.certificate_id,
                fee_collected=True,
            ),
            200,
        )

    voiding = msgspec.structs.replace(record, state=State.VOIDING)
    if not await kiosk.sessions.swap(session_id, record, voiding):
        raise _out_of_order(await _session(kiosk, session_id, now))
    reason = f"print_{payload.reason}"
    try:
        async with store.scoped(claims.municipality_code) as tx:
            await tx.void_issuance(record.certificate_id, reason, now)
            await tx.record_audit_event(
                AuditEvent(
                    at=now,
                    actor=kiosk.center_name,
                    action="void.kiosk",
                    outcome="voided",
                    address_number=claims.address_number,
                    reason=reason,
                )
            )
    except BaseException:
        await kiosk.sessions.swap(session_id, voiding, record)
        raise
    await kiosk.sessions.swap(
        session_id, voiding, msgspec.structs.replace(voiding, state=State.VOIDED)
    )
    return _no_store(
        wire.PrintResultOut(
            session_id=session_id,
            state=State.VOIDED.value,
            certificate_id=record.certificate_id,
            fee_collected=False,
        ),
        200,
    )


def create_kiosk_app(settings: Settings, *, clock: Clock = system_clock) -> Litestar:
    """The kiosk adapter's HTTP application (protocol v1) for `settings`, to be served on its
    own mTLS listener (`kiosk_listener`). Sessions are sealed under `settings.kiosk_session_key`;
    when it is unset, a key is generated for this process (then run one worker only: another
    process could not open this one's tokens)."""
    session_key = settings.kiosk_session_key or secrets.token_bytes(32)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        pool = await open_pool(settings)
        redis = open_redis(settings)
        try:
            resources = Resources(settings=settings, pool=pool, redis=redis, clock=clock)
            app.state.kiosk = KioskContext(
                resources, session_key=session_key, center_name=settings.kiosk_center_name
            )
            async with key_refresher(resources.keys, interval=settings.key_refresh_seconds):
                yield
        finally:
            await redis.aclose()
            await pool.close()

    return CertsvcApp(
        route_handlers=[list_municipalities, start_session, preview, confirm, print_result],
        lifespan=[lifespan],
        exception_handlers=exception_handlers(),
        request_max_body_size=settings.max_body_bytes,
        openapi_config=None,
        logging_config=None,
        debug=False,
    )
