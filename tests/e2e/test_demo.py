"""The quick start's promise, as a newcomer meets it: `certsvc demo` answers /ready, the reference
client gets a certificate that `certsvc verify` accepts, and Ctrl-C leaves no server and no
directory behind."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import redis

from certsvc.server import free_port

CERTSVC = [sys.executable, "-m", "certsvc"]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTSVC_")}
    return env | extra


def test_demo_serves_issues_verifies_and_stops_cleanly(tmp_path: Path) -> None:
    demo_dir = tmp_path / "demo"
    port, kiosk_port = free_port(), free_port()
    env = _env(CERTSVC_PORT=str(port), CERTSVC_KIOSK_PORT=str(kiosk_port))
    with subprocess.Popen(
        [*CERTSVC, "demo", "--dir", str(demo_dir)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as demo:
        assert demo.stdout is not None
        lines: list[str] = []
        started = time.monotonic()
        while not any(line.startswith("metrics:") for line in lines):
            line = demo.stdout.readline()
            assert line, "the demo exited before it was ready:\n" + "".join(lines)
            lines.append(line)
            assert time.monotonic() - started < 60
        banner = "".join(lines)
        base_url = re.search(r"^base URL: (\S+)", banner, re.M)
        assert base_url is not None
        assert base_url[1] == f"http://127.0.0.1:{port}"
        assert "database URL: postgresql://" in banner
        embedded_root = re.search(r"host=(/\S+)/pgsock", banner)
        assert embedded_root is not None
        try:
            assert httpx.get(f"{base_url[1]}/ready", timeout=5).status_code == 200
            assert (demo_dir / "demo.env").stat().st_mode & 0o077 == 0
            metrics = httpx.get(f"{base_url[1]}/metrics", timeout=5)
            assert metrics.status_code == 200
            assert 'route="/ready"' in metrics.text
            ops_url = re.search(r"operations listener (http://\S+?)\)", banner)
            assert ops_url is not None, banner
            assert httpx.get(f"{ops_url[1]}/ready", timeout=5).json() == {"status": "ready"}
            client = subprocess.run(
                [*CERTSVC, "app-client", "--demo-dir", str(demo_dir), "--kind", "abroad",
                 "--resident", "2"],
                env=_env(),
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )  # fmt: skip
            assert client.returncode == 0, client.stdout + client.stderr
            pngs = sorted(str(p) for p in (demo_dir / "out").glob("*.png"))
            assert len(pngs) >= 2  # the SHC and the VDS-NC
            # A certificate carries a name and a birth date: only its owner may read it.
            assert (demo_dir / "out").stat().st_mode & 0o077 == 0
            saved = list((demo_dir / "out").iterdir())
            assert saved
            assert all(p.stat().st_mode & 0o077 == 0 for p in saved)
            demo_env = dict(
                line.split("=", 1)
                for line in (demo_dir / "demo.env").read_text().splitlines()
                if line.startswith("CERTSVC_KEY_DIR=")
            )
            verify = subprocess.run(
                [*CERTSVC, "verify", *pngs],
                env=_env(CERTSVC_KEY_DIR=demo_env["CERTSVC_KEY_DIR"].strip("'")),
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert verify.returncode == 0, verify.stdout + verify.stderr
            assert verify.stdout.count("VALID") >= 2
            _stores_are_restarted_after_a_crash(demo, base_url[1], demo_dir)
        finally:
            demo.send_signal(signal.SIGINT)
            rest = demo.communicate(timeout=30)[0]
        assert demo.returncode == 0, rest
        assert "embedded stores removed" in rest
        # One line per restart, and no personal data in it.
        assert rest.count("embedded PostgreSQL exited") == 1, rest
        assert rest.count("embedded Redis exited") == 1, rest
    assert not Path(embedded_root[1]).exists()


def _stores_are_restarted_after_a_crash(
    demo: subprocess.Popen[str], base_url: str, demo_dir: Path
) -> None:
    """Kill the demo's PostgreSQL and Redis (SIGKILL): /ready names them while they are down,
    the demo starts them again by itself, Redis comes back with its data (append-only file),
    and the service answers again without a restart."""
    redis_url = next(
        line.split("=", 1)[1].strip("'")
        for line in (demo_dir / "demo.env").read_text().splitlines()
        if line.startswith("CERTSVC_REDIS_URL=")
    )
    assert httpx.post(f"{base_url}/v1/app/challenges", timeout=5).status_code == 201
    with redis.Redis.from_url(redis_url) as client:
        keys_before = client.dbsize()
    assert keys_before > 0
    children = psutil.Process(demo.pid).children()
    servers = [p for p in children if p.name() in {"postgres", "valkey-server", "redis-server"}]
    assert {p.name() for p in servers} >= {"postgres"}
    assert len(servers) == 2
    for server in servers:
        server.send_signal(signal.SIGKILL)
    failing_seen: set[str] = set()
    deadline = time.monotonic() + 120
    while True:
        ready = httpx.get(f"{base_url}/ready", timeout=5)
        if ready.status_code == 200:
            break
        assert ready.status_code == 503
        assert ready.json()["code"] == "NOT_READY"
        failing_seen.update(ready.json()["failing"])
        assert time.monotonic() < deadline, "the demo did not restart its stores"
        time.sleep(0.05)
    assert failing_seen, "/ready never said which store was down"
    assert failing_seen <= {"postgres", "redis"}
    with redis.Redis.from_url(redis_url) as client:
        assert client.dbsize() >= keys_before
    assert httpx.post(f"{base_url}/v1/app/challenges", timeout=5).status_code == 201
    assert httpx.get(f"{base_url}/v1/municipalities", timeout=5).status_code == 200


def test_port_zero_is_resolved_before_the_banner(tmp_path: Path) -> None:
    """`CERTSVC_PORT=0` (what the busy-port message suggests) means any free port: the banner
    names the port the API listens on, never ":0"."""
    env = _env(CERTSVC_PORT="0", CERTSVC_KIOSK_PORT="0", CERTSVC_OPS_PORT="0")
    with subprocess.Popen(
        [*CERTSVC, "demo", "--dir", str(tmp_path / "demo")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as demo:
        assert demo.stdout is not None
        lines: list[str] = []
        started = time.monotonic()
        try:
            while not any(line.startswith("metrics:") for line in lines):
                line = demo.stdout.readline()
                assert line, "the demo exited before it was ready:\n" + "".join(lines)
                lines.append(line)
                assert time.monotonic() - started < 60
            banner = "".join(lines)
            base_url = re.search(r"^base URL: http://127\.0\.0\.1:(\d+)$", banner, re.M)
            assert base_url is not None, banner
            assert int(base_url[1]) != 0
            assert ":0/" not in banner
            assert ":0 " not in banner
            ready = httpx.get(f"http://127.0.0.1:{base_url[1]}/ready", timeout=5)
            assert ready.status_code == 200
        finally:
            demo.send_signal(signal.SIGINT)
            demo.wait(timeout=60)
