"""`certsvc import`: Import persons and vaccinations from the municipal CSV files."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "import", help="Import persons and vaccinations from the municipal CSV files."
    )
    parser.add_argument("rest", nargs=argparse.REMAINDER)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    print("certsvc import: not available yet", file=sys.stderr)
    return 2
