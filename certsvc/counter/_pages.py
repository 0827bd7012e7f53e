"""The counter's pages (DESIGN §1.3): server-rendered HTML, one handler per step.

Every handler, in order: the staff session from our own cookie (`StaffService.session`) → the
role's permission → for a form, the CSRF token → the sealed visit token opened for this staff
session → the municipality among those granted → the use case through `certsvc.channel` → an
audit event → the page, `no-store`. Refusals are HTML pages that show the code (`_errors`).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal, cast

import msgspec
from litestar import MediaType, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath, FromQuery

import mrz
import signing
from certsvc.channel import (
    JST,
    AuditEvent,
    CardFiles,
    CardProof,
    Channel,
    IssueCommand,
    Issued,
    MrzLines,
    Preview,
    Problem,
    RefusalCode,
    Refused,
    StaffVerifiedIdentity,
    VerifiedPerson,
    card_evidence,
    channel_offered,
    issue_certificates,
    preview_issuance,
    record_audit,
    refusal_problem,
    render_pdf,
    reprint_certificate,
)
from certsvc.counter._context import (
    CSRF_COOKIE,
    LANG_COOKIE,
    SESSION_COOKIE,
    TERMINAL_COOKIE,
    CounterContext,
    Signed,
    counter,
    lang_of,
    refuse,
)
from certsvc.counter._visit import IdentityMethod, Visit, VisitInvalid, new_visit_id
from certsvc.staff import Permission, Role, SignedIn, StaffSession, allowed

VISIT_SECONDS = 30 * 60
"""A visit's token opens for 30 minutes after the visit started."""
TERMINAL_COOKIE_SECONDS = 400 * 24 * 3600
"""The longest lifetime browsers keep a cookie (Chromium caps at 400 days)."""

REASONS = (
    "no_smartphone",
    "card_problem",
    "kiosk_unavailable",
    "correction",
    "new_doses",
    "other",
)
PHOTO_ID_TYPES = ("passport", "driving_licence", "residence_card", "other")
_CERTIFICATE_ID = re.compile(r"[A-Z2-7]{12}")
_TWELVE_DIGITS = re.compile(r"\d{12}")
_decode_card = msgspec.json.Decoder(CardFiles)


# --- small helpers -----------------------------------------------------------------------------


def _now(ctx: CounterContext) -> datetime:
    return ctx.clock()


async def _form(request: Request[Any, Any, Any], ctx: CounterContext, session_id: str) -> Any:
    """The posted form, once its CSRF token matches this browser and this staff session."""
    form = await request.form()
    token = form.get("_csrf")
    if not isinstance(token, str) or not ctx.csrf_ok(
        request.cookies.get(CSRF_COOKIE), session_id, token
    ):
        raise refuse("COUNTER_CSRF_INVALID")
    return form


def _field(form: Any, name: str, *, max_len: int = 200, required: bool = True) -> str:
    value = form.get(name)
    if value is None or isinstance(value, UploadFile):
        value = ""
    value = str(value).strip()
    if (required and not value) or len(value) > max_len:
        raise refuse("COUNTER_FORM_INVALID", detail=f"field {name}")
    return value


async def _upload(ctx: CounterContext, form: Any, name: str) -> bytes | None:
    """The bytes of an uploaded file field, or None when no file was chosen."""
    value = form.get(name)
    if not isinstance(value, UploadFile):
        return None
    data = await value.read(ctx.upload_max + 1)
    if len(data) > ctx.upload_max:
        raise refuse("COUNTER_UPLOAD_TOO_LARGE")
    return data or None


def _open_visit(
    ctx: CounterContext, who: Signed, form: Any, *, stage: str, purpose: str | None = None
) -> Visit:
    try:
        visit = ctx.sealer.open(who.session_id, _field(form, "visit", max_len=8192))
    except VisitInvalid:
        raise refuse("COUNTER_VISIT_INVALID") from None
    if visit.stage != stage or (purpose is not None and visit.purpose != purpose):
        raise refuse("COUNTER_VISIT_INVALID")
    if _now(ctx).timestamp() >= visit.expires_at:
        raise refuse("COUNTER_VISIT_EXPIRED")
    # Grants may have changed since the visit started: checked again at every step.
    if visit.municipality_code not in who.session.staff.municipalities:
        raise refuse("COUNTER_MUNICIPALITY_NOT_GRANTED")
    return visit


