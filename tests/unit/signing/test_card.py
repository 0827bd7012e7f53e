"""verify_card: the happy path, then one crafted input per refusal, each asserting its code."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signing import (
    CardEvidence,
    CardHolder,
    CardVerificationError,
    SigningError,
    TrustStore,
    is_valid_my_number,
    my_number_check_digit,
    verify_card,
)
from signing.synthetic import (
    SyntheticJlis,
    encode_ef0001,
    encode_ef0002,
    encode_ef0003,
    encode_ef0007,
)
from tests.unit.signing.conftest_card import (
    NONCE,
    NOW,
    SAMPLE_ADDRESS,
    SAMPLE_BIRTH,
    SAMPLE_FAMILY,
    SAMPLE_GIVEN,
    SAMPLE_MY_NUMBER,
    card_world,
    good_evidence,
)


def _flip(data: bytes, index: int) -> bytes:
    out = bytearray(data)
    out[index] ^= 0x01
    return bytes(out)


def _with(evidence: CardEvidence, **changes: bytes) -> CardEvidence:
    return msgspec.structs.replace(evidence, **changes)


def _refused(
    evidence: CardEvidence,
    code: str,
    *,
    trust: TrustStore | None = None,
    now: datetime = NOW,
    nonce: bytes = NONCE,
) -> None:
    with pytest.raises(CardVerificationError) as info:
        verify_card(evidence, trust or card_world().trust, nonce=nonce, now=now)
    assert info.value.code == code


def _store(jlis: SyntheticJlis, *, hierarchies: list[str], **trust_args: Any) -> TrustStore:
    return TrustStore.from_dict(jlis.trust_file_json(**trust_args), hierarchies=hierarchies)


def _signed(ef0001: bytes | None = None, ef0002: bytes | None = None) -> CardEvidence:
    """Genuinely signed evidence over the given (possibly hostile) files."""
    world = card_world()
    card = world.jlis.sign_files(
        ef0001=ef0001 if ef0001 is not None else world.card.ef0001,
        ef0002=ef0002 if ef0002 is not None else world.card.ef0002,
        card_key=world.spare_card_key,
    )
    return card.evidence(nonce=NONCE)


def _ef0002(**overrides: str | bytes) -> bytes:
    fields: dict[str, str | bytes] = {
        "name": f"{SAMPLE_FAMILY}\u3000{SAMPLE_GIVEN}",
        "address": SAMPLE_ADDRESS,
        "birth": "19800217",
        "sex": "1",
    }
    fields.update(overrides)
    sex = fields.pop("sex")
    if not isinstance(sex, str):
        raise TypeError("sex is a str")
    return encode_ef0002(sex=sex, **fields)


# --- Happy path ---


def test_verify_card_returns_the_holder() -> None:
    world = card_world()
    holder = verify_card(good_evidence(), world.trust, nonce=NONCE, now=NOW)
    assert holder == CardHolder(
        my_number=SAMPLE_MY_NUMBER,
        family_name=SAMPLE_FAMILY,
        given_name=SAMPLE_GIVEN,
        birth_date=SAMPLE_BIRTH,
        sex="1",
        signer_key_id=world.jlis.signer_key_id.hex(),
    )
    assert holder == world.card.holder
    assert not hasattr(holder, "address")


def test_verify_card_accepts_a_production_anchor_under_the_production_policy() -> None:
    # A '5' key ID labelled production: the policy's positive case (keys are synthetic).
    world = card_world()
    jlis = SyntheticJlis.create(
        issuer_digits="5000033", ca_key=world.jlis.ca_key, signer_key=world.jlis.signer_key
    )
    card = jlis.sign_files(
        ef0001=world.card.ef0001, ef0002=world.card.ef0002, card_key=world.spare_card_key
    )
    trust = _store(jlis, hierarchies=["production"], hierarchy="production")
    holder = verify_card(card.evidence(nonce=NONCE), trust, nonce=NONCE, now=NOW)
    assert holder.my_number == SAMPLE_MY_NUMBER


@pytest.mark.parametrize(("length", "form"), [(129, 0x81), (303, 0x82)])
def test_verify_card_accepts_long_addresses(length: int, form: int) -> None:
    # 81 xx and 82 xx xx lengths (spec: assumed for long addresses).
    evidence = _signed(ef0002=_ef0002(address="東" * (length // 3)))
    assert evidence.ef0002[2] == form  # the FF20 length too
    assert evidence.ef0002[evidence.ef0002.index(b"\xdf\x23") + 2] == form
    holder = verify_card(evidence, card_world().trust, nonce=NONCE, now=NOW)
    assert holder.given_name == SAMPLE_GIVEN


def test_verify_card_window_uses_the_jst_date() -> None:
    # Valid until 2026-11-27 JST: 14:59:59Z is still the 27th in Tokyo, 15:00Z is the 28th.
    trust = _store(
        card_world().jlis,
        hierarchies=["synthetic"],
        valid_from=date(2026, 11, 27),
        valid_until=date(2026, 11, 27),
    )
    last = datetime(2026, 11, 27, 14, 59, 59, tzinfo=UTC)
    verify_card(good_evidence(), trust, nonce=NONCE, now=last)
    _refused(good_evidence(), "CARD_ISSUER_EXPIRED", trust=trust, now=last + timedelta(seconds=1))
    # 2026-11-26T15:00Z is midnight of the 27th in Tokyo: already valid.
    verify_card(good_evidence(), trust, nonce=NONCE, now=datetime(2026, 11, 26, 15, tzinfo=UTC))
    _refused(
        good_evidence(),
        "CARD_ISSUER_EXPIRED",
        trust=trust,
        now=datetime(2026, 11, 26, 14, 59, 59, tzinfo=UTC),
    )


def test_verify_card_refuses_a_naive_now() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        verify_card(good_evidence(), card_world().trust, nonce=NONCE, now=NOW.replace(tzinfo=None))


# --- Tamper variants: one flipped byte in each file ---

# (file, index, code): indexes from the layout in specs/mynumber-text-ap.md.
_FLIPS = [
    ("ef0001", 0, "CARD_MALFORMED"),  # FF 10 tag
    ("ef0001", 5, "CARD_MY_NUMBER_DIGEST_MISMATCH"),  # a digit
    ("ef0001", 16, "CARD_MALFORMED"),  # filler FF FF
    ("ef0002", 1, "CARD_MALFORMED"),  # FF 20 tag
    ("ef0002", 9, "CARD_CONTENT_INVALID"),  # a DF21 offset: covered by no hash
    ("ef0002", 20, "CARD_ATTRIBUTES_DIGEST_MISMATCH"),  # a byte of the name
    ("ef0002", 103, "CARD_ATTRIBUTES_DIGEST_MISMATCH"),  # the sex code
    ("ef0003", 3, "CARD_MALFORMED"),  # FF 30 length
    ("ef0003", 10, "CARD_DATA_SIGNATURE_INVALID"),  # DF31 digest
    ("ef0003", 50, "CARD_DATA_SIGNATURE_INVALID"),  # DF32 digest
    ("ef0003", 200, "CARD_DATA_SIGNATURE_INVALID"),  # DF33 signature
    ("ef0004", 0, "CARD_MALFORMED"),  # 7F 21 tag
    ("ef0004", 12, "CARD_ISSUER_UNKNOWN"),  # issuer key ID
    ("ef0004", 25, "CARD_ISSUER_UNKNOWN"),  # issuer key ID, last byte
    ("ef0004", 30, "CARD_CERTIFICATE_SIGNATURE_INVALID"),  # subject key ID
    ("ef0004", 44, "CARD_MALFORMED"),  # exponent 010001
    ("ef0004", 100, "CARD_CERTIFICATE_SIGNATURE_INVALID"),  # modulus
    ("ef0004", 400, "CARD_CERTIFICATE_SIGNATURE_INVALID"),  # 5F37 signature
    ("ef0007", 2, "CARD_MALFORMED"),  # FF 50 length form
    ("ef0007", 100, "CARD_KEY_SIGNATURE_INVALID"),  # card key modulus
    ("ef0007", 400, "CARD_KEY_SIGNATURE_INVALID"),  # DF52 signature
    ("challenge_signature", 7, "CARD_CHALLENGE_SIGNATURE_INVALID"),
]


@pytest.mark.parametrize(("field", "index", "code"), _FLIPS)
def test_verify_card_flipped_byte(field: str, index: int, code: str) -> None:
    evidence = good_evidence()
    _refused(_with(evidence, **{field: _flip(getattr(evidence, field), index)}), code)


@pytest.mark.parametrize("field", ["ef0001", "ef0002", "ef0003", "ef0004", "ef0007"])
def test_verify_card_truncated_file(field: str) -> None:
    evidence = good_evidence()
    _refused(_with(evidence, **{field: getattr(evidence, field)[:-1]}), "CARD_MALFORMED")


@pytest.mark.parametrize("field", ["ef0001", "ef0002", "ef0003", "ef0004", "ef0007"])
def test_verify_card_extended_file(field: str) -> None:
    evidence = good_evidence()
    _refused(_with(evidence, **{field: getattr(evidence, field) + b"\x00"}), "CARD_MALFORMED")


@pytest.mark.parametrize("field", ["ef0001", "ef0002", "ef0003", "ef0004", "ef0007"])
def test_verify_card_empty_file(field: str) -> None:
    _refused(_with(good_evidence(), **{field: b""}), "CARD_MALFORMED")


def test_verify_card_ef0001_with_filler_trimmed() -> None:
    # A reader that keeps only the 15-byte TLV: refused as malformed, not as a digest mismatch.
    evidence = good_evidence()
    _refused(_with(evidence, ef0001=evidence.ef0001[:15]), "CARD_MALFORMED")


def test_verify_card_ef0001_signed_without_filler() -> None:
    # Even if the digest matched the 15 bytes, EF0001 is 17 bytes as stored.
    _refused(_signed(ef0001=good_evidence().ef0001[:15]), "CARD_MALFORMED")


# --- Files from elsewhere ---


def test_verify_card_ef0003_from_another_person() -> None:
    _refused(
        _with(good_evidence(), ef0003=card_world().other_card.ef0003),
        "CARD_MY_NUMBER_DIGEST_MISMATCH",
    )


def test_verify_card_ef0001_from_another_person() -> None:
    _refused(
        _with(good_evidence(), ef0001=card_world().other_card.ef0001),
        "CARD_MY_NUMBER_DIGEST_MISMATCH",
    )


def test_verify_card_ef0002_from_another_person() -> None:
    _refused(
        _with(good_evidence(), ef0002=card_world().other_card.ef0002),
        "CARD_ATTRIBUTES_DIGEST_MISMATCH",
    )


def test_verify_card_data_resigned_by_an_unknown_key() -> None:
    world = card_world()
    forged = encode_ef0003(
        ef0001=world.card.ef0001, ef0002=world.card.ef0002, signer_key=world.other_jlis.signer_key
    )
    _refused(_with(good_evidence(), ef0003=forged), "CARD_DATA_SIGNATURE_INVALID")


def test_verify_card_card_key_certified_by_an_unknown_key() -> None:
    world = card_world()
    forged = encode_ef0007(
        card_key=world.card.card_key.public_key(), signer_key=world.other_jlis.signer_key
    )
    _refused(_with(good_evidence(), ef0007=forged), "CARD_KEY_SIGNATURE_INVALID")


def test_verify_card_card_of_an_untrusted_hierarchy() -> None:
    world = card_world()
    card = world.other_jlis.sign_files(
        ef0001=world.card.ef0001, ef0002=world.card.ef0002, card_key=world.spare_card_key
    )
    _refused(card.evidence(nonce=NONCE), "CARD_ISSUER_UNKNOWN")


def test_verify_card_certificate_by_an_impostor_with_the_same_key_id() -> None:
    world = card_world()
    card = world.twin_jlis.sign_files(
        ef0001=world.card.ef0001, ef0002=world.card.ef0002, card_key=world.spare_card_key
    )
    _refused(card.evidence(nonce=NONCE), "CARD_CERTIFICATE_SIGNATURE_INVALID")


# --- Policy: hierarchy, window, deny-list ---


def test_verify_card_synthetic_hierarchy_under_the_production_policy() -> None:
    trust = _store(card_world().jlis, hierarchies=["production"])
    _refused(good_evidence(), "CARD_HIERARCHY_NOT_ALLOWED", trust=trust)


def test_verify_card_test_hierarchy_under_the_production_policy() -> None:
    trust = _store(card_world().jlis, hierarchies=["production"], hierarchy="test")
    _refused(good_evidence(), "CARD_HIERARCHY_NOT_ALLOWED", trust=trust)


def test_verify_card_synthetic_key_labelled_production() -> None:
    # The trust file calls the '9…' key production: the key ID still gives it away.
    trust = _store(card_world().jlis, hierarchies=["production"], hierarchy="production")
    _refused(good_evidence(), "CARD_HIERARCHY_NOT_ALLOWED", trust=trust)


def test_verify_card_anchor_expired() -> None:
    trust = _store(
        card_world().jlis,
        hierarchies=["synthetic"],
        valid_from=date(2020, 1, 1),
        valid_until=date(2026, 11, 26),
    )
    _refused(good_evidence(), "CARD_ISSUER_EXPIRED", trust=trust)


def test_verify_card_anchor_not_yet_valid() -> None:
    trust = _store(
        card_world().jlis,
        hierarchies=["synthetic"],
        valid_from=date(2026, 11, 28),
        valid_until=date(2030, 1, 1),
    )
    _refused(good_evidence(), "CARD_ISSUER_EXPIRED", trust=trust)


def test_verify_card_signer_revoked() -> None:
    world = card_world()
    trust = _store(
        world.jlis,
        hierarchies=["synthetic"],
        revoked_subject_key_ids=(world.jlis.signer_key_id,),
    )
    _refused(good_evidence(), "CARD_SIGNER_REVOKED", trust=trust)


# --- Presence: the challenge ---


def test_verify_card_signature_over_another_nonce() -> None:
    world = card_world()
    evidence = world.card.evidence(nonce=b"\x01" * 32)
    _refused(evidence, "CARD_CHALLENGE_SIGNATURE_INVALID")


def test_verify_card_challenge_signed_by_another_card() -> None:
    world = card_world()
    swapped = _with(good_evidence(), challenge_signature=world.other_card.sign_challenge(NONCE))
    _refused(swapped, "CARD_CHALLENGE_SIGNATURE_INVALID")


def test_verify_card_card_key_swapped() -> None:
    # Another genuine EF0007 (another card's key) with this card's challenge answer.
    world = card_world()
    _refused(
        _with(good_evidence(), ef0007=world.other_card.ef0007), "CARD_CHALLENGE_SIGNATURE_INVALID"
    )


@pytest.mark.parametrize("length", [0, 255, 257])
def test_verify_card_challenge_signature_of_the_wrong_length(length: int) -> None:
    _refused(
        _with(good_evidence(), challenge_signature=b"\x01" * length),
        "CARD_CHALLENGE_SIGNATURE_INVALID",
    )


# --- Content, decoded only after every signature ---


@pytest.mark.parametrize(
    ("ef0001", "ef0002", "code"),
    [
        (encode_ef0001("53768667718A"), None, "CARD_CONTENT_INVALID"),
        (encode_ef0001("５３７６".encode()), None, "CARD_CONTENT_INVALID"),  # 12 bytes, not digits
        (encode_ef0001("537686677189"), None, "CARD_CHECK_DIGIT_INVALID"),
        (None, _ef0002(name=b"\xe9\xbb\x92\xff\xe3\x80\x80a"), "CARD_CONTENT_INVALID"),
        (None, _ef0002(name=b"\xc0\xaf\xe3\x80\x80a"), "CARD_CONTENT_INVALID"),  # overlong
        (None, _ef0002(name=f"{SAMPLE_FAMILY} {SAMPLE_GIVEN}"), "CARD_CONTENT_INVALID"),
        (None, _ef0002(name=f"\u3000{SAMPLE_GIVEN}"), "CARD_CONTENT_INVALID"),
        (None, _ef0002(name=f"{SAMPLE_FAMILY}\u3000"), "CARD_CONTENT_INVALID"),
        (None, _ef0002(name=f"{SAMPLE_FAMILY}\u3000幹\n也"), "CARD_CONTENT_INVALID"),
        (None, _ef0002(address=b"\xed\xa0\x80"), "CARD_CONTENT_INVALID"),  # a surrogate
        (None, _ef0002(birth="19800230"), "CARD_CONTENT_INVALID"),
        (None, _ef0002(birth="1980-2-1"), "CARD_CONTENT_INVALID"),
        (None, _ef0002(birth="１９80"), "CARD_CONTENT_INVALID"),  # 8 bytes, not digits
        (None, _ef0002(birth="19800217X"), "CARD_MALFORMED"),
        (None, _ef0002(sex="3"), "CARD_CONTENT_INVALID"),
        (None, _ef0002(sex="M"), "CARD_CONTENT_INVALID"),
        (None, _ef0002(sex="12"), "CARD_MALFORMED"),
    ],
)
def test_verify_card_signed_content_refused(
    ef0001: bytes | None, ef0002: bytes | None, code: str
) -> None:
    _refused(_signed(ef0001=ef0001, ef0002=ef0002), code)


def test_verify_card_accepts_sex_codes_and_extra_name_separators() -> None:
    for sex in "0129":
        holder = verify_card(
            _signed(ef0002=_ef0002(sex=sex)), card_world().trust, nonce=NONCE, now=NOW
        )
        assert holder.sex == sex
    # (assumed) A second U+3000 belongs to the given name.
    evidence = _signed(ef0002=_ef0002(name="SMITH\u3000JOHN\u3000WILLIAM"))
    holder = verify_card(evidence, card_world().trust, nonce=NONCE, now=NOW)
    assert (holder.family_name, holder.given_name) == ("SMITH", "JOHN\u3000WILLIAM")


def test_verify_card_offsets_that_lie() -> None:
    # DF21 is covered by no hash: rewrite it to point at DF23 for the name.
    ef0002 = bytearray(good_evidence().ef0002)
    ef0002[6:8] = (32).to_bytes(2, "big")
    _refused(_with(good_evidence(), ef0002=bytes(ef0002)), "CARD_CONTENT_INVALID")


def test_verify_card_offsets_that_lie_in_a_signed_file() -> None:
    ef0002 = bytearray(_ef0002())
    ef0002[12:14] = (99).to_bytes(2, "big")
    _refused(_signed(ef0002=bytes(ef0002)), "CARD_CONTENT_INVALID")


def _tlv(tag: bytes, value: bytes) -> bytes:
    return tag + bytes([len(value)]) + value


@pytest.mark.parametrize(
    "items",
    [
        # out of order, duplicate, missing, extra, non-minimal length
        [b"\xdf\x23", b"\xdf\x22", b"\xdf\x24", b"\xdf\x25"],
        [b"\xdf\x22", b"\xdf\x22", b"\xdf\x23", b"\xdf\x24", b"\xdf\x25"],
        [b"\xdf\x22", b"\xdf\x23", b"\xdf\x24"],
        [b"\xdf\x22", b"\xdf\x23", b"\xdf\x24", b"\xdf\x25", b"\xdf\x26"],
    ],
)
def test_verify_card_ef0002_structure_refused(items: list[bytes]) -> None:
    values = {
        b"\xdf\x22": f"{SAMPLE_FAMILY}\u3000{SAMPLE_GIVEN}".encode(),
        b"\xdf\x23": SAMPLE_ADDRESS.encode(),
        b"\xdf\x24": b"19800217",
        b"\xdf\x25": b"1",
        b"\xdf\x26": b"x",
    }
    body = b"".join(_tlv(tag, values[tag]) for tag in items)
    content = _tlv(b"\xdf\x21", b"\x00" * 8) + body
    _refused(_signed(ef0002=b"\xff\x20" + bytes([len(content)]) + content), "CARD_MALFORMED")


def test_verify_card_ef0002_non_minimal_length_refused() -> None:
    ef0002 = _ef0002()
    # DF25 01 31 → DF25 81 01 31, the outer length adjusted: still refused.
    content = ef0002[3:-4] + b"\xdf\x25\x81\x01\x31"
    _refused(_signed(ef0002=b"\xff\x20" + bytes([len(content)]) + content), "CARD_MALFORMED")


# --- Check digit and privacy ---


def test_my_number_check_digit_spec_example() -> None:
    assert my_number_check_digit("53768667718") == "8"
    assert is_valid_my_number(SAMPLE_MY_NUMBER)
    assert not is_valid_my_number("537686677189")
    assert not is_valid_my_number("５３７６８６６７７１８８")
    assert not is_valid_my_number("53768667718")


@given(st.text(alphabet="0123456789", min_size=11, max_size=11))
@settings(max_examples=200)
def test_my_number_check_digit_makes_valid_numbers(first11: str) -> None:
    check = my_number_check_digit(first11)
    assert is_valid_my_number(first11 + check)
    wrong = str((int(check) + 1) % 10)
    assert not is_valid_my_number(first11 + wrong)


@pytest.mark.parametrize(
    "bad", ["", "1234567890", "123456789012", "1234567890a", "１２３４５６７８９０１"]
)
def test_my_number_check_digit_needs_eleven_ascii_digits(bad: str) -> None:
    with pytest.raises(ValueError, match="11 ASCII digits"):
        my_number_check_digit(bad)


def test_reprs_hold_no_personal_data() -> None:
    world = card_world()
    holder = world.card.holder
    assert holder is not None
    for text in (repr(holder), str(holder), repr(good_evidence()), repr(world.card)):
        for secret in (SAMPLE_MY_NUMBER, SAMPLE_FAMILY, SAMPLE_GIVEN, "1980", "7188"):
            assert secret not in text


def test_error_messages_hold_no_personal_data() -> None:
    with pytest.raises(CardVerificationError) as info:
        verify_card(
            _signed(ef0001=encode_ef0001("537686677189")), card_world().trust, nonce=NONCE, now=NOW
        )
    assert isinstance(info.value, SigningError)
    assert "53768667718" not in str(info.value)


# --- Fuzzing: nothing but CardVerificationError ---

_FIELDS = ["ef0001", "ef0002", "ef0003", "ef0004", "ef0007", "challenge_signature"]


@given(
    st.fixed_dictionaries(
        {
            field: st.one_of(st.binary(max_size=600), st.binary(min_size=size, max_size=size))
            for field, size in zip(_FIELDS, [17, 104, 336, 568, 536, 256], strict=True)
        }
    ),
)
@settings(max_examples=150, deadline=None)
def test_verify_card_random_bytes_raise_only_card_errors(files: dict[str, bytes]) -> None:
    with pytest.raises(CardVerificationError):
        verify_card(CardEvidence(**files), card_world().trust, nonce=NONCE, now=NOW)


@given(
    field=st.sampled_from(_FIELDS),
    data=st.data(),
)
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_verify_card_mutated_card_raises_only_card_errors(field: str, data: st.DataObject) -> None:
    evidence = good_evidence()
    original: bytes = getattr(evidence, field)
    kind = data.draw(st.sampled_from(["flip", "cut", "insert", "replace"]))
    i = data.draw(st.integers(0, len(original)))
    if kind == "flip" and i < len(original):
        mutated = (
            _flip(original, i)
            if data.draw(st.booleans())
            else original[:i] + bytes([data.draw(st.integers(0, 255))]) + original[i + 1 :]
        )
    elif kind == "cut":
        mutated = original[:i] + original[i + data.draw(st.integers(1, 40)) :]
    elif kind == "insert":
        mutated = original[:i] + data.draw(st.binary(min_size=1, max_size=8)) + original[i:]
    else:
        mutated = original[:i] + data.draw(st.binary(max_size=40))
    try:
        holder = verify_card(
            _with(evidence, **{field: mutated}), card_world().trust, nonce=NONCE, now=NOW
        )
    except CardVerificationError:
        return
    # Only a no-op mutation may still verify.
    assert mutated == original
    assert holder == card_world().card.holder
