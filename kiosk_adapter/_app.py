"""The kiosk adapter's ASGI app (DESIGN §1.2): protocol v1 under `/kiosk/v1/`.

Each step, in order: strict decoding of the raw body → the session in Redis (unknown, expired,
closed, out of order) → the sealed token opened for this session → the municipality (kiosk
enabled, within its hours) → the issuance use case (`preview_issuance`, `issue_certificates`,
`reprint_certificate`) → the state moved by compare-and-set → the answer, `no-store`.

The center's identity in the audit log is `settings.kiosk_center_name`: the TLS layer enforces
the client certificate, but uvicorn does not pass it to the app (DESIGN §1.2 item 8).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import UTC, datetime
from typing import Any, assert_never

import msgspec
from litestar import Litestar, Response, get, post
from litestar.datastructures import State as AppState
from litestar.params import FromPath, RawBody

from certsvc.channel import (
    JST,
    REFUSALS,
    AuditEvent,
    CardProof,
    Channel,
    ChannelResources,
    Clock,
    CodeInfo,
    ConfigurationError,
    IssueCommand,
    Issued,
    LatestOnRecord,
    Municipality,
    Problem,
    RefusalCode,
    Refused,
    Settings,
    VerifiedPerson,
    Voided,
    api_doc,
    card_evidence,
    certificate_pdf,
    channel_offered,
    create_channel_app,
    decode_strict,
    docs_assets,
    documented_openapi,
    issue_certificates,
    json_routes,
    preview_issuance,
    record_audit,
    refusal_problem,
    reprint_certificate,
    system_clock,
    void_certificate,
)
from kiosk_adapter import _wire as wire
from kiosk_adapter._limits import Admission, TrafficLimits
from kiosk_adapter._sessions import SessionRecord, SessionStore, State, confirm_digest
from kiosk_adapter._texts import CARD_REMINDER, CERTIFICATE_REMINDER, abroad_unavailable_text
from kiosk_adapter._tokens import SessionClaims, TokenInvalid, TokenSealer
from signing.certificate import product

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
    "KIOSK_CENTER_RATE_LIMITED": CodeInfo(
        429, "The center's requests are over the adapter's ceiling; retry after the given delay"
    ),
    "KIOSK_SESSION_STEP_LIMIT": CodeInfo(
        429, "This kiosk session has made too many calls; start a new session"
    ),
}


#: What every call can meet (the center's ceiling), and what a step of a session can meet.
_CENTER = ("KIOSK_CENTER_RATE_LIMITED",)
_SESSION_STEP = (
    *_CENTER,
    *KIOSK_CODES,
    *(code.value for code in REFUSALS),
    "BASE64_INVALID",
)


def kiosk_problem(code: str, **kwargs: Any) -> Problem:
    """The problem+json answer for one of the kiosk's own codes (`KIOSK_CODES`)."""
    return Problem(code, info=KIOSK_CODES[code], **kwargs)


class KioskContext:
    """What the handlers reach through `app.state.kiosk`, built once per process."""

    def __init__(
        self, resources: ChannelResources, *, session_key: bytes, center_name: str
    ) -> None:
        self.resources = resources
        self.services = resources.services
        self.clock = resources.clock
        self.center_name = center_name
        self.sealer = TokenSealer(session_key)
        self.sessions = SessionStore(resources.redis, key=resources.lookup_key)
        settings = resources.settings
        self.limits = TrafficLimits(
            resources.redis,
            key=resources.lookup_key,
            center_max_rps=settings.kiosk_center_max_rps,
            session_max_steps=settings.kiosk_session_max_steps,
        )
        self._nonce_key = hashlib.sha256(b"kiosk-nonce-key\x00" + session_key).digest()

    def nonce(self, session_id: str) -> bytes:
        """The 32 bytes the card signs in `session_id`: derived, so nothing is stored for it."""
        return hmac.new(self._nonce_key, session_id.encode(), hashlib.sha256).digest()


def _kiosk(state: AppState) -> KioskContext:
    kiosk: KioskContext = state.kiosk
    return kiosk


async def _admit(kiosk: KioskContext, now: datetime, session_id: str | None = None) -> None:
    """The traffic limits (kiosk_adapter._limits), before anything else of a call."""
    outcome = await kiosk.limits.admit(session_id=session_id, now=now.timestamp())
    record = None
    if outcome is Admission.SESSION_OVER_STEPS:
        record = await kiosk.sessions.get(session_id or "")
    _refuse_unless_admitted(kiosk, outcome, now, record)


async def _admit_step(kiosk: KioskContext, now: datetime, session_id: str) -> SessionRecord | None:
    """`_admit` for a step of `session_id`, and the session's record as it is now (unchecked:
    `_checked` after the body was decoded). On a single Redis both come in one round trip."""
    sessions = kiosk.sessions
    if sessions.well_formed(session_id):
        both = await kiosk.limits.admit_step(
            session_id=session_id, record_key=sessions.redis_key(session_id), now=now.timestamp()
        )
        if both is not None:
            outcome, raw = both
            record = sessions.decode(raw)
            _refuse_unless_admitted(kiosk, outcome, now, record)
            return record
    await _admit(kiosk, now, session_id)
    return await sessions.get(session_id)


