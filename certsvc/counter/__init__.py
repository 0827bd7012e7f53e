"""The city counter (DESIGN §1.3): staff sign in and issue certificates for residents who come
to the city office, on the counter's own listener (`CERTSVC_COUNTER_HOST`/`PORT`, the city's
internal network; never the internet-facing app listener).

Server-rendered HTML pages (Japanese first, English toggle), our own staff session cookie,
CSRF tokens on every form, a CSP without inline scripts, `no-store` on every page. Between two
steps of a visit the page carries only a token sealed by the counter (`_visit`). The counter
imports from certsvc only the channel face (`certsvc.channel`) and the staff accounts layer
(`certsvc.staff`). See docs/counter.md.
"""

from __future__ import annotations

from pathlib import Path

from litestar import Litestar, Router
from litestar.static_files import create_static_files_router

from certsvc.channel import (
    ChannelResources,
    Clock,
    ConfigurationError,
    Settings,
    create_channel_app,
    system_clock,
)
from certsvc.counter._certificates import CERTIFICATE_ROUTES
from certsvc.counter._codes import COUNTER_CODES
from certsvc.counter._context import CounterContext
from certsvc.counter._errors import html_exception_handlers
from certsvc.counter._pages import ROUTES
from certsvc.staff import StaffService

#: The body limit of the counter's forms: an upload plus the form's other fields.
FORM_OVERHEAD_BYTES = 64 * 1024


def create_counter_app(
    settings: Settings, *, clock: Clock = system_clock, session_key: bytes | None = None
) -> Litestar:
    """The counter's HTTP application for `settings`. Visit tokens are sealed under
    `settings.counter_session_key` (or `session_key`); without either it is a configuration
    error — no key is ever generated here, since every worker must open every token."""
    key = session_key or settings.counter_session_key
    if key is None:
        raise ConfigurationError("CERTSVC_COUNTER_SESSION_KEY is required by the counter")
    if settings.lookup_key is None:
        raise ConfigurationError("CERTSVC_LOOKUP_KEY is required by the counter")
    lookup_key = settings.lookup_key
    limit = settings.counter_upload_max_bytes + FORM_OVERHEAD_BYTES
    handlers = html_exception_handlers()

    def on_start(resources: ChannelResources, app: Litestar) -> None:
        staff = StaffService(
            pool=resources.pool, redis=resources.redis, lookup_key=lookup_key, clock=clock
        )
        app.state.counter = CounterContext(
            resources,
            staff=staff,
            session_key=key,
            upload_max=settings.counter_upload_max_bytes,
            clock=clock,
        )

    pages = Router(
        path="/",
        route_handlers=[*ROUTES, *CERTIFICATE_ROUTES],
        exception_handlers=handlers,
        request_max_body_size=limit,
    )
    static = create_static_files_router(
        path="/static",
        directories=[Path(__file__).parent / "static"],
        exception_handlers=handlers,
        include_in_schema=False,
    )
    app = create_channel_app(
        settings,
        route_handlers=[pages, static],
        on_start=on_start,
        clock=clock,
        # Staff identify residents themselves; a correction or new doses may need several
        # certificates in one visit, so the app channel's per-person limit does not apply.
        person_limit=False,
        openapi_config=None,
        codes=COUNTER_CODES,
    )
    # Answers outside any route (404, 405) are HTML too: the app's own handlers are replaced
    # in place (the router reads this mapping for unmatched paths).
    app.exception_handlers.update(handlers)
    return app


__all__ = ["COUNTER_CODES", "create_counter_app"]
