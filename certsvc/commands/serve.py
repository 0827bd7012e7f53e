"""`certsvc serve`: production start. Every store URL and secret comes from settings; nothing is
generated and no embedded server is started. The operations listener (`/metrics`, `/health`,
`/ready` on `CERTSVC_OPS_HOST:CERTSVC_OPS_PORT`) runs in this process beside the workers."""

from __future__ import annotations

import argparse
import os
from typing import Any

from certsvc.settings import load_settings


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


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from certsvc.ops import serve_beside_ops_listener
    from certsvc.server import edge_options

    # Validate once in the parent so a bad setting fails before any worker starts.
    settings = load_settings(os.environ)
    serve_beside_ops_listener(
        settings,
        ports={"CERTSVC_PORT": (settings.host, settings.port)},
        serve=lambda: uvicorn.run(
            "certsvc.app:create_app_from_env",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            log_config=None,
            access_log=False,
            server_header=False,
            lifespan="on",
            **edge_options(settings.http_concurrency_limit),
        ),
    )
    return 0