def _refuse_unless_admitted(
    kiosk: KioskContext, outcome: Admission, now: datetime, record: SessionRecord | None
) -> None:
    ts = now.timestamp()
    match outcome:
        case Admission.ADMITTED:
            return
        case Admission.CENTER_OVER_CEILING:
            raise kiosk_problem(
                "KIOSK_CENTER_RATE_LIMITED",
                headers={"Retry-After": str(kiosk.limits.center_retry_after(ts))},
            )
        case Admission.SESSION_OVER_STEPS:
            left = int(record.expires_at - ts) if record is not None else 1
            raise kiosk_problem(
                "KIOSK_SESSION_STEP_LIMIT", headers={"Retry-After": str(max(1, left))}
            )
        case _:
            assert_never(outcome)


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
        raise kiosk_problem("KIOSK_NOT_OFFERED")
    if not open_at(municipality, now):
        raise kiosk_problem("KIOSK_OUTSIDE_HOURS", extra={"hours": _hours(municipality)})
    return municipality


async def _session(kiosk: KioskContext, session_id: str, now: datetime) -> SessionRecord:
    return _checked(await kiosk.sessions.get(session_id), now)


def _checked(record: SessionRecord | None, now: datetime) -> SessionRecord:
    """The session `record`, if there is one that takes calls at `now`."""
    if record is None:
        raise kiosk_problem("KIOSK_SESSION_UNKNOWN")
    if record.state in (State.COMPLETED, State.VOIDED):
        raise kiosk_problem("KIOSK_SESSION_CLOSED", extra={"state": record.state.value})
    if now.timestamp() >= record.expires_at:
        raise kiosk_problem("KIOSK_SESSION_EXPIRED")
    return record


def _out_of_order(record: SessionRecord) -> Problem:
    if record.state in (State.CONFIRMING, State.VOIDING):
        return kiosk_problem("KIOSK_SESSION_BUSY", headers={"Retry-After": "1"})
    return kiosk_problem("KIOSK_STEP_OUT_OF_ORDER", extra={"state": record.state.value})


def _claims(kiosk: KioskContext, session_id: str, token: str, stage: str) -> SessionClaims:
    try:
        claims = kiosk.sealer.open(session_id, token)
    except TokenInvalid:
        raise kiosk_problem("KIOSK_TOKEN_INVALID") from None
    if claims.stage != stage:
        raise kiosk_problem("KIOSK_TOKEN_INVALID")
    return claims


def _ref(m: Municipality) -> wire.MunicipalityRef:
    return wire.MunicipalityRef(code=m.code, name_ja=m.name_ja, name_en=m.name_en)


def _no_store(body: Any, status: int) -> Response[Any]:
    return Response(body, status_code=status, headers={"Cache-Control": "no-store"})


# --- handlers ----------------------------------------------------------------------------------


@get(
    f"{PREFIX}/municipalities",
    tags=["kiosk"],
    summary="Municipalities offering kiosk issuance",
    opt=api_doc(codes=_CENTER),
)
async def list_municipalities(state: AppState) -> Response[wire.MunicipalitiesOut]:
    kiosk = _kiosk(state)
    now = kiosk.clock()
    await _admit(kiosk, now)
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


@post(
    f"{PREFIX}/sessions",
    tags=["kiosk"],
    summary="Start a kiosk session: a nonce for the card",
    description="The body is empty, `{}`, or names the municipality to check now.",
    opt=api_doc(
        request=wire.StartRequest,
        request_optional=True,
        codes=[*_CENTER, "KIOSK_NOT_OFFERED", "KIOSK_OUTSIDE_HOURS"],
    ),
)
async def start_session(state: AppState, body: RawBody) -> Response[wire.SessionStarted]:
    kiosk = _kiosk(state)
    now = kiosk.clock()
    await _admit(kiosk, now)
    payload = decode_strict(_decode_start, body) if body.strip() else wire.StartRequest()
    if payload.municipality_code is not None:
        await _kiosk_municipality(kiosk, payload.municipality_code, now)
    else:
        offered = [
            m
            for m in await kiosk.services.municipalities.all()
            if channel_offered(m, Channel.KIOSK)
        ]
        if not offered:
            raise kiosk_problem("KIOSK_NOT_OFFERED")
        if not any(open_at(m, now) for m in offered):
            raise kiosk_problem("KIOSK_OUTSIDE_HOURS")
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
    opt=api_doc(request=wire.PreviewRequest, codes=_SESSION_STEP),
)
async def preview(
    session_id: FromPath[str], state: AppState, body: RawBody
) -> Response[wire.PreviewOut]:
    kiosk = _kiosk(state)
    now = kiosk.clock()
    current = await _admit_step(kiosk, now, session_id)
    payload = decode_strict(_decode_preview, body)
    record = _checked(current, now)
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


