"""Every refusal of the counter's pages, each as an HTML page that shows its code."""

from __future__ import annotations

from datetime import timedelta

import pypdfium2
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from certsvc.staff import Role, StaffService
from certsvc.synthetic import ResidentEntry, World, passport_for
from tests.conftest import WORLD_NOW
from tests.e2e.conftest import MovableClock
from tests.e2e.counter_flow import (
    COUNTER_KEY,
    create_staff,
    csrf,
    error_code,
    field,
    identify_by_card,
    identify_by_number,
    post_visit,
    preview,
    sign_in,
    signed_in,
    start_visit,
)
from vrs_client.synthetic import SyntheticResident

Client = AsyncTestClient[Litestar]


def _resident(entries: dict[str, ResidentEntry], code: str = "282022") -> ResidentEntry:
    return next(
        e for e in entries.values() if e.municipality_code == code and e.status == "resident"
    )


def _synthetic(residents: list[SyntheticResident], entry: ResidentEntry) -> SyntheticResident:
    return next(r for r in residents if r.address_number == entry.address_number)


def _html_refusal(response: object, status: int, code: str) -> None:
    assert response.status_code == status, response.text[:300]  # type: ignore[attr-defined]
    assert response.headers["content-type"].startswith("text/html")  # type: ignore[attr-defined]
    assert response.headers["cache-control"] == "no-store"  # type: ignore[attr-defined]
    assert error_code(response) == code  # type: ignore[arg-type]


async def test_counter_signed_out(counter_client: Client) -> None:
    _html_refusal(await counter_client.get("/issue"), 401, "COUNTER_SIGNED_OUT")


async def test_counter_csrf_invalid_on_sign_in(counter_client: Client) -> None:
    await counter_client.get("/sign-in")
    response = await counter_client.post(
        "/sign-in", data={"_csrf": "forged", "staff_id": "x1", "password": "y"}
    )
    _html_refusal(response, 403, "COUNTER_CSRF_INVALID")


async def test_counter_csrf_from_before_sign_in_is_refused(
    counter_client: Client, staff: StaffService
) -> None:
    before = field((await counter_client.get("/sign-in")).text, "_csrf")
    await signed_in(counter_client, staff, "clerk1", Role.COUNTER_STAFF)
    response = await counter_client.post(
        "/visit/start", data={"_csrf": before, "municipality": "282022", "purpose": "issue"}
    )
    _html_refusal(response, 403, "COUNTER_CSRF_INVALID")


async def test_counter_sign_in_failed_says_nothing_of_the_id(
    counter_client: Client, staff: StaffService
) -> None:
    await create_staff(staff, "clerk1", Role.COUNTER_STAFF)
    wrong = await sign_in(counter_client, "clerk1", "not-the-password")
    unknown = await sign_in(counter_client, "nobody", "not-the-password")
    _html_refusal(wrong, 401, "STAFF_SIGN_IN_FAILED")
    _html_refusal(unknown, 401, "STAFF_SIGN_IN_FAILED")


async def test_counter_locked_out_after_five_failures(
    counter_client: Client, staff: StaffService
) -> None:
    once = await create_staff(staff, "clerk1", Role.COUNTER_STAFF)
    for _ in range(5):
        await sign_in(counter_client, "clerk1", "not-the-password")
    _html_refusal(await sign_in(counter_client, "clerk1", once), 429, "STAFF_LOCKED_OUT")


async def test_counter_password_change_required_first(
    counter_client: Client, staff: StaffService
) -> None:
    once = await create_staff(staff, "clerk1", Role.COUNTER_STAFF)
    await sign_in(counter_client, "clerk1", once)
    _html_refusal(await counter_client.get("/issue"), 403, "COUNTER_PASSWORD_CHANGE_REQUIRED")


