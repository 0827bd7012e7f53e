"""The production topology on one machine: HAProxy in front of 2 app nodes (HTTP) and 2 kiosk
adapter nodes (TCP passthrough: each adapter terminates mutual TLS itself), sharing one
PostgreSQL and a Redis Cluster (3 primaries + 3 replicas), with the signing keys in an HSM
(a SoftHSM2 token over PKCS#11) on every node.

    .venv/bin/python -m bench.bench_topology [--seconds 8] [--concurrency 32] [--sessions 12]

Phases, in one run, each bounded in time and in requests:
  1. app issuances through HAProxy with 1 app node (the other disabled), then with 2 — side by
     side: throughput, p50, p99, CPU per issuance of the nodes, PostgreSQL, Redis, HAProxy;
  2. an app node SIGKILLed halfway through a 2-node run: every 201's certificate id is then
     looked up in the issuance history (an answered request must never be lost), and the other
     node must keep answering;
  3. a Redis primary SIGKILLed during a 2-node run: how long requests answered 503 before its
     replica was promoted, and that they succeed again afterwards;
  4. kiosk sessions through HAProxy's TCP passthrough, a new connection per step, so that
     consecutive steps of one session land on different adapter nodes.

Not in CI (HAProxy from Debian is installed here when missing; SoftHSM2 too). The load
generator, both nodes, HAProxy, PostgreSQL and six Redis processes share this machine's cores:
on 2 cores the figures show what the topology costs and what a failover does, not how it
scales — the capacity model (docs/capacity.md) carries the scale argument. Prints figures;
asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import msgspec
from litestar import Litestar

from bench._deployment import bench_residents, cards_for, load_residents
from certsvc.app import create_app
from certsvc.commands.kiosk_sim import KioskRefused, run_kiosk_session
from certsvc.embedded import EmbeddedStores, _die_with_parent
from certsvc.embedded_cluster import EmbeddedRedisCluster
from certsvc.server import free_port
from certsvc.settings import load_settings
from certsvc.softhsm import SoftHsm
from certsvc.synthetic import card_json, create_world
from kiosk_adapter import create_demo_tls, create_kiosk_app, demo_tls_paths
from signing import Pkcs11KeyStore

_ROOT = Path(__file__).resolve().parents[1]
_JST = timedelta(hours=9)


# --- the nodes' entry points (uvicorn --factory) ----------------------------------------------


def app_node() -> Litestar:
    """An app node: settings from the environment, demo rules (the synthetic J-LIS cards)."""
    return create_app(load_settings(os.environ, mode="demo"))


def kiosk_node() -> Litestar:
    """A kiosk adapter node. Its clock runs from noon JST today, so the service hours (06:30 to
    23:00 JST) never close the benchmark whenever it runs."""
    started = time.monotonic()
    today = (datetime.now(UTC) + _JST).date()
    noon = datetime(today.year, today.month, today.day, 3, 0, tzinfo=UTC)  # 12:00 JST

    def clock() -> datetime:
        return noon + timedelta(seconds=time.monotonic() - started)

    return create_kiosk_app(load_settings(os.environ, mode="demo"), clock=clock)


# --- processes --------------------------------------------------------------------------------


def _haproxy_binary() -> str:
    found = shutil.which("haproxy") or (
        "/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None
    )
    if found is not None:
        return found
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        raise SystemExit("bench_topology needs HAProxy: apt-get install haproxy")
    print("installing HAProxy (Debian's haproxy) …", flush=True)
    subprocess.run(
        ["/bin/sh", "-c", "apt-get update -qq && apt-get install -y -qq haproxy"],
        check=True,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        capture_output=True,
        timeout=600,
    )
    return shutil.which("haproxy") or "/usr/sbin/haproxy"


def _wait_port(port: int, proc: subprocess.Popen[bytes], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited at start")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not start within {timeout:.0f} s")


class Node:
    """One uvicorn process serving `target` on a loopback port (TLS for the kiosk nodes)."""

    def __init__(self, name: str, target: str, env: dict[str, str], tls: list[str]) -> None:
        self.name = name
        self.target = target
        self.env = env
        self.tls = tls
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = Path(tempfile.gettempdir()) / f"certsvc-bench-{name}-{os.getpid()}.log"

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(  # noqa: S603
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    self.target,
                    "--factory",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--log-level",
                    "warning",
                    "--no-access-log",
                    "--loop",
                    "uvloop",
                    "--http",
                    "httptools",
                    *self.tls,
                ],
                env=self.env,
                cwd=_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent(signal.SIGTERM),  # noqa: PLW1509
            )
        _wait_port(self.port, self.proc, self.name)

    def kill(self) -> None:
        """SIGKILL, as a crashed machine: nothing is flushed, no request is finished."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


