"""`certsvc verify`: Verify a certificate: QR image, JWS, .smart-health-card or VDS-NC file."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "verify", help="Verify a certificate: QR image, JWS, .smart-health-card or VDS-NC file."
    )
    parser.add_argument("rest", nargs=argparse.REMAINDER)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    print("certsvc verify: not available yet", file=sys.stderr)
    return 2
