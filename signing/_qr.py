"""QR codes: SMART Health Card QRs (two segments, level L, version ≤ 22) and VDS-NC QRs (byte
mode, level M, version ≤ 40), as module matrices, PNG and SVG; and a decoder for tests and
`certsvc verify`.

Both encoders run in C or near it, because a kiosk prints a page per session: the SHC QR comes
from zxing-cpp's writer (C++, with the standard mask selection), which writes the text `shc:/` +
digits as exactly byte `shc:/` then numeric at level L; the VDS-NC QR from `_qr_encode` (one
byte segment as given, a cached template and a fixed mask), because zxing-cpp optimises modes
and would split a seal into byte, alphanumeric and ECI segments. `QrSymbol.segments` is read
back from the matrix itself (`_qr_read`), so a test sees the segments the encoder really wrote
(shc-jp.md "QR", vdsnc.md "QR").
"""

from __future__ import annotations

import io
from typing import Final

import msgspec
import zxingcpp

from signing._errors import SigningError
from signing._qr_encode import encode_segments
from signing._qr_read import QrStructure, read_qr_matrix

__all__ = [
    "DecodedQr",
    "QrError",
    "QrStructure",
    "QrSymbol",
    "decode_qr_image",
    "qr_png",
    "qr_svg",
    "read_qr_matrix",
    "shc_qr_symbol",
    "vdsnc_qr_symbol",
]

SHC_MAX_VERSION: Final = 22
VDSNC_MAX_VERSION: Final = 40


class QrError(SigningError):
    """A QR code cannot be written or read (codes start with `QR_`)."""


class QrSymbol(msgspec.Struct, frozen=True, kw_only=True):
    """One QR symbol: its module matrix (rows of 0/1, no quiet zone) and how it was encoded."""

    version: int
    error: str
    """Error correction level: L, M, Q or H."""
    matrix: tuple[bytes, ...]

    @property
    def size(self) -> int:
        """Modules per side."""
        return len(self.matrix)

    @property
    def segments(self) -> tuple[tuple[str, int], ...]:
        """(mode, character count) per segment as read back from the matrix: mode `byte`,
        `numeric`, `alphanumeric`, `kanji` or `eci`. Decodes the symbol; for checks, not for
        the print path."""
        return read_qr_matrix(self.matrix).segments


# zxing-cpp's image of a symbol: one byte per module, 0 dark and 255 light.
_DARK_IS_ONE: Final = bytes([1] + [0] * 255)


def shc_qr_symbol(qr_text: str) -> QrSymbol:
    """The QR of one SMART Health Card: exactly two segments, byte `shc:/` then numeric digits,
    level L (not boosted), version ≤ 22 (`QR_TOO_LARGE` otherwise)."""
    digits = qr_text[5:]
    # A compact JWS has at least five characters (three parts, two dots): ten digits. Below
    # that, a mode-optimising writer folds the digits into the byte segment.
    if not qr_text.startswith("shc:/") or not digits.isdigit() or not qr_text.isascii():
        raise QrError("QR_BAD_CONTENT", "an SHC QR is shc:/ followed by digits")
    if len(digits) < 10 or len(digits) % 2:
        raise QrError("QR_BAD_CONTENT", "an SHC QR holds a whole compact JWS")
    # An SHC QR of version 22 at level L holds 2 390 digits; refuse larger before encoding.
    if len(qr_text) > 5 + 2390:
        raise QrError("QR_TOO_LARGE", "an SHC QR must be version 22 or lower")
    try:
        code = zxingcpp.create_barcode(qr_text, zxingcpp.BarcodeFormat.QRCode, ec_level="L")
    except (ValueError, RuntimeError):
        raise QrError("QR_TOO_LARGE", "the card does not fit a QR code") from None
    image = code.to_image(scale=1, add_quiet_zones=False)
    n = image.shape[0]
    raw = bytes(memoryview(image)).translate(_DARK_IS_ONE)  # type: ignore[arg-type]  # buffer protocol, not in the stubs
    version = (n - 17) // 4
    # `]Q1`: a model 2 symbol without ECI (ISO 18004 Annex F); level as asked, not boosted.
    if code.symbology_identifier != "]Q1" or code.ec_level != "L":
        raise QrError("QR_ENCODER", "the QR writer did not write an SHC QR as specified")
    if version > SHC_MAX_VERSION:
        raise QrError("QR_TOO_LARGE", "an SHC QR must be version 22 or lower")
    return QrSymbol(
        version=version, error="L", matrix=tuple(raw[i * n : (i + 1) * n] for i in range(n))
    )


