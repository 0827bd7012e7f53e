"""Fixtures of the VRS store tests: keys, a seeded store, CSV writers."""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from vrs_client import VrsStore
from vrs_client.synthetic import MUNICIPALITIES, seed_municipalities

AMAGASAKI = "282022"
CHIYODA = "131016"
NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)

PERSON_HEADER = [
    "municipality_code",
    "address_number",
    "my_number",
    "ticket_number",
    "name",
    "birth_date",
    "sex",
    "status",
]
VACCINATION_HEADER = [
    "municipality_code",
    "address_number",
    "dose_number",
    "vaccinated_on",
    "product",
    "lot_number",
]


@pytest.fixture
def master_key() -> bytes:
    return os.urandom(32)


@pytest.fixture
def lookup_key() -> bytes:
    return os.urandom(32)


@pytest.fixture
async def store(db: asyncpg.Pool, master_key: bytes, lookup_key: bytes) -> VrsStore:
    """A store over the emptied test database, with the demo municipalities seeded."""
    async with db.acquire() as conn:
        await seed_municipalities(conn, MUNICIPALITIES)
    return VrsStore(db, master_key=master_key, lookup_key=lookup_key)


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[object]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
    return path


def read_rejections(path: Path) -> list[tuple[int, str]]:
    with path.with_name(path.name + ".rejected.csv").open(encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["line", "reason"]
    return [(int(line), reason) for line, reason in rows[1:]]
