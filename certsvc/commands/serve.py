"""`certsvc serve`: Run the service in production from settings."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser("serve", help="Run the service in production from settings.")
    parser.add_argument("rest", nargs=argparse.REMAINDER)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    print("certsvc serve: not available yet", file=sys.stderr)
    return 2
