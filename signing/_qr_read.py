"""Reading a QR module matrix back into its bit stream: format, version, mask and the segments
the encoder actually wrote (ISO/IEC 18004:2015 §7). A reader of the symbol's structure, not an
image reader: it takes the exact matrix an encoder produced, so it can tell whether the encoder
wrote byte `shc:/` then numeric (shc-jp.md "QR") or one byte segment (vdsnc.md "QR").

Steps: (1) format information → error level and mask; (2) the function patterns of the version
(finders, timing, alignment, version and format areas) marked off; (3) data modules read in the
two-column zig-zag order and unmasked; (4) codewords de-interleaved into blocks, data codewords
kept (error correction is not applied: a matrix straight from an encoder has no errors);
(5) segments parsed from the data bit stream up to the terminator.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final

import msgspec

from signing._errors import SigningError

__all__ = ["QrStructure", "read_qr_matrix"]


class QrStructureError(SigningError):
    """The matrix is not a well-formed QR symbol (code `QR_MALFORMED`)."""


class QrStructure(msgspec.Struct, frozen=True, kw_only=True):
    """What a QR matrix holds, as written."""

    version: int
    error: str
    mask: int
    segments: tuple[tuple[str, int], ...]
    """(mode, character count) per segment, in order: `byte`, `numeric`, `alphanumeric`,
    `kanji`, or `eci` (count = the assignment number)."""
    data: bytes
    """The segments' payload concatenated (numeric and alphanumeric as ASCII)."""


# §7.9.1 Table 12: error correction level bits of the format information.
_LEVEL_BITS: Final = {1: "L", 0: "M", 3: "Q", 2: "H"}
_FORMAT_MASK: Final = 0x5412
_FORMAT_POLY: Final = 0x537
_VERSION_POLY: Final = 0x1F25

# §7.5.1 Table 9, indexed by version (index 0 unused), one row per level L, M, Q, H.
_ECC_PER_BLOCK: Final = {
    "L": (0, 7, 10, 15, 20, 26, 18, 20, 24, 30, 18, 20, 24, 26, 30, 22, 24, 28, 30, 28, 28, 28,
          28, 30, 30, 26, 28, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30),
    "M": (0, 10, 16, 26, 18, 24, 16, 18, 22, 22, 26, 30, 22, 22, 24, 24, 28, 28, 26, 26, 26, 26,
          28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28),
    "Q": (0, 13, 22, 18, 26, 18, 24, 18, 22, 20, 24, 28, 26, 24, 20, 30, 24, 28, 28, 26, 30, 28,
          30, 30, 30, 30, 28, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30),
    "H": (0, 17, 28, 22, 16, 22, 28, 26, 26, 24, 28, 24, 28, 22, 24, 24, 30, 28, 28, 26, 28, 30,
          24, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30),
}  # fmt: skip
_BLOCKS: Final = {
    "L": (0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 4, 4, 6, 6, 6, 6, 7, 8, 8, 9, 9, 10, 12, 12, 12,
          13, 14, 15, 16, 17, 18, 19, 19, 20, 21, 22, 24, 25),
    "M": (0, 1, 1, 1, 2, 2, 4, 4, 4, 5, 5, 5, 8, 9, 9, 10, 10, 11, 13, 14, 16, 17, 17, 18, 20,
          21, 23, 25, 26, 28, 29, 31, 33, 35, 37, 38, 40, 43, 45, 47, 49),
    "Q": (0, 1, 1, 2, 2, 4, 4, 6, 6, 8, 8, 8, 10, 12, 16, 12, 17, 16, 18, 21, 20, 23, 23, 25,
          27, 29, 34, 34, 35, 38, 40, 43, 45, 48, 51, 53, 56, 59, 62, 65, 68),
    "H": (0, 1, 1, 2, 4, 4, 4, 5, 6, 8, 8, 11, 11, 16, 16, 18, 16, 19, 21, 25, 25, 25, 34, 30,
          32, 35, 37, 40, 42, 45, 48, 51, 54, 57, 60, 63, 66, 70, 74, 77, 81),
}  # fmt: skip