_HAPROXY_CFG = """
global
    maxconn 4096
    nbthread 1
    stats socket {socket} mode 600 level admin

defaults
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    retries 2
    option redispatch

frontend app_in
    mode http
    bind 127.0.0.1:{app_port}
    default_backend app

backend app
    mode http
    balance roundrobin
    option httpchk GET /health
{app_servers}

frontend kiosk_in
    mode tcp
    bind 127.0.0.1:{kiosk_port}
    default_backend kiosk

backend kiosk
    mode tcp
    balance roundrobin
{kiosk_servers}
"""


class HaProxy:
    def __init__(self, root: Path, apps: list[Node], kiosks: list[Node]) -> None:
        self.socket = root / "haproxy.sock"
        self.app_port = free_port()
        self.kiosk_port = free_port()
        self.config = root / "haproxy.cfg"
        self.config.write_text(
            _HAPROXY_CFG.format(
                socket=self.socket,
                app_port=self.app_port,
                kiosk_port=self.kiosk_port,
                app_servers="\n".join(
                    f"    server {n.name} 127.0.0.1:{n.port} check inter 300 fall 2 rise 2"
                    for n in apps
                ),
                kiosk_servers="\n".join(
                    f"    server {n.name} 127.0.0.1:{n.port} check inter 300 fall 2 rise 2"
                    for n in kiosks
                ),
            )
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(  # noqa: S603
            [_haproxy_binary(), "-db", "-f", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent(signal.SIGTERM),  # noqa: PLW1509
        )
        _wait_port(self.app_port, self.proc, "HAProxy")

    def command(self, line: str) -> str:
        """One command of HAProxy's runtime API."""
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(str(self.socket))
            s.sendall(line.encode() + b"\n")
            chunks = []
            while chunk := s.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode(errors="replace")

    def sessions_per_server(self, backend: str) -> dict[str, int]:
        """Connections each server of `backend` has taken since the start (`stot`)."""
        lines = self.command("show stat").splitlines()
        header = lines[0].lstrip("# ").split(",")
        out = {}
        for line in lines[1:]:
            row = dict(zip(header, line.split(","), strict=False))
            if row.get("pxname") == backend and row.get("svname") not in ("FRONTEND", "BACKEND"):
                out[row["svname"]] = int(row.get("stot") or 0)
        return out

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait()
        self.proc = None


# --- load ---------------------------------------------------------------------------------


class Answer(msgspec.Struct, frozen=True):
    at: float
    """Seconds since the run started, when the request was sent."""
    ms: float
    status: int
    """0: the connection dropped without an answer."""
    certificate_id: str | None
    code: str = ""
    """The problem `code` of a refusal, or what answered when it is not ours (HAProxy)."""


def _request_bytes(port: int, body: bytes) -> bytes:
    return (
        f"POST /v1/app/certificates HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes, bool]:
    """Send one request on a kept-alive connection; (status, body, server closes)."""
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    length, close = 0, False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.lower() == "content-length":
            length = int(value.strip())
        elif name.lower() == "connection" and value.strip().lower() == "close":
            close = True
    return status, await reader.readexactly(length), close


async def drive(
    port: int,
    bodies: list[bytes],
    *,
    concurrency: int,
    seconds: float,
    events: dict[float, Callable[[], None]] | None = None,
) -> tuple[list[Answer], float]:
    """Send `bodies` (each once, in order) on `concurrency` kept-alive connections for at most
    `seconds`; run each of `events` (seconds → action) once its time has come."""
    answers: list[Answer] = []
    next_body = 0
    started = time.perf_counter()

    async def worker() -> None:
        nonlocal next_body
        conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        while next_body < len(bodies) and time.perf_counter() - started < seconds:
            body = bodies[next_body]
            next_body += 1
            sent = time.perf_counter()
            try:
                if conn is None:
                    conn = await asyncio.open_connection("127.0.0.1", port)
                status, payload, close = await asyncio.wait_for(
                    _exchange(*conn, _request_bytes(port, body)), timeout=30
                )
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
                answers.append(Answer(sent - started, 0.0, 0, None))
                if conn is not None:
                    conn[1].close()
                conn = None
                await asyncio.sleep(0.01)
                continue
            certificate_id, code = None, ""
            if status == 201:
                certificate_id = json.loads(payload)["certificates"][0]["certificate_id"]
            else:
                try:
                    code = str(json.loads(payload).get("code", ""))
                except ValueError:
                    code = "not ours (load balancer)"
            answers.append(
                Answer(
                    sent - started,
                    (time.perf_counter() - sent) * 1000,
                    status,
                    certificate_id,
                    code,
                )
            )
            if close:
                conn[1].close()
                conn = None
        if conn is not None:
            conn[1].close()

    async def timeline() -> None:
        for at, action in sorted((events or {}).items()):
            delay = at - (time.perf_counter() - started)
            if delay > 0:
                await asyncio.sleep(delay)
            await asyncio.to_thread(action)

    await asyncio.gather(timeline(), *(worker() for _ in range(concurrency)))
    return answers, time.perf_counter() - started


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# --- CPU of each part -----------------------------------------------------------------------


def _tree_cpu(pid: int | None) -> float:
    import psutil

    if pid is None:
        return 0.0
    total = 0.0
    try:
        root = psutil.Process(pid)
        for proc in [root, *root.children(recursive=True)]:
            with contextlib.suppress(psutil.NoSuchProcess):
                t = proc.cpu_times()
                total += t.user + t.system
    except psutil.NoSuchProcess:
        return 0.0
    return total


class CpuMeter:
    """CPU seconds of this benchmark's own processes only, by part."""

    def __init__(self, parts: dict[str, Callable[[], list[int | None]]]) -> None:
        self._parts = parts

    def read(self) -> dict[str, float]:
        return {name: sum(_tree_cpu(p) for p in pids()) for name, pids in self._parts.items()}


# --- the run ----------------------------------------------------------------------------------


def _prebuild(
    http: httpx.Client,
    world: Any,
    residents: list[Any],
    cards: list[Any],
    count: int,
) -> list[bytes]:
    """`count` complete issuance requests, each with its own challenge (taken through HAProxy,
    so from either node), card signature and attestation token."""
    authority = world.authority()
    bodies = []
    for i in range(count):
        resident, card = residents[i % len(cards)], cards[i % len(cards)]
        challenge = http.post("/v1/app/challenges").json()
        nonce = base64.urlsafe_b64decode(challenge["nonce"] + "=" * (-len(challenge["nonce"]) % 4))
        body = {
            "terms_version": "bench",
            "challenge_id": challenge["challenge_id"],
            "attestation": authority.mint(
                nonce=challenge["nonce"],
                audience=world.audience,
                app_id=world.app_id,
                app_version=world.app_version,
                now=datetime.now(UTC),
            ),
            "card": card_json(card, card.sign_challenge(nonce)),
            "municipality_code": resident.municipality_code,
            "kind": "domestic",
        }
        bodies.append(json.dumps(body).encode())
    return bodies


def _summary(label: str, answers: list[Answer], elapsed: float, cpu: dict[str, float]) -> str:
    ok = [a for a in answers if a.status == 201]
    if any(v < 0 for v in cpu.values()):
        per = "n/a (a process died during the phase)"
    else:
        per = " ".join(f"{k} {v / max(len(ok), 1) * 1000:.2f}" for k, v in cpu.items())
    codes: dict[str, int] = {}
    for a in answers:
        if a.status != 201:
            key = f"{a.status} {a.code}".strip() if a.status else "no answer"
            codes[key] = codes.get(key, 0) + 1
    others = ", ".join(f"{k}: {v}" for k, v in sorted(codes.items())) or "none"
    p50, p99 = _percentile([a.ms for a in ok], 0.5), _percentile([a.ms for a in ok], 0.99)
    return (
        f"  {label:<30} {len(ok) / elapsed:7.0f} /s  p50 {p50:6.1f} ms  p99 {p99:6.1f} ms"
        f"  201s {len(ok)}  others {others}"
        f"\n  {'':<30} CPU ms per issuance: {per}"
    )


async def _history_has(db_url: str, ids: list[str]) -> int:
    conn = await asyncpg.connect(db_url)
    try:
        found: int = await conn.fetchval(
            "SELECT count(*) FROM issuances WHERE certificate_id = ANY($1::text[])", ids
        )
    finally:
        await conn.close()
    return found


async def _kiosk_sessions(
    port: int, tls: Any, pairs: list[tuple[Any, Any]], count: int, concurrency: int
) -> tuple[int, int, float]:
    """`count` whole kiosk sessions through HAProxy, a new TLS connection per step."""
    context = ssl.create_default_context(cafile=str(tls.server_ca))
    context.load_cert_chain(str(tls.center_client_cert), str(tls.center_client_key))
    done = failed = 0
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(i)
    started = time.perf_counter()

    async def worker() -> None:
        nonlocal done, failed
        # no kept-alive connections: each step is a new TCP connection, balanced anew
        async with httpx.AsyncClient(
            base_url=f"https://127.0.0.1:{port}",
            verify=context,
            timeout=60,
            limits=httpx.Limits(max_keepalive_connections=0),
        ) as client:
            while not queue.empty():
                i = queue.get_nowait()
                resident, card = pairs[i % len(pairs)]
                try:
                    result = await run_kiosk_session(
                        client, card=card, municipality_code=resident.municipality_code
                    )
                except (KioskRefused, httpx.HTTPError):
                    failed += 1
                    continue
                if result.state == "COMPLETED":
                    done += 1
                else:
                    failed += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done, failed, time.perf_counter() - started


@contextlib.contextmanager
def _stopping(*things: Any) -> Iterator[None]:
    try:
        yield
    finally:
        for thing in things:
            with contextlib.suppress(Exception):
                thing.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=8.0, help="per load phase")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--per-phase", type=int, default=3000, help="pre-built requests per phase")
    parser.add_argument("--sessions", type=int, default=12, help="kiosk sessions")
    parser.add_argument("--residents", type=int, default=1000)
    args = parser.parse_args()
    _haproxy_binary()

    root = Path(tempfile.mkdtemp(prefix="certsvc-bench-topology-"))
    now = datetime.now(UTC)
    with EmbeddedStores(redis=False) as stores:
        if stores.postgres is None:
            raise RuntimeError("no PostgreSQL")
        cluster = EmbeddedRedisCluster(root / "redis", primaries=3, replicas=1).start()
        hsm = SoftHsm(root / "softhsm")
        pin_file = hsm.init_token("certsvc")
        os.environ.update(hsm.env())
        Pkcs11KeyStore(
            module=hsm.module,
            token_label="certsvc",  # noqa: S106 — a label, not a secret
            pin=pin_file.read_text().strip(),
        ).create(now=now)
        world = create_world(root / "world", now=now)
        tls = demo_tls_paths(root / "kiosk-tls")
        create_demo_tls(tls.directory)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("CERTSVC_")},
            **{k: v for k, v in world.env().items() if k != "CERTSVC_KEY_DIR"},
            **hsm.env(),
            "CERTSVC_DATABASE_URL": stores.postgres.url,
            "CERTSVC_REDIS_URL": cluster.url,
            "CERTSVC_REDIS_CLUSTER": "true",
            "CERTSVC_KEY_STORE": "pkcs11",
            "CERTSVC_PKCS11_MODULE": str(hsm.module),
            "CERTSVC_PKCS11_TOKEN_LABEL": "certsvc",
            "CERTSVC_PKCS11_PIN_FILE": str(pin_file),
            "CERTSVC_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
            "CERTSVC_LOOKUP_KEY": base64.b64encode(os.urandom(32)).decode(),
            # every kiosk node opens the others' session tokens
            "CERTSVC_KIOSK_SESSION_KEY": base64.b64encode(os.urandom(32)).decode(),
            "CERTSVC_KIOSK_TLS_CERT": str(tls.server_cert),
            "CERTSVC_KIOSK_TLS_KEY": str(tls.server_key),
            "CERTSVC_KIOSK_CLIENT_CA": str(tls.center_ca),
            "CERTSVC_SHC_ISSUER": "https://demo.certsvc.invalid/issuer",
            "CERTSVC_TERMS_VERSION": "bench",
            "CERTSVC_RATE_PERSON_PER_HOUR": "1000000",
            "CERTSVC_RATE_CLIENT_PER_MINUTE": "100000000",
            "CERTSVC_LOG_LEVEL": "WARNING",
            "CERTSVC_DB_POOL_MIN": "4",
            "CERTSVC_DB_POOL_MAX": "16",
        }
        residents = bench_residents(args.residents)
        asyncio.run(load_residents(env, root, residents))
        cards = cards_for(world, residents[:300])
        tls_args = [
            "--ssl-certfile", str(tls.server_cert), "--ssl-keyfile", str(tls.server_key),
            "--ssl-ca-certs", str(tls.center_ca), "--ssl-cert-reqs", "2",
        ]  # fmt: skip
        apps = [Node(f"app{i}", "bench.bench_topology:app_node", env, []) for i in (1, 2)]
        kiosks = [
            Node(f"kiosk{i}", "bench.bench_topology:kiosk_node", env, tls_args) for i in (1, 2)
        ]
        for node in (*apps, *kiosks):
            node.start()
        lb = HaProxy(root, apps, kiosks)
        lb.start()
        time.sleep(1.0)  # the first health checks
        with _stopping(lb, *apps, *kiosks, cluster):
            meter = CpuMeter(
                {
                    "nodes": lambda: [n.proc.pid if n.proc else None for n in apps],
                    "postgres": lambda: [stores.postgres.pid if stores.postgres else None],
                    "redis": lambda: [n.proc.pid if n.proc else None for n in cluster.nodes],
                    "haproxy": lambda: [lb.proc.pid if lb.proc else None],
                }
            )
            t0 = time.perf_counter()
            with httpx.Client(base_url=f"http://127.0.0.1:{lb.app_port}", timeout=30) as http:
                bodies = _prebuild(http, world, residents, cards, 4 * args.per_phase)
            print(f"pre-built {len(bodies)} requests in {time.perf_counter() - t0:.0f} s")
            phases = [bodies[i * args.per_phase : (i + 1) * args.per_phase] for i in range(4)]
            report: list[str] = []

            def run(label: str, batch: list[bytes], events: Any = None) -> list[Answer]:
                before = meter.read()
                answers, elapsed = asyncio.run(
                    drive(
                        lb.app_port,
                        batch,
                        concurrency=args.concurrency,
                        seconds=args.seconds,
                        events=events,
                    )
                )
                after = meter.read()
                report.append(
                    _summary(label, answers, elapsed, {k: after[k] - before[k] for k in after})
                )
                return answers

            # (1) one app node, then two
            lb.command("disable server app/app2")
            time.sleep(0.5)
            run("1 app node", phases[0])
            lb.command("enable server app/app2")
            time.sleep(1.0)
            run("2 app nodes", phases[1])

            # (2) an app node killed halfway
            victim = apps[0]
            killed = run("2 nodes, 1 killed", phases[2], {args.seconds / 2: victim.kill})
            ids = [a.certificate_id for a in killed if a.certificate_id]
            found = asyncio.run(_history_has(stores.postgres.url, ids))
            after_kill = [a for a in killed if a.at > args.seconds / 2 + 1 and a.status == 201]
            dropped = sum(1 for a in killed if a.status in (0, 502, 503, 504))
            victim.start()
            time.sleep(1.0)

            # (3) a Redis primary killed
            primary = cluster.primary_nodes()[0]
            kill_at = args.seconds / 3
            outage = run("2 nodes, Redis primary killed", phases[3], {kill_at: primary.kill})
            early = sum(1 for a in outage if a.status != 201 and a.at + a.ms / 1000 < kill_at)
            # by when each answer came back (sent + latency): requests in flight at the kill
            # count as well
            failed = [a for a in outage if a.status != 201 and a.at + a.ms / 1000 >= kill_at]
            last_failure = max((a.at + a.ms / 1000 for a in failed), default=kill_at)
            window = last_failure - kill_at
            slow = sum(1 for a in outage if a.status == 201 and a.ms > 1000)
            recovered = [a for a in outage if a.status == 201 and a.at > last_failure]
            promoted = len(cluster.primary_nodes()) == cluster.primaries
            primary.start()  # it comes back as a replica of the promoted one

            # (4) kiosk sessions, steps spread over both adapter nodes
            before_k = lb.sessions_per_server("kiosk")
            done, failed_k, elapsed_k = asyncio.run(
                _kiosk_sessions(lb.kiosk_port, tls, list(zip(residents, cards, strict=False)),
                                args.sessions, 2)
            )  # fmt: skip
            after_k = lb.sessions_per_server("kiosk")

    shutil.rmtree(root, ignore_errors=True)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(
        f"bench_topology: HAProxy → 2 app nodes (HTTP) + 2 kiosk nodes (TCP passthrough, mTLS at "
        f"the adapter); PostgreSQL; Redis Cluster 3+3; SoftHSM2 token on every node; "
        f"{args.concurrency} connections, {args.seconds:.0f} s per phase, on {cores} cores"
    )
    print(
        "  NOTE: the load generator, the nodes and every store share these cores: on 2 cores the "
        "figures show\n  the topology's overhead and what a failover costs, not scale (see "
        "docs/capacity.md for that)."
    )
    print("\n".join(report))
    print(
        f"  app node killed: {len(ids)} answered 201 — {found} of them in the issuance history"
        f" ({'none lost' if found == len(ids) else f'{len(ids) - found} LOST'}); "
        f"{dropped} requests got no 201 (in flight on the killed node or refused); "
        f"{len(after_kill)} 201s from the other node after the kill"
    )
    print(
        f"  Redis primary killed: replica promoted: {'yes' if promoted else 'NO'}; requests "
        f"answered non-201 for {window:.1f} s after the kill ({len(failed)} of them, statuses "
        f"{sorted({a.status for a in failed})}); {len(recovered)} 201s after the last failure; "
        f"{slow} 201s took over 1 s (waiting out the failover inside the client library); "
        f"{early} non-201 answers came before the kill"
    )
    print(
        "    (a 409 there is a challenge consumed just before the crash: the script ran, its "
        "reply was lost,\n    the client library retried on the promoted replica, which had "
        "the challenge's used marker)"
    )
    spread = {k: after_k.get(k, 0) - before_k.get(k, 0) for k in after_k}
    print(
        f"  kiosk: {done} sessions completed, {failed_k} failed, "
        f"{done / elapsed_k:.2f} sessions/s (PDF included); connections per adapter node {spread}"
    )


if __name__ == "__main__":
    main()
