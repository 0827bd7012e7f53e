"""The printed certificate: an A4 PDF in Japanese and English with the QR codes.

Takes already-signed payloads and signs nothing. Deterministic: the same certificate and
payloads give byte-identical PDFs (reportlab invariant mode, the document date taken from
`issued_at`), so a kiosk print retry or a reprint is the same file (DESIGN §1.2 item 7). QR codes
are drawn from their module matrices as vector rectangles, no raster.

A kiosk prints a page per session, so what never changes is made once per process: the guilloche
background is a form XObject whose compressed stream is built on first use and reused by every
document, and the faint text pattern is a cached run of PDF operators. QR modules are written as
raw `re` operators in module units under one scaling matrix.

A certificate from a demo or test deployment says 見本 / SAMPLE across the page: one whose issuer
is a name reserved for examples and tests (RFC 2606 / RFC 6761: `.invalid`, `.test`, `.example`,
`.localhost`, `example.com|net|org`), as the demo's `https://demo.certsvc.invalid/issuer` is, or
when the caller says so (`sample=True`). Every text is in the embedded IPAex Gothic, Latin
included, so no viewer or printer substitutes a font of its own with other widths.
"""

from __future__ import annotations

import base64
import functools
import io
import math
import operator
import threading
import zlib
from collections.abc import Sequence
from datetime import UTC
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

import msgspec
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import TimeStamp
from reportlab.pdfbase import pdfdoc, pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from signing import Certificate, QrSymbol, shc_qr_symbol, vdsnc_qr_symbol
from signing.certificate import product

__all__ = ["is_sample_issuer", "render_certificate_pdf"]

# IPAex Gothic (IPA Font License, certsvc/fonts/), embedded as a subset: the Japanese text
# prints the same on any viewer or printer, with or without Japanese fonts of its own.
_FONT_FILE: Final = Path(__file__).with_name("fonts") / "ipaexg.ttf"
_GOTHIC: Final = "IPAexGothic"
_MINCHO: Final = _GOTHIC
_LATIN: Final = _GOTHIC  # embedded too: no base-14 font left to the viewer's substitutes
_QR_SIZE: Final = 80 * mm  # ≥ 35 mm; large enough for a version-40 seal at 0.5 mm per module
_MARGIN: Final = 15 * mm
_QUIET: Final = 4  # modules of quiet zone kept free of the background pattern
_FOOTER_TOP: Final = 22 * mm  # the verification lines and the legal line sit below this

_fonts_registered = False

#: zlib level of every stream reportlab compresses (the page content, the font subset, its
#: ToUnicode map). reportlab always uses zlib's default (6): level 1 writes a page of ≈ 95 KB
#: instead of ≈ 92 KB in ≈ 0.9 ms instead of ≈ 2.3 ms (a domestic page).
_FLATE_LEVEL: Final = 1


class _Flate(pdfdoc.PDFStreamFilterZCompress):
    """reportlab's FlateDecode filter at `_FLATE_LEVEL`: the same filter name, the same
    decoder, the same bytes for the same input."""

    def encode(self, text: str | bytes) -> bytes:
        return zlib.compress(text.encode("utf8") if isinstance(text, str) else text, _FLATE_LEVEL)


def _register_fonts() -> None:
    global _fonts_registered  # noqa: PLW0603 (font registration is process-wide in reportlab)
    if not _fonts_registered:
        font = TTFont(_GOTHIC, str(_FONT_FILE))
        # reportlab's subsetting copies every table it reads out of the font file anew for each
        # document, the 5.6 MB `glyf` table of IPAex Gothic included, to take a hundred glyphs
        # from it: read each table once per process instead (bytes: nothing can change them).
        font.face.get_table = functools.cache(font.face.get_table)  # type: ignore[method-assign]
        pdfmetrics.registerFont(font)
        # reportlab looks its one Flate filter up in pdfdoc (and ttfonts, through pdfdoc) at each
        # use, with no setting for the level; certsvc renders no other PDF, so the filter is
        # replaced process-wide, once, like the font registration.
        pdfdoc.PDFZCompress = _Flate()
        _fonts_registered = True


_RESERVED_SUFFIXES: Final = (".invalid", ".test", ".example", ".localhost")
_RESERVED_NAMES: Final = frozenset({"localhost", "example.com", "example.net", "example.org"})


def is_sample_issuer(issuer: str) -> bool:
    """True when `issuer` (an https URL) names a host reserved for examples, documentation and
    tests (RFC 2606, RFC 6761), which no real issuer can use: its certificates are samples."""
    host = (urlsplit(issuer).hostname or "").rstrip(".").lower()
    return (
        host in _RESERVED_NAMES
        or host.endswith(_RESERVED_SUFFIXES)
        or any(host.endswith("." + name) for name in _RESERVED_NAMES)
    )


