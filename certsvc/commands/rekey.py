"""`certsvc rotate-master-key`: Re-wrap the per-municipality data keys under a new master key."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "rotate-master-key", help="Re-wrap the per-municipality data keys under a new master key."
    )
    parser.add_argument("rest", nargs=argparse.REMAINDER)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    print("certsvc rotate-master-key: not available yet", file=sys.stderr)
    return 2
