"""parse_td3, check_digit and compose_td3: golden vectors, rules and Hypothesis properties."""

from __future__ import annotations

import json
import string
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from mrz import MrzError, check_digit, compose_td3, parse_td3

TODAY = date(2026, 11, 27)
VECTORS: list[dict[str, Any]] = json.loads(
    (Path(__file__).resolve().parents[2] / "assets" / "mrz" / "mrz-vectors.json").read_text()
)

# The code each invalid vector must raise, keyed by the start of its `reason`.
REASON_CODES = {
    "public 'dummy' JPN MRZ": "MRZ_CHECK_DIGIT_NUMBER",
    "document number check digit": "MRZ_CHECK_DIGIT_NUMBER",
    "birth date check digit": "MRZ_CHECK_DIGIT_BIRTH",
    "expiry check digit": "MRZ_CHECK_DIGIT_EXPIRY",
    "composite check digit": "MRZ_CHECK_DIGIT_COMPOSITE",
    "sex 'Q'": "MRZ_SEX_INVALID",
    "digit '1' in the name": "MRZ_NAME_INVALID",
    "birth month 13": "MRZ_DATE_INVALID",
    "nationality 'JAP'": "MRZ_NATIONALITY_UNKNOWN",
    "document code 'V<'": "MRZ_DOCUMENT_TYPE",
}


def _code_for(reason: str) -> str:
    matches = [code for start, code in REASON_CODES.items() if reason.startswith(start)]
    if len(matches) != 1:
        raise LookupError(reason)
    return matches[0]


def _yymmdd_to_date(yymmdd: str, *, birth: bool) -> date:
    year = 2000 + int(yymmdd[:2])
    candidate = date(year, int(yymmdd[2:4]), int(yymmdd[4:]))
    if birth and candidate > TODAY:
        candidate = candidate.replace(year=year - 100)
    return candidate


VALID = [v for v in VECTORS if v["valid"]]
INVALID = [v for v in VECTORS if not v["valid"]]


@pytest.mark.parametrize("vector", VALID, ids=[v["reason"][:40] for v in VALID])
def test_parse_td3_valid_vectors(vector: dict[str, Any]) -> None:
    fields = vector["fields"]
    passport = parse_td3(vector["lines"], today=TODAY, test_mode=True)
    assert passport.document_code == fields["document_code"]
    assert passport.issuing_state == fields["issuing_state"]
    assert passport.family_name == fields["surname"]
    assert passport.given_names == fields["given_names"]
    assert passport.number == fields["number"]
    assert passport.document_number == fields["number"].rstrip("<")
    assert passport.nationality == fields["nationality"]
    assert passport.birth_date == _yymmdd_to_date(fields["birth"], birth=True)
    assert passport.sex == fields["sex"]
    assert passport.expiry_date == _yymmdd_to_date(fields["expiry"], birth=False)
    assert passport.personal_number == fields["personal"]
    assert passport.expired == (passport.expiry_date < TODAY)
    assert passport.lines == tuple(vector["lines"])
    assert passport.corrections == ()
    assert not passport.possibly_truncated


@pytest.mark.parametrize("vector", INVALID, ids=[v["reason"][:40] for v in INVALID])
def test_parse_td3_invalid_vectors(vector: dict[str, Any]) -> None:
    with pytest.raises(MrzError) as info:
        parse_td3(vector["lines"], today=TODAY, test_mode=True)
    assert info.value.code == _code_for(vector["reason"])


SPECIMEN = VECTORS[0]["lines"]
SATO = (
    "P<JPNSATO<<TARO<<<<<<<<<<<<<<<<<<<<<<<<<<<<<",
    "TZ12345676JPN9001011M3001019<<<<<<<<<<<<<<<4",
)


def test_parse_td3_uto_refused_outside_test_mode() -> None:
    with pytest.raises(MrzError) as info:
        parse_td3(SPECIMEN, today=TODAY)
    assert info.value.code == "MRZ_STATE_UNKNOWN"


def test_parse_td3_specimen_fields() -> None:
    passport = parse_td3(SPECIMEN, today=TODAY, test_mode=True)
    assert passport.birth_date == date(1974, 8, 12)
    assert passport.expiry_date == date(2012, 4, 15)
    assert passport.expired


