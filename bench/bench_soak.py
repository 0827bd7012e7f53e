"""Soak: issuances at a steady rate for minutes, watching errors, latency and memory over time.

    .venv/bin/python -m bench.bench_soak [--minutes 10] [--capacity N | --rate R] [--workers 2]

Starts embedded PostgreSQL and Redis, a synthetic world and residents with cards, and the app
listener as `certsvc serve` runs it (uvicorn workers with the service's HTTP protocol). Without
`--capacity` or `--rate` it first measures the capacity quickly (closed loop, 20 s, 32 issuing
clients). Then it issues at `--rate` (default 80 % of the capacity) as an open loop: one
issuance (a challenge, the card's signature over it, an attestation token, the certificate
request) starts every 1/rate seconds whether or not the previous ones have finished, so a
server that slows down shows as latency and as a queue, not as a lower rate.

Every minute it prints the issuances started and completed, errors (anything but 201, and
transport errors), p50/p99 of the issuance (both calls), and the RSS of each process: the uvicorn
parent, each worker, PostgreSQL (postmaster and its backends, summed) and Redis. Targets: 0
errors, flat p99, flat RSS. The client's own work (the card's RSA signature, the token) runs in
this process, on the same cores. Not run in CI; prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psutil

from bench._deployment import bench_env, bench_residents, cards_for, load_residents
from certsvc.embedded import EmbeddedStores
from certsvc.http_protocol import PROTOCOL_PATH
from certsvc.server import free_port
from certsvc.synthetic import World, card_json, create_world
from signing.synthetic import SyntheticCard
from vrs_client.synthetic import SyntheticResident


@dataclass
class Minute:
    started: int = 0
    ok: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)


class Issuer:
    """Plays the app: one complete issuance per call."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        world: World,
        residents: list[SyntheticResident],
        cards: list[SyntheticCard],
    ) -> None:
        self.http = http
        self.world = world
        self.authority = world.authority()
        self.residents = residents
        self.cards = cards
        self.n = 0

    async def issue(self) -> str:
        """'201' when issued, else the status or the transport error's name."""
        i = self.n
        self.n += 1
        resident, card = self.residents[i % len(self.cards)], self.cards[i % len(self.cards)]
        try:
            challenge = await self.http.post("/v1/app/challenges")
            if challenge.status_code != 201:
                return f"challenge {challenge.status_code}"
            ch = challenge.json()
            nonce = base64.urlsafe_b64decode(ch["nonce"] + "=" * (-len(ch["nonce"]) % 4))
            body = {
                "terms_version": "bench",
                "challenge_id": ch["challenge_id"],
                "attestation": self.authority.mint(
                    nonce=ch["nonce"],
                    audience=self.world.audience,
                    app_id=self.world.app_id,
                    app_version=self.world.app_version,
                    now=datetime.now(UTC),
                ),
                "card": card_json(card, card.sign_challenge(nonce)),
                "municipality_code": resident.municipality_code,
                "kind": "domestic",
            }
            response = await self.http.post("/v1/app/certificates", json=body)
        except httpx.HTTPError as exc:
            return type(exc).__name__
        if response.status_code != 201:
            try:
                return f"{response.status_code} {response.json().get('code')}"
            except ValueError:
                return str(response.status_code)
        return "201"


def _serve(port: int, workers: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.bench_app:bench_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            "--no-access-log",
            "--loop",
            "uvloop",
            "--http",
            PROTOCOL_PATH,
            "--limit-concurrency",
            "1000",
        ],
        env=env,
        cwd=Path(__file__).resolve().parents[1],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the server did not start")


def _rss_mb(server_pid: int, stores: EmbeddedStores) -> dict[str, float]:
    """RSS of the uvicorn parent, each worker, PostgreSQL (summed) and Redis, in MB."""
    out: dict[str, float] = {}

    def rss(proc: psutil.Process) -> float:
        with contextlib.suppress(psutil.Error):
            return float(proc.memory_info().rss) / 1e6
        return 0.0

    server = psutil.Process(server_pid)
    out["uvicorn"] = rss(server)
    workers = []
    with contextlib.suppress(psutil.Error):
        workers = sorted(server.children(), key=lambda p: p.pid)
    n = 0
    for child in workers:
        with contextlib.suppress(psutil.Error):
            if "resource_tracker" in " ".join(child.cmdline()):
                out["tracker"] = rss(child)  # multiprocessing's helper, not a worker
                continue
        n += 1
        out[f"worker{n}"] = rss(child)
    if stores.postgres is not None and stores.postgres.pid is not None:
        with contextlib.suppress(psutil.Error):
            master = psutil.Process(stores.postgres.pid)
            out["postgres"] = rss(master) + sum(rss(c) for c in master.children(recursive=True))
    if stores.redis is not None and stores.redis.pid is not None:
        with contextlib.suppress(psutil.Error):
            out["redis"] = rss(psutil.Process(stores.redis.pid))
    return out


