"""What every counter handler reaches: the context built once per process, our own cookies
(staff session, CSRF, terminal, language), the page renderer and the security headers.

Cookies are HttpOnly, Secure and SameSite=Strict. The staff session cookie holds the random id
the staff layer made at sign-in and nothing else (Litestar's session middleware is not used: it
keeps an id the browser chose). The CSRF token of a form is an HMAC of this browser's CSRF
cookie and its staff session id (double submit, bound to the session), so a token from before
sign-in or from another session does not verify.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from pathlib import Path
from typing import Any

import jinja2
import redis.asyncio as redis_asyncio
from litestar import MediaType, Request, Response
from litestar.datastructures import Cookie
from litestar.response import Redirect

from certsvc.channel import ChannelResources, Clock, IssuanceServices, Problem
from certsvc.counter._codes import COUNTER_CODES
from certsvc.counter._texts import TEXTS, Lang, text
from certsvc.counter._visit import VisitSealer
from certsvc.staff import Permission, StaffService, StaffSession, allowed
from signing.certificate import PRODUCTS

SESSION_COOKIE = "counter_session"
CSRF_COOKIE = "counter_csrf"
TERMINAL_COOKIE = "counter_terminal"
LANG_COOKIE = "counter_lang"

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
_TEMPLATES = Path(__file__).parent / "templates"


def refuse(code: str, *, detail: str | None = None) -> Problem:
    """A counter refusal, answered as an HTML page showing `code`."""
    return Problem(code, info=COUNTER_CODES[code], detail=detail)


def lang_of(request: Request[Any, Any, Any]) -> Lang:
    return "en" if request.cookies.get(LANG_COOKIE) == "en" else "ja"


class Signed:
    """A signed-in staff member for one request: the session id and what it holds."""

    def __init__(self, session_id: str, session: StaffSession) -> None:
        self.session_id = session_id
        self.session = session

    def may(self, permission: str) -> bool:
        return allowed(self.session.staff.role, Permission(permission))


class CounterContext:
    """Built once per process from the channel resources (in the app's start-up)."""

    def __init__(
        self,
        resources: ChannelResources,
        *,
        staff: StaffService,
        session_key: bytes,
        upload_max: int,
        clock: Clock,
    ) -> None:
        self.services: IssuanceServices = resources.services
        self.redis: redis_asyncio.Redis = resources.redis
        self.staff = staff
        self.clock = clock
        self.sealer = VisitSealer(session_key)
        self.upload_max = upload_max
        self.mrz_test_mode = resources.settings.mode == "test"
        self._visit_key = hashlib.sha256(b"counter-visit-key\x00" + session_key).digest()
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(_TEMPLATES),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )
        self.product_names = {code: p.name for code, p in PRODUCTS.items()}

    # --- tokens ---------------------------------------------------------------------------

    def nonce_text(self, visit_id: str) -> str:
        """The visit's card challenge as the page shows it (base64url, no padding)."""
        return base64.urlsafe_b64encode(self.sealer.nonce(visit_id)).rstrip(b"=").decode()

    def visit_key(self, visit_id: str) -> str:
        return hmac.new(self._visit_key, visit_id.encode(), hashlib.sha256).hexdigest()

    def csrf_token(self, csrf_cookie: str, session_id: str) -> str:
        mac = hmac.new(self.sealer.csrf_key, f"{csrf_cookie}|{session_id}".encode(), hashlib.sha256)
        return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()

    def csrf_ok(self, csrf_cookie: str | None, session_id: str, token: str) -> bool:
        if not csrf_cookie or not token:
            return False
        return hmac.compare_digest(self.csrf_token(csrf_cookie, session_id), token)

    # --- sessions -------------------------------------------------------------------------

    async def signed_in(self, request: Request[Any, Any, Any]) -> Signed | None:
        session_id = request.cookies.get(SESSION_COOKIE)
        if not session_id or len(session_id) > 256:
            return None
        session = await self.staff.session(session_id)
        return None if session is None else Signed(session_id, session)

    async def require(
        self,
        request: Request[Any, Any, Any],
        permission: Permission | None,
        *,
        allow_password_change: bool = False,
    ) -> Signed:
        """The signed-in staff member, allowed `permission`; refused otherwise."""
        who = await self.signed_in(request)
        if who is None:
            raise refuse("COUNTER_SIGNED_OUT")
        # Error pages show who is signed in (and the sign-out button) from here on.
        request.state.counter_who = who
        if who.session.staff.must_change_password and not allow_password_change:
            raise refuse("COUNTER_PASSWORD_CHANGE_REQUIRED")
        if permission is not None and not allowed(who.session.staff.role, permission):
            raise refuse("COUNTER_ROLE_NOT_ALLOWED")
        return who

    # --- responses ------------------------------------------------------------------------

    @staticmethod
    def security_headers() -> dict[str, str]:
        return {
            "Cache-Control": "no-store",
            "Content-Security-Policy": CSP,
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
            "Referrer-Policy": "no-referrer",
        }

    @staticmethod
    def cookie(name: str, value: str, *, max_age: int | None = None) -> Cookie:
        return Cookie(
            key=name,
            value=value,
            path="/",
            max_age=max_age,
            httponly=True,
            secure=True,
            samesite="strict",
        )

    def redirect(self, path: str) -> Response[Any]:
        return Redirect(path=path, status_code=303, headers=self.security_headers())

    def render(
        self,
        request: Request[Any, Any, Any],
        template: str,
        *,
        who: Signed | None,
        **values: Any,
    ) -> tuple[str, Cookie | None]:
        """The page's HTML and, when the browser had none, a new CSRF cookie to set."""
        lang = lang_of(request)
        csrf_cookie = request.cookies.get(CSRF_COOKIE)
        new_cookie = None
        if not csrf_cookie or len(csrf_cookie) > 64:
            csrf_cookie = secrets.token_urlsafe(32)
            new_cookie = self.cookie(CSRF_COOKIE, csrf_cookie)
        session_id = who.session_id if who is not None else ""
        html = self.env.get_template(template).render(
            lang=lang,
            t=lambda key: text(key, lang),
            texts=TEXTS,
            csrf=self.csrf_token(csrf_cookie, session_id),
            who=who,
            path=request.url.path,
            **values,
        )
        return html, new_cookie

    def page(
        self,
        request: Request[Any, Any, Any],
        template: str,
        *,
        who: Signed | None,
        status: int = 200,
        **values: Any,
    ) -> Response[Any]:
        html, new_cookie = self.render(request, template, who=who, **values)
        return Response(
            html,
            status_code=status,
            media_type=MediaType.HTML,
            headers=self.security_headers(),
            cookies=[new_cookie] if new_cookie is not None else [],
        )


def counter(request: Request[Any, Any, Any]) -> CounterContext:
    ctx: CounterContext = request.app.state.counter
    return ctx


__all__ = [
    "CSRF_COOKIE",
    "LANG_COOKIE",
    "SESSION_COOKIE",
    "TERMINAL_COOKIE",
    "CounterContext",
    "Signed",
    "counter",
    "lang_of",
    "refuse",
]
