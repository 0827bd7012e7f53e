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
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType
from typing import TextIO

import asyncpg

from certsvc.app import create_app
from certsvc.commands._failures import CommandFailed, Exit
from certsvc.embedded import EmbeddedStores
from certsvc.logs import configure_logging
from certsvc.ops import create_ops_app, metrics_route, port_in_use
from certsvc.resources import system_clock
from certsvc.server import ListenerSpec, ListenerStartError, free_port, serve_until_stopped
from certsvc.settings import (
    Settings,
    database_url_for,
    env_name,
    load_settings,
    mask_url,
    settings_to_env,
)
from certsvc.supervision import supervised
from certsvc.synthetic import ResidentEntry, create_world, issue_cards
from vrs_client import KeyRing, PersonStatus, apply_migrations, import_files
from vrs_client.synthetic import (
    SyntheticResident,
    generate_residents,
    seed_municipalities,
    write_csv_files,
)

DEMO_ISSUER = "https://demo.certsvc.invalid/issuer"
DEMO_TERMS_VERSION = "2026-04-01"
DEMO_DATABASE = "certsvc"
DEMO_RESIDENTS = 3000
DEMO_SEED = 2026


def _b64(n: int = 32) -> str:
    return base64.b64encode(secrets.token_bytes(n)).decode()


async def _ensure_database(server_url: str, database: str) -> None:
    conn = await asyncpg.connect(server_url)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{database}"')
    finally:
        await conn.close()


async def _migrate_and_load(
    settings: Settings, residents: list[SyntheticResident], directory: Path
) -> None:
    """Migrations, the demo municipalities and the synthetic residents (idempotent: a restart on
    the same database changes nothing)."""
    if settings.database_url is None or settings.master_key is None or settings.lookup_key is None:
        raise RuntimeError("the demo needs a database URL and keys")
    persons, vaccinations = directory / "persons.csv", directory / "vaccinations.csv"
    write_csv_files(residents, persons, vaccinations)
    conn = await asyncpg.connect(settings.database_url)
    try:
        await apply_migrations(conn)
        await seed_municipalities(conn)
        await import_files(
            conn,
            KeyRing(master_key=settings.master_key, lookup_key=settings.lookup_key),
            persons=persons,
            vaccinations=vaccinations,
            now=datetime.now(UTC),
            write_reports=False,
        )
    finally:
        await conn.close()
        persons.unlink(missing_ok=True)
        vaccinations.unlink(missing_ok=True)


def _card_holders(residents: list[SyntheticResident]) -> list[SyntheticResident]:
    """The residents who get a ready-made card: two residents each of Amagasaki and Chiyoda,
    someone who moved out, someone deceased, and one each of Sapporo (no kiosk) and Kyoto (no
    app) — enough to see every answer."""
    chosen: list[SyntheticResident] = []

    def pick(code: str | None, status: PersonStatus, count: int) -> None:
        found = [
            r
            for r in residents
            if (code is None or r.municipality_code == code)
            and r.status is status
            and r not in chosen
        ]
        chosen.extend(found[:count])

    pick("282022", PersonStatus.RESIDENT, 2)
    pick("131016", PersonStatus.RESIDENT, 2)
    pick(None, PersonStatus.MOVED_OUT, 1)
    pick(None, PersonStatus.DECEASED, 1)
    pick("011002", PersonStatus.RESIDENT, 1)
    pick("261009", PersonStatus.RESIDENT, 1)
    return chosen


def _listener_plugins() -> list[ModuleType]:
    """Modules registered under the `certsvc.listeners` entry point (the kiosk adapter)."""
    return [ep.load() for ep in entry_points(group="certsvc.listeners")]


