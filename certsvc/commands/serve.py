"""`certsvc serve`: production start. Every store URL and secret comes from settings; nothing is
generated and no embedded server is started. The operations listener (`/metrics`, `/health`,
`/ready` on `CERTSVC_OPS_HOST:CERTSVC_OPS_PORT`) runs in this process beside the workers."""

from __future__ import annotations

import argparse
import os
import shutil
from typing import Any

from certsvc.commands._failures import CommandFailed, Exit
from certsvc.settings import Settings, load_settings


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "serve",
        help="Run the service in production from CERTSVC_* settings.",
        description="Serves the app, public and health endpoints on CERTSVC_HOST:CERTSVC_PORT "
        "with CERTSVC_WORKERS worker processes, and /metrics, /health, /ready on the "
        "operations listener CERTSVC_OPS_HOST:CERTSVC_OPS_PORT. Every required setting must "
        "be set (README: configuration). Exit status: 2 a setting is missing or wrong; 8 a "
        "port is in use.",
    )
    parser.set_defaults(run=run)


def check_ports_free(settings: Settings, ports: dict[str, tuple[str, int]]) -> None:
    """`CommandFailed(LISTENER)` naming the setting of the first port that is in use."""
    from certsvc.ops import port_in_use

    for name, (host, port) in ports.items():
        if port_in_use(host, port):
            raise CommandFailed(
                f"port {port} on {host} ({name}) is in use; stop what listens there or set "
                f"{name} to another port",
                Exit.LISTENER,
            )


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from certsvc.ops import ops_listener_thread, prepare_worker_metrics

    # Validate once in the parent so a bad setting fails before any worker starts.
    settings = load_settings(os.environ)
    check_ports_free(
        settings,
        {
            "CERTSVC_PORT": (settings.host, settings.port),
            "CERTSVC_OPS_PORT": (settings.ops_host, settings.ops_port),
        },
    )
    metrics_dir = prepare_worker_metrics(settings.workers)
    try:
        with ops_listener_thread(settings):
            uvicorn.run(
                "certsvc.app:create_app_from_env",
                factory=True,
                host=settings.host,
                port=settings.port,
                workers=settings.workers,
                log_config=None,
                access_log=False,
                server_header=False,
                lifespan="on",
            )
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0