async def _audit(
    ctx: CounterContext,
    who: Signed,
    *,
    municipality_code: str,
    action: str,
    outcome: str,
    address_number: str | None = None,
    identity_method: str | None = None,
    reason: str | None = None,
) -> None:
    staff = who.session.staff
    terminal = who.session.terminal
    await record_audit(
        ctx.services,
        municipality_code=municipality_code,
        event=AuditEvent(
            at=_now(ctx),
            actor=staff.staff_id,
            actor_role=staff.role.value,
            terminal=terminal.name if terminal is not None else None,
            action=action,
            outcome=outcome,
            address_number=address_number,
            identity_method=identity_method,
            reason=reason,
        ),
    )


def _outcome(refused: Refused) -> str:
    return refused.code.value.lower()


def _landing(session: StaffSession) -> str:
    if session.staff.must_change_password:
        return "/password"
    if allowed(session.staff.role, Permission.ISSUE):
        return "/issue"
    return "/audit"


# --- sign-in, password, sign-out, language, terminal -------------------------------------------


@get("/", media_type=MediaType.HTML)
async def home(request: Request[Any, Any, Any]) -> Response[Any]:
    ctx = counter(request)
    who = await ctx.signed_in(request)
    return ctx.redirect("/sign-in" if who is None else _landing(who.session))


@get("/sign-in", media_type=MediaType.HTML)
async def sign_in_page(request: Request[Any, Any, Any]) -> Response[Any]:
    ctx = counter(request)
    return ctx.page(request, "sign_in.html", who=None)


@post("/sign-in", media_type=MediaType.HTML, status_code=303)
async def sign_in(request: Request[Any, Any, Any]) -> Response[Any]:
    ctx = counter(request)
    form = await _form(request, ctx, "")
    staff_id = _field(form, "staff_id", max_len=64)
    password = _field(form, "password", max_len=256)
    terminal_id = None
    terminal_cookie = request.cookies.get(TERMINAL_COOKIE)
    if terminal_cookie:
        terminal = await ctx.staff.terminal_for_cookie(terminal_cookie)
        terminal_id = terminal.terminal_id if terminal is not None else None
    # The session id is always a new one from the staff layer: an id the browser brought
    # (fixation) is deleted, never reused.
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        await ctx.staff.sign_out(old)
    result = await ctx.staff.sign_in(staff_id, password, terminal_id=terminal_id)
    if not isinstance(result, SignedIn):
        raise refuse(result.value)
    response = ctx.redirect(_landing(result.session))
    response.cookies.append(ctx.cookie(SESSION_COOKIE, result.session_id))
    return response


@post("/sign-out", media_type=MediaType.HTML, status_code=303)
async def sign_out(request: Request[Any, Any, Any]) -> Response[Any]:
    ctx = counter(request)
    who = await ctx.require(request, None, allow_password_change=True)
    await _form(request, ctx, who.session_id)
    await ctx.staff.sign_out(who.session_id)
    response = ctx.redirect("/sign-in")
    response.cookies.append(ctx.cookie(SESSION_COOKIE, "", max_age=0))
    return response


@get("/password", media_type=MediaType.HTML)
async def password_page(request: Request[Any, Any, Any]) -> Response[Any]:
    ctx = counter(request)
    who = await ctx.require(request, None, allow_password_change=True)
    return ctx.page(request, "password.html", who=who)


@post("/password", media_type=MediaType.HTML, status_code=303)
async def change_password(request: Request[Any, Any, Any]) -> Response[Any]:
    ctx = counter(request)
    who = await ctx.require(request, None, allow_password_change=True)
    form = await _form(request, ctx, who.session_id)
    current = _field(form, "current_password", max_len=256)
    new = _field(form, "new_password", max_len=256)
    refused = await ctx.staff.change_password(who.session_id, current, new)
    if refused is not None:
        raise refuse(refused.value)
    session = await ctx.staff.session(who.session_id)
    return ctx.redirect("/sign-in" if session is None else _landing(session))


