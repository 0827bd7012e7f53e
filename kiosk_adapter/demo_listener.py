"""The kiosk adapter's part in `certsvc demo`, found by the demo through the `certsvc.listeners`
entry point (certsvc never imports kiosk_adapter, DESIGN §2): demo TLS material, the settings
that point at it, and the mutual-TLS listener."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from certsvc.channel import Clock, ListenerSpec, Settings, free_port
from kiosk_adapter import DEMO_TLS_DIR, create_demo_tls, create_kiosk_app, kiosk_listener
from kiosk_adapter._tls import demo_tls_paths

NAME = "kiosk"


def prepare(demo_dir: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """The `CERTSVC_KIOSK_*` settings the demo lacks: a center CA, a server certificate and a
    center client certificate in `DEMO_DIR/kiosk/`, and a free port (8443 if it is free)."""
    paths = demo_tls_paths(demo_dir / DEMO_TLS_DIR)
    if not paths.server_cert.exists():
        create_demo_tls(paths.directory)
    generated = {
        "CERTSVC_KIOSK_TLS_CERT": str(paths.server_cert),
        "CERTSVC_KIOSK_TLS_KEY": str(paths.server_key),
        "CERTSVC_KIOSK_CLIENT_CA": str(paths.center_ca),
    }
    if "CERTSVC_KIOSK_PORT" not in environ:
        generated["CERTSVC_KIOSK_PORT"] = str(
            free_port(environ.get("CERTSVC_HOST", "127.0.0.1"), 8443)
        )
    return {k: v for k, v in generated.items() if k not in environ}


def listener(settings: Settings, demo_dir: Path, clock: Clock) -> tuple[ListenerSpec, str]:
    """The adapter's listener and the lines the demo prints about it."""
    spec = kiosk_listener(create_kiosk_app(settings, clock=clock), settings)
    url = f"https://{settings.host}:{settings.kiosk_port}"
    banner = (
        f"kiosk adapter URL: {url} (mutual TLS; the center's client certificate is in "
        f"{demo_dir / DEMO_TLS_DIR})"
    )
    return spec, banner
