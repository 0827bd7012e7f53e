"""`certsvc kiosk-sim`: play a kiosk and the Certificate Issuance Center against the adapter."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "kiosk-sim", help="Play a kiosk and the Certificate Issuance Center against the adapter."
    )
    parser.add_argument("rest", nargs=argparse.REMAINDER)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    print("certsvc kiosk-sim: not available yet", file=sys.stderr)
    return 2
