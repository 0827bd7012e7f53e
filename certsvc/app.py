"""The application factory: `create_app(settings)`.

The app holds no state of its own between requests: PostgreSQL (asyncpg pool) and Redis clients
are opened in the lifespan and reached through `Resources`. Every response carries an
`X-Request-Id`; responses that do not set their own `Cache-Control` get `no-store`.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import redis.asyncio as redis_asyncio
import redis.exceptions
from litestar import Litestar, Router
from litestar.enums import ScopeType
from litestar.middleware import DefineMiddleware
from litestar.openapi.config import OpenAPIConfig
from litestar.types import ControllerRouterHandler, Message, Receive, ReceiveMessage, Scope, Send
from redis.asyncio.cluster import ClusterNode, RedisCluster

from certsvc import api, health, metrics
from certsvc.audit_chainer import audit_chainer
from certsvc.errors import CATALOGUE, CodeInfo, exception_handlers
from certsvc.http_protocol import DISCONNECTED_EXTENSION
from certsvc.key_refresh import key_refresher
from certsvc.logs import configure_logging, new_request_id, reset_request_id, set_request_id
from certsvc.openapi import docs_assets, documented_openapi
from certsvc.redis_rounds import RedisClient
from certsvc.resources import ChannelResources, Clock, Resources, system_clock
from certsvc.settings import Settings, SettingsError, load_settings
from certsvc.strict_body import StrictJsonBody
from vrs_client import pool_reset

_access = logging.getLogger("certsvc.access")
_log = logging.getLogger("certsvc.app")


async def open_pool(settings: Settings) -> asyncpg.Pool:
    if settings.database_url is None:
        raise RuntimeError("CERTSVC_DATABASE_URL is not set")
    pool: asyncpg.Pool = await asyncpg.create_pool(
        settings.database_url,
        min_size=settings.db_pool_min,
        max_size=settings.db_pool_max,
        reset=pool_reset,
        command_timeout=10,
    )
    return pool


def open_redis(settings: Settings) -> RedisClient:
    """A client of `CERTSVC_REDIS_URL`: one server, or with `CERTSVC_REDIS_CLUSTER` a Redis
    Cluster (the URL names any node; the client learns the others and follows failovers). Every
    script and transaction touches keys of one hash tag, so each stays in one slot."""
    if settings.redis_url is None:
        raise RuntimeError("CERTSVC_REDIS_URL is not set")
    if settings.redis_cluster:
        return open_redis_cluster(settings.redis_url)
    return redis_asyncio.Redis.from_url(
        settings.redis_url,
        socket_connect_timeout=1.0,
        socket_timeout=2.0,
        retry_on_timeout=False,
        max_connections=256,
    )


class _FailoverSafeCluster(RedisCluster):
    """RedisCluster whose commands fail as `ConnectionError` when a node dies under them.

    While a primary is down, redis-py 8's cluster client may disconnect a connection that
    another coroutine is writing to; that coroutine then fails inside redis-py with an
    `AttributeError` (its writer is gone) or uvloop's `RuntimeError` (the transport is closed).
    Both mean "the connection was lost", so they are answered as a dependency down (503), not
    as a bug of ours (500)."""

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().execute_command(*args, **kwargs)
        except (AttributeError, RuntimeError) as exc:
            raise redis.exceptions.ConnectionError("connection lost during a command") from exc


async def _learn_cluster(client: RedisCluster) -> None:
    """Read the cluster's slot map before the first request. Left to the first commands, many
    concurrent ones each start learning it and disconnect each other's connections (redis-py 8),
    and a node that starts under load then answers most requests 503 for seconds. A cluster
    that does not answer now is learnt on first use instead (requests answer 503 meanwhile)."""
    try:
        await client.initialize()
    except (redis.exceptions.RedisError, redis.exceptions.RedisClusterException, OSError):
        _log.warning("the Redis Cluster did not answer at start; it is learnt on first use")


def open_redis_cluster(url: str) -> RedisCluster:
    """A Redis Cluster client from `redis://[user:password@]host:port[,host:port…]`: the client
    learns the cluster from the first of these nodes that answers, so name several (a single
    node that is down when the service starts would leave it without Redis)."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss"):
        raise SettingsError("CERTSVC_REDIS_URL: a cluster URL is redis:// or rediss://")
    nodes = []
    for address in parts.netloc.rsplit("@", 1)[-1].split(","):
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise SettingsError("CERTSVC_REDIS_URL: cluster nodes are host:port, comma-separated")
        nodes.append(ClusterNode(host.strip("[]"), int(port)))
    return _FailoverSafeCluster(
        startup_nodes=nodes,
        username=parts.username,
        password=parts.password,
        ssl=parts.scheme == "rediss",
        socket_connect_timeout=1.0,
        socket_timeout=2.0,
        max_connections=256,
    )


_REQUEST_ID = b"x-request-id"
_CACHE_CONTROL = b"cache-control"
_NO_STORE = (_CACHE_CONTROL, b"no-store")


