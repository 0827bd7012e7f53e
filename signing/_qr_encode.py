"""A QR model 2 encoder for exactly the segments the caller names, with a fixed data mask
(ISO/IEC 18004:2015). Everything that depends only on (version, level) — function patterns,
format and version information, the module placement order and the mask — is built once per
process and cached; one symbol then costs its Reed–Solomon remainders and one gather of the
modules, no mask search. A fixed mask is a valid choice for any reader (§7.8: the mask in use
is read from the format information); mask selection only avoids unlucky patterns, which
pseudo-random payloads such as signed seals do not produce in practice.

Used for the VDS-NC seals, which must be one byte-mode segment (vdsnc.md "QR") — zxing-cpp's
writer optimises modes and cannot be told to keep one byte segment.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Sequence
from typing import Final

from signing._qr_read import (
    _BLOCKS,
    _ECC_PER_BLOCK,
    _FORMAT_MASK,
    _FORMAT_POLY,
    _MASKS,
    _VERSION_POLY,
    _alignment_positions,
    _bch,
    _placement_order,
    _raw_data_modules,
)

__all__ = ["FIXED_MASK", "data_capacity", "encode_segments"]

FIXED_MASK: Final = 4
"""The data mask every symbol of this encoder uses (§7.8.2 Table 10, pattern 100)."""

_LEVEL_FORMAT_BITS: Final = {"L": 1, "M": 0, "Q": 3, "H": 2}
_MODE_BITS: Final = {"numeric": 1, "alphanumeric": 2, "byte": 4}


def _gf_mul(x: int, y: int) -> int:
    z = 0
    for i in range(7, -1, -1):
        z = (z << 1) ^ ((z >> 7) * 0x11D)
        z ^= ((y >> i) & 1) * x
    return z


@functools.cache
def _rs_table(degree: int) -> tuple[int, ...]:
    # §7.5.2: the generator polynomial ∏(x − αⁱ), i < degree; row f is f × its coefficients
    # (without the leading 1) as one integer, so a division step is one shift and one XOR.
    divisor = [0] * (degree - 1) + [1]
    root = 1
    for _ in range(degree):
        for j in range(degree):
            divisor[j] = _gf_mul(divisor[j], root)
            if j + 1 < degree:
                divisor[j] ^= divisor[j + 1]
        root = _gf_mul(root, 2)
    return tuple(int.from_bytes(bytes(_gf_mul(c, f) for c in divisor), "big") for f in range(256))


def _rs_remainder(data: bytes, degree: int) -> bytes:
    table = _rs_table(degree)
    shift = 8 * (degree - 1)
    full = (1 << (8 * degree)) - 1
    reg = 0
    for b in data:
        reg = ((reg << 8) & full) ^ table[b ^ (reg >> shift)]
    return reg.to_bytes(degree, "big")


def data_capacity(version: int, error: str) -> int:
    """Data codewords of a symbol of `version` at level `error` (§7.4.10 Table 7)."""
    return (
        _raw_data_modules(version) // 8 - _BLOCKS[error][version] * _ECC_PER_BLOCK[error][version]
    )


def _count_bits(mode: str, version: int) -> int:
    band = 0 if version <= 9 else 1 if version <= 26 else 2
    return {"numeric": (10, 12, 14), "alphanumeric": (9, 11, 13), "byte": (8, 16, 16)}[mode][band]


def _segment_bits(mode: str, data: bytes, version: int) -> tuple[int, int]:
    """(value, bit length) of one segment: mode indicator, count, data (§7.4.3-7.4.5)."""
    value = _MODE_BITS[mode]
    length = 4
    count = _count_bits(mode, version)
    value = value << count | len(data)
    length += count
    if mode == "byte":
        value = value << 8 * len(data) | int.from_bytes(data, "big")
        length += 8 * len(data)
    elif mode == "numeric":
        for i in range(0, len(data), 3):
            group = data[i : i + 3]
            n = (4, 7, 10)[len(group) - 1]
            value = value << n | int(group)
            length += n
    else:
        raise ValueError(mode)
    return value, length


class _Template:
    """What a (version, level) symbol shares: the flat matrix of function patterns, and for
    each module where its value comes from (an index into data bits + template)."""

    def __init__(self, version: int, error: str) -> None:
        size = 4 * version + 17
        self.size = size
        grid = bytearray(size * size)
        fn = bytearray(size * size)

        def put(x: int, y: int, dark: bool) -> None:
            grid[y * size + x] = 1 if dark else 0
            fn[y * size + x] = 1

        for i in range(size):  # §7.3.4 timing patterns
            put(6, i, i % 2 == 0)
            put(i, 6, i % 2 == 0)
        for cx, cy in ((3, 3), (size - 4, 3), (3, size - 4)):  # §7.3.2 finders + separators
            for dy in range(-4, 5):
                for dx in range(-4, 5):
                    x, y = cx + dx, cy + dy
                    if 0 <= x < size and 0 <= y < size:
                        dist = max(abs(dx), abs(dy))
                        put(x, y, dist not in {2, 4})
        pos = _alignment_positions(version)
        last = len(pos) - 1
        for i, cy in enumerate(pos):  # §7.3.5 alignment patterns
            for j, cx in enumerate(pos):
                if (i, j) in {(0, 0), (0, last), (last, 0)}:
                    continue
                for dy in range(-2, 3):
                    for dx in range(-2, 3):
                        put(cx + dx, cy + dy, max(abs(dx), abs(dy)) != 1)
        # §7.9 format information, both copies, and the dark module.
        data = _LEVEL_FORMAT_BITS[error] << 3 | FIXED_MASK
        bits = (data << 10 | _bch(data, _FORMAT_POLY, 10)) ^ _FORMAT_MASK
        for i in range(6):
            put(8, i, bool(bits >> i & 1))
        put(8, 7, bool(bits >> 6 & 1))
        put(8, 8, bool(bits >> 7 & 1))
        put(7, 8, bool(bits >> 8 & 1))
        for i in range(9, 15):
            put(14 - i, 8, bool(bits >> i & 1))
        for i in range(8):
            put(size - 1 - i, 8, bool(bits >> i & 1))
        for i in range(8, 15):
            put(8, size - 15 + i, bool(bits >> i & 1))
        put(8, size - 8, True)
        if version >= 7:  # §7.10 version information
            vbits = version << 12 | _bch(version, _VERSION_POLY, 12)
            for i in range(18):
                a, b = size - 11 + i % 3, i // 3
                put(a, b, bool(vbits >> i & 1))
                put(b, a, bool(vbits >> i & 1))

        # §7.7.3 placement order of the data modules, and the mask in that order.
        rows = [fn[y * size : (y + 1) * size] for y in range(size)]
        order = [y * size + x for x, y in _placement_order(rows)]
        masked = _MASKS[FIXED_MASK]
        self.modules = len(order)
        self.mask_bits = int("".join("1" if masked(p % size, p // size) else "0" for p in order), 2)
        source = [self.modules + p for p in range(size * size)]
        for k, p in enumerate(order):
            source[p] = k
        self.gather = operator.itemgetter(*source)
        self.grid = bytes(grid)
        self.blocks = _BLOCKS[error][version]
        self.ecc = _ECC_PER_BLOCK[error][version]


@functools.cache
def _template(version: int, error: str) -> _Template:
    return _Template(version, error)


_BITS: Final = bytes.maketrans(b"01", b"\x00\x01")


def encode_segments(
    segments: Sequence[tuple[str, bytes]], *, error: str, max_version: int = 40
) -> tuple[int, tuple[bytes, ...]]:
    """(version, matrix) of the smallest symbol holding `segments` — each (`byte` or
    `numeric`, data as bytes) written exactly as given, in order — at level `error`, with mask
    `FIXED_MASK`. The matrix is rows of 0/1 without quiet zone. `ValueError` when the data
    does not fit `max_version`."""
    for version in range(1, max_version + 1):
        capacity = data_capacity(version, error)
        value, length = 0, 0
        for mode, data in segments:
            v, n = _segment_bits(mode, data, version)
            value, length = value << n | v, length + n
        if length <= 8 * capacity:
            break
    else:
        raise ValueError("the data does not fit the largest version allowed")
    # §7.4.9 terminator, byte boundary, pad codewords 11101100 00010001.
    pad = min(4, 8 * capacity - length)
    value, length = value << pad, length + pad
    value, length = value << (-length % 8), length + (-length % 8)
    body = value.to_bytes(length // 8, "big")
    body += (b"\xec\x11" * capacity)[: capacity - len(body)]
    t = _template(version, error)
    # §7.6 blocks: short ones first, then interleaved data codewords, then interleaved ECC.
    short = t.blocks - (_raw_data_modules(version) // 8) % t.blocks
    short_len = capacity // t.blocks
    blocks: list[bytes] = []
    pos = 0
    for b in range(t.blocks):
        n = short_len + (0 if b < short else 1)
        blocks.append(body[pos : pos + n])
        pos += n
    eccs = [_rs_remainder(block, t.ecc) for block in blocks]
    out = bytearray()
    for i in range(short_len + 1):
        out += bytes(block[i] for block in blocks if i < len(block))
    for i in range(t.ecc):
        out += bytes(e[i] for e in eccs)
    stream = int.from_bytes(out, "big") << (t.modules - 8 * len(out))
    bits = format(stream ^ t.mask_bits, f"0{t.modules}b").encode("ascii").translate(_BITS)
    flat = bytes(t.gather(bits + t.grid))
    n = t.size
    return version, tuple(flat[i * n : (i + 1) * n] for i in range(n))
