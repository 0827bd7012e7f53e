"""QR codes: SMART Health Card QRs (two segments, level L, version ≤ 22) and VDS-NC QRs (byte
mode, level M, version ≤ 40), as module matrices, PNG and SVG; and a decoder for tests and
`certsvc verify`.

Written with segno given explicit segments, because segno reports the segments it wrote and
that is what the tests check (shc-jp.md "QR"); read back with zxing-cpp.
"""

from __future__ import annotations

import io
from typing import Final

import msgspec
import segno
from segno import consts, encoder

from signing._errors import SigningError

__all__ = [
    "DecodedQr",
    "QrError",
    "QrSymbol",
    "decode_qr_image",
    "qr_png",
    "qr_svg",
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
    segments: tuple[tuple[str, int], ...]
    """(mode, character count) per segment: mode `byte`, `numeric`, `alphanumeric`, `kanji`."""
    matrix: tuple[bytes, ...]

    @property
    def size(self) -> int:
        """Modules per side."""
        return len(self.matrix)


_MODE_NAMES: Final = {
    consts.MODE_BYTE: "byte",
    consts.MODE_NUMERIC: "numeric",
    consts.MODE_ALPHANUMERIC: "alphanumeric",
    consts.MODE_KANJI: "kanji",
}


def _symbol(code: encoder.Code) -> QrSymbol:
    error = {
        consts.ERROR_LEVEL_L: "L",
        consts.ERROR_LEVEL_M: "M",
        consts.ERROR_LEVEL_Q: "Q",
        consts.ERROR_LEVEL_H: "H",
    }[code.error]
    return QrSymbol(
        version=code.version,
        error=error,
        segments=tuple((_MODE_NAMES[s.mode], s.char_count) for s in code.segments),
        matrix=tuple(bytes(row) for row in code.matrix),
    )


def shc_qr_symbol(qr_text: str) -> QrSymbol:
    """The QR of one SMART Health Card: exactly two segments, byte `shc:/` then numeric digits,
    level L (not boosted), version ≤ 22 (`QR_TOO_LARGE` otherwise)."""
    if not qr_text.startswith("shc:/") or not qr_text[5:].isdigit():
        raise QrError("QR_BAD_CONTENT", "an SHC QR is shc:/ followed by digits")
    try:
        code = encoder.encode(  # type: ignore[no-untyped-call]
            [(qr_text[:5], consts.MODE_BYTE), (qr_text[5:], consts.MODE_NUMERIC)],
            error="L",
            boost_error=False,
            micro=False,
        )
    except segno.DataOverflowError:
        raise QrError("QR_TOO_LARGE", "the card does not fit a QR code") from None
    if code.version > SHC_MAX_VERSION:
        raise QrError("QR_TOO_LARGE", "an SHC QR must be version 22 or lower")
    return _symbol(code)


def vdsnc_qr_symbol(payload: bytes) -> QrSymbol:
    """The QR of one VDS-NC seal: one byte-mode segment, level M, version ≤ 40."""
    try:
        code = encoder.encode(  # type: ignore[no-untyped-call]
            [(payload, consts.MODE_BYTE)], error="M", boost_error=False, micro=False
        )
    except segno.DataOverflowError:
        raise QrError("QR_TOO_LARGE", "the seal does not fit a QR code") from None
    return _symbol(code)


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
    import zxingcpp
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
