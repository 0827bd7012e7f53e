"""`certsvc serve-kiosk`: the kiosk adapter in production, on its own listener (the LGWAN side)
with mutual TLS, from `CERTSVC_*` settings. Registered through the `certsvc.commands` entry
point. Nothing is generated and no embedded server is started."""

from __future__ import annotations

import argparse
import os
import ssl
from typing import Any

from litestar import Litestar

from certsvc.channel import configure_logging, load_settings, run_workers
from kiosk_adapter._app import create_kiosk_app

#: What the adapter needs: the stores, the keys, the J-LIS trust, its TLS material and the
#: session key every process shares.
REQUIRED = frozenset(
    {
        "database_url",
        "redis_url",
        "master_key",
        "lookup_key",
        "jlis_trust_file",
        "shc_issuer",
        "key_dir",
        "kiosk_tls_cert",
        "kiosk_tls_key",
        "kiosk_client_ca",
        "kiosk_session_key",
    }
)


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "serve-kiosk",
        help="Run the kiosk adapter (mutual TLS, its own port) in production from settings.",
        description="Serves kiosk protocol v1 on CERTSVC_HOST:CERTSVC_KIOSK_PORT with mutual TLS "
        "(CERTSVC_KIOSK_TLS_CERT, CERTSVC_KIOSK_TLS_KEY, CERTSVC_KIOSK_CLIENT_CA), and /metrics, "
        "/health, /ready on the operations listener CERTSVC_OPS_HOST:CERTSVC_OPS_PORT (set a "
        "port other than serve's when both run on one machine).",
    )
    parser.set_defaults(run=run)


def create_app_from_env() -> Litestar:
    """Factory for `uvicorn --factory` workers: settings from the environment."""
    settings = load_settings(os.environ, required=REQUIRED)
    configure_logging(settings.log_level)
    return create_kiosk_app(settings)


def run(args: argparse.Namespace) -> int:
    # Validate once in the parent so a bad setting fails before any worker starts.
    settings = load_settings(os.environ, required=REQUIRED)
    # /metrics, /health, /ready on the loopback operations listener: the kiosk listener itself
    # demands the center's client certificate, which no monitoring system holds.
    run_workers(
        settings,
        factory="kiosk_adapter.serve:create_app_from_env",
        host=settings.host,
        port=settings.kiosk_port,
        port_setting="CERTSVC_KIOSK_PORT",
        ssl_certfile=str(settings.kiosk_tls_cert),
        ssl_keyfile=str(settings.kiosk_tls_key),
        # mTLS: the TLS layer refuses a handshake without a certificate from the center's CA.
        ssl_ca_certs=str(settings.kiosk_client_ca),
        ssl_cert_reqs=ssl.CERT_REQUIRED,
    )
    return 0