@pytest.mark.parametrize(
    ("new", "code"),
    [("short", "PASSWORD_TOO_SHORT"), ("clerk1-is-my-name", "PASSWORD_CONTAINS_ID")],
)
async def test_counter_password_refusals(
    counter_client: Client, staff: StaffService, new: str, code: str
) -> None:
    once = await create_staff(staff, "clerk1", Role.COUNTER_STAFF)
    await sign_in(counter_client, "clerk1", once)
    response = await counter_client.post(
        "/password",
        data={"_csrf": await csrf(counter_client), "current_password": once, "new_password": new},
    )
    _html_refusal(response, 422, code)


async def test_counter_idle_timeout(
    counter_client: Client, staff: StaffService, clock: MovableClock
) -> None:
    await signed_in(counter_client, staff, "clerk1", Role.COUNTER_STAFF)
    assert (await counter_client.get("/issue")).status_code == 200
    clock.now = clock.now + timedelta(minutes=16)
    _html_refusal(await counter_client.get("/issue"), 401, "COUNTER_SIGNED_OUT")


async def test_counter_municipality_not_granted(
    counter_client: Client, staff: StaffService
) -> None:
    await signed_in(counter_client, staff, "clerk1", Role.COUNTER_STAFF)
    _html_refusal(
        await start_visit(counter_client, municipality="131016"),
        403,
        "COUNTER_MUNICIPALITY_NOT_GRANTED",
    )


async def test_counter_role_not_allowed(counter_client: Client, staff: StaffService) -> None:
    await signed_in(counter_client, staff, "contract1", Role.CONTRACTOR)
    _html_refusal(await counter_client.get("/audit"), 403, "COUNTER_ROLE_NOT_ALLOWED")


async def test_counter_visit_invalid_when_tampered(
    counter_client: Client, staff: StaffService
) -> None:
    await signed_in(counter_client, staff, "clerk1", Role.COUNTER_STAFF)
    started = (await start_visit(counter_client)).text
    token = field(started, "visit")
    tampered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    response = await counter_client.post(
        "/visit/identify",
        data={
            "_csrf": field(started, "_csrf"),
            "visit": tampered,
            "method": "notification",
            "my_number": "123456789018",
            "photo_id_type": "passport",
        },
    )
    _html_refusal(response, 403, "COUNTER_VISIT_INVALID")


async def test_counter_visit_of_another_session_is_invalid(
    counter_client: Client, staff: StaffService, world_settings: object, clock: MovableClock
) -> None:
    await signed_in(counter_client, staff, "clerk1", Role.COUNTER_STAFF)
    started = (await start_visit(counter_client)).text
    # Sign in again (a new session): the old visit token no longer opens.
    await sign_in(counter_client, "clerk1", "katsura-river-lantern-42")
    response = await counter_client.post(
        "/visit/identify",
        data={
            "_csrf": await csrf(counter_client),
            "visit": field(started, "visit"),
            "method": "notification",
            "my_number": "123456789018",
            "photo_id_type": "passport",
        },
    )
    _html_refusal(response, 403, "COUNTER_VISIT_INVALID")


async def test_counter_visit_expired(
    counter_client: Client, staff: StaffService, clock: MovableClock
) -> None:
    await signed_in(counter_client, staff, "clerk1", Role.COUNTER_STAFF)
    started = (await start_visit(counter_client)).text
    # Keep the staff session alive (a request every 10 minutes) past the visit's 30 minutes.
    for _ in range(4):
        clock.now = clock.now + timedelta(minutes=10)
        assert (await counter_client.get("/issue")).status_code == 200
    response = await identify_by_number(counter_client, "123456789018", started)
    _html_refusal(response, 409, "COUNTER_VISIT_EXPIRED")


async def test_counter_my_number_invalid(counter_client: Client, staff: StaffService) -> None:
    await signed_in(counter_client, staff, "clerk1", Role.COUNTER_STAFF)
    started = (await start_visit(counter_client)).text
    response = await identify_by_number(counter_client, "123456789012", started)
    _html_refusal(response, 422, "MY_NUMBER_INVALID")
    assert "123456789012" not in response.text


async def test_counter_person_not_found(counter_client: Client, staff: StaffService) -> None:
    await signed_in(counter_client, staff, "clerk1", Role.COUNTER_STAFF)
    started = (await start_visit(counter_client)).text
    response = await identify_by_number(counter_client, "123456789018", started)
    _html_refusal(response, 422, "PERSON_NOT_FOUND")