#: Per ASCII digit of a `shc:/` text: its value as the tens (then as the ones, plus 45) of a
#: pair, so that a pair becomes its JWS character with two `bytes.translate` and one addition.
_TENS: Final = bytes((10 * (b - 48)) if 48 <= b <= 57 else 0 for b in range(256))
_ONES: Final = bytes((b - 48 + 45) if 48 <= b <= 57 else 0 for b in range(256))


def _shc_issuer(qr_text: str) -> str | None:
    # shc-jp.md: digits pairs → JWS characters; the payload is raw DEFLATE of JSON with `iss`.
    digits = qr_text[5:].encode("ascii", "replace")
    if not digits.isdigit() or len(digits) % 2:
        return None
    jws = bytes(map(operator.add, digits[0::2].translate(_TENS), digits[1::2].translate(_ONES)))
    try:
        body = jws.decode("ascii").split(".")[1]
        payload = zlib.decompress(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)), -15)
        iss = msgspec.json.decode(payload).get("iss")
    except (IndexError, ValueError, zlib.error, msgspec.DecodeError, AttributeError):
        return None
    return iss if isinstance(iss, str) else None


#: reportlab is not known to be thread-safe: one document at a time in a process, whichever
#: thread renders it (the channel face's rendering thread, the kiosk adapter's event loop).
_RENDERING: Final = threading.Lock()


def render_certificate_pdf(
    cert: Certificate,
    *,
    shc_qr_texts: Sequence[str],
    vdsnc_payloads: Sequence[bytes] = (),
    sample: bool | None = None,
) -> bytes:
    """The A4 PDF of `cert`: title, municipality, holder, dose table, certificate ID, issue
    date, one SHC QR per card (`shc:/…` texts from `shc_qr_text`) and, for use abroad, one
    VDS-NC QR per seal (`seal_bytes`), and a line on how to verify it. QRs that do not fit the
    first page flow onto more pages. `sample`: mark every page 見本 / SAMPLE; by default, when
    the SHC issuer is a reserved example name (`is_sample_issuer`). The same arguments always
    give the same bytes. Safe to call from any thread (one document at a time)."""
    with _RENDERING:
        return _render(
            cert, shc_qr_texts=shc_qr_texts, vdsnc_payloads=vdsnc_payloads, sample=sample
        )


def _render(
    cert: Certificate,
    *,
    shc_qr_texts: Sequence[str],
    vdsnc_payloads: Sequence[bytes],
    sample: bool | None,
) -> bytes:
    _register_fonts()
    symbols: list[tuple[str, QrSymbol]] = [
        ("SMART Health Card", shc_qr_symbol(t)) for t in shc_qr_texts
    ]
    symbols += [("ICAO VDS-NC", vdsnc_qr_symbol(p)) for p in vdsnc_payloads]
    issuer = _shc_issuer(shc_qr_texts[0]) if shc_qr_texts else None
    if sample is None:
        sample = issuer is not None and is_sample_issuer(issuer)

    buf = io.BytesIO()
    c = _canvas(buf)
    _fix_timestamp(c, cert)
    c.setTitle(f"Vaccination Certificate {cert.certificate_id}")
    c.setAuthor(cert.municipality.name_en)
    c.setSubject("COVID-19 vaccination certificate")
    c.setCreator("certsvc")

    height = A4[1]
    _background(c, sample=sample)
    y = _header(c, cert, height - _MARGIN)
    y = _holder(c, cert, y - 6 * mm)
    y = _doses(c, cert, y - 6 * mm)
    remaining = list(symbols)
    while remaining:
        # A row of QR codes never runs into the footer (text over modules makes them unreadable):
        # when it does not fit above it, it goes to the next page.
        if y - 6 * mm - 5 * mm - _QR_SIZE < _FOOTER_TOP:
            _footer(c, cert, issuer=issuer, abroad=bool(vdsnc_payloads))
            c.showPage()
            _background(c, sample=sample)
            y = height - _MARGIN
        y = _qr_row(c, remaining[:2], y - 6 * mm)
        remaining = remaining[2:]
    _footer(c, cert, issuer=issuer, abroad=bool(vdsnc_payloads))
    c.showPage()
    c.save()
    return buf.getvalue()


def _canvas(buf: io.BytesIO) -> Canvas:
    # The initial font is the embedded one: reportlab would otherwise put Helvetica, a font
    # left to the viewer, in every page's resources.
    return Canvas(
        buf,
        pagesize=A4,
        invariant=True,
        pageCompression=1,
        initialFontName=_GOTHIC,  # type: ignore[arg-type]  # the stubs say float; it is a name
    )


