"""What a counter visit leaves behind: audit events with actor, role, terminal, identity method
and reason; nothing of the resident in Redis; a terminal recorded from its enrolment cookie."""

from __future__ import annotations

import redis.asyncio as redis_asyncio
from litestar import Litestar
from litestar.testing import AsyncTestClient

from certsvc.staff import Role, StaffService
from certsvc.synthetic import ResidentEntry
from tests.e2e.counter_flow import (
    error_code,
    identify_by_number,
    post_visit,
    preview,
    signed_in,
    start_visit,
)
from vrs_client.synthetic import SyntheticResident


async def test_counter_visit_is_audited_and_leaves_nothing_in_redis(
    counter_client: AsyncTestClient[Litestar],
    staff: StaffService,
    redis_client: redis_asyncio.Redis,
    residents: list[SyntheticResident],
    resident_entries: dict[str, ResidentEntry],
) -> None:
    entry = next(
        e
        for e in resident_entries.values()
        if e.municipality_code == "282022" and e.status == "resident"
    )
    person = next(r for r in residents if r.address_number == entry.address_number)
    terminal, token = await staff.terminal_add("window-3", by="test")
    enrolled = await counter_client.get(f"/terminal/enrol?token={token}")
    assert enrolled.status_code == 200
    cookie = enrolled.headers["set-cookie"]
    assert "counter_terminal=" in cookie
    assert all(flag in cookie.lower() for flag in ("httponly", "secure", "samesite=strict"))
    await signed_in(counter_client, staff, "clerk1", Role.CONTRACTOR)

    started = (await start_visit(counter_client)).text
    identified = await identify_by_number(counter_client, person.my_number, started)
    previewed = await preview(counter_client, identified.text, reason="new_doses")
    issued = await post_visit(counter_client, "/visit/issue", previewed.text)
    assert issued.status_code == 200, error_code(issued)
    assert "window-3" in issued.text

    events = await staff.audit_events("282022", actor="clerk1")
    steps = {(e.action, e.outcome) for e in events}
    assert {
        ("counter.visit.issue", "started"),
        ("counter.identify", "verified"),
        ("counter.preview", "previewed"),
        ("counter.issue", "issued"),
        ("issue.counter.domestic", "issued"),
    } <= steps
    issue = next(e for e in events if e.action == "counter.issue")
    assert (issue.actor_role, issue.terminal, issue.identity_method, issue.reason) == (
        "contractor",
        terminal.name,
        "notification_card_and_photo_id",
        "new_doses",
    )
    assert issue.address_number == entry.address_number

    secrets_of_the_resident = [
        person.my_number.encode(),
        person.family_name.encode(),
        person.birth_date.isoformat().encode(),
        entry.address_number.encode(),
    ]
    async for key in redis_client.scan_iter():
        kind = await redis_client.type(key)
        value = await redis_client.dump(key) or b""
        assert not any(s in key or s in value for s in secrets_of_the_resident), (key, kind)
