"""`certsvc demo`: Run the service on embedded stores with synthetic data."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser("demo", help="Run the service on embedded stores with synthetic data.")
    parser.add_argument("rest", nargs=argparse.REMAINDER)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    print("certsvc demo: not available yet", file=sys.stderr)
    return 2
