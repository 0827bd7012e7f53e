"""`certsvc serve-counter`: the city counter's staff pages in production, on their own listener
(`CERTSVC_COUNTER_HOST`/`CERTSVC_COUNTER_PORT`, the city's internal network), from `CERTSVC_*`
settings. Registered through the `certsvc.commands` entry point. Nothing is generated and no
embedded server is started. TLS is the reverse proxy's job on that network: the cookies are
`Secure`, so browsers send them over HTTPS (and to 127.0.0.1) only."""

from __future__ import annotations

import argparse
import os
from typing import Any

from litestar import Litestar

from certsvc.channel import configure_logging, load_settings, run_workers
from certsvc.counter import create_counter_app

#: What the counter needs: the stores, the keys, the J-LIS trust and its visit-token key.
REQUIRED = frozenset(
    {
        "database_url",
        "redis_url",
        "master_key",
        "lookup_key",
        "jlis_trust_file",
        "shc_issuer",
        "key_dir",
        "counter_session_key",
    }
)


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "serve-counter",
        help="Run the city counter's staff pages (their own port) in production from settings.",
    )
    parser.set_defaults(run=run)


def create_app_from_env() -> Litestar:
    """Factory for `uvicorn --factory` workers: settings from the environment."""
    settings = load_settings(os.environ, required=REQUIRED)
    configure_logging(settings.log_level)
    return create_counter_app(settings)


def run(args: argparse.Namespace) -> int:
    # Validate once in the parent so a bad setting fails before any worker starts.
    settings = load_settings(os.environ, required=REQUIRED)
    # /metrics, /health, /ready on the loopback operations listener, as for every process.
    run_workers(
        settings,
        factory="certsvc.counter.serve:create_app_from_env",
        host=settings.counter_host,
        port=settings.counter_port,
        port_setting="CERTSVC_COUNTER_PORT",
    )
    return 0