# §7.8.2 Table 10: data mask conditions, x = column, y = row.
_MASKS: Final[tuple[Callable[[int, int], bool], ...]] = (
    lambda x, y: (x + y) % 2 == 0,
    lambda x, y: y % 2 == 0,
    lambda x, y: x % 3 == 0,
    lambda x, y: (x + y) % 3 == 0,
    lambda x, y: (x // 3 + y // 2) % 2 == 0,
    lambda x, y: x * y % 2 + x * y % 3 == 0,
    lambda x, y: (x * y % 2 + x * y % 3) % 2 == 0,
    lambda x, y: ((x + y) % 2 + x * y % 3) % 2 == 0,
)

_ALNUM: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


def _bch(value: int, poly: int, degree: int) -> int:
    rem = value << degree
    top = poly.bit_length() - 1
    for shift in range(rem.bit_length() - 1, top - 1, -1):
        if rem >> shift & 1:
            rem ^= poly << (shift - top)
    return rem


def _alignment_positions(version: int) -> list[int]:
    # Annex E: evenly spaced centres from 6 to size − 7.
    if version == 1:
        return []
    count = version // 7 + 2
    size = 4 * version + 17
    step = (version * 8 + count * 3 + 5) // (count * 4 - 4) * 2
    return [6, *reversed([size - 7 - i * step for i in range(count - 1)])]


def _function_modules(version: int) -> list[bytearray]:
    size = 4 * version + 17
    fn = [bytearray(size) for _ in range(size)]

    def mark(x0: int, y0: int, w: int, h: int) -> None:
        for y in range(max(y0, 0), min(y0 + h, size)):
            for x in range(max(x0, 0), min(x0 + w, size)):
                fn[y][x] = 1

    # Finders with separators, and the format areas beside them (incl. the dark module).
    mark(0, 0, 9, 9)
    mark(size - 8, 0, 8, 9)
    mark(0, size - 8, 9, 8)
    mark(6, 0, 1, size)  # timing
    mark(0, 6, size, 1)
    pos = _alignment_positions(version)
    last = len(pos) - 1
    for i, cy in enumerate(pos):
        for j, cx in enumerate(pos):
            if (i, j) in {(0, 0), (0, last), (last, 0)}:
                continue
            mark(cx - 2, cy - 2, 5, 5)
    if version >= 7:  # §7.10 version information, two 6×3 blocks
        mark(size - 11, 0, 3, 6)
        mark(0, size - 11, 6, 3)
    return fn


def _placement_order(fn: Sequence[bytes | bytearray]) -> list[tuple[int, int]]:
    """(x, y) of every data module in §7.7.3 order: two-column strips from the right, upwards
    then downwards, skipping the vertical timing column."""
    size = len(fn)
    order = []
    right = size - 1
    while right >= 1:
        if right == 6:
            right = 5
        upward = ((right + 1) & 2) == 0
        rows = range(size - 1, -1, -1) if upward else range(size)
        order += [(x, y) for y in rows for x in (right, right - 1) if not fn[y][x]]
        right -= 2
    return order


def _format(m: Sequence[bytes]) -> tuple[str, int]:
    # §7.9: the copy around the top-left finder, bit i of the 15 in the order ISO 18004 Fig. 25.
    coords = (
        [(8, i) for i in range(6)] + [(8, 7), (8, 8), (7, 8)] + [(14 - i, 8) for i in range(9, 15)]
    )
    bits = 0
    for i, (x, y) in enumerate(coords):
        bits |= (m[y][x] & 1) << i
    for data in range(32):
        if (data << 10 | _bch(data, _FORMAT_POLY, 10)) ^ _FORMAT_MASK == bits:
            return _LEVEL_BITS[data >> 3], data & 7
    raise QrStructureError("QR_MALFORMED", "no valid format information")


def _raw_data_modules(version: int) -> int:
    result = (16 * version + 128) * version + 64
    if version >= 2:
        count = version // 7 + 2
        result -= (25 * count - 10) * count - 55
        if version >= 7:
            result -= 36
    return result


class _Bits:
    def __init__(self, data: bytes) -> None:
        self._value = int.from_bytes(data, "big")
        self._left = len(data) * 8

    def take(self, n: int) -> int:
        if n > self._left:
            raise QrStructureError("QR_MALFORMED", "segment runs past the data codewords")
        self._left -= n
        return self._value >> self._left & ((1 << n) - 1)

    @property
    def left(self) -> int:
        return self._left


def _segments(data: bytes, version: int) -> tuple[tuple[tuple[str, int], ...], bytes]:
    band = 0 if version <= 9 else 1 if version <= 26 else 2
    count_bits = {
        "numeric": (10, 12, 14)[band],
        "alphanumeric": (9, 11, 13)[band],
        "byte": (8, 16, 16)[band],
        "kanji": (8, 10, 12)[band],
    }
    modes = {1: "numeric", 2: "alphanumeric", 4: "byte", 8: "kanji"}
    bits = _Bits(data)
    segments: list[tuple[str, int]] = []
    out = bytearray()
    while bits.left >= 4:
        indicator = bits.take(4)
        if indicator == 0:  # terminator
            break
        if indicator == 7:  # §7.4.2 ECI designator: 8, 16 or 24 bits
            first = bits.take(8)
            if first & 0x80 == 0:
                number = first
            elif first & 0xC0 == 0x80:
                number = (first & 0x3F) << 8 | bits.take(8)
            else:
                number = (first & 0x1F) << 16 | bits.take(16)
            segments.append(("eci", number))
            continue
        mode = modes.get(indicator)
        if mode is None:
            raise QrStructureError("QR_MALFORMED", f"unsupported mode indicator {indicator:04b}")
        n = bits.take(count_bits[mode])
        if mode == "numeric":
            for i in range(0, n, 3):
                k = min(3, n - i)
                out += str(bits.take((4, 7, 10)[k - 1])).zfill(k).encode("ascii")
        elif mode == "alphanumeric":
            for i in range(0, n, 2):
                if n - i >= 2:
                    v = bits.take(11)
                    out += (_ALNUM[v // 45] + _ALNUM[v % 45]).encode("ascii")
                else:
                    out += _ALNUM[bits.take(6)].encode("ascii")
        elif mode == "byte":
            out += bytes(bits.take(8) for _ in range(n))
        else:
            for _ in range(n):
                bits.take(13)
        segments.append((mode, n))
    return tuple(segments), bytes(out)


def read_qr_matrix(matrix: Sequence[bytes]) -> QrStructure:
    """The structure of the QR symbol whose module matrix (rows of 0/1, no quiet zone) is
    `matrix`: version, level, mask and the segments exactly as the encoder wrote them. Raises
    `QR_MALFORMED` when it is no QR model 2 symbol."""
    size = len(matrix)
    version = (size - 17) // 4
    if (
        size < 21
        or (size - 17) % 4
        or not 1 <= version <= 40
        or any(len(r) != size for r in matrix)
    ):
        raise QrStructureError("QR_MALFORMED", "not a QR symbol size")
    if version >= 7:
        # §7.10: the version information must agree with the size.
        bits = 0
        for i in range(18):
            bits |= (matrix[i // 3][size - 11 + i % 3] & 1) << i
        if bits != (version << 12 | _bch(version, _VERSION_POLY, 12)):
            raise QrStructureError("QR_MALFORMED", "version information disagrees with the size")
    # (1) format
    error, mask = _format(matrix)
    masked = _MASKS[mask]
    # (2)-(3) data modules in placement order, unmasked
    fn = _function_modules(version)
    stream = [(matrix[y][x] & 1) ^ masked(x, y) for x, y in _placement_order(fn)]
    raw_count = _raw_data_modules(version) // 8
    codewords = bytes(
        int("".join(map(str, stream[i * 8 : i * 8 + 8])), 2) for i in range(raw_count)
    )
    # (4) de-interleave (§7.6): data codewords of every block column by column, short blocks first
    blocks = _BLOCKS[error][version]
    ecc = _ECC_PER_BLOCK[error][version]
    short = blocks - raw_count % blocks
    short_len = raw_count // blocks - ecc
    lengths = [short_len] * short + [short_len + 1] * (blocks - short)
    data_blocks = [bytearray() for _ in range(blocks)]
    pos = 0
    for i in range(short_len + 1):
        for b in range(blocks):
            if i < lengths[b]:
                data_blocks[b].append(codewords[pos])
                pos += 1
    # (5) segments
    segments, data = _segments(b"".join(data_blocks), version)
    return QrStructure(version=version, error=error, mask=mask, segments=segments, data=data)