@get("/lang/{lang:str}", media_type=MediaType.HTML)
async def switch_language(request: Request[Any, Any, Any], lang: FromPath[str]) -> Response[Any]:
    ctx = counter(request)
    if lang not in ("ja", "en"):
        raise refuse("NOT_FOUND")
    response = ctx.redirect("/")
    response.cookies.append(ctx.cookie(LANG_COOKIE, lang, max_age=TERMINAL_COOKIE_SECONDS))
    return response


@get("/terminal/enrol", media_type=MediaType.HTML)
async def enrol_terminal(
    request: Request[Any, Any, Any], token: FromQuery[str] = ""
) -> Response[Any]:
    ctx = counter(request)
    cookie_value = await ctx.staff.enrol_terminal(token[:512]) if token else None
    if cookie_value is None:
        raise refuse("COUNTER_TERMINAL_TOKEN_INVALID")
    response = ctx.page(request, "enrolled.html", who=None)
    response.cookies.append(
        ctx.cookie(TERMINAL_COOKIE, cookie_value, max_age=TERMINAL_COOKIE_SECONDS)
    )
    return response


# --- the visit: start → identity → details → preview → issue → PDF ----------------------------


async def _counter_municipalities(ctx: CounterContext, who: Signed) -> list[Any]:
    found = []
    for code in who.session.staff.municipalities:
        m = await ctx.services.municipalities.get(code)
        if m is not None and channel_offered(m, Channel.COUNTER):
            found.append(m)
    return found


@get("/issue", media_type=MediaType.HTML)
async def issue_start(request: Request[Any, Any, Any]) -> Response[Any]:
    ctx = counter(request)
    who = await ctx.require(request, Permission.ISSUE)
    municipalities = await _counter_municipalities(ctx, who)
    return ctx.page(request, "start.html", who=who, purpose="issue", municipalities=municipalities)


@get("/reprint", media_type=MediaType.HTML)
async def reprint_start(request: Request[Any, Any, Any]) -> Response[Any]:
    ctx = counter(request)
    who = await ctx.require(request, Permission.ISSUE)
    municipalities = await _counter_municipalities(ctx, who)
    return ctx.page(
        request, "start.html", who=who, purpose="reprint", municipalities=municipalities
    )


@post("/visit/start", media_type=MediaType.HTML, status_code=200)
async def visit_start(request: Request[Any, Any, Any]) -> Response[Any]:
    ctx = counter(request)
    who = await ctx.require(request, Permission.ISSUE)
    form = await _form(request, ctx, who.session_id)
    code = _field(form, "municipality", max_len=6)
    purpose = _field(form, "purpose", max_len=10)
    if purpose not in ("issue", "reprint"):
        raise refuse("COUNTER_FORM_INVALID", detail="field purpose")
    municipality = await ctx.services.municipalities.get(code)
    if code not in who.session.staff.municipalities:
        if municipality is not None:
            await _audit(
                ctx,
                who,
                municipality_code=code,
                action="counter.visit.start",
                outcome="municipality_not_granted",
            )
        raise refuse("COUNTER_MUNICIPALITY_NOT_GRANTED")
    if municipality is None:
        raise refusal_problem(Refused(code=RefusalCode.MUNICIPALITY_UNKNOWN))
    if not channel_offered(municipality, Channel.COUNTER):
        raise refusal_problem(Refused(code=RefusalCode.CHANNEL_NOT_OFFERED))
    now = _now(ctx)
    visit = Visit(
        stage="started",
        visit_id=new_visit_id(),
        purpose=cast(Literal["issue", "reprint"], purpose),
        expires_at=int(now.timestamp()) + VISIT_SECONDS,
        municipality_code=code,
    )
    await _audit(
        ctx, who, municipality_code=code, action=f"counter.visit.{purpose}", outcome="started"
    )
    return ctx.page(
        request,
        "identity.html",
        who=who,
        visit=ctx.sealer.seal(who.session_id, visit),
        purpose=purpose,
        municipality=municipality,
        nonce=ctx.nonce_text(visit.visit_id),
        photo_id_types=PHOTO_ID_TYPES,
    )


