"""Kiosk sessions per second end to end, as a center drives them in production: start → card
verified → preview → confirm (issuance recorded, PDF rendered) → print reported, over mutual TLS
on kept-alive connections to the adapter's uvicorn worker(s).

    .venv/bin/python -m bench.bench_kiosk [--sessions 300] [--concurrency 1,8] [--workers 1]
                                          [--profile FILE]

Starts embedded PostgreSQL and Redis, a synthetic world, residents with cards (some of them
with a certificate for use abroad issued through the app first, so that the kiosk can print
abroad for them), and the adapter the way `certsvc serve-kiosk` runs it: uvicorn with the
service's guarded HTTP protocol, uvloop, the municipality cache and logging at INFO (mode
`demo` only so that the synthetic J-LIS cards are accepted). The clock of the adapter starts at
12:00 JST so that the service hours never close the bench.

The load generator is this process: one kept-alive TLS connection per concurrent session, a
small HTTP/1.1 client over asyncio streams (no httpx: its per-request cost would be the
generator's, not the adapter's), the card files of each resident base64-encoded once; per
session it signs the nonce with the card key (RSA-2048, as a real card does) and checks every
answer's status, that the PDF is a PDF and that the session ends COMPLETED.

Printed, per concurrency, domestic and abroad side by side (1 copy each): sessions per second,
p50/p95 latency, and CPU milliseconds per session of each process — the adapter worker(s), this
run's PostgreSQL and Redis, and the load generator. Before that, the PDF alone: CPU ms per page,
domestic and abroad in alternating rounds. `--profile FILE` records the adapter worker(s) with
py-spy (collapsed stacks, `pip install py-spy`) during the domestic run at the last
concurrency. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import uvloop
from litestar import Litestar
from litestar.testing import AsyncTestClient

import signing
from bench._deployment import bench_env, bench_residents, cards_for, load_residents, tree_cpu
from certsvc.app import create_app
from certsvc.channel import configure_logging, edge_options, free_port
from certsvc.embedded import EmbeddedStores, _die_with_parent
from certsvc.printout import render_certificate_pdf
from certsvc.settings import load_settings
from certsvc.synthetic import World, card_json, create_world, passport_for
from kiosk_adapter import DemoTls, create_demo_tls, create_kiosk_app, demo_tls_paths
from signing.synthetic import SyntheticCard
from vrs_client.synthetic import SyntheticResident

_ROOT = Path(__file__).resolve().parents[1]
_JST = timedelta(hours=9)


def _noon_jst_today() -> datetime:
    today = (datetime.now(UTC) + _JST).date()
    return datetime(today.year, today.month, today.day, 3, 0, tzinfo=UTC)  # 12:00 JST


def kiosk_node() -> Litestar:
    """`uvicorn --factory` entry of the adapter worker(s): settings from the environment and
    logging as `certsvc serve-kiosk` sets them up; the clock runs from 12:00 JST today."""
    started = time.monotonic()
    noon = _noon_jst_today()

    def clock() -> datetime:
        return noon + timedelta(seconds=time.monotonic() - started)

    settings = load_settings(os.environ, mode="demo")
    configure_logging(settings.log_level)
    return create_kiosk_app(settings, clock=clock)


# --- the adapter's process ---------------------------------------------------------------------


def _serve(env: dict[str, str], tls: DemoTls, port: int, workers: int, log: Path) -> Any:
    options = edge_options(1000)
    with log.open("ab") as out:
        proc = subprocess.Popen(  # noqa: S603
            [
                sys.executable,
                "-m",
                "uvicorn",
                "bench.bench_kiosk:kiosk_node",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(workers),
                "--loop",
                "uvloop",
                "--http",
                options["http"],
                "--limit-concurrency",
                str(options["limit_concurrency"]),
                "--no-access-log",
                "--no-server-header",
                "--log-level",
                "warning",
                "--ssl-certfile",
                str(tls.server_cert),
                "--ssl-keyfile",
                str(tls.server_key),
                "--ssl-ca-certs",
                str(tls.center_ca),
                "--ssl-cert-reqs",
                str(int(ssl.CERT_REQUIRED)),
            ],
            env=env,
            cwd=_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent(signal.SIGTERM),  # noqa: PLW1509
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the adapter exited at start (see {log})")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the adapter did not start")


# --- the load generator ------------------------------------------------------------------------


class Connection:
    """One kept-alive HTTP/1.1 connection over TLS: a request, then its whole answer."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int, context: ssl.SSLContext) -> Connection:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=context, server_hostname="127.0.0.1"
        )
        return cls(reader, writer)

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        self.writer.write(
            b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (path.encode(), len(body), body)
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = None
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            match name.strip().lower():
                case b"content-length":
                    length = int(value)
                case b"connection" if value.strip().lower() == b"close":
                    raise RuntimeError(f"the adapter closed the connection ({status})")
        if length is None:
            raise RuntimeError("an answer without Content-Length")
        return status, await self.reader.readexactly(length)

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ssl.SSLError, ConnectionError):
            await self.writer.wait_closed()