def _fix_timestamp(c: Canvas, cert: Certificate) -> None:
    # Invariant mode pins the date to 2000-01-01; use the certificate's issued_at instead so
    # the document says when it was issued and a reprint still matches byte for byte.
    ts = TimeStamp(invariant=True)
    issued = cert.issued_at.astimezone(UTC)
    ts.t = issued.timestamp()
    ts.lt = issued.timetuple()
    ts.YMDhms = tuple(issued.timetuple())[:6]
    c._doc._timeStamp = ts  # type: ignore[attr-defined]


_GUILLOCHE: Final = "certsvcGuilloche"
_PATTERN_TEXT: Final = "VRS 接種証明 ORIGINAL"
_SAMPLE_PATTERN_TEXT: Final = "VRS 接種証明 見本 SAMPLE"
_SAMPLE_TEXT: Final = "見本  SAMPLE"


@functools.cache
def _guilloche_stream() -> bytes:
    """The compressed content of the guilloche: sine waves every 9 pt, light blue. A photocopy
    blurs it; it never covers the QR codes (they are drawn on a white quiet zone)."""
    width, height = A4
    ops = ["0.86 0.9 0.95 RG 0.25 w"]
    for k in range(0, int(height), 9):
        # A smooth curve through points every 18 pt (Catmull-Rom as cubic Béziers).
        xs = range(-18, int(width) + 37, 18)
        pts = [(float(x), k + 4 * math.sin(x / 17 + k / 31)) for x in xs]
        part = [f"{pts[1][0]:.2f} {pts[1][1]:.2f} m"]
        for i in range(1, len(pts) - 2):
            (x0, y0), (x1, y1), (x2, y2), (x3, y3) = pts[i - 1 : i + 3]
            part.append(
                f"{x1 + (x2 - x0) / 6:.2f} {y1 + (y2 - y0) / 6:.2f} "
                f"{x2 - (x3 - x1) / 6:.2f} {y2 - (y3 - y1) / 6:.2f} {x2:.2f} {y2:.2f} c"
            )
        ops.append(" ".join(part) + " S")
    return zlib.compress("\n".join(ops).encode("ascii"), 9)


def _guilloche_form() -> pdfdoc.PDFStream:
    width, height = A4
    d = pdfdoc.PDFDictionary()
    d["Type"] = pdfdoc.PDFName("XObject")
    d["Subtype"] = pdfdoc.PDFName("Form")
    d["FormType"] = 1
    d["BBox"] = pdfdoc.PDFArray([0, 0, round(width), round(height)])
    d["Resources"] = pdfdoc.PDFDictionary()
    # Already compressed once per process: reportlab writes a stream whose Filter is set as is.
    d["Filter"] = pdfdoc.PDFArray([pdfdoc.PDFName("FlateDecode")])
    return pdfdoc.PDFStream(dictionary=d, content=_guilloche_stream(), filters=[])


@functools.cache
def _pattern_ops(font_name: str, text: str) -> str:
    """The operators of the faint text pattern, for a document whose first text is the pattern
    (so its glyph codes are the same in every document): drawn once on a scratch canvas."""
    scratch = _canvas(io.BytesIO())
    _reserve_pattern(scratch, text)
    _draw_pattern(scratch, text)
    ops = "\n".join(scratch._code)  # type: ignore[attr-defined]
    if f"{font_name} 7 Tf" not in ops:
        raise RuntimeError("the text pattern was drawn with another font name")
    return ops


def _reserve_pattern(c: Canvas, text: str) -> str:
    """Registers the pattern's glyphs first in `c`'s document; returns the font's name there."""
    font = pdfmetrics.getFont(_GOTHIC)
    c.setFont(_GOTHIC, 7)
    font.splitString(text, c._doc)  # type: ignore[attr-defined]
    name: str = font.getSubsetInternalName(0, c._doc)  # type: ignore[attr-defined]
    return "/" + name.lstrip("/")


def _draw_pattern(c: Canvas, text: str) -> None:
    width, height = A4
    c.saveState()
    c.setFillColorRGB(0.93, 0.95, 0.98)
    c.setFont(_GOTHIC, 7)
    for row, yy in enumerate(range(20, int(height), 46)):
        for xx in range(-40 + (row % 2) * 30, int(width), 120):
            c.drawString(xx, yy, text)
    c.restoreState()