async def test_counter_card_bundle_invalid(counter_client: Client, staff: StaffService) -> None:
    await signed_in(counter_client, staff, "clerk1", Role.COUNTER_STAFF)
    started = (await start_visit(counter_client)).text
    response = await counter_client.post(
        "/visit/identify",
        data={"_csrf": field(started, "_csrf"), "visit": field(started, "visit"), "method": "card"},
        files={"card_file": ("card.json", b'{"ef0001": 1}', "application/json")},
    )
    _html_refusal(response, 400, "COUNTER_CARD_BUNDLE_INVALID")


async def test_counter_card_signed_another_challenge(
    counter_client: Client,
    staff: StaffService,
    world: World,
    resident_entries: dict[str, ResidentEntry],
) -> None:
    await signed_in(counter_client, staff, "clerk1", Role.COUNTER_STAFF)
    first = (await start_visit(counter_client)).text
    second = (await start_visit(counter_client)).text
    # The card signed the first visit's challenge; the bundle is sent in the second visit.
    mixed = first.replace(field(first, "visit"), field(second, "visit"))
    response = await identify_by_card(counter_client, world, _resident(resident_entries), mixed)
    _html_refusal(response, 422, "CARD_CHALLENGE_SIGNATURE_INVALID")


async def test_counter_form_invalid(counter_client: Client, staff: StaffService) -> None:
    await signed_in(counter_client, staff, "clerk1", Role.COUNTER_STAFF)
    response = await counter_client.post(
        "/visit/start",
        data={"_csrf": await csrf(counter_client), "municipality": "282022", "purpose": "x"},
    )
    _html_refusal(response, 400, "COUNTER_FORM_INVALID")


async def test_counter_upload_too_large(counter_client: Client, staff: StaffService) -> None:
    await signed_in(counter_client, staff, "clerk1", Role.COUNTER_STAFF)
    started = (await start_visit(counter_client)).text
    response = await counter_client.post(
        "/visit/identify",
        data={"_csrf": field(started, "_csrf"), "visit": field(started, "visit"), "method": "card"},
        files={"card_file": ("card.json", b" " * (10 * 1024 * 1024 + 1), "application/json")},
    )
    _html_refusal(response, 413, "COUNTER_UPLOAD_TOO_LARGE")


async def test_counter_terminal_token_invalid(counter_client: Client) -> None:
    _html_refusal(
        await counter_client.get("/terminal/enrol?token=nonsense"),
        403,
        "COUNTER_TERMINAL_TOKEN_INVALID",
    )


async def test_counter_not_found_is_html(counter_client: Client) -> None:
    _html_refusal(await counter_client.get("/no-such-page"), 404, "NOT_FOUND")


async def test_counter_abroad_by_number_and_typed_mrz_then_reprint(
    counter_client: Client,
    staff: StaffService,
    residents: list[SyntheticResident],
    resident_entries: dict[str, ResidentEntry],
) -> None:
    entry = _resident(resident_entries)
    person = _synthetic(residents, entry)
    await signed_in(counter_client, staff, "clerk1", Role.COUNTER_STAFF)
    started = (await start_visit(counter_client)).text
    identified = await identify_by_number(counter_client, person.my_number, started)
    assert identified.status_code == 200, error_code(identified)
    assert person.my_number not in identified.text
    line1, line2 = passport_for(person, today=WORLD_NOW.date())
    previewed = await preview(
        counter_client,
        identified.text,
        kind="abroad",
        mrz1=line1,
        mrz2=line2,
        other_name_kind="former",
        other_name="旧姓 花子",
        reason="card_problem",
    )
    assert previewed.status_code == 200, error_code(previewed)
    assert "旧姓 花子" in previewed.text
    issued = await post_visit(counter_client, "/visit/issue", previewed.text)
    assert issued.status_code == 200, error_code(issued)
    certificate_id = (
        field(issued.text, "visit") and issued.text.split('id="certificate-id">')[1][:12]
    )
    again = await post_visit(counter_client, "/visit/issue", previewed.text)
    _html_refusal(again, 409, "COUNTER_VISIT_ALREADY_ISSUED")
    first_pdf = (await post_visit(counter_client, "/visit/pdf", issued.text)).content
    # The former name is printed on the PDF, with its label.
    document = pypdfium2.PdfDocument(first_pdf)
    try:
        printed = document[0].get_textpage().get_text_bounded()
    finally:
        document.close()
    assert "旧姓" in printed
    assert "花子" in printed

    started = (await start_visit(counter_client, purpose="reprint")).text
    identified = await identify_by_number(counter_client, person.my_number, started)
    reprinted = await post_visit(
        counter_client, "/visit/reprint", identified.text, certificate_id=certificate_id
    )
    assert reprinted.status_code == 200, error_code(reprinted)
    second_pdf = (await post_visit(counter_client, "/visit/pdf", reprinted.text)).content
    assert first_pdf == second_pdf
    unknown = await post_visit(
        counter_client, "/visit/reprint", identified.text, certificate_id="AAAAAAAAAAAA"
    )
    _html_refusal(unknown, 404, "ISSUANCE_NOT_FOUND")


