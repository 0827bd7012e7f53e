"""Revocation and status (certsvc/revocation.py) on the real store, and the CRL counters the
database keeps: ctr 1 until the first change, +1 per changing statement, never down."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest

from certsvc.issuance import RefusalCode, Refused
from certsvc.revocation import (
    CertificateStatus,
    RevocationReason,
    Revoked,
    certificate_status,
    revoke_certificate,
)
from tests.store.conftest import AMAGASAKI, CHIYODA, NOW
from tests.store.test_store import MY_NUMBER, issuance, seed_people
from vrs_client import VrsStore, chain_audit_events, purge, verify_audit_chain


async def _issue(store: VrsStore, tmp_path: Path, *ids: str) -> None:
    await seed_people(store, tmp_path)
    async with store.scoped(AMAGASAKI) as tx:
        person = await tx.find_person_by_my_number(MY_NUMBER)
        assert person is not None
        for minutes, cid in enumerate(ids):
            await tx.record_issuance(issuance(person, cid, minutes=minutes))


async def _revoke(store: VrsStore, cid: str, code: str = AMAGASAKI) -> Revoked | Refused:
    return await revoke_certificate(
        municipality_code=code,
        certificate_id=cid,
        reason=RevocationReason.HOLDER_REQUEST,
        actor="cli:officer",
        store=store,
        now=NOW + timedelta(hours=1),
    )


async def test_revoke_puts_the_rid_on_the_crl_and_bumps_ctr(
    store: VrsStore, tmp_path: Path
) -> None:
    await _issue(store, tmp_path, "AAAAAAAAAAAA", "BBBBBBBBBBBB")
    before = await store.shc_crl("kid-1")
    assert (before.ctr, before.rids) == (1, [])  # SHC: ctr starts at 1
    assert await store.crl_versions(["kid-1", "kid-9"]) == {"kid-1": 1, "kid-9": 1}
    outcome = await _revoke(store, "AAAAAAAAAAAA")
    assert isinstance(outcome, Revoked)
    assert (outcome.kid, outcome.crl_version) == ("kid-1", 2)
    after = await store.shc_crl("kid-1")
    assert (after.ctr, after.rids) == (2, ["ridAAAAAAAAAAAA"])
    assert isinstance(second := await _revoke(store, "BBBBBBBBBBBB"), Revoked)
    assert second.crl_version == 3
    assert (await store.shc_crl("kid-1")).rids == ["ridAAAAAAAAAAAA", "ridBBBBBBBBBBBB"]


async def test_revoke_refusals(store: VrsStore, tmp_path: Path) -> None:
    await _issue(store, tmp_path, "AAAAAAAAAAAA", "CCCCCCCCCCCC")
    assert isinstance(await _revoke(store, "AAAAAAAAAAAA"), Revoked)
    again = await _revoke(store, "AAAAAAAAAAAA")
    assert again == Refused(code=RefusalCode.ISSUANCE_REVOKED)
    assert (await store.shc_crl("kid-1")).ctr == 2  # nothing changed: ctr stays
    assert await _revoke(store, "ZZZZZZZZZZZZ") == Refused(code=RefusalCode.ISSUANCE_NOT_FOUND)
    # Another municipality's certificate is not found from this one.
    assert await _revoke(store, "CCCCCCCCCCCC", CHIYODA) == Refused(
        code=RefusalCode.ISSUANCE_NOT_FOUND
    )
    assert await _revoke(store, "CCCCCCCCCCCC", "999997") == Refused(
        code=RefusalCode.MUNICIPALITY_UNKNOWN
    )
    async with store.scoped(AMAGASAKI) as tx:
        await tx.void_issuance("CCCCCCCCCCCC", "print_failed", NOW)
    # A voided issuance never reached anyone: refused, and nothing half written.
    assert await _revoke(store, "CCCCCCCCCCCC") == Refused(code=RefusalCode.ISSUANCE_VOIDED)
    crl = await store.shc_crl("kid-1")
    assert (crl.ctr, crl.rids) == (2, ["ridAAAAAAAAAAAA"])
    async with store.scoped(AMAGASAKI) as tx:
        voided = await tx.get_issuance("CCCCCCCCCCCC")
    assert voided is not None
    assert voided.revoked_at is None


async def test_revocation_is_audited_with_operator_and_reason(
    store: VrsStore, tmp_path: Path
) -> None:
    await _issue(store, tmp_path, "AAAAAAAAAAAA")
    await _revoke(store, "AAAAAAAAAAAA")
    async with store.scoped(AMAGASAKI) as tx:
        row = await tx.connection.fetchrow(
            "SELECT actor, reason, outcome, detail FROM audit_events"
            " WHERE action = 'issuance.revoke'"
        )
    assert row is not None
    assert tuple(row) == (
        "cli:officer",
        "holder_request",
        "revoked",
        "certificate_id=AAAAAAAAAAAA kid=kid-1",
    )
    async with store.connection() as conn:
        await chain_audit_events(conn, municipality_code=AMAGASAKI)
        report = await verify_audit_chain(conn, municipality_code=AMAGASAKI)
    assert report.ok, report


async def test_status_shows_state_and_reason_without_personal_data(
    store: VrsStore, tmp_path: Path
) -> None:
    await _issue(store, tmp_path, "AAAAAAAAAAAA", "BBBBBBBBBBBB", "CCCCCCCCCCCC")
    async with store.scoped(AMAGASAKI) as tx:
        await tx.void_issuance("BBBBBBBBBBBB", "print_failed", NOW)
    await _revoke(store, "CCCCCCCCCCCC")

    async def status(cid: str) -> CertificateStatus:
        found = await certificate_status(
            municipality_code=AMAGASAKI, certificate_id=cid, store=store
        )
        assert isinstance(found, CertificateStatus)
        return found

    issued = await status("AAAAAAAAAAAA")
    assert (issued.state, issued.reason, issued.channel, issued.kind) == (
        "issued",
        None,
        "app",
        "domestic",
    )
    assert issued.issued_at == NOW
    assert ((await status("BBBBBBBBBBBB")).state, (await status("BBBBBBBBBBBB")).reason) == (
        "voided",
        "print_failed",
    )
    revoked = await status("CCCCCCCCCCCC")
    assert (revoked.state, revoked.reason) == ("revoked", "holder_request")
    assert set(CertificateStatus.__struct_fields__).isdisjoint(
        {"name", "birth_date", "address_number", "person_id", "passport", "my_number"}
    )
    missing = await certificate_status(
        municipality_code=AMAGASAKI, certificate_id="ZZZZZZZZZZZZ", store=store
    )
    assert missing == Refused(code=RefusalCode.ISSUANCE_NOT_FOUND)


async def test_crl_ctr_counts_statements_and_never_goes_down(
    store: VrsStore, db: asyncpg.Pool, tmp_path: Path
) -> None:
    await _issue(store, tmp_path, "AAAAAAAAAAAA", "BBBBBBBBBBBB", "CCCCCCCCCCCC")
    async with store.scoped(AMAGASAKI) as tx:
        # Two revocations in one statement (as an import's correction does): each one counts.
        await tx.connection.execute(
            "UPDATE issuances SET revoked_at = $1, revoke_reason = 'record_corrected'"
            " WHERE certificate_id IN ('AAAAAAAAAAAA', 'BBBBBBBBBBBB')",
            NOW,
        )
    assert (await store.shc_crl("kid-1")).ctr == 3
    # Entries leaving the list (the retention purge, one statement) are one change: ctr goes up.
    async with db.acquire() as conn:
        await conn.execute("DELETE FROM revocations WHERE certificate_id <> 'BBBBBBBBBBBB'")
    crl = await store.shc_crl("kid-1")
    assert (crl.ctr, crl.rids) == (4, ["ridBBBBBBBBBBBB"])

    # A rolled-back revocation leaves no trace in the counter.
    async def revoke_then_fail() -> None:
        async with store.scoped(AMAGASAKI) as tx:
            await tx.revoke_issuance("CCCCCCCCCCCC", "superseded", NOW)
            raise RuntimeError("roll back")

    with pytest.raises(RuntimeError):
        await revoke_then_fail()
    assert (await store.shc_crl("kid-1")).ctr == 4


async def test_retention_purge_of_crl_entries_bumps_ctr_as_the_app_role(
    store: VrsStore, db: asyncpg.Pool, tmp_path: Path
) -> None:
    await seed_people(store, tmp_path)
    eight_years = -8 * 366 * 24 * 60
    async with store.scoped(AMAGASAKI) as tx:
        person = await tx.find_person_by_my_number(MY_NUMBER)
        assert person is not None
        await tx.record_issuance(issuance(person, "OOOOOOOOOOOO", minutes=eight_years))
        old = NOW + timedelta(minutes=eight_years + 1)
        await tx.revoke_issuance("OOOOOOOOOOOO", "superseded", old)
    assert (await store.shc_crl("kid-1")).ctr == 2
    async with db.acquire() as conn:
        summary = await purge(conn, now=NOW)
    assert summary.revocations == 1
    crl = await store.shc_crl("kid-1")
    assert (crl.ctr, crl.rids) == (3, [])  # the list changed: ctr up, never back to 1
