"""What the strict HTTP edges cost (certsvc.strict_body, certsvc.http_protocol).

    .venv/bin/python -m bench.bench_edges [--seconds 5] [--connections 64]

1. The duplicate-member check on a real certificate request body (≈ 6 KB): the fast path (one
   untyped msgspec decode and a count of `:`), the slow path (a second parse with
   `object_pairs_hook`, taken only when a string holds a `:`), `json.loads` with the hook alone
   (what checking every body that way would cost), beside the strict typed decode every request
   pays anyway. µs per body, one core.
2. The same tiny Litestar app (a GET, and a POST of 2 KB through the strict body rules) served by
   uvicorn's stock httptools protocol and by the service's guarded protocol, driven by wrk
   (`apt-get install wrk`) on loopback: requests per second and p99 side by side.

Prints figures; asserts nothing. The load generator shares the machine's cores.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
import timeit
from pathlib import Path

import httpx
import msgspec
from litestar import Litestar, get, post
from litestar.middleware import DefineMiddleware
from litestar.params import RawBody

from certsvc.api.app_channel import CertificateRequest
from certsvc.http_protocol import PROTOCOL_PATH
from certsvc.server import free_port
from certsvc.strict_body import StrictJsonBody, check_json


def _certificate_body(*, colon: bool) -> bytes:
    b64 = "QUJD" * 400
    body = {
        "terms_version": "2026-04-01" + (":x" if colon else ""),
        "challenge_id": "x" * 43,
        "attestation": "eyJ" + "a" * 600 + "." + "b" * 400 + "." + "c" * 86,
        "card": {
            "ef0001": b64[:24],
            "ef0002": b64,
            "ef0003": b64[:200],
            "ef0004": b64[:1400],
            "ef0007": b64[:2000],
            "challenge_signature": b64[:344],
        },
        "municipality_code": "282022",
        "kind": "domestic",
    }
    return json.dumps(body).encode()


def _micro() -> None:
    fast, slow = _certificate_body(colon=False), _certificate_body(colon=True)
    typed = msgspec.json.Decoder(CertificateRequest)

    def hook(pairs: list[tuple[str, object]]) -> dict[str, object]:
        if len({k for k, _ in pairs}) != len(pairs):
            raise ValueError("duplicate")
        return dict(pairs)

    cases = {
        "strict typed decode (paid anyway)": lambda: typed.decode(fast),
        "check_json, fast path": lambda: check_json(fast),
        "check_json, slow path (a ':' in a string)": lambda: check_json(slow),
        "json.loads + object_pairs_hook alone": lambda: json.loads(fast, object_pairs_hook=hook),
    }
    print(f"duplicate-member check on a {len(fast)}-byte certificate request, one core")
    for label, fn in cases.items():
        runs = 2000
        best = min(timeit.repeat(fn, number=runs, repeat=5)) / runs * 1e6
        print(f"  {label:44s} {best:8.1f} µs")


@get("/small", sync_to_thread=False)
def small() -> dict[str, str]:
    return {"status": "ok"}


@post("/echo", status_code=200)
async def echo(body: RawBody) -> bytes:
    return body


def edges_app() -> Litestar:
    """`uvicorn --factory` entry: a GET and a POST behind the strict body rules."""
    return Litestar(
        route_handlers=[small, echo],
        middleware=[DefineMiddleware(StrictJsonBody, max_body_bytes=65536)],
        logging_config=None,
    )


def _serve(http: str, port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.bench_edges:edges_app",
            "--factory",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
            "--loop",
            "uvloop",
            "--http",
            http,
            "--limit-concurrency",
            "1000",
        ],
        cwd=Path(__file__).resolve().parents[1],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/small", timeout=0.5)
            return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the server did not start")


def _wrk(url: str, seconds: int, connections: int, script: Path | None) -> tuple[float, float]:
    cmd = [shutil.which("wrk") or "wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if script is not None:
        cmd += ["-s", str(script)]
    out = subprocess.run(  # noqa: S603
        [*cmd, url], check=True, capture_output=True, text=True
    ).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    m = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)", out, re.M)
    p99 = float(m[1]) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m[2]] if m else float("nan")
    return (float(rps[1]) if rps else float("nan")), p99


def _http(seconds: int, connections: int) -> None:
    if shutil.which("wrk") is None:
        print("HTTP part skipped: wrk is not installed (apt-get install wrk)")
        return
    root = Path(tempfile.mkdtemp(prefix="certsvc-bench-edges-"))
    payload = json.dumps({"data": "x" * 2000}).replace('"', '\\"')
    script = root / "post.lua"
    script.write_text(
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.body = "{payload}"\n'
    )
    results: dict[str, dict[str, tuple[float, float]]] = {}
    # Alternated, twice each, so that a neighbour's load falls on both alike.
    for http in ("httptools", PROTOCOL_PATH, "httptools", PROTOCOL_PATH):
        port = free_port()
        server = _serve(http, port)
        try:
            got = {
                "GET small": _wrk(f"http://127.0.0.1:{port}/small", seconds, connections, None),
                "POST 2 KB": _wrk(f"http://127.0.0.1:{port}/echo", seconds, connections, script),
            }
        finally:
            server.terminate()
            server.wait()
        best = results.setdefault(http, got)
        for key, value in got.items():
            if value[0] > best[key][0]:
                best[key] = value
    shutil.rmtree(root, ignore_errors=True)
    print(
        f"uvicorn 1 worker (uvloop), wrk {connections} connections, {seconds} s per run, best of 2"
    )
    for key in ("GET small", "POST 2 KB"):
        stock, guarded = results["httptools"][key], results[PROTOCOL_PATH][key]
        print(
            f"  {key:10s} stock httptools {stock[0]:8.0f} /s p99 {stock[1]:6.1f} ms   "
            f"guarded {guarded[0]:8.0f} /s p99 {guarded[1]:6.1f} ms   "
            f"({(guarded[0] / stock[0] - 1) * 100:+.1f} %)"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    _micro()
    _http(args.seconds, args.connections)


if __name__ == "__main__":
    main()
