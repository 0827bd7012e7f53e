"""`certsvc audit`: Link and verify the audit hash chain of a municipality, or (`--service`) the
service-wide chain of admin actions that belong to no municipality (key and master-key
rotation, purge totals)."""

from __future__ import annotations

import argparse
import asyncio
import os
from typing import Any

from certsvc.commands._failures import connect_database, require_municipality, store_failure
from certsvc.settings import load_settings
from vrs_client import (
    AuditChainReport,
    VrsError,
    chain_audit_events,
    chain_service_audit_events,
    verify_audit_chain,
    verify_service_audit_chain,
)


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "audit", help="Link and verify the audit hash chain of a municipality."
    )
    actions = parser.add_subparsers(dest="audit_action", required=True, metavar="ACTION")
    verify = actions.add_parser(
        "verify",
        help="verify the chain (exit 0 intact, 1 broken, 2 malformed code, 6 unknown municipality)",
    )
    chain = actions.add_parser("chain", help="link the rows written since the last run")
    for action in (verify, chain):
        which = action.add_mutually_exclusive_group(required=True)
        which.add_argument("municipality", nargs="?", help="municipality code (6 digits)")
        which.add_argument(
            "--service", action="store_true", help="the service-wide chain (admin actions)"
        )
    parser.set_defaults(run=run)


async def _audit(args: argparse.Namespace) -> AuditChainReport | int:
    settings = load_settings(os.environ, mode="production", required={"database_url"})
    if settings.database_url is None:
        raise RuntimeError("load_settings returned without a required setting")
    conn = await connect_database(settings.database_url)
    try:
        if args.service:
            if args.audit_action == "chain":
                return await chain_service_audit_events(conn)
            return await verify_service_audit_chain(conn)
        # A mistyped or unknown code has no events: "intact" would be a false comfort.
        await require_municipality(conn, args.municipality)
        if args.audit_action == "chain":
            return await chain_audit_events(conn, municipality_code=args.municipality)
        return await verify_audit_chain(conn, municipality_code=args.municipality)
    finally:
        await conn.close()


def run(args: argparse.Namespace) -> int:
    try:
        result = asyncio.run(_audit(args))
    except VrsError as exc:
        subject = "the service chain" if args.service else f"municipality {args.municipality}"
        raise store_failure(exc, subject=subject) from None
    if isinstance(result, int):
        print(f"linked {result} audit events")
        return 0
    name = "the service" if args.service else result.municipality_code
    if result.ok:
        print(
            f"audit chain of {name}: intact ({result.checked} rows checked,"
            f" {result.unchained} not linked yet)"
        )
        return 0
    problem = result.problem.value if result.problem else "unknown"
    print(f"audit chain of {name}: BROKEN ({problem} at seq {result.at_seq})")
    return 1
