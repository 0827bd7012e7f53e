"""`certsvc migrate`: Apply pending database migrations."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser("migrate", help="Apply pending database migrations.")
    parser.add_argument("rest", nargs=argparse.REMAINDER)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    print("certsvc migrate: not available yet", file=sys.stderr)
    return 2
