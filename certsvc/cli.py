"""The `certsvc` command. Each subcommand lives in `certsvc/commands/<name>.py` and registers
itself with `register(subparsers)`; its handler takes the parsed arguments and returns the exit
status, or raises `CommandFailed` (one line and a status from `Exit`). Whatever else escapes a
command becomes one line here too, never a traceback."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, entry_points, version
from pathlib import Path

from certsvc.commands._failures import CommandFailed, Exit, store_failure
from certsvc.settings import SettingsError
from vrs_client import VrsError

_log = logging.getLogger("certsvc.cli")

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
    "staff",
    "app_client",
    "kiosk_sim",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="certsvc",
        description="Vaccination certificate issuance backend (SMART Health Card, ICAO VDS-NC). "
        "Settings come from CERTSVC_* variables (README: configuration); every failure is one "
        "line on standard error and an exit status (README: exit codes).",
    )
    parser.add_argument("--version", action="version", version=f"certsvc {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in _COMMAND_MODULES:
        importlib.import_module(f"certsvc.commands.{name}").register(sub)
    # Commands of other packages (the kiosk adapter's `serve-kiosk`): certsvc imports none of
    # them by name (DESIGN §2); they register through the `certsvc.commands` entry point.
    for entry in entry_points(group="certsvc.commands"):
        entry.load().register(sub)
    return parser


def _version() -> str:
    try:
        return version("certsvc")
    except PackageNotFoundError:
        return "unknown (not installed)"


_OURS = tuple(
    str(Path(__file__).resolve().parents[1] / package)
    for package in ("certsvc", "kiosk_adapter", "signing", "mrz", "vrs_client")
)


def _where(exc: BaseException) -> str:
    """The innermost frame of `exc` in the project's own code (file:line; else the innermost of
    all): where a bug is, without the message, which may quote personal data (a row value in a
    driver error)."""
    tb = exc.__traceback__
    last = ours = None
    while tb is not None:
        last = tb
        if tb.tb_frame.f_code.co_filename.startswith(_OURS):
            ours = tb
        tb = tb.tb_next
    frame = ours or last
    if frame is None:
        return "?"
    return f"{Path(frame.tb_frame.f_code.co_filename).name}:{frame.tb_lineno}"


def _silence_stdout() -> None:
    """After a closed pipe: point stdout at /dev/null so that the interpreter's final flush
    does not print a second error."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    name = f"certsvc {args.command}"
    try:
        status: int = args.run(args)
    except BaseException as exc:  # noqa: BLE001 — reported in one line by _failed
        failed = _failed(exc, name)
        # A command whose statuses are a contract of their own (`verify`: 0-3) says so with
        # `failure_status`: every failure then exits with it.
        failure_status: int | None = getattr(args, "failure_status", None)
        return failed if failure_status is None else failure_status
    return status


def _failed(error: BaseException, name: str) -> int:
    """Print the one line for `error` and return the exit status."""
    try:
        raise error
    except CommandFailed as exc:
        if exc.status is Exit.OUTPUT_CLOSED:
            _silence_stdout()
        print(f"{name}: {exc}", file=sys.stderr)
        return int(exc.status)
    except SettingsError as exc:
        print(
            f"{name}: configuration error: {exc} (see the README's configuration table)",
            file=sys.stderr,
        )
        return int(Exit.USAGE)
    except VrsError as exc:
        failed = store_failure(exc)
        print(f"{name}: {failed}", file=sys.stderr)
        return int(failed.status)
    except BrokenPipeError:
        _silence_stdout()
        print(f"{name}: standard output was closed before the end", file=sys.stderr)
        return int(Exit.OUTPUT_CLOSED)
    except KeyboardInterrupt:
        print(f"{name}: interrupted", file=sys.stderr)
        return int(Exit.INTERRUPTED)
    except Exception as exc:  # noqa: BLE001 — the last resort: one line, never a traceback
        # The type and the place only: an exception's message may quote personal data.
        if logging.getLogger().handlers:  # a configured log (serve, demo); else stderr only
            _log.error("unexpected %s at %s", type(exc).__name__, _where(exc))
        print(
            f"{name}: unexpected error {type(exc).__name__} at {_where(exc)}; this is a bug: "
            "report the command, this line and the version (certsvc --version)",
            file=sys.stderr,
        )
        return int(Exit.INTERNAL)


if __name__ == "__main__":
    sys.exit(main())
