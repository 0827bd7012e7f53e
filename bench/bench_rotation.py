"""Issuances while both signing keys rotate: errors (expected 0), latency, and which keys signed.

    .venv/bin/python -m bench.bench_rotation [--requests 360] [--concurrency 8] [--workers 2]

Starts embedded PostgreSQL and Redis, a synthetic world, residents with cards and passports, and
`uvicorn` with N workers checking for rotated keys every second. Pre-builds one request per
issuance (half for use abroad, so the barcode signer is exercised), then sends them with a
bounded concurrency to 127.0.0.1 and rotates both keys in the key directory after a third and
after two thirds of the requests (what `certsvc keys rotate --shc --barcode-signer` does, less
its audit event and its interpreter start-up, which on a shared machine outlast the load). Prints
the outcome counts, the latency, and how many certificates each SHC key and barcode signer
signed. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import json
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509

import signing
from bench._deployment import bench_env, bench_residents, load_residents
from bench.bench_app import _serve
from certsvc.embedded import EmbeddedStores
from certsvc.server import free_port
from certsvc.synthetic import card_json, create_world, issue_cards, load_card


def _rotate(key_dir: Path) -> float:
    started = time.perf_counter()
    keys = signing.FileKeyStore(key_dir)
    keys.rotate_shc(now=datetime.now(UTC))
    keys.rotate_barcode_signer(now=datetime.now(UTC))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=360)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--residents", type=int, default=60)
    args = parser.parse_args()
    requests = min(args.requests, 2000)  # bounded: this machine is shared

    root = Path(tempfile.mkdtemp(prefix="certsvc-bench-rotation-"))
    with EmbeddedStores() as stores:
        now = datetime.now(UTC)
        world = create_world(root / "world", now=now)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("CERTSVC_")},
            **bench_env(stores, world, CERTSVC_KEY_REFRESH_SECONDS="1"),
        }
        residents = bench_residents(args.residents)
        asyncio.run(load_residents(env, root, residents))
        entries = issue_cards(world, residents, today=now.date())
        authority = world.authority()
        port = free_port()
        server = _serve("bench.bench_app:bench_app", port, args.workers, env, root / "access.log")
        try:
            base = f"http://127.0.0.1:{port}"
            t0 = time.perf_counter()
            bodies: list[dict[str, Any]] = []
            with httpx.Client(base_url=base) as http:
                for i in range(requests):
                    entry = entries[i % len(entries)]
                    card = load_card(world.directory, entry)
                    ch = http.post("/v1/app/challenges").json()
                    nonce = base64.urlsafe_b64decode(ch["nonce"] + "=" * (-len(ch["nonce"]) % 4))
                    body: dict[str, Any] = {
                        "terms_version": "bench",
                        "challenge_id": ch["challenge_id"],
                        "attestation": authority.mint(
                            nonce=ch["nonce"],
                            audience=world.audience,
                            app_id=world.app_id,
                            app_version=world.app_version,
                            now=datetime.now(UTC),
                        ),
                        "card": card_json(card, card.sign_challenge(nonce)),
                        "municipality_code": entry.municipality_code,
                        "kind": "abroad" if i % 2 else "domestic",
                    }
                    if i % 2:
                        body["passport"] = {"mrz": list(entry.passport_mrz)}
                    bodies.append(body)
            print(f"pre-built {requests} requests in {time.perf_counter() - t0:.1f} s")
            outcomes, latencies, certs, rotations = asyncio.run(
                _drive(base, bodies, args.concurrency, world.key_dir)
            )
            jwks = httpx.get(f"{base}/.well-known/jwks.json").json()
        finally:
            server.terminate()
            server.wait()

    by_kid: collections.Counter[str] = collections.Counter()
    by_bsc: collections.Counter[str] = collections.Counter()
    invalid = 0
    for cert in certs:
        for jws in cert["shc"]["jws"]:
            report = signing.verify_shc_jws(jws, jwks=jwks, now=datetime.now(UTC))
            invalid += report.exit_code != 0
            by_kid[(report.kid or "?")[:12]] += 1
        for seal in cert.get("vdsnc", []):
            der = base64.urlsafe_b64decode(seal["sig"]["cer"])
            by_bsc[f"{x509.load_der_x509_certificate(der).serial_number:x}"[:12]] += 1
    print(f"requests {requests}, concurrency {args.concurrency}, workers {args.workers}")
    print(
        f"outcomes: {dict(outcomes)}  (errors: {sum(v for k, v in outcomes.items() if k != 201)})"
    )
    latencies.sort()
    print(
        f"latency ms: p50 {statistics.median(latencies):.1f}"
        f"  p99 {latencies[int(len(latencies) * 0.99) - 1]:.1f}  max {latencies[-1]:.1f}"
    )
    print(f"key rotations (both keys, seconds): {[round(r, 3) for r in rotations]}")
    print(
        f"SHC JWS per kid (prefix): {dict(by_kid)}; not verifying against the final JWKS: {invalid}"
    )
    print(f"VDS-NC seals per barcode signer (serial prefix): {dict(by_bsc)}")


async def _drive(
    base: str, bodies: list[dict[str, Any]], concurrency: int, key_dir: Path
) -> tuple[collections.Counter[int | str], list[float], list[dict[str, Any]], list[float]]:
    outcomes: collections.Counter[int | str] = collections.Counter()
    latencies: list[float] = []
    certs: list[dict[str, Any]] = []
    rotations: list[float] = []
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    done = 0
    marks = {len(bodies) // 3, 2 * len(bodies) // 3}

    async with httpx.AsyncClient(base_url=base, timeout=30) as client:

        async def worker() -> None:
            nonlocal done
            while not queue.empty():
                body = queue.get_nowait()
                started = time.perf_counter()
                try:
                    response = await client.post("/v1/app/certificates", json=body)
                except httpx.HTTPError as exc:
                    outcomes[type(exc).__name__] += 1
                    continue
                latencies.append((time.perf_counter() - started) * 1000)
                outcomes[response.status_code] += 1
                if response.status_code == 201:
                    certs.extend(response.json()["certificates"])
                else:
                    outcomes[json.loads(response.text).get("code", "?")] += 1
                done += 1
                if done in marks:
                    marks.discard(done)
                    # Off the loop, so the requests keep flowing meanwhile.
                    rotations.append(await asyncio.to_thread(_rotate, key_dir))

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return outcomes, latencies, certs, rotations


if __name__ == "__main__":
    main()
