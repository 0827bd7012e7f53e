"""Verification of the My Number card's text AP data (specs/mynumber-text-ap.md, DESIGN §4.1).

`verify_card` follows the spec's "Verification order", one stable code per step:

(1) parse EF0004 strictly; find the trust anchor by the 16-byte issuer key ID
    (CARD_ISSUER_UNKNOWN), check the hierarchy policy (CARD_HIERARCHY_NOT_ALLOWED) and the anchor's
    inclusive JST validity window (CARD_ISSUER_EXPIRED);
(2) verify the EF0004 signature (CARD_CERTIFICATE_SIGNATURE_INVALID); refuse a subject key ID on
    the deny-list (CARD_SIGNER_REVOKED);
(3) parse EF0003; verify DF33 over DF31‖DF32 with the EF0004 key (CARD_DATA_SIGNATURE_INVALID);
(4) parse EF0001 and EF0002 (structure only); compare DF31 with SHA-256 of the 17 bytes of EF0001
    (CARD_MY_NUMBER_DIGEST_MISMATCH) and DF32 with SHA-256 of the DF22..DF25 TLVs
    (CARD_ATTRIBUTES_DIGEST_MISMATCH), in constant time;
(5) parse EF0007; verify DF52 with the EF0004 key (CARD_KEY_SIGNATURE_INVALID), then the challenge
    signature over the nonce with the DF51 key (CARD_CHALLENGE_SIGNATURE_INVALID);
(6) only then decode the content (CARD_CONTENT_INVALID, CARD_CHECK_DIGIT_INVALID).

Any structural problem in any file, at the step that first reads it, is CARD_MALFORMED.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import date, datetime, timedelta, timezone
from typing import Final

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from signing._ber import CardVerificationError, Tlv, malformed, read_sequence, read_single
from signing._trust import TrustAnchor, TrustStore

__all__ = [
    "CardEvidence",
    "CardHolder",
    "CardVerificationError",
    "is_valid_my_number",
    "my_number_check_digit",
    "verify_card",
]

# Japan has had no daylight saving time since 1951: a fixed offset is exact.
JST: Final = timezone(timedelta(hours=9), "JST")

# --- Layout (specs/mynumber-text-ap.md) ---
TAG_MY_NUMBER: Final = 0xFF10
TAG_ATTRIBUTES: Final = 0xFF20
TAG_OFFSETS: Final = 0xDF21
TAG_NAME: Final = 0xDF22
TAG_ADDRESS: Final = 0xDF23
TAG_BIRTH_DATE: Final = 0xDF24
TAG_SEX: Final = 0xDF25
TAG_INTEGRITY: Final = 0xFF30
TAG_MY_NUMBER_DIGEST: Final = 0xDF31
TAG_ATTRIBUTES_DIGEST: Final = 0xDF32
TAG_DATA_SIGNATURE: Final = 0xDF33
TAG_CVC: Final = 0x7F21
TAG_CVC_BODY: Final = 0x5F4E
TAG_CVC_SIGNATURE: Final = 0x5F37
TAG_CARD_KEY: Final = 0xFF50
TAG_CARD_KEY_BODY: Final = 0xDF51
TAG_CARD_KEY_SIGNATURE: Final = 0xDF52
TAG_EXPONENT: Final = 0x90
TAG_MODULUS: Final = 0x91

EF0001_LENGTH: Final = 17  # FF 10 0C + 12 digits + FF FF; the filler is covered by DF31
EF0001_FILLER: Final = b"\xff\xff"
EF0003_LENGTH: Final = 336
EF0004_LENGTH: Final = 568
EF0007_LENGTH: Final = 536
KEY_ID_LENGTH: Final = 16
CVC_BODY_LENGTH: Final = 297
RSA_BYTES: Final = 256  # RSA-2048 moduli and signatures
EXPONENT_65537: Final = b"\x01\x00\x01"
SEX_CODES: Final = frozenset({"1", "2", "9", "0"})
NAME_SEPARATOR: Final = "\u3000"  # ideographic space between family and given name

# Production key IDs start with ASCII '5' (text-AP issuer 5000033…); see `_hierarchy_allowed`.
PRODUCTION_KEY_ID_PREFIX: Final = 0x35

_PKCS1V15: Final = padding.PKCS1v15()
_SHA256: Final = hashes.SHA256()
_CONTROL_CHARACTERS: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class CardEvidence(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The raw bytes an app, kiosk or card reader sends: the five text-AP files as read and the
    card's signature over the server nonce (INTERNAL AUTHENTICATE with the EF0013 key)."""

    ef0001: bytes
    ef0002: bytes
    ef0003: bytes
    ef0004: bytes
    ef0007: bytes
    challenge_signature: bytes

    def __repr__(self) -> str:
        # EF0001 holds the My Number in ASCII and EF0002 the name: never print the bytes.
        sizes = ", ".join(
            f"{name}=<{len(getattr(self, name))} bytes>" for name in self.__struct_fields__
        )
        return f"CardEvidence({sizes})"