async def _identity(
    ctx: CounterContext, form: Any, visit: Visit
) -> tuple[CardProof | StaffVerifiedIdentity, IdentityMethod, str | None]:
    method = _field(form, "method", max_len=20)
    if method == "card":
        bundle = await _upload(ctx, form, "card_file")
        if bundle is None:
            raise refuse("COUNTER_FORM_INVALID", detail="field card_file")
        try:
            files = _decode_card.decode(bundle)
        except (msgspec.ValidationError, msgspec.DecodeError):
            raise refuse("COUNTER_CARD_BUNDLE_INVALID") from None
        try:
            evidence = card_evidence(files)
        except Problem:
            raise refuse("COUNTER_CARD_BUNDLE_INVALID") from None
        nonce = ctx.sealer.nonce(visit.visit_id)
        return CardProof(evidence=evidence, nonce=nonce), "my_number_card", None
    if method == "notification":
        number = _field(form, "my_number", max_len=20).replace(" ", "").replace("-", "")
        photo_id = _field(form, "photo_id_type", max_len=20)
        if photo_id not in PHOTO_ID_TYPES:
            raise refuse("COUNTER_FORM_INVALID", detail="field photo_id_type")
        # The check digit is checked here too (the page's script is a convenience only).
        if not signing.is_valid_my_number(number):
            raise refusal_problem(Refused(code=RefusalCode.MY_NUMBER_INVALID))
        identity = StaffVerifiedIdentity(my_number=number, method="notification_card_and_photo_id")
        return identity, "notification_card_and_photo_id", photo_id
    raise refuse("COUNTER_FORM_INVALID", detail="field method")


async def _preview(
    ctx: CounterContext, who: Signed, visit: Visit, identity: Any, now: datetime
) -> Preview | Refused:
    return await preview_issuance(
        IssueCommand(
            identity=identity,
            municipality_code=visit.municipality_code,
            kind="domestic",
            passport=None,
            channel=Channel.COUNTER,
            actor=who.session.staff.staff_id,
        ),
        ctx.services,
        now=now,
    )


@post("/visit/identify", media_type=MediaType.HTML, status_code=200)
async def visit_identify(request: Request[Any, Any, Any]) -> Response[Any]:
    ctx = counter(request)
    who = await ctx.require(request, Permission.ISSUE)
    form = await _form(request, ctx, who.session_id)
    visit = _open_visit(ctx, who, form, stage="started")
    identity, method, photo_id = await _identity(ctx, form, visit)
    now = _now(ctx)
    result = await _preview(ctx, who, visit, identity, now)
    if isinstance(result, Refused):
        await _audit(
            ctx,
            who,
            municipality_code=visit.municipality_code,
            action="counter.identify",
            outcome=_outcome(result),
            identity_method=method,
        )
        raise refusal_problem(result)
    await _audit(
        ctx,
        who,
        municipality_code=visit.municipality_code,
        action="counter.identify",
        outcome="verified",
        address_number=result.address_number,
        identity_method=method,
    )
    identified = msgspec.structs.replace(
        visit,
        stage="identified",
        address_number=result.address_number,
        identity_method=method,
        photo_id_type=photo_id,
    )
    return ctx.page(
        request,
        "details.html" if visit.purpose == "issue" else "reprint.html",
        who=who,
        visit=ctx.sealer.seal(who.session_id, identified),
        preview=result,
        method=method,
        products=ctx.product_names,
        reasons=REASONS,
    )


def _mrz_problem(exc: mrz.MrzError) -> Problem:
    try:
        return refusal_problem(Refused(code=RefusalCode(exc.code)))
    except ValueError:
        pass
    if exc.code in ("OCR_TIMEOUT", "OCR_UNAVAILABLE"):
        return refuse("COUNTER_OCR_UNAVAILABLE")
    if exc.code == "IMAGE_TOO_LARGE":
        return refuse("COUNTER_UPLOAD_TOO_LARGE")
    return refuse("COUNTER_SCAN_UNREADABLE")


class _PassportRead(msgspec.Struct, frozen=True, kw_only=True):
    lines: tuple[str, str]
    passport: mrz.Passport
    repaired: frozenset[tuple[int, int]]
    """(line, position) of every character the OCR repair changed (1-based)."""


