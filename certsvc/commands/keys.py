"""`certsvc keys`: Create, rotate, list and export signing keys.

    certsvc keys create                          SHC key, VDS-NC CSCA + barcode signer, CRLs
    certsvc keys rotate [--shc] [--barcode-signer]   (default: --shc)
    certsvc keys list                            kids, barcode signers, CSCA (no key material)
    certsvc keys export-csca                     the CSCA certificate as PEM on stdout

Uses `CERTSVC_KEY_DIR`, or with `CERTSVC_KEY_STORE=pkcs11` the token named by
`CERTSVC_PKCS11_MODULE`, `CERTSVC_PKCS11_TOKEN_LABEL` and `CERTSVC_PKCS11_PIN_FILE` (initialised
beforehand with the HSM's own tool; `create` generates every key inside it).
`CERTSVC_SHC_ISSUER` only to print where the JWKS will be served. `rotate` also needs
`CERTSVC_DATABASE_URL`: the service-wide audit chain records who rotated which key. Running
processes pick the new key up within `CERTSVC_KEY_REFRESH_SECONDS`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from datetime import UTC, datetime
from typing import Any

import asyncpg
from cryptography import x509

from certsvc.commands._failures import CommandFailed, Exit, connect_database
from certsvc.commands._operator import add_operator_argument, operator_actor
from certsvc.keystores import open_key_store
from certsvc.settings import load_settings
from signing import FileKeyStore, KeyStore, SigningError
from vrs_client import (
    AuditEvent,
    VrsError,
    chain_service_audit_events,
    record_service_audit_event,
)


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "keys", help="Create, rotate, list and export signing keys."
    )
    actions = parser.add_subparsers(dest="keys_action", required=True, metavar="ACTION")
    actions.add_parser("create", help="Create every key (in CERTSVC_KEY_DIR or the token).")
    rotate = actions.add_parser("rotate", help="Add a new signing key (old public keys stay).")
    rotate.add_argument("--shc", action="store_true", help="a new SMART Health Card key")
    rotate.add_argument("--barcode-signer", action="store_true", help="a new VDS-NC barcode signer")
    add_operator_argument(rotate)
    actions.add_parser("list", help="List the public keys and certificates.")
    actions.add_parser("export-csca", help="Write the VDS-NC CSCA certificate (PEM) to stdout.")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    rotating = args.keys_action == "rotate"
    required = {"key_dir", "database_url"} if rotating else {"key_dir"}
    settings = load_settings(os.environ, mode="production", required=required)
    store = open_key_store(settings)
    where = (
        f"token {settings.pkcs11_token_label!r}"
        if settings.key_store == "pkcs11"
        else str(settings.key_dir)
    )
    now = datetime.now(UTC)
    try:
        if args.keys_action == "create":
            store.create(now=now)
            print(f"created keys in {where}")
            _list(store, settings.shc_issuer)
        elif rotating and settings.database_url is not None:
            return _rotate(args, store, settings.database_url, now=now)
        elif args.keys_action == "list":
            _list(store, settings.shc_issuer)
        elif args.keys_action == "export-csca":
            sys.stdout.write(store.csca_certificate_pem().decode("ascii"))
    except SigningError as exc:
        print(f"certsvc keys: {exc.code}: {exc}", file=sys.stderr)
        return 1
    return 0


def _rotate(args: argparse.Namespace, store: KeyStore, database_url: str, *, now: datetime) -> int:
    """Rotate and record it in the service-wide audit chain. The database is reached first, so
    that a rotation that could not be recorded does not happen; should the record still fail
    afterwards, the line says the rotation is done."""
    try:
        return asyncio.run(_rotate_recorded(args, store, database_url, now=now))
    except _Unrecorded as exc:
        raise CommandFailed(
            f"{exc.code}: the rotation is done but is not in the audit chain", Exit.STORE
        ) from None
    except CommandFailed as exc:  # the database could not be reached
        raise CommandFailed(f"nothing rotated: {exc}", exc.status) from None


class _Unrecorded(Exception):  # noqa: N818 — a state, reported by `_rotate`
    def __init__(self, code: str) -> None:
        self.code = code


async def _rotate_recorded(
    args: argparse.Namespace, store: KeyStore, database_url: str, *, now: datetime
) -> int:
    actor = operator_actor(args)
    conn = await connect_database(database_url)
    try:
        events = []
        if args.shc or not args.barcode_signer:
            kid = store.rotate_shc(now=now)
            print(f"new SHC key: {kid} (signs from now on; the old keys stay in the JWKS)")
            events.append(
                AuditEvent(
                    at=now,
                    actor=actor,
                    action="keys.rotate.shc",
                    outcome="rotated",
                    detail=f"kid={kid}",
                )
            )
        if args.barcode_signer:
            cert = store.rotate_barcode_signer(now=now)
            print(f"new barcode signer: serial {cert.serial_number:x}")
            events.append(
                AuditEvent(
                    at=now,
                    actor=actor,
                    action="keys.rotate.barcode_signer",
                    outcome="rotated",
                    detail=f"serial={cert.serial_number:x}",
                )
            )
        try:
            for event in events:
                await record_service_audit_event(conn, event)
            await chain_service_audit_events(conn)
        except (VrsError, OSError, asyncpg.PostgresError) as exc:
            raise _Unrecorded(
                exc.code.value if isinstance(exc, VrsError) else "VRS_STORE_UNAVAILABLE"
            ) from exc
    finally:
        await conn.close()
    return 0


def _list(store: KeyStore, issuer: str | None) -> None:
    keys = store.jwks()["keys"]
    current = store.shc_signer().kid
    where = f" (served at {issuer}/.well-known/jwks.json)" if issuer else ""
    print(f"SHC keys{where}:")
    for jwk in keys:
        mark = "  signing" if jwk["kid"] == current else ""
        crl = f"  crlVersion {jwk['crlVersion']}" if "crlVersion" in jwk else ""
        print(f"  {jwk['kid']}{mark}{crl}")
    csca = x509.load_pem_x509_certificate(store.csca_certificate_pem())
    print(f"VDS-NC CSCA: {csca.subject.rfc4514_string()}  serial {csca.serial_number:x}")
    print(f"  valid {csca.not_valid_before_utc:%Y-%m-%d} .. {csca.not_valid_after_utc:%Y-%m-%d}")
    current_bsc = x509.load_der_x509_certificate(store.barcode_signer().certificate_der)
    print("VDS-NC barcode signers (the certificate is in each seal; verifiers need the CSCA):")
    signers = (
        store.barcode_signer_certificates()
        if isinstance(store, FileKeyStore)
        else [current_bsc]  # a token holds the signing one
    )
    for bsc in signers:
        mark = "  signing" if bsc.serial_number == current_bsc.serial_number else ""
        print(f"  {bsc.subject.rfc4514_string()}  serial {bsc.serial_number:x}{mark}")
        print(
            f"    valid {bsc.not_valid_before_utc:%Y-%m-%d} .. {bsc.not_valid_after_utc:%Y-%m-%d}"
        )
        try:
            usage = bsc.extensions.get_extension_for_class(x509.PrivateKeyUsagePeriod).value
        except x509.ExtensionNotFound:
            continue
        if usage.not_after is not None:
            # ICAO VDS-NC: the signer's private key is used for about 3 months, then rotated.
            print(f"    private key usable until {usage.not_after:%Y-%m-%d} (rotate before)")