class CardHolder(msgspec.Struct, frozen=True, kw_only=True):
    """The verified card holder. `sex` is the card's code: "1" male, "2" female, "9" not
    applicable, "0" not known. `signer_key_id` is the hex subject key ID of EF0004 (the J-LIS
    key that signed the data), not personal data. The address is deliberately not kept."""

    my_number: str
    family_name: str
    given_name: str
    birth_date: date
    sex: str
    signer_key_id: str

    def __repr__(self) -> str:
        # Safe to log: every personal item masked.
        return (
            "CardHolder(my_number=<masked>, family_name=<masked>, given_name=<masked>, "
            f"birth_date=<masked>, sex=<masked>, signer_key_id={self.signer_key_id!r})"
        )


def my_number_check_digit(first11: str) -> str:
    """The check digit of a My Number from its first 11 digits (spec: P1..P11 counted from the
    right, Q = n+1 for n ≤ 6 and n−5 for n ≥ 7, check = 0 if Σ Pn·Qn mod 11 ≤ 1 else 11 − r).

    Raises `ValueError` unless `first11` is exactly 11 ASCII digits.
    """
    if len(first11) != 11 or not first11.isascii() or not first11.isdigit():
        raise ValueError("expected 11 ASCII digits")
    total = 0
    for n, ch in enumerate(reversed(first11), start=1):
        q = n + 1 if n <= 6 else n - 5
        total += int(ch) * q
    r = total % 11
    return "0" if r <= 1 else str(11 - r)


def is_valid_my_number(value: str) -> bool:
    """True exactly when `value` is 12 ASCII digits whose last digit is the check digit."""
    if len(value) != 12 or not value.isascii() or not value.isdigit():
        return False
    return hmac.compare_digest(my_number_check_digit(value[:11]), value[11])


# --- Structure of each file ---


class _Cvc(msgspec.Struct, frozen=True, kw_only=True):
    body: bytes
    issuer_key_id: bytes
    subject_key_id: bytes
    modulus: bytes
    signature: bytes


def _rsa_public_key(buf: bytes, start: int, end: int) -> bytes:
    """`90 03 01 00 01` then `91 82 01 00` + a 2048-bit modulus, filling buf[start:end]."""
    e, n = read_sequence(buf, start, end, (TAG_EXPONENT, TAG_MODULUS))
    if buf[e.value_start : e.end] != EXPONENT_65537:
        raise malformed("public exponent is not 65537")
    modulus = buf[n.value_start : n.end]
    if len(modulus) != RSA_BYTES or modulus[0] < 0x80:
        raise malformed("modulus is not 2048 bits")
    return modulus


def _parse_ef0004(buf: bytes) -> _Cvc:
    if len(buf) != EF0004_LENGTH:
        raise malformed("EF0004 has the wrong length")
    outer = read_single(buf, TAG_CVC)
    body, sig = read_sequence(buf, outer.value_start, outer.end, (TAG_CVC_BODY, TAG_CVC_SIGNATURE))
    if body.end - body.value_start != CVC_BODY_LENGTH:
        raise malformed("EF0004 body has the wrong length")
    if sig.end - sig.value_start != RSA_BYTES:
        raise malformed("EF0004 signature has the wrong length")
    b = body.value_start
    issuer = buf[b : b + KEY_ID_LENGTH]
    subject = buf[b + KEY_ID_LENGTH : b + 2 * KEY_ID_LENGTH]
    modulus = _rsa_public_key(buf, b + 2 * KEY_ID_LENGTH, body.end)
    return _Cvc(
        body=buf[body.value_start : body.end],
        issuer_key_id=issuer,
        subject_key_id=subject,
        modulus=modulus,
        signature=buf[sig.value_start : sig.end],
    )