async def test_counter_passport_bound_to_the_record(
    counter_client: Client,
    staff: StaffService,
    residents: list[SyntheticResident],
    resident_entries: dict[str, ResidentEntry],
) -> None:
    entry = _resident(resident_entries)
    person = _synthetic(residents, entry)
    other = next(r for r in residents if r.birth_date != person.birth_date)
    await signed_in(counter_client, staff, "clerk1", Role.COUNTER_STAFF)
    started = (await start_visit(counter_client)).text
    identified = await identify_by_number(counter_client, person.my_number, started)
    line1, line2 = passport_for(other, today=WORLD_NOW.date())
    previewed = await preview(
        counter_client, identified.text, kind="abroad", mrz1=line1, mrz2=line2
    )
    issued = await post_visit(counter_client, "/visit/issue", previewed.text)
    _html_refusal(issued, 422, "PASSPORT_BIRTH_DATE_MISMATCH")


async def test_counter_mrz_unreadable(
    counter_client: Client,
    staff: StaffService,
    residents: list[SyntheticResident],
    resident_entries: dict[str, ResidentEntry],
) -> None:
    person = _synthetic(residents, _resident(resident_entries))
    await signed_in(counter_client, staff, "clerk1", Role.COUNTER_STAFF)
    started = (await start_visit(counter_client)).text
    identified = await identify_by_number(counter_client, person.my_number, started)
    previewed = await preview(
        counter_client, identified.text, kind="abroad", mrz1="P<JPN", mrz2="X"
    )
    _html_refusal(previewed, 400, "MRZ_LINE_LENGTH")


async def test_counter_scan_unreadable(
    counter_client: Client,
    staff: StaffService,
    residents: list[SyntheticResident],
    resident_entries: dict[str, ResidentEntry],
) -> None:
    person = _synthetic(residents, _resident(resident_entries))
    await signed_in(counter_client, staff, "clerk1", Role.COUNTER_STAFF)
    started = (await start_visit(counter_client)).text
    identified = await identify_by_number(counter_client, person.my_number, started)
    response = await counter_client.post(
        "/visit/preview",
        data={
            "_csrf": field(identified.text, "_csrf"),
            "visit": field(identified.text, "visit"),
            "kind": "abroad",
            "reason": "no_smartphone",
            "other_name_kind": "none",
        },
        files={"passport_scan": ("scan.png", b"not an image", "image/png")},
    )
    _html_refusal(response, 422, "COUNTER_SCAN_UNREADABLE")


def test_counter_needs_its_session_key(world_settings: object) -> None:
    from certsvc.channel import ConfigurationError
    from certsvc.counter import create_counter_app

    with pytest.raises(ConfigurationError, match="CERTSVC_COUNTER_SESSION_KEY"):
        create_counter_app(world_settings)  # type: ignore[arg-type]
    assert COUNTER_KEY
