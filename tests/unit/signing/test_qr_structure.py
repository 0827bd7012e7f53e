"""The QR encoders write exactly the segments the specs ask for, checked on the matrix itself:
`read_qr_matrix` reads format, version and the segment bit stream back (ISO/IEC 18004), and is
itself checked against segno, which reports the segments it wrote."""

from __future__ import annotations

import random

import pytest
import zxingcpp
from segno import consts, encoder

from signing import QrError, decode_qr_image, qr_png, read_qr_matrix, shc_qr_symbol, vdsnc_qr_symbol
from signing._qr_encode import FIXED_MASK, encode_segments
from signing._qr_read import QrStructureError

_MODES = {consts.MODE_BYTE: "byte", consts.MODE_NUMERIC: "numeric", 2: "alphanumeric"}


def _random_segments(rnd: random.Random) -> list[tuple[str | bytes, int]]:
    segs: list[tuple[str | bytes, int]] = []
    for _ in range(rnd.randint(1, 3)):
        # segno merges adjacent segments of one mode: keep the modes alternating.
        mode = rnd.choice([m for m in _MODES if not segs or m != segs[-1][1]])
        n = rnd.randint(1, 500)
        if mode == consts.MODE_NUMERIC:
            segs.append(("".join(rnd.choice("0123456789") for _ in range(n)), mode))
        elif mode == consts.MODE_ALPHANUMERIC:
            segs.append(("".join(rnd.choice("AZ09 $%*+-./:") for _ in range(n)), mode))
        else:
            segs.append((rnd.randbytes(n), mode))
    return segs


def test_reader_agrees_with_segno_on_random_symbols() -> None:
    rnd = random.Random(15)
    checked = 0
    while checked < 120:
        error = rnd.choice("LMQH")
        segs = _random_segments(rnd)
        try:
            code = encoder.encode(segs, error=error, boost_error=False, micro=False)  # type: ignore[no-untyped-call]
        except encoder.DataOverflowError:
            continue  # too large for any version: draw again
        got = read_qr_matrix(tuple(bytes(row) for row in code.matrix))
        assert got.version == code.version
        assert got.error == error
        assert got.mask == code.mask
        assert got.segments == tuple((_MODES[s.mode], s.char_count) for s in code.segments)
        assert got.data == b"".join(d if isinstance(d, bytes) else d.encode() for d, _ in segs)
        checked += 1


def test_reader_refuses_what_is_no_qr_symbol() -> None:
    with pytest.raises(QrStructureError) as e:
        read_qr_matrix((b"\x00" * 20,) * 20)
    assert e.value.code == "QR_MALFORMED"
    blank = (b"\x00" * 21,) * 21
    with pytest.raises(QrStructureError) as e:
        read_qr_matrix(blank)
    assert e.value.code == "QR_MALFORMED"


@pytest.mark.parametrize("chars", [5, 6, 50, 437, 600, 1000, 1195])
def test_shc_symbol_is_byte_then_numeric_at_level_l(chars: int) -> None:
    # Digits that look like everything zxing-cpp could be tempted to re-segment.
    rnd = random.Random(chars)
    digits = "".join(f"{rnd.randrange(0, 78):02d}" for _ in range(chars))
    symbol = shc_qr_symbol("shc:/" + digits)
    read = read_qr_matrix(symbol.matrix)
    assert read.segments == (("byte", 5), ("numeric", 2 * chars))
    assert read.data == ("shc:/" + digits).encode()
    assert read.error == "L" == symbol.error
    assert read.version == symbol.version <= 22
    # And the smallest version that holds it: level L is not traded for a larger symbol.
    smaller = symbol.version - 1
    if smaller >= 1:
        with pytest.raises(ValueError, match="does not fit"):
            encode_segments(
                [("byte", b"shc:/"), ("numeric", digits.encode())], error="L", max_version=smaller
            )


def test_shc_symbol_refuses_more_than_version_22() -> None:
    with pytest.raises(QrError) as e:
        shc_qr_symbol("shc:/" + "56" * 1196)
    assert e.value.code == "QR_TOO_LARGE"
    for bad in ("shc:/12a4567890", "shc:/56", "shc:/565656565"):
        with pytest.raises(QrError) as e:
            shc_qr_symbol(bad)
        assert e.value.code == "QR_BAD_CONTENT"


@pytest.mark.parametrize("size", [1, 40, 700, 1404, 1786, 2331])
def test_vdsnc_symbol_is_one_byte_segment_at_level_m(size: int) -> None:
    # A JSON-like payload with long upper-case and digit runs, which a mode-optimising
    # encoder would split into alphanumeric and numeric segments.
    payload = (b'{"data":{"hdr":{"t":"ICAO.VACC"},"n":"YAMADA TARO 1234567890"}}' * 40)[:size]
    symbol = vdsnc_qr_symbol(payload)
    read = read_qr_matrix(symbol.matrix)
    assert read.segments == (("byte", size),)
    assert read.data == payload
    assert read.error == "M" == symbol.error
    assert read.mask == FIXED_MASK
    (decoded,) = decode_qr_image(qr_png(symbol, scale=2))
    assert decoded.raw == payload
    assert decoded.error == "M"
    assert decoded.version == symbol.version


def test_vdsnc_symbol_refuses_more_than_version_40() -> None:
    with pytest.raises(QrError) as e:
        vdsnc_qr_symbol(b"x" * 2332)
    assert e.value.code == "QR_TOO_LARGE"


def test_mode_optimising_writer_would_not_do_for_vdsnc() -> None:
    # Why the VDS-NC QR has its own encoder: zxing-cpp splits a seal into several modes.
    payload = b'{"hdr":{"t":"icao.vacc","v":1,"is":"JPN"},"sig":"' + b"A" * 300 + b'"}'
    code = zxingcpp.create_barcode(payload, zxingcpp.BarcodeFormat.QRCode, ec_level="M")
    image = code.to_image(scale=1, add_quiet_zones=False)
    n = image.shape[0]
    raw = bytes(memoryview(image)).translate(bytes([1] + [0] * 255))  # type: ignore[arg-type]
    read = read_qr_matrix(tuple(raw[i * n : (i + 1) * n] for i in range(n)))
    assert read.segments != (("byte", len(payload)),)
    assert vdsnc_qr_symbol(payload).segments == (("byte", len(payload)),)