def _parse_ef0003(buf: bytes) -> tuple[bytes, bytes, bytes, bytes]:
    """(DF31 value, DF32 value, the 70 signed bytes DF31‖DF32 TLVs, DF33 value)."""
    if len(buf) != EF0003_LENGTH:
        raise malformed("EF0003 has the wrong length")
    outer = read_single(buf, TAG_INTEGRITY)
    d31, d32, d33 = read_sequence(
        buf,
        outer.value_start,
        outer.end,
        (TAG_MY_NUMBER_DIGEST, TAG_ATTRIBUTES_DIGEST, TAG_DATA_SIGNATURE),
    )
    for tlv, size in ((d31, 32), (d32, 32), (d33, RSA_BYTES)):
        if tlv.end - tlv.value_start != size:
            raise malformed("EF0003 item has the wrong length")
    return (
        buf[d31.value_start : d31.end],
        buf[d32.value_start : d32.end],
        buf[d31.start : d32.end],
        buf[d33.value_start : d33.end],
    )


def _parse_ef0001(buf: bytes) -> bytes:
    """The 12 bytes of the My Number, not yet checked to be digits."""
    if len(buf) != EF0001_LENGTH:
        # Also catches a reader that trimmed the filler: the hash covers all 17 bytes.
        raise malformed("EF0001 is not 17 bytes")
    tlv = read_sequence(buf, 0, EF0001_LENGTH - len(EF0001_FILLER), (TAG_MY_NUMBER,))[0]
    if tlv.end - tlv.value_start != 12:
        raise malformed("EF0001 value is not 12 bytes")
    if buf[tlv.end :] != EF0001_FILLER:
        raise malformed("EF0001 filler is not FF FF")
    return buf[tlv.value_start : tlv.end]


def _parse_ef0002(buf: bytes) -> list[Tlv]:
    """The DF21..DF25 TLVs, in order, filling the one FF20 TLV that fills the file."""
    outer = read_single(buf, TAG_ATTRIBUTES)
    tlvs = read_sequence(
        buf,
        outer.value_start,
        outer.end,
        (TAG_OFFSETS, TAG_NAME, TAG_ADDRESS, TAG_BIRTH_DATE, TAG_SEX),
    )
    for tlv, size in ((tlvs[0], 8), (tlvs[3], 8), (tlvs[4], 1)):
        if tlv.end - tlv.value_start != size:
            raise malformed("EF0002 item has the wrong length")
    return tlvs


def _parse_ef0007(buf: bytes) -> tuple[bytes, bytes, bytes]:
    """(the raw DF51 TLV that DF52 signs, the card key's modulus, DF52 value)."""
    if len(buf) != EF0007_LENGTH:
        raise malformed("EF0007 has the wrong length")
    outer = read_single(buf, TAG_CARD_KEY)
    d51, d52 = read_sequence(
        buf, outer.value_start, outer.end, (TAG_CARD_KEY_BODY, TAG_CARD_KEY_SIGNATURE)
    )
    modulus = _rsa_public_key(buf, d51.value_start, d51.end)
    if d52.end - d52.value_start != RSA_BYTES:
        raise malformed("EF0007 signature has the wrong length")
    return buf[d51.start : d51.end], modulus, buf[d52.value_start : d52.end]


# --- Policy ---


def _hierarchy_allowed(anchor: TrustAnchor, allowed: frozenset[str]) -> bool:
    """The anchor's `hierarchy` field decides (contracts.md §3); a production anchor must also
    carry a production key ID (spec: a leading '5'), so that a test or synthetic key mislabelled
    "production" in a trust file is still refused."""
    if anchor.hierarchy not in allowed:
        return False
    return anchor.hierarchy != "production" or anchor.key_id[0] == PRODUCTION_KEY_ID_PREFIX


