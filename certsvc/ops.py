"""The operations listener: `/metrics` (Prometheus), `/health` and `/ready` of one process, on
`CERTSVC_OPS_HOST:CERTSVC_OPS_PORT` (loopback by default).

It is a listener of its own because the others cannot serve a monitoring system: the app
listener faces the internet (metrics are not for residents) and the kiosk listener demands the
Certificate Issuance Center's client certificate. `certsvc serve` and `certsvc serve-kiosk` run it
in the parent process beside the workers (a thread with its own event loop, so it answers even
while every worker is busy); `certsvc demo` runs it beside its other listeners.

`/ready` opens its own small connections to PostgreSQL and Redis (the same servers, from the
same settings), so it answers the same way whichever process or thread it runs in.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import msgspec
import redis.asyncio as redis_asyncio
from litestar import Litestar, Response, get
from litestar.datastructures import State
from prometheus_client import CollectorRegistry, Gauge, generate_latest

from certsvc import metrics
from certsvc.errors import Problem, exception_handlers, problem_response
from certsvc.settings import Settings

_CHECK_TIMEOUT_S = 1.0
# The classic text format, which every Prometheus version reads (Litestar adds the charset).
METRICS_MEDIA_TYPE = "text/plain; version=0.0.4"
_log = logging.getLogger("certsvc.ops")


class Status(msgspec.Struct, frozen=True):
    status: str


class _Probes:
    """Lazily opened, tiny store clients for the readiness checks."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.pool: asyncpg.Pool | None = None
        self.redis: redis_asyncio.Redis | None = None

    async def postgres(self) -> bool:
        if self.settings.database_url is None:
            return False
        try:
            async with asyncio.timeout(_CHECK_TIMEOUT_S):
                if self.pool is None:
                    self.pool = await asyncpg.create_pool(
                        self.settings.database_url, min_size=0, max_size=1
                    )
                await self.pool.fetchval("SELECT 1")
        except Exception:  # noqa: BLE001 — any failure means "not ready"; the probe says which
            return False
        return True

    async def redis_ping(self) -> bool:
        if self.settings.redis_url is None:
            return False
        try:
            async with asyncio.timeout(_CHECK_TIMEOUT_S):
                if self.redis is None:
                    self.redis = redis_asyncio.Redis.from_url(
                        self.settings.redis_url, socket_connect_timeout=_CHECK_TIMEOUT_S
                    )
                await self.redis.ping()
        except Exception:  # noqa: BLE001 — any failure means "not ready"; the probe says which
            return False
        return True

    async def failing(self) -> list[str]:
        pg_ok, redis_ok = await asyncio.gather(self.postgres(), self.redis_ping())
        return [name for name, ok in (("postgres", pg_ok), ("redis", redis_ok)) if not ok]

    async def close(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()
        if self.pool is not None:
            await self.pool.close()


@get("/health", sync_to_thread=False)
def ops_health() -> Status:
    """Liveness: the process answers."""
    return Status(status="ok")


@get("/ready")
async def ops_ready(state: State) -> Response[Any]:
    """Readiness: PostgreSQL and Redis both answer within a second (contracts §2's shape)."""
    failing = await state.probes.failing()
    if failing:
        return problem_response(Problem("NOT_READY", extra={"failing": failing}))
    return Response(Status(status="ready"))


@get("/metrics")
async def ops_metrics(state: State) -> Response[bytes]:
    """Prometheus text exposition: this process (or every worker) and the stores' health."""
    failing = await state.probes.failing()
    return Response(
        exposition(dependencies={n: n not in failing for n in ("postgres", "redis")}),
        media_type=METRICS_MEDIA_TYPE,
        headers={"Cache-Control": "no-store"},
    )


def exposition(*, dependencies: dict[str, bool] | None = None) -> bytes:
    """The metrics as Prometheus text, with `certsvc_dependency_up` for the stores checked."""
    body = generate_latest(metrics.exposition_registry())
    if dependencies:
        own = CollectorRegistry()
        up = Gauge(
            "certsvc_dependency_up",
            "1 when the store answered the operations listener's check within a second.",
            ("dependency",),
            registry=own,
        )
        for name, ok in dependencies.items():
            up.labels(name).set(1 if ok else 0)
        body += generate_latest(own)
    return body


def create_ops_app(settings: Settings) -> Litestar:
    """The operations listener's app for the process that runs with `settings`."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        probes = _Probes(settings)
        app.state.probes = probes
        try:
            yield
        finally:
            await probes.close()

    return Litestar(
        route_handlers=[ops_health, ops_ready, ops_metrics],
        lifespan=[lifespan],
        exception_handlers=exception_handlers(),
        openapi_config=None,
        logging_config=None,
        debug=False,
    )


def metrics_route() -> Any:
    """`GET /metrics` for another listener (the demo's app listener, so a newcomer sees it)."""

    @get("/metrics", include_in_schema=False, sync_to_thread=False)
    def app_metrics() -> Response[bytes]:
        return Response(
            exposition(), media_type=METRICS_MEDIA_TYPE, headers={"Cache-Control": "no-store"}
        )

    return app_metrics


@contextlib.contextmanager
def ops_listener_thread(settings: Settings) -> Iterator[int]:
    """Serve the operations listener in a daemon thread (its own event loop) for the duration;
    yields the port it listens on. Raises `OSError` when the port cannot be bound."""
    import socket

    import uvicorn

    sock = socket.socket(socket.AF_INET6 if ":" in settings.ops_host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((settings.ops_host, settings.ops_port))  # raises OSError before any thread starts
    port: int = sock.getsockname()[1]
    config = uvicorn.Config(
        create_ops_app(settings),
        log_config=None,
        access_log=False,
        server_header=False,
        lifespan="on",
        log_level="warning",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=lambda: asyncio.run(server.serve(sockets=[sock])), name="ops-listener", daemon=True
    )
    thread.start()
    _log.info("operations listener", extra={"host": settings.ops_host, "port": port})
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=5)
        sock.close()


def port_in_use(host: str, port: int) -> bool:
    """True when `port` on `host` cannot be bound now (0 means any port: never in use)."""
    import socket

    if port == 0:
        return False
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def prepare_worker_metrics(workers: int) -> str | None:
    """For several workers: a fresh multiprocess directory in `PROMETHEUS_MULTIPROC_DIR`, set
    before any worker starts (the workers inherit it). Returns it, or None for one worker."""
    import tempfile

    if workers <= 1:
        return None
    directory = tempfile.mkdtemp(prefix="certsvc-metrics-")
    os.environ[metrics.MULTIPROC_ENV] = directory
    return directory


def serve_beside_ops_listener(
    settings: Settings, *, ports: dict[str, tuple[str, int]], serve: Callable[[], None]
) -> None:
    """Run `serve()` (a blocking `uvicorn.run` of the workers) with the operations listener
    beside it in this process. First, every port of `ports` (setting name → host, port) and the
    operations port must be free: `CommandFailed(LISTENER)` names the setting otherwise. With
    several workers, their metrics go through a fresh multiprocess directory."""
    from certsvc.commands._failures import CommandFailed, Exit

    every = {**ports, "CERTSVC_OPS_PORT": (settings.ops_host, settings.ops_port)}
    for name, (host, port) in every.items():
        if port_in_use(host, port):
            raise CommandFailed(
                f"port {port} on {host} ({name}) is in use; stop what listens there or set "
                f"{name} to another port",
                Exit.LISTENER,
            )
    asyncio.run(_check_stores(settings))
    metrics_dir = prepare_worker_metrics(settings.workers)
    try:
        with ops_listener_thread(settings):
            serve()
    finally:
        if metrics_dir is not None:
            import shutil

            shutil.rmtree(metrics_dir, ignore_errors=True)
            os.environ.pop(metrics.MULTIPROC_ENV, None)


async def _check_stores(settings: Settings) -> None:
    """Before any worker starts: both stores answer, else `CommandFailed(STORE)` in one line
    (a worker whose start-up fails would log a traceback and exit)."""
    from certsvc.commands._failures import CommandFailed, Exit, connect_database
    from certsvc.settings import mask_url

    if settings.database_url is not None:
        conn = await connect_database(settings.database_url)
        await conn.close()
    if settings.redis_url is not None:
        client = redis_asyncio.Redis.from_url(
            settings.redis_url, socket_connect_timeout=5, socket_timeout=5
        )
        try:
            await client.ping()
        except (OSError, redis_asyncio.RedisError) as exc:
            raise CommandFailed(
                f"cannot reach Redis at {mask_url(settings.redis_url)}: {type(exc).__name__}; "
                "check CERTSVC_REDIS_URL and that the server runs",
                Exit.STORE,
            ) from None
        finally:
            await client.aclose()


def run_workers(
    settings: Settings,
    *,
    factory: str,
    host: str,
    port: int,
    port_setting: str,
    **uvicorn_options: Any,
) -> None:
    """A listener's production start (`certsvc serve`, `serve-kiosk`, `serve-counter`):
    `factory` (the import path of an app factory reading its settings from the environment) in
    `settings.workers` uvicorn workers on `host:port`, with the HTTP edges of every listener
    (header limits, header-read timeout, concurrency limit), beside the operations listener.
    `port_setting` names the port's setting in the error when the port is taken;
    `uvicorn_options` adds what one listener needs (the kiosk's TLS)."""
    import uvicorn

    from certsvc.server import edge_options

    serve_beside_ops_listener(
        settings,
        ports={port_setting: (host, port)},
        serve=lambda: uvicorn.run(
            factory,
            factory=True,
            host=host,
            port=port,
            workers=settings.workers,
            log_config=None,
            access_log=False,
            server_header=False,
            lifespan="on",
            **edge_options(settings.http_concurrency_limit),
            **uvicorn_options,
        ),
    )