class Resident(msgspec.Struct, frozen=True, kw_only=True):
    municipality_code: str
    card: SyntheticCard
    files: dict[str, str]
    """The card files, standard base64, encoded once (the signature is added per session)."""


def _expect(step: str, status: int, body: bytes, wanted: int) -> dict[str, Any]:
    if status != wanted:
        raise RuntimeError(f"{step}: {status} {body[:200]!r}")
    decoded: dict[str, Any] = msgspec.json.decode(body)
    return decoded


async def _session(conn: Connection, resident: Resident, kind: str) -> None:
    encode = msgspec.json.encode
    status, body = await conn.post("/kiosk/v1/sessions", b"{}")
    started = _expect("start", status, body, 201)
    session_id, nonce = started["session_id"], started["nonce"]
    signature = resident.card.sign_challenge(
        base64.urlsafe_b64decode(nonce + "=" * (-len(nonce) % 4))
    )
    base = f"/kiosk/v1/sessions/{session_id}"
    status, body = await conn.post(
        f"{base}/preview",
        encode(
            {
                "token": started["token"],
                "card": {
                    **resident.files,
                    "challenge_signature": base64.b64encode(signature).decode(),
                },
                "municipality_code": resident.municipality_code,
                "kind": kind,
                "copies": 1,
            }
        ),
    )
    preview = _expect("preview", status, body, 200)
    if kind == "abroad" and not preview["kinds"]["abroad"]["available"]:
        raise RuntimeError("abroad is not available for a resident seeded for it")
    status, body = await conn.post(
        f"{base}/confirm",
        encode(
            {
                "token": preview["token"],
                "kind": kind,
                "copies": 1,
                "fee_paid_yen": preview["fee_per_copy_yen"],
                "idempotency_key": base64.urlsafe_b64encode(os.urandom(18)).decode(),
            }
        ),
    )
    confirmed = _expect("confirm", status, body, 201)
    if not base64.b64decode(confirmed["documents"][0]["pdf"]).startswith(b"%PDF-"):
        raise RuntimeError("confirm: the document is not a PDF")
    status, body = await conn.post(
        f"{base}/print-result", encode({"token": preview["token"], "outcome": "ok"})
    )
    if _expect("print-result", status, body, 200)["state"] != "COMPLETED":
        raise RuntimeError("print-result: the session did not complete")


class Meter:
    """CPU seconds of this run's processes: the adapter (its worker tree), PostgreSQL, Redis and
    the load generator (this process)."""

    def __init__(self, adapter: int, postgres: int | None, redis: int | None) -> None:
        self.pids = {"adapter": adapter, "PostgreSQL": postgres, "Redis": redis}

    def read(self) -> dict[str, float]:
        cpu = {name: tree_cpu(pid) for name, pid in self.pids.items()}
        cpu["load generator"] = time.process_time()
        return cpu


async def _run(
    port: int,
    context: ssl.SSLContext,
    residents: list[Resident],
    *,
    kind: str,
    sessions: int,
    concurrency: int,
    meter: Meter,
    on_start: Callable[[], None] = lambda: None,
) -> tuple[float, list[float], dict[str, float]]:
    connections = [await Connection.open(port, context) for _ in range(concurrency)]
    try:
        await _session(connections[0], residents[0], kind)  # warm-up of this kind
        latencies: list[float] = []
        next_index = iter(range(sessions))

        async def worker(conn: Connection) -> None:
            for i in next_index:
                t = time.perf_counter()
                await _session(conn, residents[i % len(residents)], kind)
                latencies.append(time.perf_counter() - t)

        on_start()
        before = meter.read()
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(c) for c in connections))
        elapsed = time.perf_counter() - t0
        after = meter.read()
    finally:
        for conn in connections:
            await conn.close()
    cpu = {name: (after[name] - before[name]) / sessions * 1000 for name in after}
    return elapsed, sorted(latencies), cpu


