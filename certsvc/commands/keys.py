"""`certsvc keys`: Create, rotate, list and export signing keys."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "keys", help="Create, rotate, list and export signing keys."
    )
    parser.add_argument("rest", nargs=argparse.REMAINDER)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    print("certsvc keys: not available yet", file=sys.stderr)
    return 2
