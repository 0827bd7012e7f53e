"""`certsvc keys`: Create, rotate, list and export signing keys.

    certsvc keys create                          SHC key, VDS-NC CSCA + barcode signer, CRLs
    certsvc keys rotate [--shc] [--barcode-signer]   (default: --shc)
    certsvc keys list                            kids, barcode signers, CSCA (no key material)
    certsvc keys export-csca                     the CSCA certificate as PEM on stdout

Uses `CERTSVC_KEY_DIR`, or with `CERTSVC_KEY_STORE=pkcs11` the token named by
`CERTSVC_PKCS11_MODULE`, `CERTSVC_PKCS11_TOKEN_LABEL` and `CERTSVC_PKCS11_PIN_FILE` (initialised
beforehand with the HSM's own tool; `create` generates every key inside it).
`CERTSVC_SHC_ISSUER` only to print where the JWKS will be served.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from typing import Any

from cryptography import x509

from certsvc.keystores import open_key_store
from certsvc.settings import load_settings
from signing import KeyStore, SigningError


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "keys", help="Create, rotate, list and export signing keys."
    )
    actions = parser.add_subparsers(dest="keys_action", required=True, metavar="ACTION")
    actions.add_parser("create", help="Create every key (in CERTSVC_KEY_DIR or the token).")
    rotate = actions.add_parser("rotate", help="Add a new signing key (old public keys stay).")
    rotate.add_argument("--shc", action="store_true", help="a new SMART Health Card key")
    rotate.add_argument("--barcode-signer", action="store_true", help="a new VDS-NC barcode signer")
    actions.add_parser("list", help="List the public keys and certificates.")
    actions.add_parser("export-csca", help="Write the VDS-NC CSCA certificate (PEM) to stdout.")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings(os.environ, mode="production", required={"key_dir"})
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
        elif args.keys_action == "rotate":
            if args.shc or not args.barcode_signer:
                print(f"new SHC key: {store.rotate_shc(now=now)}")
            if args.barcode_signer:
                cert = store.rotate_barcode_signer(now=now)
                print(f"new barcode signer: serial {cert.serial_number:x}")
        elif args.keys_action == "list":
            _list(store, settings.shc_issuer)
        elif args.keys_action == "export-csca":
            sys.stdout.write(store.csca_certificate_pem().decode("ascii"))
    except SigningError as exc:
        print(f"certsvc keys: {exc.code}: {exc}", file=sys.stderr)
        return 1
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
    bsc = x509.load_der_x509_certificate(store.barcode_signer().certificate_der)
    print(f"VDS-NC barcode signer: {bsc.subject.rfc4514_string()}  serial {bsc.serial_number:x}")
    print(f"  valid {bsc.not_valid_before_utc:%Y-%m-%d} .. {bsc.not_valid_after_utc:%Y-%m-%d}")
