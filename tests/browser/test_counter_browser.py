"""The counter page in a real browser (Debian's chromium through Playwright): each flow a
member of staff goes through, a screenshot and an axe-core check of every screen."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import msgspec

import signing
from certsvc.staff import Role, StaffService
from certsvc.synthetic import ResidentEntry, World
from tests.browser.conftest import AXE, SCREENSHOTS
from tests.conftest import WORLD_NOW
from tests.e2e.conftest import MovableClock
from tests.e2e.counter_flow import NEW_PASSWORD, create_staff
from tests.e2e.kiosk_flow import qr_codes
from tests.unit.mrz.pages import Person, render_page
from vrs_client.synthetic import SyntheticResident

_AXE_RUN = """async () => {
  const result = await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa']}});
  return result.violations
    .filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '));
}"""


async def screen(page: Any, name: str) -> None:
    """A screenshot of the screen, and no serious or critical axe-core violation on it."""
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    # Under the page's CSP (script-src 'self') axe is evaluated, not added as a script tag.
    if not await page.evaluate("() => typeof axe !== 'undefined'"):
        await page.evaluate(AXE.read_text(encoding="utf-8"))
    assert await page.evaluate(_AXE_RUN) == [], name


async def submit(page: Any, button: str, path: str) -> None:
    """Press `button` and wait for the page it posts to."""
    await page.get_by_role("button", name=button).click()
    await page.wait_for_url(f"**{path}")
    await page.wait_for_load_state()


async def code_shown(page: Any) -> str:
    return str(await page.locator("#error-code").inner_text())


async def sign_in(page: Any, staff_id: str, password: str) -> None:
    await page.goto("/sign-in")
    await page.get_by_label("職員ID").fill(staff_id)
    await page.get_by_label("パスワード").fill(password)
    await page.get_by_role("button", name="サインイン").click()
    await page.wait_for_load_state()


async def signed_in(page: Any, staff: StaffService, staff_id: str, role: Role, **kw: Any) -> None:
    once = await create_staff(staff, staff_id, role, **kw)
    await sign_in(page, staff_id, once)
    await page.get_by_label("現在のパスワード").fill(once)
    await page.get_by_label("新しいパスワード").fill(NEW_PASSWORD)
    await page.get_by_role("button", name="変更する").click()
    await page.wait_for_load_state()


def _resident(entries: dict[str, ResidentEntry]) -> ResidentEntry:
    return next(
        e for e in entries.values() if e.municipality_code == "282022" and e.status == "resident"
    )


def _card_sim(world: World, entry: ResidentEntry, nonce: str, out: Path) -> None:
    # The demo's card reader, as staff run it: `certsvc card-sim`, on a directory of its own
    # (other tests of the session may rewrite the world's residents.json).
    reader = out.parent / "reader"
    reader.mkdir(exist_ok=True)
    own = msgspec.structs.replace(entry, card=str(world.directory / entry.card))
    (reader / "residents.json").write_bytes(msgspec.json.encode([own]))
    run = subprocess.run(
        [sys.executable, "-m", "certsvc", "card-sim", "--demo-dir", str(reader),
         "--card", "1", f"--nonce={nonce}", "--out", str(out)],
        check=False, capture_output=True, text=True,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr


def _verify_pdf(pdf: bytes, world: World, *, abroad: bool) -> None:
    jwks = signing.FileKeyStore(world.key_dir).jwks()
    codes = qr_codes(pdf)
    shc = [c.text for c in codes if c.text.startswith("shc:/")]
    assert shc
    for text in shc:
        report = signing.verify_shc_jws(signing.shc_qr_to_jws(text), jwks=jwks, now=WORLD_NOW)
        assert report.valid, report
    assert (len(codes) > len(shc)) is abroad


async def _download(page: Any, tmp_path: Path, name: str) -> bytes:
    async with page.expect_download() as info:
        await page.get_by_role("button", name="PDFをダウンロード").click()
    download = await info.value
    path = tmp_path / name
    await download.save_as(path)
    return path.read_bytes()


async def test_sign_in_with_forced_password_change(page: Any, staff: StaffService) -> None:
    once = await create_staff(staff, "clerk1", Role.COUNTER_STAFF)
    await page.goto("/sign-in")
    await screen(page, "01-sign-in")
    await sign_in(page, "clerk1", once)
    assert page.url.endswith("/password")
    await screen(page, "02-password-change")
    await page.get_by_label("現在のパスワード").fill(once)
    await page.get_by_label("新しいパスワード").fill(NEW_PASSWORD)
    await page.get_by_role("button", name="変更する").click()
    await page.wait_for_url("**/issue")
    cookies = {c["name"]: c for c in await page.context.cookies()}
    session = cookies["counter_session"]
    assert (session["httpOnly"], session["secure"], session["sameSite"]) == (True, True, "Strict")
    await screen(page, "03-issue-start")
    await page.get_by_role("link", name="English").click()
    await page.wait_for_url("**/issue")
    assert await page.locator("h1").inner_text() == "Issue a certificate"
    await screen(page, "04-issue-start-en")


async def test_domestic_by_card_pdf_verified_and_reprinted(
    page: Any,
    staff: StaffService,
    world: World,
    resident_entries: dict[str, ResidentEntry],
    tmp_path: Path,
) -> None:
    entry = _resident(resident_entries)
    await signed_in(page, staff, "clerk1", Role.COUNTER_STAFF)
    await submit(page, "受付を始める", "/visit/start")
    await screen(page, "05-identity")
    nonce = await page.locator("#nonce").inner_text()
    bundle = tmp_path / "card.json"
    _card_sim(world, entry, nonce, bundle)
    await page.get_by_label("カード読取ファイル").set_input_files(str(bundle))
    await submit(page, "カードで確認", "/visit/identify")
    await screen(page, "06-details")
    await page.get_by_label("交付理由").select_option("kiosk_unavailable")
    await submit(page, "確認画面へ", "/visit/preview")
    await screen(page, "07-preview-domestic")
    await submit(page, "交付する", "/visit/issue")
    await screen(page, "08-issued")
    certificate_id = await page.locator("#certificate-id").inner_text()
    first = await _download(page, tmp_path, "first.pdf")
    _verify_pdf(first, world, abroad=False)

    # A reprint in a new visit, the resident identified again by card: the same bytes.
    await page.get_by_role("link", name="再印刷").click()
    await submit(page, "受付を始める", "/visit/start")
    _card_sim(world, entry, await page.locator("#nonce").inner_text(), bundle)
    await page.get_by_label("カード読取ファイル").set_input_files(str(bundle))
    await submit(page, "カードで確認", "/visit/identify")
    await screen(page, "09-reprint")
    await page.get_by_label("証明書ID").fill(certificate_id)
    await submit(page, "再印刷する", "/visit/reprint")
    assert await _download(page, tmp_path, "again.pdf") == first


def _passport_person(resident: SyntheticResident) -> Person:
    return Person(
        issuing_state="JPN",
        family_name=resident.family_name_roman,
        given_names=resident.given_name_roman,
        number=f"TK{int(resident.address_number) % 10_000_000:07d}",
        nationality="JPN",
        birth_date=resident.birth_date,
        sex={"1": "M", "2": "F"}.get(resident.sex, "<"),
        expiry_date=WORLD_NOW.date() + timedelta(days=5 * 365),
    )


async def test_abroad_by_notification_card_with_a_passport_scan(
    page: Any,
    staff: StaffService,
    world: World,
    residents: list[SyntheticResident],
    resident_entries: dict[str, ResidentEntry],
    tmp_path: Path,
) -> None:
    entry = _resident(resident_entries)
    person = next(r for r in residents if r.address_number == entry.address_number)
    scan = tmp_path / "passport.png"
    scan.write_bytes(render_page(_passport_person(person)))
    await signed_in(page, staff, "clerk1", Role.COUNTER_STAFF)
    await submit(page, "受付を始める", "/visit/start")
    number = page.get_by_label("個人番号(12桁)")
    # The page checks the check digit as staff type; the form does not go out with a bad one.
    await number.fill(person.my_number[:11] + str((int(person.my_number[11]) + 1) % 10))
    await page.get_by_role("button", name="番号で確認").click()
    assert await number.get_attribute("aria-invalid") == "true"
    await number.fill(person.my_number)
    await page.get_by_label("写真付き本人確認書類", exact=True).select_option("passport")
    await submit(page, "番号で確認", "/visit/identify")
    assert person.my_number not in await page.content()
    await page.get_by_label("海外用").check()
    await page.get_by_label("旅券スキャン画像").set_input_files(str(scan))
    await page.get_by_label("旧姓・通称", exact=True).select_option("former")
    await page.get_by_label("旧姓・通称(書類のとおり)").fill("山田 花子")
    await page.get_by_label("交付理由").select_option("no_smartphone")
    await submit(page, "確認画面へ", "/visit/preview")
    await screen(page, "10-preview-abroad")
    assert person.family_name_roman in await page.locator("#passport-name").inner_text()
    await submit(page, "交付する", "/visit/issue")
    pdf = await _download(page, tmp_path, "abroad.pdf")
    _verify_pdf(pdf, world, abroad=True)


async def test_lockout_after_five_failures(page: Any, staff: StaffService) -> None:
    once = await create_staff(staff, "clerk1", Role.COUNTER_STAFF)
    for _ in range(5):
        await sign_in(page, "clerk1", "not-the-password")
        assert await code_shown(page) == "STAFF_SIGN_IN_FAILED"
    await sign_in(page, "clerk1", once)
    assert await code_shown(page) == "STAFF_LOCKED_OUT"
    await screen(page, "11-locked-out")


async def test_contractor_refused_the_audit_page(page: Any, staff: StaffService) -> None:
    await signed_in(page, staff, "contract1", Role.CONTRACTOR)
    assert await page.get_by_role("link", name="監査ログ").count() == 0
    response = await page.goto("/audit")
    assert response.status == 403
    assert await code_shown(page) == "COUNTER_ROLE_NOT_ALLOWED"
    await screen(page, "12-role-refused")


async def test_supervisor_audit_page(page: Any, staff: StaffService) -> None:
    await signed_in(page, staff, "super1", Role.SUPERVISOR)
    await page.get_by_role("link", name="監査ログ").click()
    await page.wait_for_load_state()
    await screen(page, "13-audit")
    assert "正常" in await page.locator("#chain-status").inner_text()
    await page.get_by_role("link", name="アカウント点検").click()
    await page.wait_for_load_state()
    await screen(page, "14-accounts")
    assert "super1" in await page.locator("#accounts").inner_text()


async def test_municipality_not_granted(page: Any, staff: StaffService) -> None:
    await signed_in(page, staff, "clerk1", Role.COUNTER_STAFF)
    # Only granted municipalities are offered; a forged choice is refused by the server.
    await page.evaluate(
        "() => { document.querySelector('#municipality option').value = '131016'; }"
    )
    await submit(page, "受付を始める", "/visit/start")
    assert await code_shown(page) == "COUNTER_MUNICIPALITY_NOT_GRANTED"
    await screen(page, "15-municipality-refused")


async def test_csrf_refusal(page: Any, staff: StaffService) -> None:
    await signed_in(page, staff, "clerk1", Role.COUNTER_STAFF)
    await page.evaluate("() => { document.querySelector('main input[name=_csrf]').value = 'x'; }")
    await submit(page, "受付を始める", "/visit/start")
    assert await code_shown(page) == "COUNTER_CSRF_INVALID"


async def test_idle_timeout(page: Any, staff: StaffService, clock: MovableClock) -> None:
    await signed_in(page, staff, "clerk1", Role.COUNTER_STAFF)
    clock.now = clock.now + timedelta(minutes=16)
    await submit(page, "受付を始める", "/visit/start")
    assert await code_shown(page) == "COUNTER_SIGNED_OUT"
    await screen(page, "16-signed-out")


def test_screenshots_are_ignored_by_git() -> None:
    ignored = subprocess.run(["git", "check-ignore", "-q", str(SCREENSHOTS / "x.png")], check=False)
    assert ignored.returncode == 0
