"""The counter's issuance flow over HTTP: a visit by card and by notification card + number."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient

from certsvc.staff import Role, StaffService
from certsvc.synthetic import ResidentEntry, World
from tests.e2e.counter_flow import (
    error_code,
    identify_by_card,
    post_visit,
    preview,
    signed_in,
    start_visit,
)


async def test_counter_issues_domestic_by_card_and_prints_the_pdf(
    counter_client: AsyncTestClient[Litestar],
    staff: StaffService,
    world: World,
    resident_entries: dict[str, ResidentEntry],
) -> None:
    entry = next(
        e
        for e in resident_entries.values()
        if e.municipality_code == "282022" and e.status == "resident"
    )
    await signed_in(counter_client, staff, "clerk1", Role.COUNTER_STAFF)
    started = await start_visit(counter_client)
    assert started.status_code == 200, started.text
    identified = await identify_by_card(counter_client, world, entry, started.text)
    assert identified.status_code == 200, (error_code(identified), identified.text[:500])
    previewed = await preview(counter_client, identified.text)
    assert previewed.status_code == 200, (error_code(previewed), previewed.text[:500])
    issued = await post_visit(counter_client, "/visit/issue", previewed.text)
    assert issued.status_code == 200, (error_code(issued), issued.text[:500])
    pdf = await post_visit(counter_client, "/visit/pdf", issued.text)
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF")
    assert pdf.headers["cache-control"] == "no-store"
