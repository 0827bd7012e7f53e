"""Certificates signed per second beside the primitives' floor, and PDFs per second.

Run: .venv/bin/python -m bench.bench_certificates   (prints figures; asserts nothing)
"""

from __future__ import annotations

import tempfile
import time
import zlib
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import msgspec
import rfc8785

from certsvc.printout import render_certificate_pdf
from signing import (
    Certificate,
    Dose,
    FileKeyStore,
    Holder,
    Municipality,
    seal_bytes,
    shc_qr_text,
    sign_shc,
    sign_vdsnc,
)

ISSUER = "https://vc.example.invalid/issuer"
AUTHORITY = "MHLW_Gov_of_JAPAN"
NOW = datetime(2026, 11, 20, tzinfo=UTC)


def _rate(label: str, fn: Callable[[], object], seconds: float = 1.5) -> float:
    fn()
    n = 0
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(20):
            fn()
        n += 20
    rate = n / elapsed
    print(f"{label:<58} {rate:>9.0f} /s  {1e6 / rate:>8.1f} µs")
    return rate


def _cert(kind: str, doses: int) -> Certificate:
    abroad = kind == "abroad"
    return Certificate(
        certificate_id="ABCDEFGH2345",
        issued_at=NOW,
        kind="abroad" if abroad else "domestic",
        holder=Holder(
            family_name="山田",
            given_name="太郎",
            birth_date=date(1980, 1, 2),
            family_name_roman="YAMADA" if abroad else None,
            given_names_roman="TARO" if abroad else None,
            nationality="JPN" if abroad else None,
            passport_number="TR1234567" if abroad else None,
        ),
        doses=tuple(
            Dose(number=i, date=date(2021, 6, i), product="COMIRNATY", lot=f"FC98{i:02d}")
            for i in range(1, doses + 1)
        ),
        municipality=Municipality(code="282022", name_ja="尼崎市", name_en="Amagasaki City"),
        rid="AAAAAAAAAAA",
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = FileKeyStore(Path(tmp) / "keys")
        store.create(now=NOW)
        shc_signer = store.shc_signer()
        bsc = store.barcode_signer()
        domestic = _cert("domestic", 3)
        abroad = _cert("abroad", 3)
        (jws,) = sign_shc(
            domestic, issuer=ISSUER, signer=shc_signer, vaccination_authority=AUTHORITY
        )
        payload = zlib.decompress(
            __import__("base64").urlsafe_b64decode(jws.split(".")[1] + "=="), -15
        )
        seal = sign_vdsnc(abroad, signer=bsc, vaccination_authority=AUTHORITY)[0]
        print(f"3-dose domestic payload {len(payload)} B, JWS {len(jws)} chars")

        print("-- floor (primitives) --")
        data = b"x" * 120
        _rate("ES256 sign (deterministic, r||s)", lambda: shc_signer.sign(data))
        for level, mem in ((6, 8), (9, 8), (6, 1), (9, 1)):

            def deflate(level: int = level, mem: int = mem) -> bytes:
                c = zlib.compressobj(level, zlib.DEFLATED, -15, mem)
                return c.compress(payload) + c.flush()

            size = len(deflate())
            _rate(f"raw DEFLATE level {level} memLevel {mem} -> {size} B", deflate)
        _rate(
            "msgspec.json.encode(payload dict)",
            lambda: msgspec.json.encode(msgspec.json.decode(payload)),
        )
        _rate("rfc8785.dumps(seal data)", lambda: rfc8785.dumps(seal["data"]))

        print("-- certificates (one core) --")
        _rate(
            "domestic: sign_shc + shc_qr_text",
            lambda: [
                shc_qr_text(j)
                for j in sign_shc(
                    domestic, issuer=ISSUER, signer=shc_signer, vaccination_authority=AUTHORITY
                )
            ],
        )
        _rate(
            "abroad: sign_shc + shc_qr_text + sign_vdsnc",
            lambda: (
                [
                    shc_qr_text(j)
                    for j in sign_shc(
                        abroad, issuer=ISSUER, signer=shc_signer, vaccination_authority=AUTHORITY
                    )
                ],
                sign_vdsnc(abroad, signer=bsc, vaccination_authority=AUTHORITY),
            ),
        )
        print("-- print --")
        texts = [shc_qr_text(jws)]
        abroad_jws = sign_shc(
            abroad, issuer=ISSUER, signer=shc_signer, vaccination_authority=AUTHORITY
        )
        _rate(
            "PDF domestic (1 QR)", lambda: render_certificate_pdf(domestic, shc_qr_texts=texts), 3
        )
        _rate(
            "PDF abroad (SHC + VDS-NC QR)",
            lambda: render_certificate_pdf(
                abroad,
                shc_qr_texts=[shc_qr_text(j) for j in abroad_jws],
                vdsnc_payloads=[seal_bytes(seal)],
            ),
            3,
        )


if __name__ == "__main__":
    main()
