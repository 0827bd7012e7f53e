"""`certsvc serve`: production start. Every store URL and secret comes from settings; nothing is
generated and no embedded server is started."""

from __future__ import annotations

import argparse
import os
from typing import Any

from certsvc.settings import load_settings


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "serve", help="Run the service in production from CERTSVC_* settings."
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from certsvc.server import edge_options

    # Validate once in the parent so a bad setting fails before any worker starts.
    settings = load_settings(os.environ)
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
        **edge_options(settings.http_concurrency_limit),
    )
    return 0
