"""Kiosk sessions per second end to end: start → card verified → preview → confirm (issuance
recorded, PDF rendered) → print reported, through the adapter's HTTP app.

    .venv/bin/python -m bench.bench_kiosk [--sessions 200] [--concurrency 1,4,16]

Starts embedded PostgreSQL and Redis, a synthetic world and residents with cards, and drives
the kiosk app in process (Litestar's AsyncTestClient: no TLS, no sockets — the figures are the
adapter, the use case, the stores and the PDF, not the mTLS listener). The clock is fixed at
12:00 JST so the service hours never close the bench. Beside it: the PDF rendering alone, on the
same machine in the same run. Prints figures; asserts nothing.

Reading the figures: a session costs one PDF (≈ 10 ms of CPU for a domestic page, ≈ 17 ms
abroad, on one rendering thread per process) plus the use case and the stores. The test client
handles one request at a time (p50 latency x concurrency exceeds the elapsed time), so the
concurrency rows show little overlap; scale-out is worker processes behind the center's link.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from litestar.testing import AsyncTestClient

import signing
from bench._deployment import bench_env, bench_residents, cards_for, load_residents, tree_cpu
from certsvc.commands.kiosk_sim import run_kiosk_session
from certsvc.embedded import EmbeddedStores
from certsvc.printout import render_certificate_pdf
from certsvc.settings import load_settings
from certsvc.synthetic import create_world
from kiosk_adapter import create_kiosk_app
from signing.synthetic import SyntheticCard
from vrs_client.synthetic import (
    SyntheticResident,
)


async def _drive(
    env: dict[str, str],
    cards: list[tuple[SyntheticResident, SyntheticCard]],
    *,
    sessions: int,
    concurrencies: list[int],
    now: datetime,
    stores: tuple[int | None, int | None],
) -> None:
    settings = load_settings(env, mode="test")
    app = create_kiosk_app(settings, clock=lambda: now)
    async with AsyncTestClient(app=app, timeout=60) as client:
        # warm-up: fonts, pools, the first PDF
        resident, card = cards[0]
        await run_kiosk_session(client, card=card, municipality_code=resident.municipality_code)
        for concurrency in concurrencies:
            queue: asyncio.Queue[int] = asyncio.Queue()
            for i in range(sessions):
                queue.put_nowait(i)
            latencies: list[float] = []

            async def worker(queue: asyncio.Queue[int], latencies: list[float]) -> None:
                while True:
                    try:
                        i = queue.get_nowait()
                    except asyncio.QueueEmpty:
                        return
                    resident, card = cards[i % len(cards)]
                    started = time.perf_counter()
                    result = await run_kiosk_session(
                        client, card=card, municipality_code=resident.municipality_code
                    )
                    latencies.append(time.perf_counter() - started)
                    if result.state != "COMPLETED":
                        raise RuntimeError(result.state)

            t0 = time.perf_counter()
            cpu0 = (time.process_time(), tree_cpu(stores[0]), tree_cpu(stores[1]))
            await asyncio.gather(*(worker(queue, latencies) for _ in range(concurrency)))
            elapsed = time.perf_counter() - t0
            own, pg, rd = (
                (after - before) / sessions * 1000
                for after, before in zip(
                    (time.process_time(), tree_cpu(stores[0]), tree_cpu(stores[1])),
                    cpu0,
                    strict=True,
                )
            )
            latencies.sort()
            p50 = latencies[len(latencies) // 2] * 1000
            p95 = latencies[int(len(latencies) * 0.95) - 1] * 1000
            print(
                f"kiosk sessions, concurrency {concurrency:>3}: {sessions / elapsed:7.1f} /s "
                f"(p50 {p50:6.0f} ms, p95 {p95:6.0f} ms; {sessions} sessions, 1 copy, domestic)"
            )
            print(
                f"  CPU per session: adapter + kiosk client + PDF {own:.1f} ms, "
                f"PostgreSQL {pg:.1f} ms, Redis {rd:.1f} ms"
            )


def _pdf_cpu(world_key_dir: Path, now: datetime) -> None:
    """CPU milliseconds per page of a domestic and an abroad print-out (3 doses), measured in
    alternating rounds in this one process so that both see the same machine load."""
    from datetime import date

    keys = signing.FileKeyStore(world_key_dir)
    keys.load()
    pages = {}
    for kind in ("domestic", "abroad"):
        abroad = kind == "abroad"
        cert = signing.Certificate(
            certificate_id="ABCDEFGH2345",
            issued_at=now,
            kind="abroad" if abroad else "domestic",
            holder=signing.Holder(
                family_name="山田",
                given_name="太郎",
                birth_date=date(1980, 1, 2),
                family_name_roman="YAMADA" if abroad else None,
                given_names_roman="TARO" if abroad else None,
                nationality="JPN" if abroad else None,
                passport_number="TR1234567" if abroad else None,
            ),
            doses=tuple(
                signing.Dose(number=n, date=date(2021, 6, n), product="COMIRNATY", lot="FF1234")
                for n in range(1, 4)
            ),
            municipality=signing.Municipality(
                code="282022", name_ja="尼崎市", name_en="Amagasaki City"
            ),
            rid=None,
        )
        jws = signing.sign_shc(
            cert,
            issuer="https://demo.certsvc.invalid/issuer",
            signer=keys.shc_signer(),
            vaccination_authority="MHLW_Gov_of_JAPAN",
        )
        seals = (
            signing.sign_vdsnc(
                cert, signer=keys.barcode_signer(), vaccination_authority="MHLW_Gov_of_JAPAN"
            )
            if abroad
            else []
        )
        texts = [signing.shc_qr_text(j) for j in jws]
        payloads = [signing.seal_bytes(x) for x in seals]
        pages[kind] = (cert, texts, payloads)
        render_certificate_pdf(cert, shc_qr_texts=texts, vdsnc_payloads=payloads)  # warm-up
    rounds: dict[str, list[float]] = {"domestic": [], "abroad": []}
    for _ in range(5):
        for kind, (cert, texts, payloads) in pages.items():
            c0 = time.process_time()
            for _ in range(20):
                render_certificate_pdf(cert, shc_qr_texts=texts, vdsnc_payloads=payloads)
            rounds[kind].append((time.process_time() - c0) / 20 * 1000)
    for kind, ms in rounds.items():
        print(
            f"PDF {kind:<8} (3 doses): {sorted(ms)[len(ms) // 2]:5.1f} ms of CPU per page "
            f"(best {min(ms):.1f}, worst {max(ms):.1f}; 5 alternating rounds of 20)"
        )
    d, a = (sorted(rounds[k])[2] for k in ("domestic", "abroad"))
    print(f"PDF ratio abroad / domestic {a / d:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--concurrency", default="1,8")
    parser.add_argument("--residents", type=int, default=400)
    args = parser.parse_args()
    concurrencies = [int(c) for c in args.concurrency.split(",")]

    root = Path(tempfile.mkdtemp(prefix="certsvc-bench-kiosk-"))
    today = datetime.now(UTC).astimezone().date()
    # 12:00 JST today: inside the kiosk hours whatever the wall clock says
    now = datetime(today.year, today.month, today.day, 3, 0, tzinfo=UTC)
    with EmbeddedStores() as stores:
        if stores.postgres is None or stores.redis is None:
            raise RuntimeError("embedded stores did not start")
        world = create_world(root / "world", now=now - timedelta(days=1))
        env = bench_env(
            stores,
            world,
            CERTSVC_KIOSK_SESSION_KEY=base64.b64encode(os.urandom(32)).decode(),
        )
        residents = bench_residents(args.residents)
        asyncio.run(load_residents(env, root, residents))
        cards = list(zip(residents[:200], cards_for(world, residents[:200]), strict=True))
        print(f"{os.cpu_count()} CPUs; in-process ASGI client (no TLS); client work included")
        _pdf_cpu(world.key_dir, now)
        asyncio.run(
            _drive(
                env,
                cards,
                sessions=args.sessions,
                concurrencies=concurrencies,
                now=now,
                stores=(stores.postgres.pid, stores.redis.pid),
            )
        )


if __name__ == "__main__":
    main()
