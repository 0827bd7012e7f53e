"""The printed certificate: an A4 PDF in Japanese and English with the QR codes.

Takes already-signed payloads and signs nothing. Deterministic: the same certificate and
payloads give byte-identical PDFs (reportlab invariant mode, the document date taken from
`issued_at`), so a kiosk print retry or a reprint is the same file (DESIGN §1.2 item 7). QR codes
are drawn from their module matrices as vector rectangles, no raster.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from datetime import UTC
from pathlib import Path
from typing import Final

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import TimeStamp
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from signing import Certificate, QrSymbol, shc_qr_symbol, vdsnc_qr_symbol
from signing.certificate import product

__all__ = ["render_certificate_pdf"]

# IPAex Gothic (IPA Font License, certsvc/fonts/), embedded as a subset: the Japanese text
# prints the same on any viewer or printer, with or without Japanese fonts of its own.
_FONT_FILE: Final = Path(__file__).with_name("fonts") / "ipaexg.ttf"
_GOTHIC: Final = "IPAexGothic"
_MINCHO: Final = _GOTHIC
_QR_SIZE: Final = 80 * mm  # ≥ 35 mm; large enough for a version-40 seal at 0.5 mm per module
_MARGIN: Final = 15 * mm
_QUIET: Final = 4  # modules of quiet zone kept free of the background pattern

_fonts_registered = False


def _register_fonts() -> None:
    global _fonts_registered  # noqa: PLW0603 (font registration is process-wide in reportlab)
    if not _fonts_registered:
        pdfmetrics.registerFont(TTFont(_GOTHIC, str(_FONT_FILE)))
        _fonts_registered = True


def render_certificate_pdf(
    cert: Certificate,
    *,
    shc_qr_texts: Sequence[str],
    vdsnc_payloads: Sequence[bytes] = (),
) -> bytes:
    """The A4 PDF of `cert`: title, municipality, holder, dose table, certificate ID, issue
    date, one SHC QR per card (`shc:/…` texts from `shc_qr_text`) and, for use abroad, one
    VDS-NC QR per seal (`seal_bytes`). QRs that do not fit the first page flow onto more pages.
    The same arguments always give the same bytes."""
    _register_fonts()
    symbols: list[tuple[str, QrSymbol]] = [
        ("SMART Health Card", shc_qr_symbol(t)) for t in shc_qr_texts
    ]
    symbols += [("ICAO VDS-NC", vdsnc_qr_symbol(p)) for p in vdsnc_payloads]

    buf = io.BytesIO()
    c = Canvas(buf, pagesize=A4, invariant=True, pageCompression=1)
    _fix_timestamp(c, cert)
    c.setTitle(f"Vaccination Certificate {cert.certificate_id}")
    c.setAuthor(cert.municipality.name_en)
    c.setSubject("COVID-19 vaccination certificate")
    c.setCreator("certsvc")

    height = A4[1]
    _background(c)
    y = _header(c, cert, height - _MARGIN)
    y = _holder(c, cert, y - 6 * mm)
    y = _doses(c, cert, y - 6 * mm)
    remaining = list(symbols)
    while remaining:
        y = _qr_row(c, remaining[:2], y - 6 * mm)
        remaining = remaining[2:]
        if remaining and y - _QR_SIZE - 14 * mm < _MARGIN:
            _footer(c, cert)
            c.showPage()
            _background(c)
            y = height - _MARGIN
    _footer(c, cert)
    c.showPage()
    c.save()
    return buf.getvalue()


def _fix_timestamp(c: Canvas, cert: Certificate) -> None:
    # Invariant mode pins the date to 2000-01-01; use the certificate's issued_at instead so
    # the document says when it was issued and a reprint still matches byte for byte.
    ts = TimeStamp(invariant=True)
    issued = cert.issued_at.astimezone(UTC)
    ts.t = issued.timestamp()
    ts.lt = issued.timetuple()
    ts.YMDhms = tuple(issued.timetuple())[:6]
    c._doc._timeStamp = ts  # type: ignore[attr-defined]


def _background(c: Canvas) -> None:
    """A faint guilloche of sine waves: a photocopy blurs it; it never covers the QR codes
    (they are drawn on a white quiet zone)."""
    width, height = A4
    c.saveState()
    c.setStrokeColorRGB(0.86, 0.9, 0.95)
    c.setLineWidth(0.25)
    for k in range(0, int(height), 9):
        # A smooth curve through points every 18 pt (Catmull-Rom as cubic Béziers): a third of
        # the segments that straight lines every 6 pt needed, for the same look.
        xs = range(-18, int(width) + 37, 18)
        pts = [(float(x), k + 4 * math.sin(x / 17 + k / 31)) for x in xs]
        path = c.beginPath()
        path.moveTo(*pts[1])
        for i in range(1, len(pts) - 2):
            (x0, y0), (x1, y1), (x2, y2), (x3, y3) = pts[i - 1 : i + 3]
            path.curveTo(
                x1 + (x2 - x0) / 6,
                y1 + (y2 - y0) / 6,
                x2 - (x3 - x1) / 6,
                y2 - (y3 - y1) / 6,
                x2,
                y2,
            )
        c.drawPath(path, stroke=1, fill=0)
    c.setFillColorRGB(0.93, 0.95, 0.98)
    c.setFont(_GOTHIC, 7)
    for row, yy in enumerate(range(20, int(height), 46)):
        for xx in range(-40 + (row % 2) * 30, int(width), 120):
            c.drawString(xx, yy, "VRS 接種証明 ORIGINAL")
    c.restoreState()


def _header(c: Canvas, cert: Certificate, y: float) -> float:
    width, _ = A4
    m = cert.municipality
    c.setFont(_GOTHIC, 17)
    c.drawCentredString(width / 2, y - 6 * mm, "新型コロナウイルス感染症予防接種証明書")
    c.setFont("Helvetica-Bold", 13)
    c.drawCentredString(width / 2, y - 13 * mm, "Vaccination Certificate of COVID-19")
    kind = "海外用 / For use abroad" if cert.kind == "abroad" else "日本国内用 / For use in Japan"
    c.setFont(_GOTHIC, 10)
    c.drawCentredString(width / 2, y - 19 * mm, kind)
    c.setFont(_MINCHO, 10)
    c.drawString(
        _MARGIN, y - 27 * mm, f"発行自治体 / Issued by: {m.name_ja} ({m.name_en})  [{m.code}]"
    )
    issued = cert.issued_at.date().isoformat()
    c.drawString(_MARGIN, y - 32 * mm, f"証明書ID / Certificate ID: {cert.certificate_id}")
    c.drawString(_MARGIN, y - 37 * mm, f"発行年月日 / Date of issue: {issued}")
    return y - 37 * mm


def _holder(c: Canvas, cert: Certificate, y: float) -> float:
    h = cert.holder
    rows = [("氏名 / Name", f"{h.family_name} {h.given_name}")]
    if cert.kind == "abroad":
        roman = f"{h.family_name_roman or ''} {h.given_names_roman or ''}".strip()
        rows.append(("氏名（ローマ字） / Name (Roman)", roman))
    if h.other_name is not None:
        label = "旧姓 / Former name" if h.other_name.kind == "former" else "通称 / Also known as"
        rows.append((label, h.other_name.name))
    rows.append(("生年月日 / Date of birth", h.birth_date.isoformat()))
    if cert.kind == "abroad":
        rows.append(("国籍 / Nationality", h.nationality or ""))
        rows.append(("旅券番号 / Passport No.", h.passport_number or ""))
    c.setFont(_GOTHIC, 10)
    c.drawString(_MARGIN, y, "接種者 / Vaccinated person")
    for label, value in rows:
        y -= 5.5 * mm
        c.setFont(_MINCHO, 9)
        c.drawString(_MARGIN + 3 * mm, y, label)
        c.setFont(_GOTHIC, 10)
        c.drawString(_MARGIN + 62 * mm, y, value)
    return y


def _doses(c: Canvas, cert: Certificate, y: float) -> float:
    cols = [
        ("回 / Dose", 0),
        ("接種日 / Date", 20 * mm),
        ("ワクチン / Product", 50 * mm),
        ("製造販売業者 / Manufacturer", 95 * mm),
        ("ロット / Lot", 145 * mm),
    ]
    c.setFont(_GOTHIC, 10)
    c.drawString(_MARGIN, y, "接種記録 / Vaccinations (COVID-19)")
    y -= 6 * mm
    c.setFont(_MINCHO, 8)
    for label, x in cols:
        c.drawString(_MARGIN + x, y, label)
    c.setLineWidth(0.5)
    c.line(_MARGIN, y - 1.5 * mm, A4[0] - _MARGIN, y - 1.5 * mm)
    c.setFont("Helvetica", 9)
    for dose in cert.doses:
        y -= 5 * mm
        p = product(dose.product)
        values = [str(dose.number), dose.date.isoformat(), p.name, p.manufacturer, dose.lot]
        for (_, x), value in zip(cols, values, strict=True):
            c.drawString(_MARGIN + x, y, value)
    return y


def _qr_row(c: Canvas, items: Sequence[tuple[str, QrSymbol]], y: float) -> float:
    width, _ = A4
    gap = (width - 2 * _MARGIN - 2 * _QR_SIZE) / 1
    for i, (label, symbol) in enumerate(items):
        x = _MARGIN + i * (_QR_SIZE + gap)
        c.setFont("Helvetica", 8)
        c.drawString(x, y - 3 * mm, label)
        _draw_qr(c, symbol, x, y - 5 * mm - _QR_SIZE, _QR_SIZE)
    return y - 5 * mm - _QR_SIZE


def _draw_qr(c: Canvas, symbol: QrSymbol, x: float, y: float, size: float) -> None:
    """The symbol as filled rectangles, one per horizontal run of dark modules, on white."""
    n = symbol.size
    module = size / (n + 2 * _QUIET)
    c.saveState()
    c.setFillColorRGB(1, 1, 1)
    c.rect(x, y, size, size, stroke=0, fill=1)
    c.setFillColorRGB(0, 0, 0)
    path = c.beginPath()
    for r, row in enumerate(symbol.matrix):
        top = y + size - (r + _QUIET + 1) * module
        col = 0
        while col < n:
            if row[col]:
                start = col
                while col < n and row[col]:
                    col += 1
                path.rect(x + (start + _QUIET) * module, top, (col - start) * module, module)
            else:
                col += 1
    c.drawPath(path, stroke=0, fill=1)
    c.restoreState()


def _footer(c: Canvas, cert: Certificate) -> None:
    c.setFont(_MINCHO, 7)
    c.drawString(
        _MARGIN,
        10 * mm,
        f"{cert.certificate_id}  この証明書は予防接種法に基づく記録から発行されました。 "
        "Issued from the records kept under the Immunization Act.",
    )
