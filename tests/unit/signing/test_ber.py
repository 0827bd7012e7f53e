"""The strict BER reader, and the public test-card EF0002 of the spec, byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signing import CardVerificationError
from signing._ber import Tlv, encode_tlv, read_sequence, read_single, read_tlv
from signing.synthetic import encode_ef0002

ASSETS = Path(__file__).parents[2] / "assets" / "card"
SAMPLE_EF0002 = bytes.fromhex(
    "".join((ASSETS / "ef0002-public-sample.hex").read_text(encoding="ascii").split())
)


def _malformed(data: bytes, tags: tuple[int, ...] = (0xDF21,)) -> None:
    with pytest.raises(CardVerificationError) as info:
        read_sequence(data, 0, len(data), tags)
    assert info.value.code == "CARD_MALFORMED"


def test_public_sample_ef0002_parses_to_its_stated_values() -> None:
    assert len(SAMPLE_EF0002) == 104
    outer = read_single(SAMPLE_EF0002, 0xFF20)
    offsets, name, address, birth, sex = read_sequence(
        SAMPLE_EF0002, outer.value_start, outer.end, (0xDF21, 0xDF22, 0xDF23, 0xDF24, 0xDF25)
    )

    def value(t: Tlv) -> bytes:
        return SAMPLE_EF0002[t.value_start : t.end]

    assert value(name).decode() == "黒桐\u3000幹也"
    assert value(address).decode() == "東京都清瀬市観布子南１２－７－２０２"
    assert value(birth) == b"19800217"
    assert value(sex) == b"1"
    declared = [int.from_bytes(value(offsets)[i : i + 2], "big") for i in range(0, 8, 2)]
    assert declared == [name.start, address.start, birth.start, sex.start] == [14, 32, 89, 100]


def test_public_sample_ef0002_re_encodes_to_the_same_bytes() -> None:
    encoded = encode_ef0002(
        name="黒桐\u3000幹也",
        address="東京都清瀬市観布子南１２－７－２０２",
        birth="19800217",
        sex="1",
    )
    assert encoded == SAMPLE_EF0002


@pytest.mark.parametrize(
    ("data", "tag", "value"),
    [
        (b"\x90\x03\x01\x00\x01", 0x90, b"\x01\x00\x01"),
        (b"\xdf\x21\x00", 0xDF21, b""),
        (b"\xff\x10\x01\x41", 0xFF10, b"A"),  # multi-byte tag where one byte would do
        (b"\x7f\x21\x81\x80" + b"\x00" * 128, 0x7F21, b"\x00" * 128),
        (b"\x5f\x4e\x82\x01\x29" + b"\x07" * 297, 0x5F4E, b"\x07" * 297),
        (b"\x9f\x81\x01\x00", 0x9F8101, b""),  # three-byte tag
    ],
)
def test_read_tlv_accepts(data: bytes, tag: int, value: bytes) -> None:
    tlv = read_single(data, tag)
    assert tlv.tag == tag
    assert data[tlv.value_start : tlv.end] == value


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xdf",  # tag truncated
        b"\xdf\x21",  # length missing
        b"\xdf\x21\x08\x00",  # value past the end
        b"\xdf\x21\x80",  # indefinite length
        b"\xdf\x21\x81\x05" + b"\x00" * 5,  # non-minimal 81
        b"\xdf\x21\x82\x00\x05" + b"\x00" * 5,  # non-minimal 82
        b"\xdf\x21\x82\x00\xff" + b"\x00" * 255,  # non-minimal 82 for 255
        b"\xdf\x21\x81",  # 81 truncated
        b"\xdf\x21\x82\x01",  # 82 truncated
        b"\xdf\x21\x83\x00\x00\x01\x00",  # 83 refused
        b"\xdf\x21\x84\x00\x00\x00\x01\x00",
        b"\xdf\x21\x00\x00",  # trailing byte
        b"\xdf\x22\x00",  # wrong tag
        b"\x1f\x80\x21\x00",  # tag with a leading zero
        b"\x1f\x81\x81\x01\x00",  # four-byte tag
    ],
)
def test_read_tlv_refuses(data: bytes) -> None:
    _malformed(data)


def test_read_sequence_refuses_order_duplicates_and_gaps() -> None:
    a, b = encode_tlv(0xDF22, b"x"), encode_tlv(0xDF23, b"y")
    assert [t.tag for t in read_sequence(a + b, 0, len(a + b), (0xDF22, 0xDF23))] == [
        0xDF22,
        0xDF23,
    ]
    _malformed(b + a, (0xDF22, 0xDF23))
    _malformed(a + a, (0xDF22, 0xDF23))
    _malformed(a, (0xDF22, 0xDF23))
    _malformed(a + b + b, (0xDF22, 0xDF23))


def test_read_tlv_respects_the_limit() -> None:
    data = encode_tlv(0xDF22, b"abc") + b"rest"
    with pytest.raises(CardVerificationError):
        read_tlv(data, 0, 5)
    assert read_tlv(data, 0, len(data)).end == 6


_TAGS = st.sampled_from([0x90, 0x91, 0xDF21, 0xDF25, 0x5F4E, 0x7F21, 0xFF10, 0xFF20])


@given(tag=_TAGS, value=st.binary(max_size=700))
@settings(max_examples=200)
def test_encode_then_read_round_trips(tag: int, value: bytes) -> None:
    data = encode_tlv(tag, value)
    tlv = read_single(data, tag)
    assert (tlv.tag, data[tlv.value_start : tlv.end]) == (tag, value)


@given(data=st.binary(max_size=300), tags=st.lists(_TAGS, max_size=4))
@settings(max_examples=200)
def test_reader_raises_only_card_malformed(data: bytes, tags: list[int]) -> None:
    code: str | None = None
    try:
        found = read_sequence(data, 0, len(data), tags)
    except CardVerificationError as exc:
        code = exc.code
    else:
        assert [t.tag for t in found] == tags
        assert (found[-1].end if found else 0) == len(data)
    assert code in {None, "CARD_MALFORMED"}


@given(prefix=st.binary(min_size=1, max_size=6), data=st.binary(max_size=64))
@settings(max_examples=200)
def test_reader_on_tlv_like_prefixes(prefix: bytes, data: bytes) -> None:
    # Bias toward structured headers: a known tag followed by random length bytes.
    buf = b"\xdf\x21" + prefix + data
    code: str | None = None
    try:
        tlv = read_tlv(buf, 0, len(buf))
    except CardVerificationError as exc:
        code = exc.code
    else:
        assert tlv.end <= len(buf)
    assert code in {None, "CARD_MALFORMED"}
