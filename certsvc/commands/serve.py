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
    from certsvc.ops import run_workers

    # Validate once in the parent so a bad setting fails before any worker starts.
    settings = load_settings(os.environ)
    run_workers(
        settings,
        factory="certsvc.app:create_app_from_env",
        host=settings.host,
        port=settings.port,
        port_setting="CERTSVC_PORT",
    )
    return 0
