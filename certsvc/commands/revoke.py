"""`certsvc revoke` and `certsvc status`: Revoke a certificate; show a certificate's state.

    certsvc revoke --municipality CODE CERT_ID --reason REASON [--operator NAME]
    certsvc status --municipality CODE CERT_ID

Exit status (the README's table of exit codes): 0 done (revoked / found); 1 refused
(ISSUANCE_REVOKED, ISSUANCE_VOIDED: the code is printed); 2 settings or arguments wrong (a
malformed municipality code); 6 the municipality or the certificate is not in the database
(ISSUANCE_NOT_FOUND); 7 the database cannot be reached. The revocation is in the CRL of the
certificate's key at once, on every node; the audit chain of the municipality records the
operator and the reason.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from datetime import UTC, datetime
from typing import Any

import asyncpg

from certsvc.commands._failures import (
    CommandFailed,
    Exit,
    connect_database,
    require_municipality,
    store_failure,
)
from certsvc.commands._operator import add_operator_argument, operator_actor
from certsvc.issuance import RefusalCode, Refused
from certsvc.revocation import (
    CertificateStatus,
    RevocationReason,
    Revoked,
    certificate_status,
    revoke_certificate,
)
from certsvc.settings import load_settings
from vrs_client import VrsError, VrsStore

_REQUIRED = {"database_url", "master_key", "lookup_key"}


def register(sub: Any) -> None:
    revoke: argparse.ArgumentParser = sub.add_parser(
        "revoke",
        help="Revoke a certificate: its rid goes on the CRL of its key (audited).",
        description="Revoke one certificate: its rid goes on the CRL of its key, on every node at "
        "once, and the municipality's audit chain records the operator and the reason. Exit 0 "
        "revoked; 1 refused (already revoked, or voided); 2 settings or arguments; 6 no such "
        "municipality or certificate; 7 database unreachable.",
    )
    revoke.add_argument("certificate_id", metavar="CERT_ID", help="the certificate ID (12 chars)")
    revoke.add_argument("--municipality", required=True, metavar="CODE", help="6-digit code")
    revoke.add_argument(
        "--reason",
        required=True,
        choices=[r.value for r in RevocationReason],
        help="why it is revoked (recorded and shown by status)",
    )
    add_operator_argument(revoke)
    revoke.set_defaults(run=run_revoke)
    status: argparse.ArgumentParser = sub.add_parser(
        "status",
        help="Show a certificate's channel, kind, time and state (no personal data).",
        description="Show one certificate's channel, kind, issued_at and state: issued, voided or "
        "revoked (with the reason); no personal data. Exit 0 found; 2 settings or arguments; 6 no "
        "such municipality or certificate; 7 database unreachable.",
    )
    status.add_argument("certificate_id", metavar="CERT_ID", help="the certificate ID (12 chars)")
    status.add_argument("--municipality", required=True, metavar="CODE", help="6-digit code")
    status.set_defaults(run=run_status)


async def _with_store(args: argparse.Namespace, work: Any) -> Any:
    settings = load_settings(os.environ, mode="production", required=_REQUIRED)
    if settings.database_url is None or settings.master_key is None or settings.lookup_key is None:
        raise RuntimeError("load_settings returned without a required setting")
    conn = await connect_database(settings.database_url)
    try:
        await require_municipality(conn, args.municipality)
    finally:
        await conn.close()
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=1)
    try:
        store = VrsStore(
            pool,
            master_key=settings.master_key,
            lookup_key=settings.lookup_key,
            previous_master_key=settings.master_key_previous,
        )
        return await work(store)
    finally:
        await pool.close()


def _refused(refused: Refused, certificate_id: str) -> CommandFailed:
    """The one line of a refusal, with the exit status its kind has."""
    code = refused.code
    if code is RefusalCode.ISSUANCE_NOT_FOUND:
        return CommandFailed(
            f"{code.value}: no certificate {certificate_id} in this municipality; check the ID "
            "and the municipality",
            Exit.NOT_FOUND,
        )
    if code is RefusalCode.MUNICIPALITY_UNKNOWN:
        return CommandFailed(f"{code.value}: not in the database", Exit.NOT_FOUND)
    if code is RefusalCode.ISSUANCE_REVOKED:
        return CommandFailed(
            f"{code.value}: {certificate_id} is revoked already; nothing changed",
            Exit.CHECK_FAILED,
        )
    if code is RefusalCode.ISSUANCE_VOIDED:
        return CommandFailed(
            f"{code.value}: {certificate_id} was voided (its print failed): it never reached "
            "anyone and is not revoked",
            Exit.CHECK_FAILED,
        )
    return CommandFailed(f"{code.value} ({certificate_id})", Exit.CHECK_FAILED)


def run_revoke(args: argparse.Namespace) -> int:
    actor = operator_actor(args)

    async def work(store: VrsStore) -> Revoked | Refused:
        return await revoke_certificate(
            municipality_code=args.municipality,
            certificate_id=args.certificate_id,
            reason=RevocationReason(args.reason),
            actor=actor,
            store=store,
            now=datetime.now(UTC),
        )

    try:
        outcome = asyncio.run(_with_store(args, work))
    except VrsError as exc:
        raise store_failure(exc, subject=f"certificate {args.certificate_id}") from None
    if isinstance(outcome, Refused):
        raise _refused(outcome, args.certificate_id)
    print(
        f"revoked {outcome.certificate_id} ({outcome.reason.value}); "
        f"CRL of key {outcome.kid} is now at ctr {outcome.crl_version}"
    )
    return 0


def run_status(args: argparse.Namespace) -> int:
    async def work(store: VrsStore) -> CertificateStatus | Refused:
        return await certificate_status(
            municipality_code=args.municipality, certificate_id=args.certificate_id, store=store
        )

    try:
        outcome = asyncio.run(_with_store(args, work))
    except VrsError as exc:
        raise store_failure(exc, subject=f"certificate {args.certificate_id}") from None
    if isinstance(outcome, Refused):
        raise _refused(outcome, args.certificate_id)
    state = outcome.state if outcome.reason is None else f"{outcome.state} ({outcome.reason})"
    rows = [
        ("certificate", outcome.certificate_id),
        ("municipality", outcome.municipality_code),
        ("channel", outcome.channel),
        ("kind", outcome.kind),
        ("issued_at", outcome.issued_at.isoformat()),
        ("state", state),
    ]
    if outcome.changed_at is not None:
        rows.append((f"{outcome.state}_at", outcome.changed_at.isoformat()))
    rows.append(("key", outcome.kid))
    for name, value in rows:
        print(f"{name:<13} {value}")
    return 0
