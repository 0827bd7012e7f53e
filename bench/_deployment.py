"""What the end-to-end benchmarks share: a synthetic deployment on embedded stores, loaded with
residents, and cards for them (one card key for all, so that making thousands stays quick)."""

from __future__ import annotations

import base64
import contextlib
import os
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from cryptography.hazmat.primitives.asymmetric import rsa

from certsvc.embedded import EmbeddedStores
from certsvc.synthetic import World
from signing.synthetic import SyntheticCard
from vrs_client import KeyRing, PersonStatus, apply_migrations, import_files
from vrs_client.synthetic import (
    SyntheticResident,
    generate_residents,
    seed_municipalities,
    write_csv_files,
)


def bench_env(stores: EmbeddedStores, world: World, **extra: str) -> dict[str, str]:
    """`CERTSVC_*` settings of a service on `stores` and `world`, with limits out of the way."""
    if stores.postgres is None or stores.redis is None:
        raise RuntimeError("the benchmarks need both embedded stores")
    return {
        **world.env(),
        "CERTSVC_DATABASE_URL": stores.postgres.url,
        "CERTSVC_REDIS_URL": stores.redis.url,
        "CERTSVC_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
        "CERTSVC_LOOKUP_KEY": base64.b64encode(os.urandom(32)).decode(),
        "CERTSVC_SHC_ISSUER": "https://demo.certsvc.invalid/issuer",
        "CERTSVC_TERMS_VERSION": "bench",
        "CERTSVC_RATE_PERSON_PER_HOUR": "100000",
        "CERTSVC_RATE_CLIENT_PER_MINUTE": "100000000",
        "CERTSVC_KIOSK_CENTER_MAX_RPS": "100000000",
        "CERTSVC_LOG_LEVEL": "WARNING",
        "CERTSVC_DB_POOL_MIN": "4",
        "CERTSVC_DB_POOL_MAX": "24",
        **extra,
    }


def bench_residents(count: int) -> list[SyntheticResident]:
    """Residents (no one moved out or deceased) of Amagasaki and Chiyoda."""
    return [
        r
        for r in generate_residents(count, municipalities=2, seed=11)
        if r.status is PersonStatus.RESIDENT
    ]


async def load_residents(
    env: dict[str, str], directory: Path, residents: list[SyntheticResident]
) -> None:
    """Migrations, municipalities and `residents` into the database of `env`."""
    persons, vaccinations = directory / "p.csv", directory / "v.csv"
    write_csv_files(residents, persons, vaccinations)
    conn = await asyncpg.connect(env["CERTSVC_DATABASE_URL"])
    try:
        await apply_migrations(conn)
        await seed_municipalities(conn)
        await import_files(
            conn,
            KeyRing(
                master_key=base64.b64decode(env["CERTSVC_MASTER_KEY"]),
                lookup_key=base64.b64decode(env["CERTSVC_LOOKUP_KEY"]),
            ),
            persons=persons,
            vaccinations=vaccinations,
            now=datetime.now(UTC),
            write_reports=False,
        )
    finally:
        await conn.close()


def cards_for(world: World, residents: list[SyntheticResident]) -> list[SyntheticCard]:
    """A card per resident, all with one card key (a key pair per card would take minutes)."""
    jlis = world.jlis()
    card_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return [
        jlis.issue_card(
            my_number=r.my_number,
            family_name=r.family_name,
            given_name=r.given_name,
            birth_date=r.birth_date,
            sex=r.sex,
            address="兵庫県尼崎市東七松町１－２３－１",
            card_key=card_key,
        )
        for r in residents
    ]


def tree_cpu(pid: int | None) -> float:
    """CPU seconds of process `pid` and its descendants, the exited ones it reaped included."""
    import psutil

    if pid is None:
        return 0.0
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            t = proc.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
    return total
