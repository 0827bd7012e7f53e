"""The print-out carries its own Japanese font: the kanji name and labels are real text in an
embedded font, whatever fonts the viewer or the kiosk's printer has."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pypdfium2

from certsvc.printout import render_certificate_pdf
from signing import Certificate, Dose, Holder, Municipality, shc_qr_text


def _pdf() -> bytes:
    cert = Certificate(
        certificate_id="ABCDEFGH2345",
        issued_at=datetime(2026, 11, 27, tzinfo=UTC),
        kind="domestic",
        holder=Holder(family_name="髙橋", given_name="瑠璃子", birth_date=date(1980, 1, 2)),
        doses=(Dose(number=1, date=date(2021, 6, 1), product="COMIRNATY", lot="FC9880"),),
        municipality=Municipality(code="282022", name_ja="尼崎市", name_en="Amagasaki City"),
    )
    return render_certificate_pdf(cert, shc_qr_texts=[shc_qr_text("a.b.c")])


def test_japanese_text_is_embedded_and_extractable() -> None:
    pdf = _pdf()
    assert b"/FontFile2" in pdf  # a TrueType font program inside the file
    assert b"HeiseiKakuGo" not in pdf  # no font left to the viewer
    page = pypdfium2.PdfDocument(pdf)[0]
    text = page.get_textpage().get_text_range()
    for expected in ("髙橋", "瑠璃子", "尼崎市", "新型コロナウイルス感染症予防接種証明書"):
        assert expected in text