async def _read_passport(ctx: CounterContext, form: Any, today: date) -> _PassportRead:
    scan = await _upload(ctx, form, "passport_scan")
    if scan is not None:
        try:
            ocr = await mrz.read_mrz_image_async(scan, today=today, test_mode=ctx.mrz_test_mode)
        except mrz.MrzError as exc:
            raise _mrz_problem(exc) from None
        return _PassportRead(
            lines=ocr.lines,
            passport=ocr.passport,
            repaired=frozenset((c.line, c.position) for c in ocr.corrections),
        )
    line1 = _field(form, "mrz1", max_len=60).upper().replace(" ", "")
    line2 = _field(form, "mrz2", max_len=60).upper().replace(" ", "")
    try:
        passport = mrz.parse_td3([line1, line2], today=today, test_mode=ctx.mrz_test_mode)
    except mrz.MrzError as exc:
        raise _mrz_problem(exc) from None
    return _PassportRead(lines=(line1, line2), passport=passport, repaired=frozenset())


@post("/visit/preview", media_type=MediaType.HTML, status_code=200)
async def visit_preview(request: Request[Any, Any, Any]) -> Response[Any]:
    ctx = counter(request)
    who = await ctx.require(request, Permission.ISSUE)
    form = await _form(request, ctx, who.session_id)
    visit = _open_visit(ctx, who, form, stage="identified", purpose="issue")
    if visit.address_number is None:
        raise refuse("COUNTER_VISIT_INVALID")
    kind = _field(form, "kind", max_len=10)
    if kind not in ("domestic", "abroad"):
        raise refuse("COUNTER_FORM_INVALID", detail="field kind")
    reason = _field(form, "reason", max_len=20)
    if reason not in REASONS:
        raise refuse("COUNTER_FORM_INVALID", detail="field reason")
    note = _field(form, "note", required=reason == "other")
    if _TWELVE_DIGITS.search(note):
        raise refuse("COUNTER_FORM_INVALID", detail="field note")
    other_kind = _field(form, "other_name_kind", max_len=10, required=False) or "none"
    other_name = _field(form, "other_name", max_len=40, required=other_kind != "none")
    if other_kind not in ("none", "former", "alias"):
        raise refuse("COUNTER_FORM_INVALID", detail="field other_name_kind")
    now = _now(ctx)
    today = now.astimezone(JST).date()
    read: _PassportRead | None = None
    if kind == "abroad":
        read = await _read_passport(ctx, form, today)
    result = await _preview(
        ctx, who, visit, VerifiedPerson(address_number=visit.address_number), now
    )
    if isinstance(result, Refused):
        await _audit(
            ctx,
            who,
            municipality_code=visit.municipality_code,
            action="counter.preview",
            outcome=_outcome(result),
            address_number=visit.address_number,
            identity_method=visit.identity_method,
            reason=reason,
        )
        raise refusal_problem(result)
    await _audit(
        ctx,
        who,
        municipality_code=visit.municipality_code,
        action="counter.preview",
        outcome="previewed",
        address_number=visit.address_number,
        identity_method=visit.identity_method,
        reason=reason,
    )
    previewed = msgspec.structs.replace(
        visit,
        stage="previewed",
        kind=cast(Literal["domestic", "abroad"], kind),
        mrz_lines=read.lines if read is not None else (),
        other_name_kind=None if other_kind == "none" else cast(Any, other_kind),
        other_name=None if other_kind == "none" else other_name,
        reason=reason,
    )
    return ctx.page(
        request,
        "preview.html",
        who=who,
        visit=ctx.sealer.seal(who.session_id, previewed),
        preview=result,
        kind=kind,
        read=read,
        marked_lines=_marked(read) if read is not None else None,
        other_kind=other_kind,
        other_name=other_name,
        reason=reason,
        note=note,
        method=visit.identity_method,
        products=ctx.product_names,
    )


def _marked(read: _PassportRead) -> list[list[tuple[str, bool]]]:
    """Each MRZ line as (character, repaired) pairs, for highlighting."""
    return [
        [(ch, (n, i) in read.repaired) for i, ch in enumerate(line, start=1)]
        for n, line in enumerate(read.lines, start=1)
    ]