async def _capacity(issuer: Issuer, seconds: float, clients: int) -> float:
    done = 0
    stop = time.monotonic() + seconds

    async def client() -> None:
        nonlocal done
        while time.monotonic() < stop:
            if await issuer.issue() == "201":
                done += 1

    started = time.monotonic()
    await asyncio.gather(*(client() for _ in range(clients)))
    return done / (time.monotonic() - started)


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


async def _soak(
    issuer: Issuer, rate: float, minutes: float, server_pid: int, stores: EmbeddedStores
) -> None:
    per_minute: list[Minute] = []
    rss_rows = [_rss_mb(server_pid, stores)]  # at the start
    pending: set[asyncio.Task[None]] = set()
    began = time.monotonic()
    end = began + minutes * 60

    async def one(minute: Minute) -> None:
        t0 = time.monotonic()
        outcome = await issuer.issue()
        if outcome == "201":
            minute.ok += 1
            minute.latencies_ms.append((time.monotonic() - t0) * 1000)
        else:
            minute.errors[outcome] = minute.errors.get(outcome, 0) + 1

    print(f"soak: {rate:.1f} issuances/s for {minutes:g} min (open loop)")
    n = 0
    while True:
        now = time.monotonic()
        if now >= end:
            break
        index = int((now - began) // 60)
        while len(per_minute) <= index:
            if per_minute:  # a minute is over: its figures, and the RSS at its end
                rss_rows.append(_rss_mb(server_pid, stores))
                _report(len(per_minute), per_minute[-1], rss_rows[-1], len(per_minute) == 1)
            per_minute.append(Minute())
        minute = per_minute[index]
        minute.started += 1
        task = asyncio.create_task(one(minute))
        pending.add(task)
        task.add_done_callback(pending.discard)
        n += 1
        # Open loop: the n-th issuance starts at began + n / rate, late or not.
        await asyncio.sleep(max(0.0, began + n / rate - time.monotonic()))
    if pending:
        await asyncio.wait(pending, timeout=60)
    rss_rows.append(_rss_mb(server_pid, stores))
    _report(len(per_minute), per_minute[-1], rss_rows[-1], len(per_minute) == 1)
    total_ok = sum(m.ok for m in per_minute)
    total_errors = sum(sum(m.errors.values()) for m in per_minute)
    all_latencies = [x for m in per_minute for x in m.latencies_ms]
    print(
        f"total: {total_ok} issued, {total_errors} errors, p99 {_pct(all_latencies, 0.99):.0f} ms,"
        f" still running at the end: {len(pending)}"
    )
    first, last = rss_rows[0], rss_rows[-1]
    print(
        "RSS start → end (MB): "
        + ", ".join(f"{k} {first.get(k, 0):.0f} → {last.get(k, 0):.0f}" for k in last)
    )


def _report(number: int, minute: Minute, rss: dict[str, float], header: bool) -> None:
    if header:
        print(
            "minute  started  issued  errors   p50 ms   p99 ms   RSS MB: "
            + "  ".join(f"{k}" for k in rss)
        )
    lat = minute.latencies_ms
    errors = sum(minute.errors.values())
    print(
        f"{number:6d} {minute.started:8d} {minute.ok:7d} {errors:7d} "
        f"{statistics.median(lat) if lat else float('nan'):8.0f} {_pct(lat, 0.99):8.0f}   "
        + "  ".join(f"{v:.0f}" for v in rss.values())
    )
    if minute.errors:
        print("        errors: " + ", ".join(f"{k} ×{v}" for k, v in minute.errors.items()))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, help="issuances per second (default 80 %% of …)")
    parser.add_argument("--capacity", type=float, help="issuances per second the setup sustains")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--residents", type=int, default=3000)
    parser.add_argument("--cards", type=int, default=500)
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="certsvc-soak-"))
    with EmbeddedStores() as stores:
        now = datetime.now(UTC)
        world = create_world(root / "world", now=now)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("CERTSVC_")},
            **bench_env(stores, world),
        }
        residents = bench_residents(args.residents)
        asyncio.run(load_residents(env, root, residents))
        cards = cards_for(world, residents[: args.cards])
        port = free_port()
        server = _serve(port, args.workers, env)
        try:

            async def run() -> None:
                limits = httpx.Limits(max_connections=256, max_keepalive_connections=64)
                async with httpx.AsyncClient(
                    base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=30
                ) as http:
                    issuer = Issuer(http, world, residents, cards)
                    rate = args.rate
                    if rate is None:
                        capacity = args.capacity
                        if capacity is None:
                            capacity = await _capacity(issuer, 20, 32)
                            print(f"capacity (closed loop, 32 clients, 20 s): {capacity:.1f} /s")
                        rate = 0.8 * capacity
                    await _soak(issuer, rate, args.minutes, server.pid, stores)

            asyncio.run(run())
        finally:
            server.terminate()
            server.wait()
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
