"""End-to-end issuances per second through HTTP, beside the same server's POST echo of a 2 KB
body, measured in one run (issue 7's benchmark).

    .venv/bin/python -m bench.bench_app [--workers 2] [--connections 64] [--seconds 10]

Starts embedded PostgreSQL and Redis, a synthetic world (keys, J-LIS, attestation authority),
loads residents with cards, starts uvicorn with N workers, pre-builds one complete request per
issuance (each its own challenge, card signature and attestation token: the client's RSA work is
done before the clock starts), then drives the server with wrk (Debian package `wrk`) and prints
throughput and latency. Load generator and server share this machine's cores. Prints figures;
asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import msgspec
from litestar import Litestar, post

from bench._deployment import bench_env, bench_residents, cards_for, load_residents, tree_cpu
from bench._primitives import describe, issuance_primitives
from certsvc.app import create_app
from certsvc.embedded import EmbeddedStores
from certsvc.logs import configure_logging
from certsvc.metrics import MULTIPROC_ENV
from certsvc.server import edge_options, free_port
from certsvc.settings import load_settings
from certsvc.synthetic import card_json, create_world

_WRK_SCRIPT = """
local bodies = {}
local n = 0
local threads = {}
local counter = 0
local nthreads = 1
-- `id` is the per-thread global that setup() sets with thread:set; never shadow it here.
function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end
function init(args)
  nthreads = tonumber(args[2])
  for line in io.lines(args[1]) do n = n + 1; bodies[n] = line end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end
function request()
  local i = (counter * nthreads + id) % n + 1
  counter = counter + 1
  return wrk.format(nil, nil, nil, bodies[i])
end
"""


class Echo(msgspec.Struct):
    data: str


@post("/echo", status_code=200)
async def echo(data: Echo) -> Echo:
    return data


def echo_app() -> Litestar:
    """The baseline: the same server, a POST that decodes 2 KB into a Struct and sends it back."""
    return Litestar(route_handlers=[echo], logging_config=None)


def bench_app() -> Litestar:
    """`uvicorn --factory` entry of the benchmark's workers (settings from the environment),
    set up as production runs: the request path of `certsvc serve` — the municipality cache with
    its production lifetime (test mode turns it off, so every issuance re-read the table under a
    lock) and the JSON access log at INFO on standard error (written to a file here). Mode
    `demo` rather than `production` only so that the synthetic J-LIS hierarchy of the
    benchmark's cards is accepted; nothing else on the request path depends on the mode."""
    settings = load_settings(os.environ, mode="demo")
    configure_logging(settings.log_level)
    return create_app(settings)


def _cpu_seconds(server_pid: int, stores: EmbeddedStores) -> dict[str, float]:
    """CPU seconds used so far by this benchmark's own processes: the API server (its workers),
    its PostgreSQL (postmaster and backends) and Redis, and this process's finished children
    (wrk) — not other PostgreSQL or Redis servers that share the machine."""
    import resource

    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "api": tree_cpu(server_pid),
        "postgres": tree_cpu(stores.postgres.pid if stores.postgres else None),
        "redis": tree_cpu(stores.redis.pid if stores.redis else None),
        "wrk": children.ru_utime + children.ru_stime,
    }


