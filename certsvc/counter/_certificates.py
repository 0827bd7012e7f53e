"""The officials' operations at the counter: a certificate's status, and revoking it.

Supervisors and administrators only (`Permission.REVOKE`), for a municipality granted to them.
The same order as every counter handler: the staff session → the permission → the CSRF token →
the municipality among those granted → the certificate ID's format → the use case through
`certsvc.channel` → the page, `no-store`. A revocation records its own audit event (with the
CRL change, in one transaction); a status lookup and a refused revocation are audited here.
Nothing of the holder is shown: channel, kind, times, state, reason, key and CRL version only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from litestar import MediaType, Request, Response, get, post

from certsvc.channel import (
    JST,
    RefusalCode,
    Refused,
    RevocationReason,
    certificate_status,
    refusal_problem,
    revoke_certificate,
)
from certsvc.counter._context import CounterContext, Signed, counter, refuse
from certsvc.counter._pages import _CERTIFICATE_ID, _audit, _field, _form, _now, _outcome
from certsvc.staff import Permission

REVOCATION_REASONS = tuple(r.value for r in RevocationReason)


def _shown(at: datetime | None) -> str:
    return at.astimezone(JST).strftime("%Y-%m-%d %H:%M:%S") if at is not None else ""


async def _granted(ctx: CounterContext, who: Signed) -> list[Any]:
    found = []
    for code in who.session.staff.municipalities:
        m = await ctx.services.municipalities.get(code)
        if m is not None:
            found.append(m)
    return found


async def _target(ctx: CounterContext, who: Signed, form: Any) -> tuple[str, str]:
    """The granted municipality and the well-formed certificate ID of the form."""
    code = _field(form, "municipality", max_len=6)
    if code not in who.session.staff.municipalities:
        raise refuse("COUNTER_MUNICIPALITY_NOT_GRANTED")
    certificate_id = _field(form, "certificate_id", max_len=20).upper().replace("-", "")
    if not _CERTIFICATE_ID.fullmatch(certificate_id):
        raise refuse("COUNTER_CERTIFICATE_ID_INVALID")
    return code, certificate_id


@get("/certificates", media_type=MediaType.HTML)
async def certificates_page(request: Request[Any, Any, Any]) -> Response[Any]:
    ctx = counter(request)
    who = await ctx.require(request, Permission.REVOKE)
    return ctx.page(
        request,
        "certificates.html",
        who=who,
        municipalities=await _granted(ctx, who),
        reasons=REVOCATION_REASONS,
    )


@post("/certificates/status", media_type=MediaType.HTML, status_code=200)
async def certificate_status_page(request: Request[Any, Any, Any]) -> Response[Any]:
    ctx = counter(request)
    who = await ctx.require(request, Permission.REVOKE)
    form = await _form(request, ctx, who.session_id)
    code, certificate_id = await _target(ctx, who, form)
    result = await certificate_status(
        municipality_code=code, certificate_id=certificate_id, store=ctx.services.store
    )
    if isinstance(result, Refused):
        if result.code is not RefusalCode.MUNICIPALITY_UNKNOWN:
            await _audit(
                ctx, who, municipality_code=code, action="counter.status", outcome=_outcome(result)
            )
        raise refusal_problem(result)
    await _audit(ctx, who, municipality_code=code, action="counter.status", outcome=result.state)
    return ctx.page(
        request,
        "certificate.html",
        who=who,
        cert=result,
        revoked=None,
        issued_at=_shown(result.issued_at),
        changed_at=_shown(result.changed_at),
    )


@post("/certificates/revoke", media_type=MediaType.HTML, status_code=200)
async def certificate_revoke(request: Request[Any, Any, Any]) -> Response[Any]:
    ctx = counter(request)
    who = await ctx.require(request, Permission.REVOKE)
    form = await _form(request, ctx, who.session_id)
    code, certificate_id = await _target(ctx, who, form)
    reason_value = _field(form, "reason", max_len=20)
    if reason_value not in REVOCATION_REASONS:
        raise refuse("COUNTER_FORM_INVALID", detail="field reason")
    reason = RevocationReason(reason_value)
    result = await revoke_certificate(
        municipality_code=code,
        certificate_id=certificate_id,
        reason=reason,
        actor=who.session.staff.staff_id,
        store=ctx.services.store,
        now=_now(ctx),
    )
    if isinstance(result, Refused):
        # A revocation audits itself; a refused one changes nothing and is recorded here.
        if result.code is not RefusalCode.MUNICIPALITY_UNKNOWN:
            await _audit(
                ctx,
                who,
                municipality_code=code,
                action="counter.revoke",
                outcome=_outcome(result),
                reason=reason.value,
            )
        raise refusal_problem(result)
    return ctx.page(
        request,
        "certificate.html",
        who=who,
        cert=None,
        revoked=result,
        changed_at=_shown(result.revoked_at),
    )


CERTIFICATE_ROUTES = [certificates_page, certificate_status_page, certificate_revoke]

__all__ = ["CERTIFICATE_ROUTES", "REVOCATION_REASONS"]
