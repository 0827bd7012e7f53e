"""The A4 print-out: deterministic bytes, both QR codes readable off a 200 dpi raster."""

from __future__ import annotations

from pathlib import Path

import pypdfium2 as pdfium
import pytest

from certsvc.printout import render_certificate_pdf
from signing import (
    FileKeyStore,
    decode_qr_image,
    seal_bytes,
    shc_qr_text,
    shc_qr_to_jws,
    sign_shc,
    sign_vdsnc,
    verify_shc_jws,
    verify_vdsnc,
)
from tests.unit.signing.test_certificate import AUTHORITY, ISSUER, NOW, make_cert, make_store


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> FileKeyStore:
    return make_store(tmp_path_factory.mktemp("print"))


def _render(store: FileKeyStore, kind: str, doses: int) -> bytes:
    cert = make_cert(kind=kind, doses=doses)
    jws = sign_shc(cert, issuer=ISSUER, signer=store.shc_signer(), vaccination_authority=AUTHORITY)
    seals = (
        sign_vdsnc(cert, signer=store.barcode_signer(), vaccination_authority=AUTHORITY)
        if kind == "abroad"
        else []
    )
    return render_certificate_pdf(
        cert,
        shc_qr_texts=[shc_qr_text(j) for j in jws],
        vdsnc_payloads=[seal_bytes(s) for s in seals],
    )


def test_same_input_same_bytes(store: FileKeyStore) -> None:
    a = _render(store, "domestic", 3)
    assert a.startswith(b"%PDF-")
    assert a == _render(store, "domestic", 3)


def test_both_qr_codes_read_off_the_page(store: FileKeyStore) -> None:
    pdf = _render(store, "abroad", 4)
    doc = pdfium.PdfDocument(pdf)
    try:
        assert len(doc) == 1
        w, h = doc[0].get_size()
        assert (round(w), round(h)) == (595, 842)  # A4 in points
        image = doc[0].render(scale=200 / 72).to_pil()
    finally:
        doc.close()
    found = decode_qr_image(image)
    shc = [q for q in found if q.text.startswith("shc:/")]
    vds = [q for q in found if not q.text.startswith("shc:/")]
    assert len(shc) == 1 and len(vds) == 1  # noqa: PT018
    assert shc[0].error == "L" and (shc[0].version or 99) <= 22  # noqa: PT018
    assert verify_shc_jws(shc_qr_to_jws(shc[0].text), jwks=store.jwks(), now=NOW).exit_code == 0
    report = verify_vdsnc(
        vds[0].raw, csca_pem=store.csca_certificate_pem(), crl_pem=store.csca_crl_pem(), now=NOW
    )
    assert report.exit_code == 0


def test_pdf_holds_labels_and_id(tmp_path: Path, store: FileKeyStore) -> None:
    pdf = _render(store, "domestic", 2)
    doc = pdfium.PdfDocument(pdf)
    try:
        text = doc[0].get_textpage().get_text_range()
    finally:
        doc.close()
    assert "Vaccination Certificate of COVID-19" in text
    assert "ABCDEFGH2345" in text
    assert "COMIRNATY" in text or "SPIKEVAX" in text


def test_every_qr_code_reads_off_a_many_dose_print_out(store: FileKeyStore) -> None:
    # 20 doses: a long dose table, several seals, rows of QR codes flowing onto a second page;
    # none may run into the footer's text.
    cert = make_cert(kind="abroad", doses=20)
    jws = sign_shc(cert, issuer=ISSUER, signer=store.shc_signer(), vaccination_authority=AUTHORITY)
    seals = sign_vdsnc(cert, signer=store.barcode_signer(), vaccination_authority=AUTHORITY)
    assert len(seals) > 1
    pdf = render_certificate_pdf(
        cert,
        shc_qr_texts=[shc_qr_text(j) for j in jws],
        vdsnc_payloads=[seal_bytes(s) for s in seals],
    )
    doc = pdfium.PdfDocument(pdf)
    try:
        assert len(doc) >= 2
        found = [q for page in doc for q in decode_qr_image(page.render(scale=300 / 72).to_pil())]
    finally:
        doc.close()
    assert sorted(q.text for q in found if q.text.startswith("shc:/")) == sorted(
        shc_qr_text(j) for j in jws
    )
    assert sorted(q.raw for q in found if not q.text.startswith("shc:/")) == sorted(
        seal_bytes(s) for s in seals
    )
