"""How the `certsvc` commands fail: one line on standard error that names the file, column,
setting, municipality or certificate involved and what to do, and an exit status from `Exit`
(the README's table of exit codes lists them).

A command raises `CommandFailed(message, status)`; `certsvc.cli.main` prints
`certsvc COMMAND: message` and returns the status. The helpers here turn the failures every
command meets the same way (the database unreachable, a municipality code mistyped or unknown,
an output file that cannot be written) into such a line.
"""

from __future__ import annotations

import asyncio
import os
import socket
from enum import IntEnum
from pathlib import Path
from typing import TextIO

import asyncpg

from certsvc.settings import mask_url
from vrs_client import VrsError, VrsErrorCode, get_municipality, is_valid_municipality_code


class Exit(IntEnum):
    """Exit statuses of every `certsvc` command except `verify` (whose 0–3 are contracts §5)."""

    OK = 0
    CHECK_FAILED = 1
    """A check found a problem (`audit verify`: the chain is broken)."""
    USAGE = 2
    """A bad argument or setting (argparse's own usage errors exit 2 as well)."""
    FILE = 3
    """An input file cannot be read (missing, wrong columns, wrong encoding) or an output file
    cannot be written (missing directory, no permission)."""
    IMPORT_PARTIAL = 4
    """`import`: some rows were rejected (see the `.rejected.csv`), every other row applied."""
    IMPORT_NOTHING_APPLIED = 5
    """`import`: nothing was applied (every row rejected, or `--strict` and any row rejected)."""
    NOT_FOUND = 6
    """The municipality (or certificate) named is not in the database."""
    STORE = 7
    """PostgreSQL or Redis cannot be reached, or refused the request."""
    LISTENER = 8
    """A listener cannot start (its port is in use or not allowed)."""
    KEYS = 9
    """A key cannot be used (a data key does not unwrap under the master key; a key file)."""
    INTERNAL = 70
    """An unexpected error (a bug): the line names the exception type and where it happened."""
    INTERRUPTED = 130
    """Stopped with Ctrl-C."""
    OUTPUT_CLOSED = 141
    """Standard output was closed before the command finished (`| head`)."""


class CommandFailed(Exception):  # noqa: N818 — it is the outcome of a command, said in one line
    """An operator-facing failure: `message` is printed as one line (no personal data, no
    secrets) and the command exits with `status`."""

    def __init__(self, message: str, status: Exit) -> None:
        super().__init__(message)
        self.status = status


def _why_unreachable(exc: BaseException) -> str:
    if isinstance(
        exc, asyncpg.InvalidPasswordError | asyncpg.InvalidAuthorizationSpecificationError
    ):
        return "the server refused the user name or password"
    if isinstance(exc, asyncpg.InvalidCatalogNameError):
        return "the database does not exist (create it, then run certsvc migrate)"
    if isinstance(exc, socket.gaierror):
        return "the host name does not resolve"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return "no answer within 10 s"
    if isinstance(exc, FileNotFoundError):
        return "no server socket at that path"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return type(exc).__name__


async def connect_database(url: str) -> asyncpg.Connection:
    """A connection to `url`, or `CommandFailed(STORE)` naming the server (password masked)
    and the reason."""
    try:
        conn: asyncpg.Connection = await asyncpg.connect(url, timeout=10)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise CommandFailed(
            f"cannot reach PostgreSQL at {mask_url(url)}: {_why_unreachable(exc)}; check "
            "CERTSVC_DATABASE_URL and that the server runs",
            Exit.STORE,
        ) from None
    return conn


async def require_municipality(conn: asyncpg.Connection, code: str) -> None:
    """`CommandFailed` unless `code` is a valid municipality code this database serves."""
    if not is_valid_municipality_code(code):
        raise CommandFailed(
            f"municipality {code!r} is not a municipality code: 6 digits whose last is the check "
            "digit (282022 Amagasaki, 131016 Chiyoda); check for a typo",
            Exit.USAGE,
        )
    try:
        found = await get_municipality(conn, code=code)
    except asyncpg.UndefinedTableError:
        raise CommandFailed(
            "the database has no municipalities table: run certsvc migrate first", Exit.STORE
        ) from None
    if found is None:
        raise CommandFailed(
            f"municipality {code} is not in the database; check the code (GET /v1/municipalities "
            "lists those served)",
            Exit.NOT_FOUND,
        )


def store_failure(exc: VrsError, *, subject: str = "") -> CommandFailed:
    """The one line for a `VrsError` (its code, never a driver message)."""
    where = f"{subject}: " if subject else ""
    code = exc.code
    if code is VrsErrorCode.STORE_UNAVAILABLE:
        return CommandFailed(
            f"{where}{code.value}: PostgreSQL stopped answering; check the server and retry",
            Exit.STORE,
        )
    if code is VrsErrorCode.DATA_KEY_UNWRAP_FAILED:
        return CommandFailed(
            f"{where}{code.value}: the data keys are not wrapped under this CERTSVC_MASTER_KEY; "
            "set the master key the data keys were last wrapped with",
            Exit.KEYS,
        )
    if code is VrsErrorCode.MUNICIPALITY_UNKNOWN:
        return CommandFailed(f"{where}{code.value}: not in the database", Exit.NOT_FOUND)
    if code is VrsErrorCode.MUNICIPALITY_CODE_INVALID:
        return CommandFailed(f"{where}{code.value}: not a municipality code", Exit.USAGE)
    if code in {VrsErrorCode.IMPORT_HEADER_INVALID, VrsErrorCode.IMPORT_FILE_UNREADABLE}:
        return CommandFailed(f"{where}{exc}", Exit.FILE)
    return CommandFailed(f"{where}{code.value}", Exit.STORE)


def check_output_path(path: Path) -> None:
    """`CommandFailed(FILE)` when `path` cannot be created: its directory is missing or is not
    writable, or `path` is a directory. Checked before any work is done."""
    parent = path.parent if str(path.parent) else Path()
    if path.is_dir():
        raise CommandFailed(f"{path} is a directory; give a file name", Exit.FILE)
    if not parent.is_dir():
        raise CommandFailed(
            f"cannot write {path}: the directory {parent} does not exist; create it first",
            Exit.FILE,
        )
    if not os.access(parent, os.W_OK):
        raise CommandFailed(f"cannot write {path}: {parent} is not writable", Exit.FILE)


def open_private_output(path: Path, *, encoding: str = "utf-8") -> TextIO:
    """`path` opened for writing with mode 0600 (it holds personal data), or `CommandFailed`."""
    check_output_path(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError as exc:
        raise CommandFailed(f"cannot write {path}: {exc.strerror}", Exit.FILE) from None
    return os.fdopen(fd, "w", encoding=encoding, newline="")


def write_private_file(path: Path, data: bytes) -> None:
    """Write `data` to `path` with mode 0600 (a certificate carries a name and a birth date),
    replacing a file that is there; `CommandFailed(FILE)` if it cannot be written."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)  # a file that was there keeps its mode otherwise
        with os.fdopen(fd, "wb") as out:
            out.write(data)
    except OSError as exc:
        raise CommandFailed(f"cannot write {path}: {exc.strerror}", Exit.FILE) from None


def make_private_directory(path: Path) -> None:
    """`path` (and its parents) as a directory only its owner can read (mode 0700)."""
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise CommandFailed(f"cannot create {path}: {exc.strerror}", Exit.FILE) from None
