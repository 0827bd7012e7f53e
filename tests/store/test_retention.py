"""Retention purge, the officials' export, and what a database dump reveals."""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from pathlib import Path

import pytest

from certsvc.embedded import EmbeddedStores
from tests.conftest import TEST_DATABASE
from tests.store.conftest import AMAGASAKI, NOW, PERSON_HEADER, VACCINATION_HEADER, write_csv
from tests.store.test_import import run
from tests.store.test_store import issuance
from vrs_client import (
    EXPORT_COLUMNS,
    AuditEvent,
    VrsError,
    VrsErrorCode,
    VrsStore,
    chain_audit_events,
    export_csv,
    purge,
    verify_audit_chain,
)
from vrs_client.synthetic import generate_files

CANARY_MY_NUMBER = "444444444440"
CANARY_NAME = ("鶴亀", "万次郎")
CANARY_BIRTH = date(1961, 7, 23)


async def test_purge_respects_retention(store: VrsStore, tmp_path: Path) -> None:
    persons = write_csv(
        tmp_path / "p.csv",
        PERSON_HEADER,
        [
            [
                AMAGASAKI,
                "1",
                "123456789018",
                "0123456789",
                "佐藤 花子",
                "1980-01-02",
                "2",
                "resident",
            ]
        ],
    )
    vaccinations = write_csv(
        tmp_path / "v.csv",
        VACCINATION_HEADER,
        [
            [AMAGASAKI, "1", "1", "2021-03-01", "COMIRNATY", "FF1"],
            [AMAGASAKI, "1", "2", "2021-12-01", "COMIRNATY", "FF2"],
        ],
    )
    await run(store, persons, vaccinations)
    async with store.scoped(AMAGASAKI) as tx:
        person = await tx.find_person_by_address_number("1")
        assert person is not None
        await tx.record_issuance(issuance(person, "AAAAAAAAAAAA"))
        await tx.record_audit_event(
            AuditEvent(at=NOW, actor="app", action="issuance.create", outcome="ok")
        )
    async with store.connection() as conn:
        with pytest.raises(VrsError) as err:
            await purge(conn, now=NOW, vaccination_years=4)
        assert err.value.code is VrsErrorCode.RETENTION_TOO_SHORT
        # 2026-11-27: the dose of 2021-03-01 is more than 5 years old, the other is not.
        summary = await purge(conn, now=NOW)
        assert (summary.vaccinations, summary.issuances, summary.persons) == (1, 0, 0)
        # Seven years and a bit later: everything goes, and the audit chain still verifies.
        later = NOW.replace(year=2034)
        async with store.scoped(AMAGASAKI) as tx:
            await tx.record_audit_event(
                AuditEvent(at=later, actor="app", action="issuance.create", outcome="ok")
            )
        summary = await purge(conn, now=later)
        assert (summary.vaccinations, summary.issuances, summary.persons) == (1, 1, 1)
        assert summary.audit_events == 2  # the import's and the issuance's; the 2034 one stays
        report = await verify_audit_chain(conn, municipality_code=AMAGASAKI)
        assert report.ok, report
        assert report.checked == 1
        await chain_audit_events(conn, municipality_code=AMAGASAKI)


async def test_export_has_no_my_number(store: VrsStore, tmp_path: Path) -> None:
    persons, vaccinations, residents = generate_files(tmp_path, 30, municipalities=1, seed=3)
    await run(store, persons, vaccinations)
    out = io.StringIO()
    async with store.connection() as conn:
        written = await export_csv(conn, store.keys, municipality_code=AMAGASAKI, out=out)
    text = out.getvalue()
    rows = list(csv.reader(io.StringIO(text)))
    assert tuple(rows[0]) == EXPORT_COLUMNS
    assert "my_number" not in rows[0]
    assert written == len(rows) - 1 == sum(max(1, len(r.doses)) for r in residents)
    assert not any(re.fullmatch(r"[0-9]{12}", field) for row in rows for field in row)
    for r in residents:
        assert r.my_number not in text
    assert residents[0].name in text


def _dump(embedded: EmbeddedStores | None) -> str:
    if embedded is None or embedded.postgres is None:
        pytest.skip("needs the embedded server's pg_dump")
    return embedded.postgres.pg_dump(TEST_DATABASE).decode()


async def test_dump_holds_no_plaintext(
    store: VrsStore, tmp_path: Path, embedded: EmbeddedStores | None
) -> None:
    persons, vaccinations, _ = generate_files(tmp_path, 20, municipalities=2, seed=5)
    with persons.open("a", encoding="utf-8") as f:
        f.write(
            f"{AMAGASAKI},99,{CANARY_MY_NUMBER},0999999999,{CANARY_NAME[0]}\u3000"
            f"{CANARY_NAME[1]},{CANARY_BIRTH.isoformat()},1,resident\n"
        )
    await run(store, persons, vaccinations)
    async with store.scoped(AMAGASAKI) as tx:
        canary = await tx.find_person_by_my_number(CANARY_MY_NUMBER)
        assert canary is not None
        await tx.record_issuance(issuance(canary, "CCCCCCCCCCCC"))
    dump = _dump(embedded)
    assert "COPY public.persons" in dump
    b = CANARY_BIRTH
    forbidden = [
        CANARY_MY_NUMBER,
        CANARY_NAME[0],
        CANARY_NAME[1],
        "".join(CANARY_NAME),
        b.isoformat(),
        b.strftime("%Y%m%d"),
        b.strftime("%Y/%m/%d"),
        b.strftime("%d.%m.%Y"),
        f"{b.year}年{b.month}月{b.day}日",
        b.strftime("%y%m%d"),
        CANARY_MY_NUMBER.encode().hex(),
    ]
    for value in forbidden:
        assert value not in dump, "plaintext found in the dump"