class CertsvcApp(Litestar):
    """Litestar with the request context around everything, router misses (404/405) included:
    Litestar's own middleware runs only once a route has matched. A request whose client hung up
    before the answer was written is logged as `client disconnected` (status 499, as nginx
    does), not with the status nobody received."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # type: ignore[override]
        if scope["type"] != ScopeType.HTTP:
            await super().__call__(scope, receive, send)
            return
        request_id = new_request_id()
        token = set_request_id(request_id)
        started = time.perf_counter()
        status = 500
        answered = False
        hung_up = False

        async def receive_wrapper() -> ReceiveMessage:
            nonlocal hung_up
            message = await receive()
            if message["type"] == "http.disconnect" and not answered:
                hung_up = True
            return message

        async def send_wrapper(message: Message) -> None:
            nonlocal status, answered
            if message["type"] == "http.response.start":
                status = message["status"]
                # A copy: an answer's header list may be built once and shared.
                headers = list(message.get("headers", ()))
                stored = any(name.lower() == _CACHE_CONTROL for name, _ in headers)
                headers.append((_REQUEST_ID, request_id.encode()))
                if not stored:
                    headers.append(_NO_STORE)
                message["headers"] = headers
            elif not message.get("more_body", False):
                answered = True
            await send(message)

        try:
            await super().__call__(scope, receive_wrapper, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            # The server tells (certsvc.http_protocol) whether the answer reached the socket.
            extensions: dict[str, Any] = scope.get("extensions") or {}
            disconnected = extensions.get(DISCONNECTED_EXTENSION)
            gone = hung_up or (disconnected is not None and disconnected())
            metrics.observe_request(scope=scope, status=499 if gone else status, seconds=elapsed)
            resources = getattr(self.state, "resources", None)
            if resources is not None:
                metrics.observe_pool(resources.pool)
            if not _access.isEnabledFor(logging.INFO):
                pass  # the access log is off: no record is built
            elif gone:
                _access.info(
                    "client disconnected",
                    extra={
                        "method": scope.get("method"),
                        "path": scope.get("path"),
                        "status": 499,
                        "answer_status": status if answered else None,
                        "ms": round(elapsed * 1000, 2),
                    },
                )
            else:
                _access.info(
                    "request",
                    extra={
                        "method": scope.get("method"),
                        "path": scope.get("path"),
                        "status": status,
                        "ms": round(elapsed * 1000, 2),
                    },
                )
            reset_request_id(token)


#: What a channel does once its resources exist: put its own context in `app.state`.
OnStart = Callable[[ChannelResources, Litestar], None]


def create_channel_app(
    settings: Settings,
    *,
    route_handlers: Sequence[ControllerRouterHandler],
    on_start: OnStart | None = None,
    clock: Clock = system_clock,
    person_limit: bool = True,
    openapi_config: OpenAPIConfig | None = None,
    codes: Mapping[str, CodeInfo] | None = None,
    resources_type: type[ChannelResources] = ChannelResources,
) -> Litestar:
    """An HTTP application of one channel's listener for `settings`.

    Its lifespan opens the PostgreSQL pool and the Redis client, builds `resources_type` (the
    issuance services, with the per-person limiter when `person_limit`), publishes it as
    `app.state.resources`, calls `on_start(resources, app)` and runs the audit chainer; on
    shutdown it closes both clients. Every answer gets a request id, problem+json errors and
    `no-store` unless it sets its own `Cache-Control`. `codes` are the channel's own error
    codes: a code that means something else in certsvc's catalogue is refused here, at build
    time. `clock` gives "now" to every step (tests move it)."""
    for code, info in (codes or {}).items():
        known = CATALOGUE.get(code)
        if known is not None and known != info:
            raise ValueError(f"error code {code} already means something else")

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        pool = await open_pool(settings)
        redis = open_redis(settings)
        if isinstance(redis, RedisCluster):
            await _learn_cluster(redis)
        try:
            resources = resources_type(
                settings=settings, pool=pool, redis=redis, clock=clock, person_limit=person_limit
            )
            app.state.resources = resources
            if on_start is not None:
                on_start(resources, app)
            async with (
                audit_chainer(resources.store),
                key_refresher(resources.keys, interval=settings.key_refresh_seconds),
            ):
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
        # Logging is ours (certsvc.logs): JSON, request ids, the personal-data filter.
        logging_config=None,
        debug=False,
    )


def json_routes(settings: Settings, handlers: Sequence[ControllerRouterHandler]) -> Router:
    """`handlers` behind the strict body rules of a JSON listener (certsvc.strict_body): every
    body read and bounded, `application/json` only, no duplicate members."""
    return Router(
        path="/",
        route_handlers=list(handlers),
        middleware=[DefineMiddleware(StrictJsonBody, max_body_bytes=settings.max_body_bytes)],
    )


def create_app(settings: Settings, *, clock: Clock = system_clock) -> Litestar:
    """The HTTP application of the main listener (app channel, public endpoints, health) for
    `settings`. `clock` gives "now" to every step (tests move it)."""
    return create_channel_app(
        settings,
        route_handlers=[
            *health.routes(),
            json_routes(settings, api.routes(settings.shc_issuer)),
            docs_assets(),
        ],
        clock=clock,
        resources_type=Resources,
        openapi_config=documented_openapi(
            title="certsvc: app and public API",
            description="Vaccination certificate issuance (SMART Health Card, ICAO VDS-NC): the "
            "smartphone app channel, the public keys and municipalities, health. Every error is "
            "application/problem+json with a stable `code` (see the README's error table).",
        ),
    )


def create_app_from_env() -> Litestar:
    """Factory for `uvicorn --factory` workers of `certsvc serve`: settings from the environment."""
    settings = load_settings(os.environ)
    configure_logging(settings.log_level)
    return create_app(settings)