def _wrk(
    url: str,
    body_file: Path,
    connections: int,
    seconds: int,
    server_pid: int,
    *,
    stores: EmbeddedStores,
) -> dict[str, float]:
    script = body_file.with_suffix(".lua")
    script.write_text(_WRK_SCRIPT)
    threads = 2
    wrk = shutil.which("wrk") or "wrk"
    cpu_before = _cpu_seconds(server_pid, stores)
    out = subprocess.run(  # noqa: S603
        [
            wrk,
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(script),
            url,
            "--",
            str(body_file),
            str(threads),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout

    def latency(label: str) -> float:
        m = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)", out, re.M)
        if m is None:
            return float("nan")
        scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[m[2]]
        return float(m[1]) * scale

    cpu_after = _cpu_seconds(server_pid, stores)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    total = re.search(r"(\d+) requests in", out)
    return {
        "rps": float(rps[1]) if rps else float("nan"),
        "p50_ms": latency("50"),
        "p99_ms": latency("99"),
        "requests": float(total[1]) if total else 0.0,
        "errors": float(non2xx[1]) if non2xx else 0.0,
        **{f"cpu_{k}": cpu_after[k] - cpu_before[k] for k in cpu_before},
    }


def _serve(
    target: str, port: int, workers: int, env: dict[str, str], log: Path
) -> subprocess.Popen[bytes]:
    """`target` in `workers` uvicorn workers with the options of `certsvc serve` (run_workers):
    our HTTP protocol with its head limits and concurrency limit (certsvc.http_protocol), no
    Server header, and with several workers the metrics in prometheus_client's multiprocess
    files, as `serve` sets them up. The echo server gets the same options."""
    settings = load_settings(env, mode="demo")
    edges = edge_options(settings.http_concurrency_limit)
    server_env = dict(env)
    if workers > 1:
        metrics_dir = log.with_name(log.stem + "-metrics")
        metrics_dir.mkdir(exist_ok=True)
        server_env[MULTIPROC_ENV] = str(metrics_dir)
    proc = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "uvicorn",
            target,
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
            "--no-server-header",
            "--loop",
            "uvloop",
            "--http",
            edges["http"],
            "--limit-concurrency",
            str(edges["limit_concurrency"]),
        ],
        env=server_env,
        cwd=Path(__file__).resolve().parents[1],
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=0.5)
            return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the server did not start")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--requests", type=int, default=12000, help="pre-built issuances")
    parser.add_argument("--residents", type=int, default=3000)
    parser.add_argument(
        "--profile",
        type=Path,
        help="record the issuance run with py-spy (pip install py-spy) into this file "
        "(collapsed stacks; use --workers 1)",
    )
    parser.add_argument(
        "--profile-rate", type=int, default=250, help="py-spy samples per second (--profile)"
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("bench_app needs wrk (apt-get install wrk)")

    root = Path(tempfile.mkdtemp(prefix="certsvc-bench-"))
    with EmbeddedStores() as stores:
        assert stores.postgres is not None
        assert stores.redis is not None
        now = datetime.now(UTC)
        world = create_world(root / "world", now=now)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("CERTSVC_")},
            **bench_env(stores, world, CERTSVC_LOG_LEVEL="INFO"),
        }
        residents = bench_residents(args.residents)
        asyncio.run(load_residents(env, root, residents))
        authority = world.authority()
        cards = cards_for(world, residents[:1000])
        port = free_port()
        access_log = root / "server.log"
        server = _serve("bench.bench_app:bench_app", port, args.workers, env, access_log)
        try:
            spy: subprocess.Popen[bytes] | None = None
            body_file = root / "bodies.jsonl"
            t0 = time.perf_counter()
            with (
                httpx.Client(base_url=f"http://127.0.0.1:{port}") as http,
                body_file.open("w") as f,
            ):
                for i in range(args.requests):
                    r, card = residents[i % len(cards)], cards[i % len(cards)]
                    ch = http.post("/v1/app/challenges").json()
                    nonce = base64.urlsafe_b64decode(ch["nonce"] + "=" * (-len(ch["nonce"]) % 4))
                    body = {
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
                        "municipality_code": r.municipality_code,
                        "kind": "domestic",
                    }
                    f.write(json.dumps(body) + "\n")
            print(f"pre-built {args.requests} requests in {time.perf_counter() - t0:.1f} s")
            if args.profile is not None:
                spy = subprocess.Popen(  # noqa: S603
                    [
                        shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy")),
                        "record",
                        "--pid",
                        str(server.pid),
                        "--subprocesses",
                        "--duration",
                        str(args.seconds),
                        "--rate",
                        str(args.profile_rate),
                        "--format",
                        "raw",
                        "--output",
                        str(args.profile),
                        "--nonblocking",
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            issue = _wrk(
                f"http://127.0.0.1:{port}/v1/app/certificates",
                body_file,
                args.connections,
                args.seconds,
                server.pid,
                stores=stores,
            )
        finally:
            if spy is not None:
                spy.wait()
            server.terminate()
            server.wait()
        echo_file = root / "echo.jsonl"
        echo_file.write_text(json.dumps({"data": "x" * 2000}) + "\n")
        port = free_port()
        server = _serve("bench.bench_app:echo_app", port, args.workers, env, root / "echo.log")
        try:
            baseline = _wrk(
                f"http://127.0.0.1:{port}/echo",
                echo_file,
                args.connections,
                args.seconds,
                server.pid,
                stores=stores,
            )
        finally:
            server.terminate()
            server.wait()
        logged = sum(
            1
            for line in access_log.open(encoding="utf-8", errors="replace")
            if "certsvc.access" in line
        )
        # The primitives under an issuance, on this process's core once the servers are gone.
        primitives = issuance_primitives(world, cards[0])
    shutil.rmtree(root, ignore_errors=True)

    print(
        f"uvicorn (uvloop, certsvc's guarded httptools protocol, concurrency limit, "
        f"{'multiprocess metrics' if args.workers > 1 else 'in-memory metrics'}), "
        f"{args.workers} workers, wrk {args.connections} connections, {args.seconds} s each, "
        "load generator on the same 2 cores"
    )
    print(
        f"  issuances (domestic)  {issue['rps']:8.0f} /s   p50 {issue['p50_ms']:6.1f} ms   "
        f"p99 {issue['p99_ms']:6.1f} ms   non-2xx {issue['errors']:.0f} of {issue['requests']:.0f}"
    )
    print(
        f"  POST echo 2 KB        {baseline['rps']:8.0f} /s   p50 {baseline['p50_ms']:6.1f} ms   "
        f"p99 {baseline['p99_ms']:6.1f} ms"
    )
    print(f"  ratio issuance / echo {issue['rps'] / baseline['rps']:.3f}")
    done = max(issue["requests"] - issue["errors"], 1.0)
    parts = {k: issue[f"cpu_{k}"] / done * 1000 for k in ("api", "postgres", "redis", "wrk")}
    print(
        "  CPU per issuance      "
        + "   ".join(f"{k} {v:.2f} ms" for k, v in parts.items())
        + f"   total {sum(parts.values()):.2f} ms of the machine's 2 cores"
    )
    service = parts["api"] + parts["postgres"] + parts["redis"]
    print(f"  the service's own (api + postgres + redis, not wrk): {service:.2f} ms per issuance")
    print(f"  beside its primitives (in process, one core, ms): {describe(primitives)}")
    print(
        f"  as production: municipality cache on, access log at INFO ({logged} lines written); "
        "CPU of this run's own API, PostgreSQL and Redis processes only"
    )
    if issue["requests"] > args.requests:
        print(
            "  note: wrk sent more requests than were pre-built; the extra ones replayed "
            "challenges and count as non-2xx"
        )


if __name__ == "__main__":
    main()