def _rsa_verify(key: rsa.RSAPublicKey, signature: bytes, data: bytes) -> bool:
    try:
        key.verify(signature, data, _PKCS1V15, _SHA256)
    except InvalidSignature:
        return False
    return True


# EF0004 is the J-LIS signing key's certificate: every card that key signed carries the same
# bytes, so its signature by the anchor is verified once and remembered (successes only, by the
# exact EF0004 bytes and the anchor key object: another key, or a trust store loaded anew, is
# verified again). The anchor's hierarchy and window and the signer's revocation are still
# checked on every call. Bounded: a full memory is emptied.
_VERIFIED_CVC_MAX = 64
_verified_cvcs: dict[bytes, rsa.RSAPublicKey] = {}


def _cvc_signature_valid(anchor: TrustAnchor, cvc: _Cvc, ef0004: bytes) -> bool:
    if _verified_cvcs.get(ef0004) is anchor.public_key:
        return True
    if not _rsa_verify(anchor.public_key, cvc.signature, cvc.body):
        return False
    if len(_verified_cvcs) >= _VERIFIED_CVC_MAX:
        _verified_cvcs.clear()
    _verified_cvcs[bytes(ef0004)] = anchor.public_key
    return True


def _public_key(modulus: bytes) -> rsa.RSAPublicKey:
    try:
        return rsa.RSAPublicNumbers(65537, int.from_bytes(modulus, "big")).public_key()
    except ValueError:
        raise malformed("unusable RSA public key") from None


def _content_invalid(why: str) -> CardVerificationError:
    return CardVerificationError("CARD_CONTENT_INVALID", f"card content invalid: {why}")


def _decode_text(value: bytes, what: str) -> str:
    try:
        text = value.decode("utf-8", errors="strict")
    except UnicodeDecodeError:
        raise _content_invalid(f"{what} is not UTF-8") from None
    if _CONTROL_CHARACTERS.search(text):
        raise _content_invalid(f"{what} contains control characters")
    return text


# --- Verification ---


