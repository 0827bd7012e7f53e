"""Signatures per second through an HSM token (SoftHSM2 over PKCS#11) beside the in-process key.

Run: .venv/bin/python -m bench.bench_hsm [seconds per measurement, default 2]

Creates a throwaway SoftHSM2 token (installs Debian's softhsm2 when missing), fills it with
`certsvc keys create`'s keys, and measures on one core, one after the other in the same run:
ES256 signatures (the 64-byte r‖s of an SHC JWS) through the token and through the file store's
in-process key; the rid HMAC in the token; and whole SHC signings (`sign_shc`, DEFLATE and
all) of a 3-dose certificate with each store. SoftHSM2 computes in the same process, so the
token figures are the PKCS#11 path's cost without a network; a network HSM adds its round trip
to every signature. No assertions: figures only.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from certsvc.softhsm import SoftHsm
from signing import FileKeyStore, Pkcs11KeyStore, sign_shc
from tests.unit.signing.test_certificate import AUTHORITY, ISSUER, make_cert


def _rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls per second of `fn`, measured for about `seconds` after a short warm-up."""
    for _ in range(20):
        fn()
    calls = 0
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(20):
            fn()
        calls += 20
    return calls / elapsed


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="certsvc-bench-hsm-") as tmp:
        hsm = SoftHsm(Path(tmp) / "softhsm")
        pin = hsm.init_token("bench").read_text().strip()
        os.environ.update(hsm.env())
        token = Pkcs11KeyStore(module=hsm.module, token_label="bench", pin=pin)  # noqa: S106
        token.create(now=now)
        files = FileKeyStore(Path(tmp) / "keys")
        files.create(now=now)

        data = os.urandom(600)  # about an SHC signing input
        cert = make_cert(kind="domestic", doses=3, rid="AAAAAAAAAAA")
        figures = {
            "ES256 sign, token (PKCS#11 CKM_ECDSA)": _rate(
                lambda: token.shc_signer().sign(data), seconds
            ),
            "ES256 sign, in-process key (RFC 6979)": _rate(
                lambda: files.shc_signer().sign(data), seconds
            ),
            "rid HMAC, token (CKM_SHA256_HMAC)": _rate(
                lambda: token.rid_for("ABCDEFGH2345"), seconds
            ),
            "rid HMAC, in-process": _rate(lambda: files.rid_for("ABCDEFGH2345"), seconds),
            "sign_shc 3 doses, token": _rate(
                lambda: sign_shc(
                    cert, issuer=ISSUER, signer=token.shc_signer(), vaccination_authority=AUTHORITY
                ),
                seconds,
            ),
            "sign_shc 3 doses, in-process key": _rate(
                lambda: sign_shc(
                    cert, issuer=ISSUER, signer=files.shc_signer(), vaccination_authority=AUTHORITY
                ),
                seconds,
            ),
        }
    print(f"bench_hsm: {seconds:.1f} s per figure, one core, SoftHSM2 at {hsm.module}")
    width = max(len(k) for k in figures)
    for name, rate in figures.items():
        print(f"  {name:<{width}}  {rate:9.0f} /s  {1e6 / rate:7.1f} µs")
    token_sign = figures["ES256 sign, token (PKCS#11 CKM_ECDSA)"]
    local_sign = figures["ES256 sign, in-process key (RFC 6979)"]
    print(f"  ratio token / in-process signatures: {token_sign / local_sign:.2f}")
    per_issuance = 1e6 / token_sign + 1e6 / figures["rid HMAC, token (CKM_SHA256_HMAC)"]
    print(
        f"  a domestic issuance costs the token 1 signature + 1 HMAC ≈ {per_issuance:.0f} µs;"
        " abroad adds 1 signature"
    )


if __name__ == "__main__":
    main()
