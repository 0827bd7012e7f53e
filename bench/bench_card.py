"""Card verification throughput on one core, beside the raw cost of its four RSA verifications.

Run: .venv/bin/python -m bench.bench_card [seconds per measurement, default 2]

Prints full `verify_card` calls per second, the same for the four RSA-2048 PKCS#1 v1.5 / SHA-256
verifications it cannot avoid (EF0004 by the anchor, EF0003 and EF0007 by the signer, the
challenge by the card key) measured in the same run with keys built beforehand, and the ratio:
how much of a verification is the RSA floor. No assertions: figures only.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from signing import TrustStore, verify_card
from signing.synthetic import SyntheticJlis


def _rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls per second of `fn`, measured for about `seconds` after a short warm-up."""
    for _ in range(50):
        fn()
    calls = 0
    batch = 100
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(batch):
            fn()
        calls += batch
    return calls / elapsed


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core

    jlis = SyntheticJlis.create()
    card = jlis.issue_card(
        my_number="537686677188",
        family_name="黒桐",
        given_name="幹也",
        birth_date=date(1980, 2, 17),
        sex="1",
        address="東京都清瀬市観布子南１２－７－２０２",
    )
    trust = TrustStore.from_dict(jlis.trust_file_json(), hierarchies=["synthetic"])
    nonce = os.urandom(32)
    evidence = card.evidence(nonce=nonce)
    now = datetime.now(UTC)

    def full() -> object:
        return verify_card(evidence, trust, nonce=nonce, now=now)

    pkcs1, sha256 = padding.PKCS1v15(), hashes.SHA256()
    anchor = jlis.ca_key.public_key()
    signer = jlis.signer_key.public_key()
    card_key = card.card_key.public_key()
    cvc_body, cvc_sig = card.ef0004[10:307], card.ef0004[312:]
    data_signed, data_sig = card.ef0003[5:75], card.ef0003[80:]
    key_signed, key_sig = card.ef0007[5:275], card.ef0007[280:]
    challenge = evidence.challenge_signature

    def four_rsa() -> None:
        anchor.verify(cvc_sig, cvc_body, pkcs1, sha256)
        signer.verify(data_sig, data_signed, pkcs1, sha256)
        signer.verify(key_sig, key_signed, pkcs1, sha256)
        card_key.verify(challenge, nonce, pkcs1, sha256)

    numbers = card_key.public_numbers()

    def build_key() -> rsa.RSAPublicKey:
        return rsa.RSAPublicNumbers(numbers.e, numbers.n).public_key()

    full_rate = _rate(full, seconds)
    rsa_rate = _rate(four_rsa, seconds)
    key_rate = _rate(build_key, seconds)

    print(f"verify_card, full:               {full_rate:10.0f} /s  ({1e6 / full_rate:7.1f} µs)")
    print(f"4 RSA-2048 verifications only:   {rsa_rate:10.0f} /s  ({1e6 / rsa_rate:7.1f} µs)")
    print(f"RSA public key from (n, e):      {key_rate:10.0f} /s  ({1e6 / key_rate:7.1f} µs)")
    print(f"ratio full / RSA floor (time):   {rsa_rate / full_rate:10.2f}")
    print(f"overhead beyond the 4 RSA ops:   {1e6 / full_rate - 1e6 / rsa_rate:10.1f} µs")


if __name__ == "__main__":
    main()