def _background(c: Canvas, *, sample: bool) -> None:
    """The guilloche, the faint text pattern and, on a sample, 見本 / SAMPLE across the page."""
    doc = c._doc  # type: ignore[attr-defined]
    if not doc.hasForm(_GUILLOCHE):
        doc.addForm(_GUILLOCHE, _guilloche_form())
    c.doForm(_GUILLOCHE)
    text = _SAMPLE_PATTERN_TEXT if sample else _PATTERN_TEXT
    c._code.append(_pattern_ops(_reserve_pattern(c, text), text))  # type: ignore[attr-defined]
    if sample:
        width, height = A4
        c.saveState()
        c.setFillColorRGB(0.85, 0.3, 0.3, alpha=0.28)
        c.translate(width / 2, height / 2)
        c.rotate(55)
        c.setFont(_GOTHIC, 96)
        c.drawCentredString(0, -30, _SAMPLE_TEXT)
        c.restoreState()
        c.setFont(_GOTHIC, 9)
        c.setFillColorRGB(0.75, 0.1, 0.1)
        c.drawCentredString(
            width / 2,
            height - 9 * mm,
            "見本 — デモ・試験用に発行、効力はありません / SAMPLE — issued by a demo or test "
            "deployment, not valid",
        )
        c.setFillColorRGB(0, 0, 0)


def _header(c: Canvas, cert: Certificate, y: float) -> float:
    width, _ = A4
    m = cert.municipality
    c.setFont(_GOTHIC, 17)
    c.drawCentredString(width / 2, y - 6 * mm, "新型コロナウイルス感染症予防接種証明書")
    c.setFont(_LATIN, 13)
    c.drawCentredString(width / 2, y - 13 * mm, "Vaccination Certificate of COVID-19")
    kind = "海外用 / For use abroad" if cert.kind == "abroad" else "日本国内用 / For use in Japan"
    c.setFont(_GOTHIC, 10)
    c.drawCentredString(width / 2, y - 19 * mm, kind)
    c.setFont(_MINCHO, 10)
    c.drawString(
        _MARGIN, y - 27 * mm, f"発行自治体 / Issued by: {m.name_ja} ({m.name_en}) [{m.code}]"
    )
    issued = cert.issued_at.date().isoformat()
    c.drawString(_MARGIN, y - 32 * mm, f"証明書ID / Certificate ID: {cert.certificate_id}")
    c.drawString(_MARGIN, y - 37 * mm, f"発行年月日 / Date of issue: {issued}")
    return y - 37 * mm


def _holder(c: Canvas, cert: Certificate, y: float) -> float:
    h = cert.holder
    # The kanji name keeps the ideographic space (U+3000) between family and given name.
    rows = [("氏名 / Name", f"{h.family_name}\u3000{h.given_name}")]
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
    c.setFont(_LATIN, 9)
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
        c.setFont(_LATIN, 8)
        c.drawString(x, y - 3 * mm, label)
        _draw_qr(c, symbol, x, y - 5 * mm - _QR_SIZE, _QR_SIZE)
    return y - 5 * mm - _QR_SIZE


#: "0" … "255": every module coordinate and run length of a symbol (at most 177 modules and the
#: quiet zone) as text.
_NUMBERS: Final = tuple(str(i) for i in range(256))


def _draw_qr(c: Canvas, symbol: QrSymbol, x: float, y: float, size: float) -> None:
    """The symbol on white, one filled rectangle per horizontal run of dark modules, written as
    raw operators in module units (row 0 at the top) under one scaling matrix."""
    n = symbol.size
    module = size / (n + 2 * _QUIET)
    ops = [f"q 1 g {x:.3f} {y:.3f} {size:.3f} {size:.3f} re f"]
    ops.append(f"{module:.5f} 0 0 {-module:.5f} {x:.3f} {y + size:.3f} cm 0 g")
    numbers = _NUMBERS
    for r, row in enumerate(symbol.matrix):
        top = " " + numbers[r + _QUIET] + " "
        # Runs of dark modules: split the row's bytes on light modules. Thousands of runs per
        # symbol: the numbers come from a table, not from formatting.
        col = _QUIET
        for run in row.split(b"\x00"):
            length = len(run)
            if length:
                ops.append(numbers[col] + top + numbers[length] + " 1 re")
            col += length + 1
    ops.append("f Q")
    c._code.append(" ".join(ops))  # type: ignore[attr-defined]


def _footer(c: Canvas, cert: Certificate, *, issuer: str | None, abroad: bool) -> None:
    c.setFont(_MINCHO, 7)
    keys = f"{issuer}/.well-known/jwks.json" if issuer else "the issuer's published keys"
    c.drawString(
        _MARGIN,
        19 * mm,
        "確認方法: QRコードを SMART Health Card 対応の検証アプリで読み取り、"
        "署名と記載内容を確認してください。",
    )
    how = f"How to verify: scan the QR code with a SMART Health Card verifier; issuer keys: {keys}"
    c.drawString(_MARGIN, 15.5 * mm, how)
    if abroad:
        c.drawString(
            _MARGIN,
            12 * mm,
            "ICAO VDS-NC: verify with an ICAO 9303 verifier against Japan's CSCA certificate.",
        )
    c.drawString(
        _MARGIN,
        8 * mm,
        f"{cert.certificate_id}  この証明書は予防接種法に基づく記録から発行されました。 "
        "Issued from the records kept under the Immunization Act.",
    )
