"""The VRS side of the link to J-LIS's Certificate Issuance Center (convenience-store kiosks):
its own ASGI app on its own listener, calling the shared issuance use case."""

from __future__ import annotations

from pathlib import Path

from certsvc.channel import ListenerSpec, Settings, mtls_listener
from kiosk_adapter._app import KIOSK_CODES, PREFIX, PROTOCOL_VERSION, create_kiosk_app, open_at
from kiosk_adapter._tls import DemoTls, create_demo_tls, demo_tls_paths

__all__ = [
    "DEMO_TLS_DIR",
    "KIOSK_CODES",
    "PREFIX",
    "PROTOCOL_VERSION",
    "DemoTls",
    "create_demo_tls",
    "create_kiosk_app",
    "demo_tls_paths",
    "kiosk_listener",
    "open_at",
]

#: Where the demo keeps the kiosk TLS material, relative to the demo directory.
DEMO_TLS_DIR = Path("kiosk")


def kiosk_listener(app: object, settings: Settings, *, host: str | None = None) -> ListenerSpec:
    """The adapter's own listener (the LGWAN side): TLS with the server certificate and a
    client certificate required from `settings.kiosk_client_ca`. Refuses to build one without
    all three files: the kiosk channel never runs without mutual TLS."""
    return mtls_listener(
        app,
        name="kiosk",
        host=host or settings.host,
        port=settings.kiosk_port,
        tls_cert=settings.kiosk_tls_cert,
        tls_key=settings.kiosk_tls_key,
        client_ca=settings.kiosk_client_ca,
        concurrency_limit=settings.http_concurrency_limit,
    )
