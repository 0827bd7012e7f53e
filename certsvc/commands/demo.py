"""`certsvc demo`: run the service on embedded stores with synthetic data and keys."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "demo",
        help="Run the service on embedded stores with synthetic data and keys.",
        description="Starts embedded PostgreSQL and Redis (unless CERTSVC_DATABASE_URL / "
        "CERTSVC_REDIS_URL are set), generates every unset setting, loads synthetic data and "
        "serves until Ctrl-C.",
    )
    parser.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="demo directory to use and keep (default: a temporary one, removed at exit)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from certsvc.demo import main

    return main(args.dir)