def _line(kind: str, sessions: int, elapsed: float, latencies: list[float]) -> str:
    p50 = latencies[len(latencies) // 2] * 1000
    p95 = latencies[max(0, int(len(latencies) * 0.95) - 1)] * 1000
    return (
        f"  {kind:<8}: {sessions / elapsed:6.1f} sessions/s "
        f"(p50 {p50:5.0f} ms, p95 {p95:5.0f} ms; {sessions} sessions, 1 copy)"
    )


def _cpu_line(cpu: dict[str, float]) -> str:
    parts = ", ".join(f"{name} {ms:.1f}" for name, ms in cpu.items())
    # What one core of adapter worker sustains at this CPU cost: the figure that does not
    # depend on what else shares the machine.
    per_core = 1000 / cpu["adapter"] if cpu["adapter"] > 0 else float("inf")
    return f"            CPU ms per session: {parts}; one adapter core: {per_core:.0f} sessions/s"


def _spy(pid: int, out: Path, seconds: float) -> subprocess.Popen[bytes]:
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy")
    return subprocess.Popen(  # noqa: S603
        [spy, "record", "--pid", str(pid), "--subprocesses", "--duration", f"{seconds:.0f}",
         "--format", "raw", "--output", str(out), "--nonblocking"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip


# --- set-up ------------------------------------------------------------------------------------


async def _seed_abroad(
    env: dict[str, str], world: World, pairs: list[tuple[SyntheticResident, SyntheticCard]]
) -> None:
    """A certificate for use abroad for each of `pairs`, through the app (the kiosk prints
    abroad with the passport items of the latest one)."""
    app = create_app(load_settings(env, mode="demo"))
    authority = world.authority()
    today = datetime.now(UTC).date()
    async with AsyncTestClient(app=app, timeout=60) as client:
        for resident, card in pairs:
            challenge = (await client.post("/v1/app/challenges")).json()
            nonce = challenge["nonce"]
            raw = base64.urlsafe_b64decode(nonce + "=" * (-len(nonce) % 4))
            response = await client.post(
                "/v1/app/certificates",
                json={
                    "terms_version": "bench",
                    "challenge_id": challenge["challenge_id"],
                    "attestation": authority.mint(
                        nonce=nonce,
                        audience=world.audience,
                        app_id=world.app_id,
                        app_version=world.app_version,
                        now=datetime.now(UTC),
                    ),
                    "card": card_json(card, card.sign_challenge(raw)),
                    "municipality_code": resident.municipality_code,
                    "kind": "abroad",
                    "passport": {"mrz": list(passport_for(resident, today=today))},
                },
            )
            if response.status_code != 201:
                raise RuntimeError(f"seeding abroad: {response.status_code} {response.text}")


def _pdf_cpu(world_key_dir: Path, now: datetime) -> None:
    """CPU milliseconds per page of a domestic and an abroad print-out (3 doses), measured in
    alternating rounds in this one process so that both see the same machine load."""
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


def _client_context(tls: DemoTls) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(tls.server_ca))
    context.load_cert_chain(str(tls.center_client_cert), str(tls.center_client_key))
    return context


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=300, help="per kind and concurrency")
    parser.add_argument("--concurrency", default="1,8")
    parser.add_argument("--workers", type=int, default=1, help="adapter worker processes")
    parser.add_argument("--residents", type=int, default=400)
    parser.add_argument("--abroad-residents", type=int, default=40)
    parser.add_argument("--profile", type=Path, help="py-spy collapsed stacks of the adapter")
    args = parser.parse_args()
    concurrencies = [int(c) for c in args.concurrency.split(",")]

    root = Path(tempfile.mkdtemp(prefix="certsvc-bench-kiosk-"))
    with EmbeddedStores() as stores:
        if stores.postgres is None or stores.redis is None:
            raise RuntimeError("embedded stores did not start")
        world = create_world(root / "world", now=datetime.now(UTC) - timedelta(days=1))
        tls = demo_tls_paths(root / "tls")
        create_demo_tls(tls.directory)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("CERTSVC_")},
            **bench_env(
                stores,
                world,
                CERTSVC_KIOSK_SESSION_KEY=base64.b64encode(os.urandom(32)).decode(),
                CERTSVC_LOG_LEVEL="INFO",
            ),
        }
        residents = bench_residents(args.residents)
        asyncio.run(load_residents(env, root, residents))
        chosen = residents[:200]
        pairs = list(zip(chosen, cards_for(world, chosen), strict=True))
        abroad_pairs = pairs[: args.abroad_residents]
        asyncio.run(_seed_abroad(env, world, abroad_pairs))
        by_kind = {
            kind: [
                Resident(
                    municipality_code=r.municipality_code,
                    card=card,
                    files={
                        k: v for k, v in card_json(card, b"").items() if k != "challenge_signature"
                    },
                )
                for r, card in group
            ]
            for kind, group in (("domestic", pairs), ("abroad", abroad_pairs))
        }
        print(
            f"{os.cpu_count()} CPUs; the adapter in {args.workers} uvicorn worker(s) over mTLS, "
            "kept-alive connections, one per concurrent session; the load generator in this process"
        )
        _pdf_cpu(world.key_dir, _noon_jst_today())

        port = free_port()
        server = _serve(env, tls, port, args.workers, root / "adapter.log")
        spy: subprocess.Popen[bytes] | None = None
        try:
            meter = Meter(server.pid, stores.postgres.pid, stores.redis.pid)
            context = _client_context(tls)
            for n, concurrency in enumerate(concurrencies):
                print(f"concurrency {concurrency}:")
                for kind in ("domestic", "abroad"):
                    profile = (
                        args.profile is not None
                        and kind == "domestic"
                        and n == len(concurrencies) - 1
                    )

                    def start_spy(profile: bool = profile) -> None:
                        nonlocal spy
                        if profile and args.profile is not None:
                            # long enough for the run; py-spy stops when --duration ends
                            spy = _spy(server.pid, args.profile, args.sessions / 20)

                    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                        elapsed, latencies, cpu = runner.run(
                            _run(
                                port,
                                context,
                                by_kind[kind],
                                kind=kind,
                                sessions=args.sessions,
                                concurrency=concurrency,
                                meter=meter,
                                on_start=start_spy,
                            )
                        )
                    print(_line(kind, args.sessions, elapsed, latencies))
                    print(_cpu_line(cpu))
        finally:
            if spy is not None:
                spy.wait()
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