def vdsnc_qr_symbol(payload: bytes) -> QrSymbol:
    """The QR of one VDS-NC seal: one byte-mode segment, level M, version ≤ 40."""
    try:
        version, matrix = encode_segments(
            [("byte", payload)], error="M", max_version=VDSNC_MAX_VERSION
        )
    except ValueError:
        raise QrError("QR_TOO_LARGE", "the seal does not fit a QR code") from None
    return QrSymbol(version=version, error="M", matrix=matrix)


def qr_png(symbol: QrSymbol, *, scale: int = 4, border: int = 4) -> bytes:
    """PNG (1-bit greyscale) of `symbol` with a quiet zone of `border` modules."""
    from PIL import Image

    size = symbol.size
    full = size + 2 * border
    img = Image.new("1", (full, full), 1)
    px = img.load()
    if px is None:  # pragma: no cover - Pillow returns an accessor for "1" images
        raise QrError("QR_RENDER", "cannot draw")
    for y, row in enumerate(symbol.matrix):
        for x, dark in enumerate(row):
            if dark:
                px[x + border, y + border] = 0
    img = img.resize((full * scale, full * scale), Image.Resampling.NEAREST)
    out = io.BytesIO()
    img.save(out, format="PNG", optimize=False)
    return out.getvalue()


def qr_svg(symbol: QrSymbol, *, border: int = 4) -> bytes:
    """SVG of `symbol`: one path of unit squares, dark on white, scalable."""
    full = symbol.size + 2 * border
    parts = []
    for y, row in enumerate(symbol.matrix):
        x = 0
        while x < len(row):
            if row[x]:
                start = x
                while x < len(row) and row[x]:
                    x += 1
                parts.append(f"M{start + border},{y + border}h{x - start}v1h{start - x}z")
            else:
                x += 1
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {full} {full}" '
        f'shape-rendering="crispEdges"><rect width="{full}" height="{full}" fill="#fff"/>'
        f'<path fill="#000" d="{"".join(parts)}"/></svg>'
    ).encode("ascii")


class DecodedQr(msgspec.Struct, frozen=True, kw_only=True):
    """A QR code read off an image."""

    text: str
    raw: bytes
    version: int | None
    error: str | None


def decode_qr_image(image: object) -> list[DecodedQr]:
    """Every QR code zxing-cpp finds in `image` (PNG/JPEG bytes or a PIL image), with the
    version and error-correction level it reports. `QR_UNREADABLE` when the bytes are no image."""
    from PIL import Image, UnidentifiedImageError

    if isinstance(image, bytes | bytearray):
        try:
            pil = Image.open(io.BytesIO(image))
            pil.load()
        except (UnidentifiedImageError, OSError, ValueError):
            raise QrError("QR_UNREADABLE", "not a readable image") from None
        image = pil.convert("L")
    found = [b for b in zxingcpp.read_barcodes(image) if b.format == zxingcpp.BarcodeFormat.QRCode]
    out = []
    for b in found:
        extra = b.extra if isinstance(b.extra, dict) else {}
        version = extra.get("Version")
        out.append(
            DecodedQr(
                text=b.text,
                raw=bytes(b.bytes),
                version=int(version) if version not in (None, "") else None,
                error=extra.get("ECLevel") or (b.ec_level or None),
            )
        )
    return out
