"""`certsvc audit`: Link and verify the audit hash chain of a municipality."""

from __future__ import annotations

import argparse
import asyncio
import os
from typing import Any

from certsvc.commands._failures import connect_database, require_municipality, store_failure
from certsvc.settings import load_settings
from vrs_client import AuditChainReport, VrsError, chain_audit_events, verify_audit_chain


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "audit", help="Link and verify the audit hash chain of a municipality."
    )
    actions = parser.add_subparsers(dest="audit_action", required=True, metavar="ACTION")
    verify = actions.add_parser(
        "verify",
        help="verify the chain (exit 0 intact, 1 broken, 2 malformed code, 6 unknown municipality)",
    )
    verify.add_argument("municipality", help="municipality code (6 digits)")
    chain = actions.add_parser("chain", help="link the rows written since the last run")
    chain.add_argument("municipality", help="municipality code (6 digits)")
    parser.set_defaults(run=run)


async def _audit(args: argparse.Namespace) -> AuditChainReport | int:
    settings = load_settings(os.environ, mode="production", required={"database_url"})
    if settings.database_url is None:
        raise RuntimeError("load_settings returned without a required setting")
    conn = await connect_database(settings.database_url)
    try:
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
        raise store_failure(exc, subject=f"municipality {args.municipality}") from None
    if isinstance(result, int):
        print(f"linked {result} audit events")
        return 0
    if result.ok:
        print(
            f"audit chain of {result.municipality_code}: intact ({result.checked} rows checked,"
            f" {result.unchained} not linked yet)"
        )
        return 0
    problem = result.problem.value if result.problem else "unknown"
    print(f"audit chain of {result.municipality_code}: BROKEN ({problem} at seq {result.at_seq})")
    return 1
