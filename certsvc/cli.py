"""The `certsvc` command. Each subcommand lives in `certsvc/commands/<name>.py` and registers
itself with `register(subparsers)`; its handler takes the parsed arguments and returns the exit
status."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points

from certsvc.settings import SettingsError

# (module in certsvc.commands, in the order `certsvc --help` lists them)
_COMMAND_MODULES = (
    "demo",
    "serve",
    "migrate",
    "import_csv",
    "keys",
    "verify",
    "purge",
    "export",
    "audit",
    "revoke",
    "rekey",
    "app_client",
    "kiosk_sim",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="certsvc",
        description="Vaccination certificate issuance backend (SMART Health Card, ICAO VDS-NC).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in _COMMAND_MODULES:
        importlib.import_module(f"certsvc.commands.{name}").register(sub)
    # Commands of other packages (the kiosk adapter's `serve-kiosk`): certsvc imports none of
    # them by name (DESIGN §2); they register through the `certsvc.commands` entry point.
    for entry in entry_points(group="certsvc.commands"):
        entry.load().register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status: int = args.run(args)
    except SettingsError as exc:
        print(f"certsvc: configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return status


if __name__ == "__main__":
    sys.exit(main())
