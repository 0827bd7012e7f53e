"""The work under one app issuance that no request path can avoid, timed in this process on one
core, so that a benchmark can print its CPU per issuance beside the sum of these.

Each is the library call the service makes: the card verification (the J-LIS signatures, the
card's key, its signature over the nonce), the attestation token's check, the SHC signing
(ES256, DEFLATE, RFC 8785), the My Number HMAC with the record's three AES-GCM decryptions and
the kept signatures' encryption.
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Callable
from datetime import UTC, date, datetime

import msgspec

import signing
from certsvc.synthetic import World
from signing.synthetic import SyntheticCard
from vrs_client import KeyRing


def _per_call_us(fn: Callable[[], object], seconds: float) -> float:
    fn()
    calls, start = 0, time.process_time()
    while (elapsed := time.process_time() - start) < seconds:
        for _ in range(10):
            fn()
        calls += 10
    return elapsed / calls * 1e6


def issuance_primitives(
    world: World, card: SyntheticCard, *, seconds: float = 0.4
) -> list[tuple[str, float]]:
    """(name, µs of CPU per call) of each primitive of a domestic app issuance."""
    now = datetime.now(UTC)
    trust = signing.TrustStore.from_dict(
        msgspec.json.decode(world.trust_file.read_bytes()), hierarchies=["test", "synthetic"]
    )
    nonce = os.urandom(32)
    evidence = card.evidence(nonce=nonce)
    authority = world.authority()
    nonce_text = base64.urlsafe_b64encode(nonce).rstrip(b"=").decode("ascii")
    token = authority.mint(
        nonce=nonce_text,
        audience=world.audience,
        app_id=world.app_id,
        app_version=world.app_version,
        now=now,
    )
    attestation_keys = signing.AttestationKeySet.from_jwks(
        msgspec.json.decode(world.attestation_jwks_file.read_bytes())
    )
    keys = signing.FileKeyStore(world.key_dir)
    certificate = signing.Certificate(
        certificate_id="ABCDEFGHJKMN",
        issued_at=now.replace(microsecond=0),
        kind="domestic",
        holder=signing.Holder(
            family_name="尼崎", given_name="花子", birth_date=date(1980, 4, 1), sex="2"
        ),
        doses=tuple(
            signing.Dose(number=n, date=date(2021, 6, n), product="COMIRNATY", lot=f"EY{n:04d}")
            for n in (1, 2, 3)
        ),
        municipality=signing.Municipality(code="282022", name_ja="尼崎市", name_en="Amagasaki"),
        rid="r" * 11,
    )
    ring = KeyRing(master_key=os.urandom(32), lookup_key=os.urandom(32))
    cipher, _ = ring.new_data_key("282022")
    sealed = [
        cipher.encrypt("persons", column, "1001", value)
        for column, value in (("name", "尼崎\u3000花子".encode()), ("birth_date", b"1980-04-01"))
    ] + [cipher.encrypt("persons", "sex", "1001", b"2")]
    columns = ("name", "birth_date", "sex")

    def card_check() -> object:
        return signing.verify_card(evidence, trust, nonce=nonce, now=now)

    def attestation_check() -> object:
        return signing.verify_attestation(
            token,
            jwks=attestation_keys,
            issuer=world.attestation_issuer,
            audience=world.audience,
            nonce=nonce_text,
            app_ids=[world.app_id],
            min_version="2.0.0",
            now=now,
        )

    def shc_signing() -> object:
        return signing.sign_shc(
            certificate,
            issuer="https://demo.certsvc.invalid/issuer",
            signer=keys.shc_signer(),
            vaccination_authority="MHLW_Gov_of_JAPAN",
        )

    def record_crypto() -> object:
        ring.my_number_hmac("123456789018")
        for column, blob in zip(columns, sealed, strict=True):
            cipher.decrypt("persons", column, "1001", blob)
        return cipher.encrypt("issuances", "signatures", "ABCDEFGHJKMN", b"s" * 200)

    return [
        ("card verification", _per_call_us(card_check, seconds)),
        ("attestation check", _per_call_us(attestation_check, seconds)),
        ("SHC signing (3 doses)", _per_call_us(shc_signing, seconds)),
        ("HMAC + 3 decryptions + 1 encryption", _per_call_us(record_crypto, seconds)),
    ]


def describe(primitives: list[tuple[str, float]]) -> str:
    """One line: each primitive and their sum, in ms."""
    total = sum(us for _, us in primitives)
    parts = ", ".join(f"{name} {us / 1000:.2f}" for name, us in primitives)
    return f"{parts}; sum {total / 1000:.2f} ms"
