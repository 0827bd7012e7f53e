"""A strict reader of the BER-TLV subset that the My Number card's text AP uses.

Only what real cards produce is accepted (specs/mynumber-text-ap.md):
- tags of one byte, or of two or three bytes when the first byte's low five bits are all set
  (`DF 21`, `5F 4E`, `7F 21`, `FF 10`, …); the text AP writes multi-byte tags even where one byte
  would do (`FF 10`), so a short tag number in a long form is not refused;
- lengths in the short form (`00`..`7F`), `81 xx` (128..255) or `82 xx xx` (256..65535), each in
  its shortest form, as on real cards (`82 01 4B`, `82 01 00`, `08`); indefinite lengths and
  `83`+ are refused.

Every problem raises `CardVerificationError("CARD_MALFORMED")` and nothing else, whatever the
input bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import msgspec

from signing._errors import SigningError

CARD_MALFORMED: Final = "CARD_MALFORMED"

# A tag is at most this many bytes long; the card's longest is two.
_MAX_TAG_BYTES: Final = 3


class CardVerificationError(SigningError):
    """A My Number card's data were refused. `code` says which verification step refused them
    (see `signing.verify_card`); the message never holds personal data.

    Defined beside the BER reader, the lowest layer that raises it; exported from `signing`.
    """


#: Every `code` a `CardVerificationError` carries, one per step of `signing.verify_card`.
CARD_ERROR_CODES = frozenset(
    {
        "CARD_MALFORMED",
        "CARD_ISSUER_UNKNOWN",
        "CARD_HIERARCHY_NOT_ALLOWED",
        "CARD_ISSUER_EXPIRED",
        "CARD_CERTIFICATE_SIGNATURE_INVALID",
        "CARD_SIGNER_REVOKED",
        "CARD_DATA_SIGNATURE_INVALID",
        "CARD_MY_NUMBER_DIGEST_MISMATCH",
        "CARD_ATTRIBUTES_DIGEST_MISMATCH",
        "CARD_KEY_SIGNATURE_INVALID",
        "CARD_CHALLENGE_SIGNATURE_INVALID",
        "CARD_CONTENT_INVALID",
        "CARD_CHECK_DIGIT_INVALID",
    }
)


class Tlv(msgspec.Struct, frozen=True, kw_only=True):
    """One TLV found in a buffer: its tag as an integer (`0xDF21`), where it starts (the first
    tag byte), where its value starts and where it ends (one past the last value byte)."""

    tag: int
    start: int
    value_start: int
    end: int


def malformed(why: str) -> CardVerificationError:
    """The error for any structural problem; `why` names the problem, never the data."""
    return CardVerificationError(CARD_MALFORMED, f"card data malformed: {why}")


def read_tlv(buf: bytes, pos: int, limit: int) -> Tlv:
    """Read one TLV at `buf[pos]` that must end at or before `limit`.

    Guarantees: the returned TLV lies entirely within `buf[pos:limit]`; tag and length are in
    the forms listed in the module docstring; anything else raises CARD_MALFORMED.
    """
    if not 0 <= pos < limit <= len(buf):
        raise malformed("TLV missing or truncated")
    # Tag: ISO/IEC 7816-4 §5.2 (BER): low five bits all set → more tag bytes follow, each with
    # bit 8 set except the last.
    tag = buf[pos]
    i = pos + 1
    if tag & 0x1F == 0x1F:
        while True:
            if i >= limit:
                raise malformed("tag truncated")
            b = buf[i]
            if i == pos + 1 and b == 0x80:
                raise malformed("tag number with a leading zero")
            tag = (tag << 8) | b
            i += 1
            if i - pos > _MAX_TAG_BYTES:
                raise malformed("tag too long")
            if not b & 0x80:
                break
    # Length: shortest form only. (assumed) The spec has `81 xx` / `82 xx xx` from one source
    # ("assumed for long addresses"); real files show `82 01 4B`, `82 01 00` and short forms,
    # all minimal, so minimal long forms are accepted and nothing longer than `82`.
    if i >= limit:
        raise malformed("length missing")
    first = buf[i]
    i += 1
    if first < 0x80:
        length = first
    elif first == 0x81:
        if i + 1 > limit:
            raise malformed("length truncated")
        length = buf[i]
        i += 1
        if length < 0x80:
            raise malformed("length not in its shortest form")
    elif first == 0x82:
        if i + 2 > limit:
            raise malformed("length truncated")
        length = (buf[i] << 8) | buf[i + 1]
        i += 2
        if length < 0x100:
            raise malformed("length not in its shortest form")
    else:
        raise malformed("length form not supported")
    end = i + length
    if end > limit:
        raise malformed("value runs past the end")
    return Tlv(tag=tag, start=pos, value_start=i, end=end)


def read_sequence(buf: bytes, start: int, end: int, tags: Sequence[int]) -> list[Tlv]:
    """Read TLVs that fill `buf[start:end]` exactly, with exactly the given tags in that order.

    Guarantees: one TLV per expected tag, contiguous, nothing before, between or after them;
    a missing, duplicate, extra or out-of-order tag raises CARD_MALFORMED.
    """
    found: list[Tlv] = []
    pos = start
    for tag in tags:
        tlv = read_tlv(buf, pos, end)
        if tlv.tag != tag:
            raise malformed(f"expected tag {tag:X}, found {tlv.tag:X}")
        found.append(tlv)
        pos = tlv.end
    if pos != end:
        raise malformed("bytes after the last expected TLV")
    return found


def read_single(buf: bytes, tag: int) -> Tlv:
    """Read a buffer that is exactly one TLV with the given tag (no trailing bytes)."""
    return read_sequence(buf, 0, len(buf), (tag,))[0]


def encode_length(length: int) -> bytes:
    """The shortest length encoding, the only one `read_tlv` accepts."""
    if length < 0:
        raise ValueError("negative length")
    if length < 0x80:
        return bytes([length])
    if length < 0x100:
        return bytes([0x81, length])
    if length < 0x10000:
        return bytes([0x82, length >> 8, length & 0xFF])
    raise ValueError("length too large for the card's format")


def encode_tlv(tag: int, value: bytes) -> bytes:
    """Encode one TLV; `tag` as an integer of one to three bytes (`0xDF21`)."""
    if not 0 <= tag < 1 << 24:
        raise ValueError("tag out of range")
    tag_bytes = tag.to_bytes(max(1, (tag.bit_length() + 7) // 8), "big")
    return tag_bytes + encode_length(len(value)) + value