async def _claim_visit(ctx: CounterContext, visit: Visit) -> bool:
    """True the first time a visit issues: a resubmitted form does not issue twice. The key is
    an HMAC of the visit id (no personal data) and lives as long as the visit."""
    key = "counter:visit:" + ctx.visit_key(visit.visit_id)
    claimed = await ctx.redis.set(key, b"1", nx=True, ex=VISIT_SECONDS + 60)
    return bool(claimed)


@post("/visit/issue", media_type=MediaType.HTML, status_code=200)
async def visit_issue(request: Request[Any, Any, Any]) -> Response[Any]:
    ctx = counter(request)
    who = await ctx.require(request, Permission.ISSUE)
    form = await _form(request, ctx, who.session_id)
    visit = _open_visit(ctx, who, form, stage="previewed", purpose="issue")
    if visit.address_number is None or visit.kind is None:
        raise refuse("COUNTER_VISIT_INVALID")
    if not await _claim_visit(ctx, visit):
        raise refuse("COUNTER_VISIT_ALREADY_ISSUED")
    other = (
        signing.OtherName(kind=visit.other_name_kind, name=visit.other_name)
        if visit.other_name_kind is not None and visit.other_name
        else None
    )
    outcome = await issue_certificates(
        IssueCommand(
            identity=VerifiedPerson(address_number=visit.address_number),
            municipality_code=visit.municipality_code,
            kind=visit.kind,
            passport=MrzLines(lines=visit.mrz_lines, other_name=other)
            if visit.kind == "abroad"
            else None,
            channel=Channel.COUNTER,
            actor=who.session.staff.staff_id,
            audit_reason=visit.reason,
        ),
        ctx.services,
        now=_now(ctx),
    )
    if isinstance(outcome, Refused):
        await ctx.redis.delete("counter:visit:" + ctx.visit_key(visit.visit_id))
        await _audit(
            ctx,
            who,
            municipality_code=visit.municipality_code,
            action="counter.issue",
            outcome=_outcome(outcome),
            address_number=visit.address_number,
            identity_method=visit.identity_method,
            reason=visit.reason,
        )
        raise refusal_problem(outcome)
    await _audit(
        ctx,
        who,
        municipality_code=visit.municipality_code,
        action="counter.issue",
        outcome="issued",
        address_number=visit.address_number,
        identity_method=visit.identity_method,
        reason=visit.reason,
    )
    return _done(request, ctx, who, visit, outcome, reprinted=False)


def _done(
    request: Request[Any, Any, Any],
    ctx: CounterContext,
    who: Signed,
    visit: Visit,
    issued: Issued,
    *,
    reprinted: bool,
) -> Response[Any]:
    done = msgspec.structs.replace(
        visit, stage="issued", certificate_id=issued.certificate.certificate_id
    )
    return ctx.page(
        request,
        "done.html",
        who=who,
        visit=ctx.sealer.seal(who.session_id, done),
        certificate=issued.certificate,
        issued_at=issued.certificate.issued_at.astimezone(JST).strftime("%Y-%m-%d %H:%M"),
        reprinted=reprinted,
    )


@post("/visit/reprint", media_type=MediaType.HTML, status_code=200)
async def visit_reprint(request: Request[Any, Any, Any]) -> Response[Any]:
    ctx = counter(request)
    who = await ctx.require(request, Permission.ISSUE)
    form = await _form(request, ctx, who.session_id)
    visit = _open_visit(ctx, who, form, stage="identified", purpose="reprint")
    if visit.address_number is None:
        raise refuse("COUNTER_VISIT_INVALID")
    certificate_id = _field(form, "certificate_id", max_len=20).upper().replace("-", "")
    if not _CERTIFICATE_ID.fullmatch(certificate_id):
        raise refuse("COUNTER_FORM_INVALID", detail="field certificate_id")
    again = await reprint_certificate(
        municipality_code=visit.municipality_code,
        address_number=visit.address_number,
        certificate_id=certificate_id,
        services=ctx.services,
    )
    outcome = _outcome(again) if isinstance(again, Refused) else "reprinted"
    await _audit(
        ctx,
        who,
        municipality_code=visit.municipality_code,
        action="counter.reprint",
        outcome=outcome,
        address_number=visit.address_number,
        identity_method=visit.identity_method,
    )
    if isinstance(again, Refused):
        raise refusal_problem(again)
    return _done(request, ctx, who, visit, again, reprinted=True)