async def _print_data(
    session_id: str, issued: Issued, *, copies: int, fee: int, status: int
) -> Response[wire.ConfirmOut]:
    # On the event loop, not the face's rendering thread: the PDF is the adapter's only heavy
    # work, and two threads trading the GIL at every zlib and TLS call cost ≈ 3 ms more CPU per
    # session than the thread saved (`python -m bench.bench_kiosk`).
    pdf = base64.b64encode(certificate_pdf(issued)).decode("ascii")
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
    opt=api_doc(request=wire.ConfirmRequest, codes=_SESSION_STEP),
)
async def confirm(
    session_id: FromPath[str], state: AppState, body: RawBody
) -> Response[wire.ConfirmOut]:
    kiosk = _kiosk(state)
    now = kiosk.clock()
    current = await _admit_step(kiosk, now, session_id)
    payload = decode_strict(_decode_confirm, body)
    record = _checked(current, now)
    if record.state not in (State.PREVIEWED, State.ISSUED):
        raise _out_of_order(record)
    claims = _claims(kiosk, session_id, payload.token, "previewed")
    if claims.municipality_code is None or claims.address_number is None:
        raise kiosk_problem("KIOSK_TOKEN_INVALID")
    digest = confirm_digest(payload.idempotency_key, payload.kind, payload.copies)

    if record.state is State.ISSUED:
        # A print retry: the same certificate, byte for byte, from the VRS records and the
        # signatures kept in the issuance history. Not subject to the hours: the fee was
        # collected when it was issued.
        if not hmac.compare_digest(digest, record.confirm_digest):
            raise kiosk_problem("KIOSK_ALREADY_ISSUED")
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
        raise kiosk_problem("KIOSK_FEE_MISMATCH", extra={"fee_yen": fee})

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
    opt=api_doc(request=wire.PrintResultRequest, codes=_SESSION_STEP),
)
async def print_result(
    session_id: FromPath[str], state: AppState, body: RawBody
) -> Response[wire.PrintResultOut]:
    kiosk = _kiosk(state)
    now = kiosk.clock()
    current = await _admit_step(kiosk, now, session_id)
    payload = decode_strict(_decode_print, body)
    if payload.outcome == "failed" and payload.reason is None:
        raise Problem("MALFORMED_REQUEST", detail="a failed print needs a reason")
    record = _checked(current, now)
    if record.state is not State.ISSUED:
        raise _out_of_order(record)
    claims = _claims(kiosk, session_id, payload.token, "previewed")
    if claims.municipality_code is None or claims.address_number is None:
        raise kiosk_problem("KIOSK_TOKEN_INVALID")

    if payload.outcome == "ok":
        if not await kiosk.sessions.swap(
            session_id, record, msgspec.structs.replace(record, state=State.COMPLETED)
        ):
            raise _out_of_order(await _session(kiosk, session_id, now))
        await record_audit(
            kiosk.services,
            municipality_code=claims.municipality_code,
            event=AuditEvent(
                at=now,
                actor=kiosk.center_name,
                action="print.kiosk",
                outcome="completed",
                address_number=claims.address_number,
            ),
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
    try:
        voided = await void_certificate(
            municipality_code=claims.municipality_code,
            certificate_id=record.certificate_id,
            reason=f"print_{payload.reason}",
            actor=kiosk.center_name,
            channel=Channel.KIOSK,
            services=kiosk.services,
            now=now,
            address_number=claims.address_number,
        )
    except BaseException:
        await kiosk.sessions.swap(session_id, voiding, record)
        raise
    match voided:
        case Refused():
            # The issuance this session recorded is not in the municipality's history (it was
            # purged or the token names another municipality): nothing was voided.
            await kiosk.sessions.swap(session_id, voiding, record)
            raise refusal_problem(voided)
        case Voided():
            pass
        case _:
            assert_never(voided)
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
    own mTLS listener (`kiosk_listener`). Session tokens are sealed under
    `settings.kiosk_session_key`, which every node of the adapter shares: without it the app is
    not built (`ConfigurationError`; the demo generates one into its settings)."""
    session_key = settings.kiosk_session_key
    if session_key is None:
        raise ConfigurationError("CERTSVC_KIOSK_SESSION_KEY is required")

    def on_start(resources: ChannelResources, app: Litestar) -> None:
        app.state.kiosk = KioskContext(
            resources, session_key=session_key, center_name=settings.kiosk_center_name
        )

    return create_channel_app(
        settings,
        route_handlers=[
            json_routes(
                settings, [list_municipalities, start_session, preview, confirm, print_result]
            ),
            docs_assets(),
        ],
        openapi_config=documented_openapi(
            title="certsvc kiosk adapter: protocol v1",
            description="The VRS side of the link to the Certificate Issuance Center "
            "(kiosk_adapter/PROTOCOL.md). Mutual TLS: the TLS layer requires the center's client "
            "certificate. Every error is application/problem+json with a stable `code`.",
            codes=KIOSK_CODES,
            security_schemes={
                "centerCertificate": {
                    "type": "mutualTLS",
                    "description": "A client certificate issued by CERTSVC_KIOSK_CLIENT_CA",
                }
            },
            security=[{"centerCertificate": []}],
        ),
        on_start=on_start,
        clock=clock,
        # The kiosk keeps the per-person limit; it has no client limiter or challenges.
        person_limit=True,
        codes=KIOSK_CODES,
    )