def test_parse_td3_century_pivot_is_today_relative() -> None:
    # YAMADA vector: birth 69 is 1969; SUZUKI: 00 is 2000.
    by_reason = {v["reason"][:14]: v for v in VALID}
    assert parse_td3(by_reason["birth YY=69: P"]["lines"], today=TODAY).birth_date.year == 1969
    assert parse_td3(by_reason["birth 2000-01-"]["lines"], today=TODAY).birth_date.year == 2000
    # A birth year equal to today's two digits, later in the year, is a century ago.
    lines = compose_td3(
        issuing_state="JPN", family_name="SATO", given_names="TARO", number="TZ1234567",
        nationality="JPN", birth_date=date(1926, 12, 1), sex="M", expiry_date=date(2030, 1, 1),
    )  # fmt: skip
    assert parse_td3(lines, today=TODAY).birth_date == date(1926, 12, 1)
    assert parse_td3(lines, today=date(2026, 12, 1)).birth_date == date(2026, 12, 1)


def test_parse_td3_normalises_whitespace_and_guillemets() -> None:
    line1 = "  " + SATO[0].replace("<<<<", "««") + "\n"
    passport = parse_td3([line1, SATO[1] + " "], today=TODAY)
    assert passport.lines == SATO
    assert (passport.family_name, passport.given_names) == ("SATO", "TARO")


@pytest.mark.parametrize(
    ("lines", "code"),
    [
        (SATO[:1], "MRZ_LINE_COUNT"),
        ((*SATO, SATO[1]), "MRZ_LINE_COUNT"),
        (SATO[0] + SATO[1], "MRZ_LINE_COUNT"),
        ((SATO[0][:-1], SATO[1]), "MRZ_LINE_LENGTH"),
        ((SATO[0], SATO[1] + "<"), "MRZ_LINE_LENGTH"),
        ((SATO[0].lower(), SATO[1]), "MRZ_CHARSET"),
        ((SATO[0].replace("SATO", "SATÖ"), SATO[1]), "MRZ_CHARSET"),
        ((SATO[0].replace("TARO<", "TARO "), SATO[1]), "MRZ_CHARSET"),
        (("I" + SATO[0][1:], SATO[1]), "MRZ_DOCUMENT_TYPE"),
        (("P1" + SATO[0][2:], SATO[1]), "MRZ_DOCUMENT_TYPE"),
        ((SATO[0].replace("JPN", "JAP"), SATO[1]), "MRZ_STATE_UNKNOWN"),
        (("P<JPN" + "A" * 39, SATO[1]), "MRZ_NAME_INVALID"),
        ((SATO[0].replace("SATO<<TARO<", "SATO<<<TARO"), SATO[1]), "MRZ_NAME_INVALID"),
        (("P<JPN<<SATO" + "<" * 33, SATO[1]), "MRZ_NAME_INVALID"),
        ((SATO[0], SATO[1][:42] + "74"), "MRZ_CHECK_DIGIT_PERSONAL"),
        ((SATO[0], SATO[1][:20] + "X" + SATO[1][21:]), "MRZ_SEX_INVALID"),
    ],
)  # fmt: skip
def test_parse_td3_refusals(lines: Any, code: str) -> None:
    with pytest.raises(MrzError) as info:
        parse_td3(lines, today=TODAY)
    assert info.value.code == code


def test_parse_td3_error_message_has_no_personal_data() -> None:
    with pytest.raises(MrzError) as info:
        parse_td3((SATO[0].replace("TARO", "TAR0"), SATO[1]), today=TODAY)
    assert "SATO" not in str(info.value)
    assert "TAR" not in str(info.value)


def test_parse_td3_jpn_number_pattern_refused() -> None:
    lines = compose_td3(
        issuing_state="JPN", family_name="SATO", given_names="TARO", number="T12345678",
        nationality="JPN", birth_date=date(1990, 1, 1), sex="M", expiry_date=date(2030, 1, 1),
    )  # fmt: skip
    with pytest.raises(MrzError) as info:
        parse_td3(lines, today=TODAY)
    assert info.value.code == "MRZ_JPN_NUMBER_INVALID"


def test_parse_td3_possibly_truncated() -> None:
    lines = compose_td3(
        issuing_state="JPN", family_name="SATO", given_names="A" * 40, number="TZ1234567",
        nationality="JPN", birth_date=date(1990, 1, 1), sex="M", expiry_date=date(2030, 1, 1),
    )  # fmt: skip
    assert parse_td3(lines, today=TODAY).possibly_truncated


def test_check_digit_spec_examples() -> None:
    # Spec: `520727` -> 3; `AB2134<<<` -> 5.
    assert check_digit("520727") == "3"
    assert check_digit("AB2134<<<") == "5"
    with pytest.raises(MrzError) as info:
        check_digit("ab")
    assert info.value.code == "MRZ_CHARSET"


def test_check_digit_known_weakness_values_equal_mod_10() -> None:
    # ICAO 9303: `0`, `A`, `K`, `U` and `<` weigh the same modulo 10; no check digit can tell
    # them apart. The Japanese number pattern and the date rules cover what they can.
    assert check_digit("A2222222<") == check_digit("022222220") == check_digit("K2222222U")


