"""`certsvc audit`: Verify the audit hash chain of a municipality."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "audit", help="Verify the audit hash chain of a municipality."
    )
    parser.add_argument("rest", nargs=argparse.REMAINDER)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    print("certsvc audit: not available yet", file=sys.stderr)
    return 2
