"""Running ASGI apps under uvicorn inside our own event loop, with our own signal handling.

uvicorn's `Server.serve()` captures SIGINT/SIGTERM and re-raises them after a graceful shutdown,
which would skip our clean-up (the embedded stores would leak). Here a signal only asks the
servers to exit; `serve_until_stopped` then returns normally and the caller's `finally` runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import ssl
from collections.abc import Awaitable, Callable, Generator, Sequence
from pathlib import Path
from typing import Any

import uvicorn

from certsvc.http_protocol import PROTOCOL_PATH


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # signals are handled by serve_until_stopped


class ListenerSpec:
    """One listener: an ASGI app on host:port, optionally with TLS and required client certs."""

    def __init__(
        self,
        app: Any,
        *,
        host: str,
        port: int,
        name: str,
        tls_cert: Path | None = None,
        tls_key: Path | None = None,
        client_ca: Path | None = None,
        concurrency_limit: int = 1000,
    ) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.name = name
        self.tls_cert = tls_cert
        self.tls_key = tls_key
        self.client_ca = client_ca
        self.concurrency_limit = concurrency_limit


class ListenerStartError(RuntimeError):
    """A listener did not start (its port in use, or its app's start-up failed)."""

    def __init__(self, spec: ListenerSpec) -> None:
        super().__init__(f"the {spec.name} listener failed to start on {spec.host}:{spec.port}")
        self.name = spec.name
        self.host = spec.host
        self.port = spec.port


def free_port(host: str = "127.0.0.1", preferred: int | None = None) -> int:
    """`preferred` if it can be bound on `host`, else any free port."""
    for candidate in ([preferred] if preferred else []) + [0]:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((host, candidate))
            except OSError:
                continue
            port: int = s.getsockname()[1]
            return port
    raise OSError("no free port")


def edge_options(concurrency_limit: int) -> dict[str, Any]:
    """What every listener passes to uvicorn (`Config` or `run`): our HTTP protocol, with its
    head limits and head timeout, and the concurrency limit it answers with a problem+json 503
    (certsvc.http_protocol)."""
    return {"http": PROTOCOL_PATH, "limit_concurrency": concurrency_limit}


def _config(spec: ListenerSpec, log_level: str) -> uvicorn.Config:
    kwargs: dict[str, Any] = {}
    if spec.tls_cert is not None:
        kwargs |= {"ssl_certfile": str(spec.tls_cert), "ssl_keyfile": str(spec.tls_key)}
        if spec.client_ca is not None:
            # mTLS: the TLS layer refuses a handshake without a client certificate from this CA.
            kwargs |= {"ssl_ca_certs": str(spec.client_ca), "ssl_cert_reqs": ssl.CERT_REQUIRED}
    return uvicorn.Config(
        spec.app,
        host=spec.host,
        port=spec.port,
        log_config=None,
        log_level=log_level.lower(),
        access_log=False,
        server_header=False,
        date_header=False,
        lifespan="on",
        timeout_graceful_shutdown=5,
        **edge_options(spec.concurrency_limit),
        **kwargs,
    )


async def serve_until_stopped(
    specs: Sequence[ListenerSpec],
    *,
    log_level: str = "INFO",
    on_started: Callable[[], Awaitable[None] | None] | None = None,
) -> None:
    """Serve every listener until SIGINT or SIGTERM, then shut them all down gracefully."""
    servers = [_Server(_config(spec, log_level)) for spec in specs]
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    tasks = [asyncio.create_task(server.serve()) for server in servers]
    try:
        while not all(server.started for server in servers):
            for spec, task in zip(specs, tasks, strict=True):
                if task.done():
                    raise ListenerStartError(spec)
            await asyncio.sleep(0.02)
        if on_started is not None:
            result = on_started()
            if result is not None:
                await result
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait([stopper, *tasks], return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
    finally:
        for server in servers:
            server.should_exit = True
        await asyncio.gather(*tasks, return_exceptions=True)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
