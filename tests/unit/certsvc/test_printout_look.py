"""How the print-out reads: 見本 / SAMPLE across a demo or test certificate and never on a real
one, a line on how to verify it, the kanji name with its ideographic space, and Latin text in
the embedded font whose words stay apart when rasterised at 300 dpi."""

from __future__ import annotations

import base64
import zlib
from datetime import UTC, date, datetime

import msgspec
import pypdfium2 as pdfium
import pytest

from certsvc.printout import is_sample_issuer, render_certificate_pdf
from signing import Certificate, Dose, Holder, Municipality, shc_qr_text

_PRODUCTION_ISSUER = "https://vc.city.amagasaki.lg.jp/issuer"
_DEMO_ISSUER = "https://demo.certsvc.invalid/issuer"


def _cert() -> Certificate:
    return Certificate(
        certificate_id="ABCDEFGH2345",
        issued_at=datetime(2026, 11, 27, tzinfo=UTC),
        kind="domestic",
        holder=Holder(family_name="髙橋", given_name="瑠璃子", birth_date=date(1980, 1, 2)),
        doses=(Dose(number=1, date=date(2021, 6, 1), product="COMIRNATY", lot="FC9880"),),
        municipality=Municipality(code="282022", name_ja="尼崎市", name_en="Amagasaki City"),
    )


def _qr_text_for(issuer: str) -> str:
    # An SHC-shaped JWS whose payload names `issuer` (the print-out reads only `iss`).
    payload = msgspec.json.encode({"iss": issuer, "nbf": 1})
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    body = base64.urlsafe_b64encode(c.compress(payload) + c.flush()).rstrip(b"=").decode()
    return shc_qr_text(f"eyJhbGciOiJFUzI1NiJ9.{body}.c2ln")


def _pdf(issuer: str, *, sample: bool | None = None) -> bytes:
    return render_certificate_pdf(_cert(), shc_qr_texts=[_qr_text_for(issuer)], sample=sample)


def _text(pdf: bytes) -> str:
    doc = pdfium.PdfDocument(pdf)
    try:
        return str(doc[0].get_textpage().get_text_range())
    finally:
        doc.close()


@pytest.mark.parametrize(
    ("issuer", "sample"),
    [
        (_DEMO_ISSUER, True),
        ("https://vc.example.invalid/issuer", True),
        ("https://issuer.test", True),
        ("https://example.com/issuer", True),
        ("https://localhost/issuer", True),
        (_PRODUCTION_ISSUER, False),
        ("https://vc.digital.go.jp/issuer", False),
        ("https://invalid.example.jp/issuer", False),
    ],
)
def test_sample_issuers_are_the_reserved_names(issuer: str, sample: bool) -> None:
    assert is_sample_issuer(issuer) is sample


def test_demo_certificate_says_sample_across_the_page() -> None:
    text = _text(_pdf(_DEMO_ISSUER))
    assert "見本" in text
    assert "SAMPLE" in text
    assert "not valid" in text


def test_real_certificate_has_no_sample_mark() -> None:
    text = _text(_pdf(_PRODUCTION_ISSUER))
    assert "見本" not in text
    assert "SAMPLE" not in text
    assert "ORIGINAL" in text  # the background pattern of a real certificate


def test_caller_can_mark_any_certificate_a_sample() -> None:
    assert "見本" in _text(_pdf(_PRODUCTION_ISSUER, sample=True))
    assert "見本" not in _text(_pdf(_DEMO_ISSUER, sample=False))


def test_sample_pdf_is_deterministic() -> None:
    assert _pdf(_DEMO_ISSUER) == _pdf(_DEMO_ISSUER)
    assert _pdf(_DEMO_ISSUER) != _pdf(_PRODUCTION_ISSUER)


def test_page_says_how_to_verify_it() -> None:
    text = _text(_pdf(_PRODUCTION_ISSUER))
    assert "確認方法" in text
    assert "How to verify" in text
    assert f"{_PRODUCTION_ISSUER}/.well-known/jwks.json" in text


def test_kanji_name_keeps_its_ideographic_space() -> None:
    assert "髙橋\u3000瑠璃子" in _text(_pdf(_PRODUCTION_ISSUER))


def test_no_font_is_left_to_the_viewer() -> None:
    pdf = _pdf(_PRODUCTION_ISSUER)
    assert b"/FontFile2" in pdf
    for base14 in (b"Helvetica", b"Times-Roman", b"Courier"):
        assert base14 not in pdf


def test_latin_words_stay_apart_at_300_dpi() -> None:
    # Each space between Latin words stays white on a 300 dpi raster, and letters follow each
    # other at their advances: no glyphs drawn from a substitute font with other widths.
    pdf = _pdf(_PRODUCTION_ISSUER)
    doc = pdfium.PdfDocument(pdf)
    try:
        page = doc[0]
        tp = page.get_textpage()
        text = tp.get_text_range()
        scale = 300 / 72
        image = page.render(scale=scale).to_pil().convert("L")
        _, height = page.get_size()
        checked_spaces = 0
        for line in ("Vaccination Certificate of COVID-19", "Vaccinated person", "Date of issue"):
            start = text.index(line)
            for k in range(start, start + len(line)):
                left, bottom, right, top = tp.get_charbox(k, loose=True)
                if text[k] == " ":
                    # The white between the ink of the letters either side of the space:
                    # at least a third of the space's advance, and no ink in it.
                    gap_left = max(left, tp.get_charbox(k - 1)[2]) + 0.25
                    gap_right = min(right, tp.get_charbox(k + 1)[0]) - 0.25
                    assert gap_right - gap_left >= (right - left) / 3, (line, k - start)
                    box = (
                        round(gap_left * scale),
                        round((height - top + 2) * scale),
                        round(gap_right * scale),
                        round((height - bottom - 2) * scale),
                    )
                    assert image.crop(box).getextrema()[0] > 128, (line, k - start)
                    checked_spaces += 1
                elif k > start and text[k - 1] != " ":
                    # Letters follow each other: no advance running backwards or leaping on.
                    previous_right = tp.get_charbox(k - 1, loose=True)[2]
                    assert -1.5 <= left - previous_right <= 0.5, (line, text[k])
        assert checked_spaces >= 5
    finally:
        doc.close()