@post("/visit/pdf", media_type="application/pdf", status_code=200)
async def visit_pdf(request: Request[Any, Any, Any]) -> Response[Any]:
    ctx = counter(request)
    who = await ctx.require(request, Permission.ISSUE)
    form = await _form(request, ctx, who.session_id)
    visit = _open_visit(ctx, who, form, stage="issued")
    if visit.address_number is None or visit.certificate_id is None:
        raise refuse("COUNTER_VISIT_INVALID")
    # The PDF is re-created from the records, byte for byte (deterministic signatures).
    again = await reprint_certificate(
        municipality_code=visit.municipality_code,
        address_number=visit.address_number,
        certificate_id=visit.certificate_id,
        services=ctx.services,
    )
    await _audit(
        ctx,
        who,
        municipality_code=visit.municipality_code,
        action="counter.print",
        outcome=_outcome(again) if isinstance(again, Refused) else "printed",
        address_number=visit.address_number,
        identity_method=visit.identity_method,
    )
    if isinstance(again, Refused):
        raise refusal_problem(again)
    pdf = await render_pdf(again)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            **ctx.security_headers(),
            "Content-Disposition": f'attachment; filename="certificate-{visit.certificate_id}.pdf"',
        },
    )


# --- supervisor and administrator pages --------------------------------------------------------


def _day(value: str | None, *, end: bool = False) -> datetime | None:
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise refuse("COUNTER_FORM_INVALID", detail="a date is not YYYY-MM-DD") from None
    start = datetime.combine(day, time(0), tzinfo=JST)
    return (start + timedelta(days=1) if end else start).astimezone(UTC)


_CODE_FILTER = re.compile(r"[a-z0-9_.\-]{0,64}")


@get("/audit", media_type=MediaType.HTML)
async def audit_page(
    request: Request[Any, Any, Any],
    *,
    municipality: FromQuery[str] = "",
    since: FromQuery[str] = "",
    until: FromQuery[str] = "",
    actor: FromQuery[str] = "",
    action: FromQuery[str] = "",
    outcome: FromQuery[str] = "",
) -> Response[Any]:
    ctx = counter(request)
    who = await ctx.require(request, Permission.AUDIT_REVIEW)
    granted = who.session.staff.municipalities
    code = municipality or (granted[0] if granted else "")
    if code not in granted:
        raise refuse("COUNTER_MUNICIPALITY_NOT_GRANTED")
    for value in (actor, action, outcome):
        if not _CODE_FILTER.fullmatch(value):
            raise refuse("COUNTER_FORM_INVALID", detail="a filter is not a code")
    events = await ctx.staff.audit_events(
        code,
        since=_day(since),
        until=_day(until, end=True),
        actor=actor or None,
        action=action or None,
        outcome=outcome or None,
        limit=200,
    )
    chain = await ctx.staff.audit_chain(code)
    await _audit(ctx, who, municipality_code=code, action="counter.audit_review", outcome="viewed")
    return ctx.page(
        request,
        "audit.html",
        who=who,
        municipalities=granted,
        filters={
            "municipality": code,
            "since": since,
            "until": until,
            "actor": actor,
            "action": action,
            "outcome": outcome,
        },
        events=[(e, e.at.astimezone(JST).strftime("%Y-%m-%d %H:%M:%S")) for e in events],
        chain=chain,
    )


@get("/accounts", media_type=MediaType.HTML)
async def accounts_page(request: Request[Any, Any, Any]) -> Response[Any]:
    ctx = counter(request)
    who = await ctx.require(request, Permission.ACCOUNT_REVIEW)
    rows = await ctx.staff.review()
    return ctx.page(request, "accounts.html", who=who, rows=rows, roles=list(Role))


ROUTES = [
    home,
    sign_in_page,
    sign_in,
    sign_out,
    password_page,
    change_password,
    switch_language,
    enrol_terminal,
    issue_start,
    reprint_start,
    visit_start,
    visit_identify,
    visit_preview,
    visit_issue,
    visit_reprint,
    visit_pdf,
    audit_page,
    accounts_page,
]

__all__ = ["ROUTES", "lang_of"]
