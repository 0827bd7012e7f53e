"""Who runs an admin command: `--operator NAME`, else the OS user. Recorded in the audit chains
as `cli:NAME` — a login name, never personal data (no 12-digit runs, a short ASCII name)."""

from __future__ import annotations

import argparse
import getpass
import os
import re
from typing import Final

_NAME: Final = re.compile(r"[A-Za-z0-9._@-]{1,64}")
_TWELVE_DIGITS: Final = re.compile(r"[0-9]{12}")


def _operator_name(text: str) -> str:
    if not _NAME.fullmatch(text) or _TWELVE_DIGITS.search(text):
        raise argparse.ArgumentTypeError(
            "an operator is 1-64 characters of A-Z a-z 0-9 . _ @ - (a login name, not a person's"
            " data)"
        )
    return text


def add_operator_argument(parser: argparse.ArgumentParser) -> None:
    """`--operator NAME`: the name the audit chain records (default: the OS user)."""
    parser.add_argument(
        "--operator",
        type=_operator_name,
        metavar="NAME",
        help="who runs this, for the audit chain (default: the OS user)",
    )


def operator_actor(args: argparse.Namespace) -> str:
    """The audit `actor` of this run: `cli:` and the operator's name."""
    name: str | None = getattr(args, "operator", None)
    if name is None:
        try:
            user = getpass.getuser()
        except (OSError, KeyError):
            user = f"uid-{os.getuid()}"
        name = user if _NAME.fullmatch(user) and not _TWELVE_DIGITS.search(user) else "unknown"
    return f"cli:{name}"
