"""`certsvc demo`: the whole service on one machine with nothing but what pip installed.

Starts embedded PostgreSQL and Redis for whichever URL is unset, generates every setting that is
unset (secrets, keys, a synthetic J-LIS trust file, a demo attestation authority), loads synthetic
municipalities and residents, and serves the API until Ctrl-C or SIGTERM. Every value that *is*
set is used as given, so a checker can bring its own trust file, authority, keys and data.

The demo directory holds `demo.env` (mode 0600, every `CERTSVC_*` value the demo runs with,
secrets and unmasked URLs included) and the generated material. A temporary demo directory is
removed at exit; one given with `--dir` is kept and reused.
"""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from certsvc.app import create_app
from certsvc.embedded import EmbeddedStores
from certsvc.logs import configure_logging
from certsvc.server import ListenerSpec, free_port, serve_until_stopped
from certsvc.settings import Settings, env_name, load_settings, mask_url, settings_to_env
from vrs_client import apply_migrations

DEMO_ISSUER = "https://demo.certsvc.invalid/issuer"
DEMO_TERMS_VERSION = "2026-04-01"
DEMO_DATABASE = "certsvc"


def _b64(n: int = 32) -> str:
    return base64.b64encode(secrets.token_bytes(n)).decode()


def _with_database(url: str, database: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + database))


async def _ensure_database(server_url: str, database: str) -> None:
    conn = await asyncpg.connect(server_url)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{database}"')
    finally:
        await conn.close()


async def _migrate(url: str) -> list[str]:
    conn = await asyncpg.connect(url)
    try:
        return await apply_migrations(conn)
    finally:
        await conn.close()


def _generated_defaults(demo_dir: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """Values for the unset settings (secrets, issuer, key directory, terms)."""
    generated = {
        "master_key": _b64(),
        "lookup_key": _b64(),
        "kiosk_session_key": _b64(),
        "shc_issuer": DEMO_ISSUER,
        "key_dir": str(demo_dir / "keys"),
        "terms_version": DEMO_TERMS_VERSION,
    }
    return {env_name(k): v for k, v in generated.items() if env_name(k) not in environ}


def write_demo_env(path: Path, settings: Settings) -> None:
    """Write every `CERTSVC_*` value of `settings` to `path` with mode 0600."""
    lines = [f"{name}={value}" for name, value in sorted(settings_to_env(settings).items())]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")


def _banner(settings: Settings, demo_dir: Path, base_url: str, started: float, out: TextIO) -> None:
    db = mask_url(settings.database_url or "")
    print(
        f"""
certsvc demo is running ({time.monotonic() - started:.1f} s to start).

  base URL:        {base_url}
  database URL:    {db}
  redis URL:       {settings.redis_url}
  demo directory: {demo_dir}

Try:
  curl {base_url}/ready
  curl {base_url}/v1/municipalities
  curl {base_url}/issuer/.well-known/jwks.json
  open {base_url}/schema for the API

Use the demo's settings in another shell:
  set -a; . {demo_dir}/demo.env; set +a

Stop with Ctrl-C.""",
        file=out,
        flush=True,
    )


async def run_demo(environ: Mapping[str, str], *, demo_dir: Path | None, out: TextIO) -> int:
    started = time.monotonic()
    keep_dir = demo_dir is not None
    if demo_dir is None:
        demo_dir = Path(tempfile.mkdtemp(prefix="certsvc-demo-"))
    demo_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    env = dict(environ)
    # Validate what the user set before generating anything (unknown names are refused).
    load_settings(env, mode="demo")
    stores = EmbeddedStores(
        postgres=not env.get("CERTSVC_DATABASE_URL"), redis=not env.get("CERTSVC_REDIS_URL")
    )
    try:
        stores.start()
        if stores.postgres is not None:
            await _ensure_database(stores.postgres.url, DEMO_DATABASE)
            env["CERTSVC_DATABASE_URL"] = _with_database(stores.postgres.url, DEMO_DATABASE)
        if stores.redis is not None:
            env["CERTSVC_REDIS_URL"] = stores.redis.url
        env.update(_generated_defaults(demo_dir, env))
        if "CERTSVC_PORT" not in env:
            env["CERTSVC_PORT"] = str(free_port(env.get("CERTSVC_HOST", "127.0.0.1"), 8000))
        settings = load_settings(env, mode="demo")
        configure_logging(settings.log_level)
        database_url = settings.database_url
        if database_url is None:  # set just above or by the user
            raise RuntimeError("no database URL")
        await _migrate(database_url)
        write_demo_env(demo_dir / "demo.env", settings)

        app = create_app(settings)
        base_url = f"http://{settings.host}:{settings.port}"
        specs = [ListenerSpec(app, host=settings.host, port=settings.port, name="api")]
        await serve_until_stopped(
            specs,
            log_level="WARNING",
            on_started=lambda: _banner(settings, demo_dir, base_url, started, out),
        )
    finally:
        stores.stop()
        if not keep_dir:
            shutil.rmtree(demo_dir, ignore_errors=True)
    print("certsvc demo stopped; embedded stores removed.", file=out, flush=True)
    return 0


def main(demo_dir: Path | None) -> int:
    return asyncio.run(run_demo(os.environ, demo_dir=demo_dir, out=sys.stdout))
