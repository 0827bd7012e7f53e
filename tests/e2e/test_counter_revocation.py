"""The officials' operations at the counter: a supervisor looks up a certificate issued at the
counter, revokes it (its rid goes on its key's CRL on the app listener), and every refusal is an
HTML page that shows its code."""

from __future__ import annotations

import re

import asyncpg
from httpx import Response
from litestar import Litestar
from litestar.testing import AsyncTestClient

from certsvc.staff import Role, StaffService
from certsvc.synthetic import ResidentEntry, World
from tests.e2e.counter_flow import (
    csrf,
    error_code,
    identify_by_card,
    post_visit,
    preview,
    signed_in,
    start_visit,
)

Client = AsyncTestClient[Litestar]


def _dd(page: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*>([^<]*)<', page)
    if found is None:
        raise AssertionError(f"no #{element_id} on the page")
    return found.group(1).strip()


def _state(page: str) -> str:
    found = re.search(r'id="state" data-value="([a-z]+)"', page)
    if found is None:
        raise AssertionError("no state on the page")
    return found.group(1)


async def _issue_at_the_counter(
    client: Client, world: World, entries: dict[str, ResidentEntry]
) -> str:
    entry = next(
        e for e in entries.values() if e.municipality_code == "282022" and e.status == "resident"
    )
    started = await start_visit(client)
    identified = await identify_by_card(client, world, entry, started.text)
    previewed = await preview(client, identified.text)
    issued = await post_visit(client, "/visit/issue", previewed.text)
    assert issued.status_code == 200, (error_code(issued), issued.text[:500])
    return _dd(issued.text, "certificate-id")


async def _post(client: Client, path: str, **fields: str) -> Response:
    return await client.post(path, data={"_csrf": await csrf(client), **fields})


async def test_counter_supervisor_looks_up_and_revokes_a_certificate(
    counter_client: Client,
    app_client: Client,
    staff: StaffService,
    world: World,
    resident_entries: dict[str, ResidentEntry],
    loaded_db: asyncpg.Pool,
) -> None:
    await signed_in(counter_client, staff, "super1", Role.SUPERVISOR)
    page = await counter_client.get("/certificates")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert 'href="/certificates"' in page.text  # the navigation links the page for this role
    for reason in (
        "issued_in_error",
        "record_corrected",
        "holder_request",
        "key_compromise",
        "superseded",
    ):
        assert f'<option value="{reason}">' in page.text
    certificate_id = await _issue_at_the_counter(counter_client, world, resident_entries)

    status = await _post(
        counter_client, "/certificates/status", municipality="282022", certificate_id=certificate_id
    )
    assert status.status_code == 200, (error_code(status), status.text[:500])
    assert status.headers["cache-control"] == "no-store"
    assert (_state(status.text), _dd(status.text, "channel")) == ("issued", "counter")
    before = (await app_client.get(f"/.well-known/crl/{_dd(status.text, 'kid')}.json")).json()

    revoked = await _post(
        counter_client,
        "/certificates/revoke",
        municipality="282022",
        certificate_id=certificate_id,
        reason="holder_request",
    )
    assert revoked.status_code == 200, (error_code(revoked), revoked.text[:500])
    kid = _dd(revoked.text, "kid")
    assert kid == _dd(status.text, "kid")
    crl_version = int(_dd(revoked.text, "crl-version"))

    again = await _post(
        counter_client, "/certificates/status", municipality="282022", certificate_id=certificate_id
    )
    assert _state(again.text) == "revoked"
    assert _dd(again.text, "reason") == "holder_request"

    async with loaded_db.acquire() as conn:
        rid = await conn.fetchval(
            "SELECT rid FROM revocations WHERE certificate_id = $1", certificate_id
        )
    crl = (await app_client.get(f"/.well-known/crl/{kid}.json")).json()
    assert (crl["rids"], crl["ctr"]) == ([*before["rids"], rid], crl_version)
    assert crl_version == before["ctr"] + 1

    events = await staff.audit_events("282022", actor="super1", limit=50)
    assert [
        (e.action, e.outcome)
        for e in reversed(events)
        if e.action in ("counter.status", "issuance.revoke")
    ] == [
        ("counter.status", "issued"),
        ("issuance.revoke", "revoked"),
        ("counter.status", "revoked"),
    ]

    twice = await _post(
        counter_client,
        "/certificates/revoke",
        municipality="282022",
        certificate_id=certificate_id,
        reason="holder_request",
    )
    assert (twice.status_code, error_code(twice)) == (409, "ISSUANCE_REVOKED")


async def test_counter_revocation_refusals(counter_client: Client, staff: StaffService) -> None:
    await signed_in(counter_client, staff, "super2", Role.SUPERVISOR)
    for path in ("/certificates/status", "/certificates/revoke"):
        bad = await _post(
            counter_client,
            path,
            municipality="282022",
            certificate_id="NOT-AN-ID-1",
            reason="holder_request",
        )
        assert (path, bad.status_code, error_code(bad)) == (
            path,
            400,
            "COUNTER_CERTIFICATE_ID_INVALID",
        )
    unknown = await _post(
        counter_client, "/certificates/status", municipality="282022", certificate_id="A" * 12
    )
    assert (unknown.status_code, error_code(unknown)) == (404, "ISSUANCE_NOT_FOUND")
    not_granted = await _post(
        counter_client,
        "/certificates/revoke",
        municipality="131016",
        certificate_id="A" * 12,
        reason="holder_request",
    )
    assert (not_granted.status_code, error_code(not_granted)) == (
        403,
        "COUNTER_MUNICIPALITY_NOT_GRANTED",
    )
    bad_reason = await _post(
        counter_client,
        "/certificates/revoke",
        municipality="282022",
        certificate_id="A" * 12,
        reason="no_smartphone",
    )
    assert (bad_reason.status_code, error_code(bad_reason)) == (400, "COUNTER_FORM_INVALID")
    no_csrf = await counter_client.post(
        "/certificates/revoke",
        data={"municipality": "282022", "certificate_id": "A" * 12, "reason": "holder_request"},
    )
    assert (no_csrf.status_code, error_code(no_csrf)) == (403, "COUNTER_CSRF_INVALID")


async def test_counter_staff_may_not_look_up_or_revoke(
    counter_client: Client, staff: StaffService
) -> None:
    await signed_in(counter_client, staff, "clerk9", Role.COUNTER_STAFF)
    page = await counter_client.get("/issue")
    assert 'href="/certificates"' not in page.text  # no link for a role that may not use it
    for method, path in (
        ("GET", "/certificates"),
        ("POST", "/certificates/status"),
        ("POST", "/certificates/revoke"),
    ):
        if method == "GET":
            response = await counter_client.get(path)
        else:
            response = await _post(
                counter_client,
                path,
                municipality="282022",
                certificate_id="A" * 12,
                reason="holder_request",
            )
        assert (path, response.status_code, error_code(response)) == (
            path,
            403,
            "COUNTER_ROLE_NOT_ALLOWED",
        )