def verify_card(
    evidence: CardEvidence, trust: TrustStore, *, nonce: bytes, now: datetime
) -> CardHolder:
    """Verify a My Number card's text-AP data and its presence, then decode the holder.

    Guarantees, when it returns: EF0004 is signed by a trusted, allowed, currently valid J-LIS
    key and names a signer not on the deny-list; EF0003 is signed by that signer; EF0001 and
    DF22..DF25 of EF0002 hash to EF0003's digests; EF0007 is signed by that signer and its key
    signed `nonce` (so a card was present for this nonce — its single use is the caller's job);
    the content is well formed. Otherwise raises `CardVerificationError` with the code of the
    first step that refused (see the module docstring), and never any other exception for any
    bytes in `evidence`. `now` must be timezone-aware; the validity windows are JST dates.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")

    # (1) Parse EF0004; the anchor by all 16 bytes of the issuer key ID; hierarchy; window.
    cvc = _parse_ef0004(evidence.ef0004)
    anchor = trust.anchors.get(cvc.issuer_key_id)
    if anchor is None:
        raise CardVerificationError("CARD_ISSUER_UNKNOWN", "EF0004 issuer key is not trusted")
    if not _hierarchy_allowed(anchor, trust.hierarchies):
        raise CardVerificationError(
            "CARD_HIERARCHY_NOT_ALLOWED", "EF0004 issuer is in a hierarchy the policy refuses"
        )
    today_jst = now.astimezone(JST).date()
    if not anchor.valid_from <= today_jst <= anchor.valid_until:
        raise CardVerificationError(
            "CARD_ISSUER_EXPIRED", "EF0004 issuer key is outside its validity window"
        )

    # (2) The EF0004 signature by the anchor; the signer (subject) key not revoked.
    if not _cvc_signature_valid(anchor, cvc, evidence.ef0004):
        raise CardVerificationError(
            "CARD_CERTIFICATE_SIGNATURE_INVALID", "EF0004 signature does not verify"
        )
    if cvc.subject_key_id in trust.revoked_subject_key_ids:
        raise CardVerificationError("CARD_SIGNER_REVOKED", "EF0004 signer key is revoked")
    signer_key = _public_key(cvc.modulus)

    # (3) Parse EF0003; DF33 over the DF31 and DF32 TLVs by the EF0004 key.
    my_number_digest, attributes_digest, signed, data_signature = _parse_ef0003(evidence.ef0003)
    if not _rsa_verify(signer_key, data_signature, signed):
        raise CardVerificationError(
            "CARD_DATA_SIGNATURE_INVALID", "EF0003 signature does not verify"
        )

    # (4) Digests of EF0001 (all 17 bytes) and of the DF22..DF25 TLVs, in constant time.
    my_number_bytes = _parse_ef0001(evidence.ef0001)
    offsets, name, address, birth, sex = _parse_ef0002(evidence.ef0002)
    if not hmac.compare_digest(hashlib.sha256(evidence.ef0001).digest(), my_number_digest):
        raise CardVerificationError(
            "CARD_MY_NUMBER_DIGEST_MISMATCH", "EF0001 does not match its digest"
        )
    attributes = evidence.ef0002[name.start : sex.end]
    if not hmac.compare_digest(hashlib.sha256(attributes).digest(), attributes_digest):
        raise CardVerificationError(
            "CARD_ATTRIBUTES_DIGEST_MISMATCH", "EF0002 does not match its digest"
        )

    # (5) EF0007 by the EF0004 key, then the challenge by the EF0007 (card) key.
    card_key_tlv, card_modulus, card_key_signature = _parse_ef0007(evidence.ef0007)
    if not _rsa_verify(signer_key, card_key_signature, card_key_tlv):
        raise CardVerificationError(
            "CARD_KEY_SIGNATURE_INVALID", "EF0007 signature does not verify"
        )
    card_key = _public_key(card_modulus)
    # contracts.md §1: the card signs the raw nonce bytes (DigestInfo of SHA-256(nonce)).
    if len(evidence.challenge_signature) != RSA_BYTES or not _rsa_verify(
        card_key, evidence.challenge_signature, nonce
    ):
        raise CardVerificationError(
            "CARD_CHALLENGE_SIGNATURE_INVALID", "challenge signature does not verify"
        )

    # (6) Only now decode the content.
    if not my_number_bytes.isdigit():  # bytes.isdigit: ASCII digits only
        raise _content_invalid("My Number is not 12 digits")
    my_number = my_number_bytes.decode("ascii")
    if not is_valid_my_number(my_number):
        raise CardVerificationError("CARD_CHECK_DIGIT_INVALID", "My Number check digit is wrong")
    full_name = _decode_text(evidence.ef0002[name.value_start : name.end], "name")
    # (assumed) The spec says family and given name are separated by U+3000; a name with more
    # than one (a foreign resident's middle names) splits at the first, the rest is given name.
    family_name, separator, given_name = full_name.partition(NAME_SEPARATOR)
    if not separator or not family_name or not given_name:
        raise _content_invalid("name has no family/given separator")
    _decode_text(evidence.ef0002[address.value_start : address.end], "address")
    birth_date = _birth_date(evidence.ef0002[birth.value_start : birth.end])
    sex_code = evidence.ef0002[sex.value_start : sex.end].decode("latin-1")
    if sex_code not in SEX_CODES:
        raise _content_invalid("sex code is not 0, 1, 2 or 9")
    # DF21 is covered by no hash: it must equal the real positions of DF22..DF25.
    ef0002 = evidence.ef0002
    declared = [
        int.from_bytes(ef0002[i : i + 2], "big") for i in range(offsets.value_start, offsets.end, 2)
    ]
    if declared != [name.start, address.start, birth.start, sex.start]:
        raise _content_invalid("DF21 offsets disagree with the real positions")

    return CardHolder(
        my_number=my_number,
        family_name=family_name,
        given_name=given_name,
        birth_date=birth_date,
        sex=sex_code,
        signer_key_id=cvc.subject_key_id.hex(),
    )


def _birth_date(value: bytes) -> date:
    # spec: DF24 is ASCII YYYYMMDD, Gregorian.
    if not value.isdigit():
        raise _content_invalid("birth date is not 8 digits")
    try:
        return date(int(value[0:4]), int(value[4:6]), int(value[6:8]))
    except ValueError:
        raise _content_invalid("birth date is not a calendar date") from None
