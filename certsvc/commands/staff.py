"""`certsvc staff`: Staff accounts and terminals of the city counter.

Exit status: 0 done; 1 refused (the line names the code, e.g. STAFF_MUNICIPALITY_UNKNOWN);
2 usage or configuration error; 3 the database or Redis is unreachable or not migrated.
Every refusal is one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import getpass
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote

import asyncpg
import redis.asyncio as redis_asyncio
import redis.exceptions

from certsvc.settings import Settings, load_settings
from certsvc.staff import (
    ENROL_TOKEN_TTL,
    STAFF_CODES,
    AdminRefusal,
    StaffAdminError,
    StaffService,
)
from certsvc.staff._service import JST
from vrs_client import VrsError, VrsErrorCode

EXIT_REFUSED = 1
EXIT_UNREACHABLE = 3


class _Refused(Exception):  # noqa: N818 — an outcome, carried to the one place that prints it
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "staff",
        help="Staff accounts and terminals of the city counter.",
        description="Staff accounts and terminals of the city counter (docs/staff-accounts.md). "
        "Exit status: 0 done, 1 refused, 2 usage or configuration error, 3 database or Redis "
        "unreachable.",
    )
    actions = parser.add_subparsers(dest="staff_action", required=True, metavar="ACTION")

    def operator(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--operator",
            help="who is acting, for the audit log (default: the operating-system user)",
        )

    create = actions.add_parser("create", help="create an account; prints its one-time password")
    create.add_argument("staff_id", metavar="STAFF_ID")
    create.add_argument(
        "--role",
        required=True,
        help="counter_staff, contractor, supervisor or administrator",
    )
    create.add_argument(
        "--municipality",
        action="append",
        required=True,
        metavar="CODE",
        help="a municipality granted (repeat, or separate codes with commas)",
    )
    create.add_argument(
        "--expires",
        metavar="YYYY-MM-DD",
        help="last day of the account (contractors: at most "
        "the contract end, which is the default)",
    )
    create.add_argument(
        "--contract-end", metavar="YYYY-MM-DD", help="end of the contract (contractors only)"
    )
    create.add_argument(
        "--shared",
        action="store_true",
        help="a shared ID (a named exception): signs in only from the --terminal(s) given",
    )
    create.add_argument(
        "--terminal", action="append", default=[], metavar="NAME", help="a terminal (repeat)"
    )
    operator(create)
    expire = actions.add_parser("expire", help="end an account now (and its sessions)")
    expire.add_argument("staff_id", metavar="STAFF_ID")
    operator(expire)
    reset = actions.add_parser(
        "reset-password", help="a new one-time password; ends sessions and lockout"
    )
    reset.add_argument("staff_id", metavar="STAFF_ID")
    operator(reset)
    actions.add_parser("list", help="every account")
    review = actions.add_parser("review", help="the account review (table, or CSV with --csv)")
    review.add_argument("--csv", action="store_true", help="CSV on stdout")
    terminal = actions.add_parser("terminal", help="counter terminals: add NAME | list")
    terminal_actions = terminal.add_subparsers(
        dest="terminal_action", required=True, metavar="ACTION"
    )
    add = terminal_actions.add_parser("add", help="register a terminal; prints its enrolment link")
    add.add_argument("name", metavar="NAME")
    add.add_argument(
        "--counter-url",
        metavar="URL",
        help="the counter's base URL (default: http://CERTSVC_COUNTER_HOST:CERTSVC_COUNTER_PORT)",
    )
    operator(add)
    terminal_actions.add_parser("list", help="every terminal")
    parser.set_defaults(run=run)


def _operator(args: argparse.Namespace) -> str:
    if args.operator:
        return str(args.operator)
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown-operator"


def _date(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise _Refused(AdminRefusal.STAFF_DATE_INVALID) from None


def _jst(at: datetime | None) -> str:
    return "-" if at is None else at.astimezone(JST).strftime("%Y-%m-%d %H:%M")


def _table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(c) for c in col) for col in zip(header, *rows, strict=True)]
    for line in [header, *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())


async def _create(service: StaffService, args: argparse.Namespace) -> int:
    codes = [c.strip() for item in args.municipality for c in item.split(",") if c.strip()]
    contract_end = _date(args.contract_end)
    expires = _date(args.expires) or contract_end
    if expires is None:
        print("certsvc staff create: --expires YYYY-MM-DD is required", file=sys.stderr)
        return 2
    password = await service.create(
        staff_id=args.staff_id,
        role=args.role,
        municipalities=codes,
        expires_on=expires,
        contract_end=contract_end,
        shared=args.shared,
        terminals=args.terminal,
        created_by=_operator(args),
    )
    staff_id = args.staff_id.strip().lower()
    print(f"created {staff_id} ({args.role}; {', '.join(sorted(set(codes)))}) until {expires}")
    print(f"one-time password: {password}")
    print("(give it to the staff member in person; it must be changed at first sign-in)")
    return 0


async def _expire(service: StaffService, args: argparse.Namespace) -> int:
    if not await service.expire(args.staff_id, by=_operator(args)):
        raise _Refused(AdminRefusal.STAFF_UNKNOWN)
    print(f"expired {args.staff_id.strip().lower()}")
    return 0


async def _reset(service: StaffService, args: argparse.Namespace) -> int:
    password = await service.reset_password(args.staff_id, by=_operator(args))
    if password is None:
        raise _Refused(AdminRefusal.STAFF_UNKNOWN)
    print(f"one-time password: {password}")
    print("(sessions ended; it must be changed at the next sign-in)")
    return 0


async def _list(service: StaffService, args: argparse.Namespace) -> int:
    members = await service.list()
    _table(
        ["staff_id", "role", "municipalities", "expires", "shared", "must_change_password"],
        [
            [
                m.staff_id,
                m.role.value,
                ",".join(m.municipalities),
                m.expires_on.isoformat(),
                "yes" if m.shared else "no",
                "yes" if m.must_change_password else "no",
            ]
            for m in members
        ],
    )
    return 0


_REVIEW_HEADER = [
    "staff_id",
    "role",
    "municipalities",
    "issuer",
    "created",
    "expires",
    "contract_end",
    "shared_terminals",
    "last_use",
    "expired",
    "locked",
]


async def _review(service: StaffService, args: argparse.Namespace) -> int:
    rows = [
        [
            r.staff_id,
            r.role.value,
            ",".join(r.municipalities),
            r.created_by,
            _jst(r.created_at),
            r.expires_on.isoformat(),
            "-" if r.contract_end is None else r.contract_end.isoformat(),
            ",".join(r.terminals) if r.shared else "-",
            _jst(r.last_sign_in_at),
            "yes" if r.expired else "no",
            "yes" if r.locked else "no",
        ]
        for r in await service.review()
    ]
    if args.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(_REVIEW_HEADER)
        writer.writerows(rows)
    else:
        print("(times in JST)")
        _table(_REVIEW_HEADER, rows)
    return 0


def _counter_url(settings: Settings, override: str | None) -> str:
    if override:
        return override.rstrip("/")
    return f"http://{settings.counter_host}:{settings.counter_port}"


async def _terminal(service: StaffService, args: argparse.Namespace, settings: Settings) -> int:
    if args.terminal_action == "list":
        _table(
            ["terminal_id", "name"],
            [[t.terminal_id, t.name] for t in await service.terminal_list()],
        )
        return 0
    terminal, token = await service.terminal_add(args.name, by=_operator(args))
    hours = int(ENROL_TOKEN_TTL.total_seconds() // 3600)
    print(f"terminal {terminal.name!r} registered (id {terminal.terminal_id})")
    print(f"open this link once in that terminal's browser within {hours} hours to enrol it:")
    print(f"{_counter_url(settings, args.counter_url)}/terminal/enrol?token={quote(token)}")
    return 0


async def _main(args: argparse.Namespace) -> int:
    settings = load_settings(
        os.environ, mode="production", required={"database_url", "redis_url", "lookup_key"}
    )
    if settings.database_url is None or settings.redis_url is None or settings.lookup_key is None:
        raise RuntimeError("load_settings returned without a required setting")
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=2)
    client = redis_asyncio.Redis.from_url(settings.redis_url)
    try:
        await client.ping()
        service = StaffService(
            pool=pool,
            redis=client,
            lookup_key=settings.lookup_key,
            clock=lambda: datetime.now(UTC),
        )
        handlers: dict[str, Callable[[StaffService, argparse.Namespace], Awaitable[int]]] = {
            "create": _create,
            "expire": _expire,
            "reset-password": _reset,
            "list": _list,
            "review": _review,
        }
        if args.staff_action == "terminal":
            return await _terminal(service, args, settings)
        return await handlers[args.staff_action](service, args)
    finally:
        await client.aclose()
        await pool.close()


def run(args: argparse.Namespace) -> int:
    prefix = f"certsvc staff {args.staff_action}"
    try:
        return asyncio.run(_main(args))
    except StaffAdminError as exc:
        code: str = exc.code.value
    except _Refused as exc:
        code = exc.code
    except VrsError as exc:
        if exc.code is VrsErrorCode.STORE_FAILED and "Undefined" in str(exc):
            print(
                f"{prefix}: the database has no staff tables; run certsvc migrate", file=sys.stderr
            )
        else:
            print(f"{prefix}: the database is unreachable ({exc.code.value})", file=sys.stderr)
        return EXIT_UNREACHABLE
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
        print(f"{prefix}: the database is unreachable or refused the login", file=sys.stderr)
        return EXIT_UNREACHABLE
    except redis.exceptions.RedisError:
        print(f"{prefix}: Redis is unreachable", file=sys.stderr)
        return EXIT_UNREACHABLE
    print(f"{prefix}: {code}: {STAFF_CODES[code].title}", file=sys.stderr)
    return EXIT_REFUSED
