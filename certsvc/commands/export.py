"""`certsvc export`: Export vaccination records for officials (CSV without My Number)."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "export", help="Export vaccination records for officials (CSV without My Number)."
    )
    parser.add_argument("rest", nargs=argparse.REMAINDER)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    print("certsvc export: not available yet", file=sys.stderr)
    return 2