# --- Hypothesis -------------------------------------------------------------------------------

_letters = st.text(alphabet=string.ascii_uppercase, min_size=1, max_size=8)
_states = st.sampled_from(["JPN", "USA", "D", "FRA", "KOR", "XXA", "GBD", "CHN", "UKR"])
_dates = st.dates(min_value=date(1927, 1, 1), max_value=TODAY)
_alnum = string.ascii_uppercase + string.digits


@st.composite
def _fields(draw: st.DrawFn) -> dict[str, Any]:
    issuing = draw(_states)
    if issuing == "JPN":
        number = draw(st.text(string.ascii_uppercase, min_size=2, max_size=2)) + draw(
            st.text(string.digits, min_size=7, max_size=7)
        )
    else:
        number = draw(st.text(_alnum, min_size=1, max_size=9))
    family = " ".join(draw(st.lists(_letters, min_size=1, max_size=2)))
    given = " ".join(draw(st.lists(_letters, min_size=0, max_size=3)))
    # The name field holds 39 characters (family << given); a longer name is truncated by
    # design (tested separately), so the round trip draws names that fit.
    assume(len(family) + 2 + len(given) <= 39)
    return {
        "issuing_state": issuing,
        "family_name": family,
        "given_names": given,
        "number": number,
        "nationality": draw(_states),
        "birth_date": draw(_dates),
        "sex": draw(st.sampled_from("FM<")),
        "expiry_date": draw(st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31))),
        "personal_number": draw(st.text(_alnum, max_size=14)),
    }


@settings(max_examples=200, deadline=None)
@given(_fields())
def test_compose_then_parse_round_trips(fields: dict[str, Any]) -> None:
    passport = parse_td3(compose_td3(**fields), today=TODAY)
    # Coded fields come back as printed (fillers included); the plain values without them.
    assert passport.issuing_state == fields["issuing_state"].ljust(3, "<")
    assert passport.family_name == fields["family_name"]
    assert passport.given_names == fields["given_names"]
    assert passport.number == fields["number"].ljust(9, "<")
    assert passport.document_number == fields["number"]
    assert passport.nationality == fields["nationality"].ljust(3, "<")
    assert passport.nationality_code == fields["nationality"]
    assert passport.birth_date == fields["birth_date"]
    assert passport.sex == fields["sex"]
    assert passport.expiry_date == fields["expiry_date"]
    assert passport.personal_number == fields["personal_number"].ljust(14, "<")
    assert passport.expired == (fields["expiry_date"] < TODAY)


# Positions (0-based, line 2) covered by a check digit, and the check digits themselves.
_PROTECTED = [*range(10), *range(13, 20), *range(21, 44)]
_VALUE = {c: i for i, c in enumerate(string.digits + string.ascii_uppercase)} | {"<": 0}


@settings(max_examples=200, deadline=None)
@given(_fields(), st.sampled_from(_PROTECTED), st.sampled_from(sorted(_VALUE)))
def test_single_change_in_protected_field_is_caught(
    fields: dict[str, Any], position: int, char: str
) -> None:
    line1, line2 = compose_td3(**fields)
    original = line2[position]
    assume(char != original)
    # Position 43 of an empty personal number may be `0` or `<`: both are valid.
    assume(not (position == 42 and line2[28:42] == "<" * 14 and char in "0<"))
    # Values equal modulo 10 cannot be told apart by ICAO check digits (documented above);
    # in digits-only fields they are caught by the date rules instead.
    in_date = position in range(13, 19) or position in range(21, 27)
    assume(in_date or (_VALUE[char] - _VALUE[original]) % 10 != 0)
    changed = line2[:position] + char + line2[position + 1 :]
    with pytest.raises(MrzError) as info:
        parse_td3((line1, changed), today=TODAY)
    assert info.value.code.startswith(("MRZ_CHECK_DIGIT_", "MRZ_DATE_INVALID", "MRZ_JPN_"))


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        st.lists(st.text(max_size=50), max_size=3),
        st.lists(st.text(alphabet=_alnum + "<« \n", min_size=40, max_size=46), max_size=3),
        st.tuples(st.just(SATO[0]), st.text(alphabet=_alnum + "<", min_size=44, max_size=44)),
        st.text(),
        st.none(),
        st.integers(),
        st.lists(st.integers(), max_size=2),
    )
)
def test_parse_td3_raises_only_mrz_error(value: Any) -> None:
    code = "OK"
    try:
        parse_td3(value, today=TODAY)
    except MrzError as exc:
        code = exc.code
    assert code.isupper()