def _generated_defaults(demo_dir: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """Values for the unset settings (secrets, issuer, key directory, terms)."""
    generated = {
        "master_key": _b64(),
        "lookup_key": _b64(),
        "kiosk_session_key": _b64(),
        "shc_issuer": DEMO_ISSUER,
        "terms_version": DEMO_TERMS_VERSION,
    }
    return {env_name(k): v for k, v in generated.items() if env_name(k) not in environ}


def write_demo_env(path: Path, settings: Settings) -> None:
    """Write every `CERTSVC_*` value of `settings` to `path` with mode 0600, quoted for the
    shell (`set -a; . demo.env; set +a`)."""
    env = settings_to_env(settings, include_defaults=True)
    lines = [f"{name}={shlex.quote(value)}" for name, value in sorted(env.items())]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")


_TEMPORARY_NOTE = (
    "  (temporary: removed with everything in it, the certificates saved under out/ too, when "
    "the demo stops;\n   copy what you want to keep, or run certsvc demo --dir DIR to keep it)\n"
)


def _refuse_busy_ports(settings: Settings, environ: Mapping[str, str]) -> None:
    """Before anything starts: a port the user set explicitly must be free (a port the demo
    picks itself moves to a free one, and the banner says so)."""
    chosen = {
        "CERTSVC_PORT": (settings.host, settings.port),
        "CERTSVC_KIOSK_PORT": (settings.host, settings.kiosk_port),
        "CERTSVC_OPS_PORT": (settings.ops_host, settings.ops_port),
    }
    for name, (host, port) in chosen.items():
        if name in environ and port_in_use(host, port):
            raise CommandFailed(
                f"port {port} on {host} ({name}) is in use (another demo?); stop what listens "
                f"there or set {name} to another port (0: any free port)",
                Exit.LISTENER,
            )


def _moved_ports(settings: Settings, environ: Mapping[str, str]) -> list[str]:
    """A line for each listener that is not on its usual port because that one was taken."""
    usual = Settings()
    lines = []
    for name, field, what in (
        ("CERTSVC_PORT", "port", "the API"),
        ("CERTSVC_KIOSK_PORT", "kiosk_port", "the kiosk adapter"),
        ("CERTSVC_OPS_PORT", "ops_port", "the operations listener"),
    ):
        default, actual = getattr(usual, field), getattr(settings, field)
        if name not in environ and actual != default:
            lines.append(
                f"note: port {default} was in use (another demo?), so {what} listens on "
                f"{actual}; set {name} to choose"
            )
    return lines


def _banner(
    settings: Settings,
    *,
    demo_dir: Path,
    base_url: str,
    started: float,
    entries: list[ResidentEntry],
    extra: str,
    out: TextIO,
    temporary: bool = False,
) -> None:
    db = mask_url(settings.database_url or "")
    kiosk_try = (
        f"  .venv/bin/certsvc kiosk-sim --demo-dir {demo_dir} "
        f"--url https://{settings.host}:{settings.kiosk_port} --out {demo_dir}/kiosk-out\n"
        if extra
        else ""
    )
    cards = "\n".join(
        f"    {e.card:<34} {e.municipality_code} {e.status:<9} "
        f"{e.doses} dose{'' if e.doses == 1 else 's'}"
        for e in entries
    )
    print(
        f"""
certsvc demo is running ({time.monotonic() - started:.1f} s to start).

base URL: {base_url}
database URL: {db}
redis URL: {settings.redis_url}
demo directory: {demo_dir}
{_TEMPORARY_NOTE if temporary else ""}\
metrics: {base_url}/metrics (and /metrics, /health, /ready on the operations listener \
http://{settings.ops_host}:{settings.ops_port})
{extra}

Ready-made My Number cards (synthetic J-LIS hierarchy; see residents.json):
{cards}

Try, in another shell:
  .venv/bin/certsvc app-client --demo-dir {demo_dir}
  .venv/bin/certsvc app-client --demo-dir {demo_dir} --kind abroad
{kiosk_try}  set -a; . {demo_dir}/demo.env; set +a; .venv/bin/certsvc verify {demo_dir}/out/*.png
  curl {base_url}/ready
  curl {base_url}/v1/municipalities
  curl {base_url}/issuer/.well-known/jwks.json
  open {base_url}/schema/swagger for the API

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
    given = load_settings(env, mode="demo")
    _refuse_busy_ports(given, env)
    # Durable commits (the default), and Redis keeps an append-only file so that a restart
    # after a crash keeps the kiosk sessions and single-use claims it held (README: when
    # PostgreSQL or Redis fails).
    stores = EmbeddedStores(
        postgres=not env.get("CERTSVC_DATABASE_URL"),
        redis=not env.get("CERTSVC_REDIS_URL"),
        redis_appendonly=True,
    )
    try:
        stores.start()
        if stores.postgres is not None:
            await _ensure_database(stores.postgres.url, DEMO_DATABASE)
            env["CERTSVC_DATABASE_URL"] = database_url_for(stores.postgres.url, DEMO_DATABASE)
        if stores.redis is not None:
            env["CERTSVC_REDIS_URL"] = stores.redis.url
        env.update(_generated_defaults(demo_dir, env))
        world = create_world(demo_dir, now=datetime.now(UTC), environ=env)
        env.update({k: v for k, v in world.env().items() if k not in environ})
        plugins = _listener_plugins()
        for plugin in plugins:
            env.update(plugin.prepare(demo_dir, env))
        # 0 asks for any free port: pick it now, so that the banner and demo.env name the port
        # that is listened on (not ":0").
        for port_name, host_name in (
            ("CERTSVC_PORT", "CERTSVC_HOST"),
            ("CERTSVC_KIOSK_PORT", "CERTSVC_HOST"),
            ("CERTSVC_OPS_PORT", "CERTSVC_OPS_HOST"),
            ("CERTSVC_COUNTER_PORT", "CERTSVC_COUNTER_HOST"),
        ):
            if env.get(port_name, "").strip() == "0":
                env[port_name] = str(free_port(env.get(host_name, "127.0.0.1")))
        if "CERTSVC_PORT" not in env:
            env["CERTSVC_PORT"] = str(free_port(env.get("CERTSVC_HOST", "127.0.0.1"), 8000))
        if "CERTSVC_OPS_PORT" not in env:
            env["CERTSVC_OPS_PORT"] = str(
                free_port(env.get("CERTSVC_OPS_HOST", "127.0.0.1"), Settings().ops_port)
            )
        settings = load_settings(env, mode="demo")
        configure_logging(settings.log_level)
        residents = generate_residents(DEMO_RESIDENTS, municipalities=10, seed=DEMO_SEED)
        await _migrate_and_load(settings, residents, demo_dir)
        entries = issue_cards(world, _card_holders(residents), today=datetime.now(UTC).date())
        write_demo_env(demo_dir / "demo.env", settings)

        app = create_app(settings)
        app.register(metrics_route())  # so that a newcomer sees /metrics on the URL they know
        base_url = f"http://{settings.host}:{settings.port}"
        specs = [
            ListenerSpec(
                app,
                host=settings.host,
                port=settings.port,
                name="api",
                concurrency_limit=settings.http_concurrency_limit,
            ),
            ListenerSpec(
                create_ops_app(settings), host=settings.ops_host, port=settings.ops_port, name="ops"
            ),
        ]
        extra_lines = []
        for plugin in plugins:
            spec, lines = plugin.listener(settings, demo_dir, system_clock)
            specs.append(spec)
            extra_lines.append(lines)
        async with supervised(stores):
            await serve_until_stopped(
                specs,
                log_level="WARNING",
                on_started=lambda: _banner(
                    settings,
                    demo_dir=demo_dir,
                    base_url=base_url,
                    started=started,
                    entries=entries,
                    extra="\n".join([*extra_lines, *_moved_ports(settings, environ)]),
                    out=out,
                    temporary=not keep_dir,
                ),
            )
    except ListenerStartError as exc:
        raise CommandFailed(
            f"the {exc.name} listener cannot start on {exc.host}:{exc.port} (in use, or not "
            "allowed); free the port or set another one",
            Exit.LISTENER,
        ) from None
    finally:
        stores.stop()
        if not keep_dir:
            shutil.rmtree(demo_dir, ignore_errors=True)
    print("certsvc demo stopped; embedded stores removed.", file=out, flush=True)
    return 0


def main(demo_dir: Path | None) -> int:
    return asyncio.run(run_demo(os.environ, demo_dir=demo_dir, out=sys.stdout))
