"""TD3 (passport) MRZ: check digits, strict parsing and composition (ICAO 9303-3 and -4)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date

import msgspec

from mrz._codes import is_known_state
from mrz._errors import MrzError

LINE_LENGTH = 44
FILLER = "<"
MRZ_CHARSET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<")
_DIGITS = frozenset("0123456789")
_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_WEIGHTS = (7, 3, 1)  # ICAO 9303-3 §4.9: weights 7, 3, 1 repeating
_SEXES = frozenset("FM<")
# Japanese passports: two letters then seven digits (MOFA; every booklet since 2006).
_JPN_NUMBER = re.compile(r"[A-Z]{2}[0-9]{7}")
_NAME_WORD = re.compile(r"[A-Z]+")


class Correction(msgspec.Struct, frozen=True, kw_only=True):
    """One character the OCR path changed before parsing (never produced by `parse_td3`).

    `line` and `position` are 1-based, as in ICAO 9303. An inserted filler has `from_ == ""`,
    a removed one `to == ""`.
    """

    field: str
    line: int
    position: int
    from_: str = msgspec.field(name="from")
    to: str


class Passport(msgspec.Struct, frozen=True, kw_only=True):
    """A TD3 MRZ that passed every rule of `parse_td3`.

    Coded fields are the MRZ fields as printed, fillers included, as the vectors file gives
    them (`document_code` `P<`, `issuing_state` `D<<`, `number` `A2222222<`, `personal_number`
    `ZE184226B<<<<<`); `document_number` and `nationality_code` are the same without fillers.
    Names are words separated by one space. `lines` keeps the MRZ as read. The name is
    unprotected by any check digit: show it back for confirmation.
    """

    document_code: str
    issuing_state: str
    family_name: str
    given_names: str
    possibly_truncated: bool
    number: str
    nationality: str
    birth_date: date
    sex: str
    expiry_date: date
    personal_number: str
    expired: bool
    lines: tuple[str, str]
    corrections: tuple[Correction, ...] = ()

    @property
    def document_number(self) -> str:
        """The passport number without `<` fillers."""
        return self.number.rstrip(FILLER)

    @property
    def nationality_code(self) -> str:
        """The nationality code without `<` fillers (`D` for Germany)."""
        return self.nationality.rstrip(FILLER)


def _char_value(char: str) -> int:
    if char in _DIGITS:
        return ord(char) - ord("0")
    if char in _LETTERS:
        return ord(char) - ord("A") + 10
    if char == FILLER:
        return 0
    raise MrzError("MRZ_CHARSET", "check digit input outside A-Z 0-9 <")


def check_digit(data: str) -> str:
    """The ICAO 9303-3 §4.9 check digit of `data` (`0`-`9`).

    `0`-`9` count 0-9, `A`-`Z` 10-35 and `<` 0, weighted 7, 3, 1 repeating, sum mod 10. Raises
    `MrzError("MRZ_CHARSET")` for any other character.
    """
    if not isinstance(data, str):
        raise MrzError("MRZ_CHARSET", "check digit input is not text")
    total = sum(_char_value(c) * _WEIGHTS[i % 3] for i, c in enumerate(data))
    return str(total % 10)


def _normalise(lines: Sequence[str]) -> tuple[str, str]:
    # Only unambiguous normalisation: surrounding whitespace, and the guillemet that some
    # fonts and keyboards produce for a double filler.
    if isinstance(lines, str | bytes) or not isinstance(lines, Sequence):
        raise MrzError("MRZ_LINE_COUNT", "expected a sequence of two lines")
    if len(lines) != 2:
        raise MrzError("MRZ_LINE_COUNT", "a TD3 MRZ has exactly two lines")
    out: list[str] = []
    for line in lines:
        if not isinstance(line, str):
            raise MrzError("MRZ_CHARSET", "an MRZ line is not text")
        out.append(line.strip().replace("«", "<<"))
    return out[0], out[1]


def _parse_date(field: str, *, what: str) -> tuple[int, int, int]:
    if not set(field) <= _DIGITS:
        raise MrzError("MRZ_DATE_INVALID", f"{what} is not six digits")
    return int(field[0:2]), int(field[2:4]), int(field[4:6])


def _make_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _birth_date(field: str, *, today: date) -> date:
    # Spec: birth is 20YY if that is not after today, else 19YY (never the `%y` pivot).
    yy, mm, dd = _parse_date(field, what="birth date")
    recent = _make_date(2000 + yy, mm, dd)
    if recent is not None and recent <= today:
        return recent
    older = _make_date(1900 + yy, mm, dd)
    if older is None:
        raise MrzError("MRZ_DATE_INVALID", "birth date is not a calendar date")
    return older


def _expiry_date(field: str) -> date:
    # Spec: expiry is always 20YY.
    yy, mm, dd = _parse_date(field, what="expiry date")
    expiry = _make_date(2000 + yy, mm, dd)
    if expiry is None:
        raise MrzError("MRZ_DATE_INVALID", "expiry date is not a calendar date")
    return expiry


def _state(field: str, *, code: str, what: str, test_mode: bool) -> str:
    # ICAO 9303-3 §5: letters, short codes padded with fillers on the right (`D<<`).
    value = field.rstrip(FILLER)
    if not value or not set(value) <= _LETTERS or not is_known_state(value, test_mode=test_mode):
        raise MrzError(code, f"{what} is not a known ICAO 9303 code")
    return field


def _name(field: str) -> tuple[str, str, bool]:
    # ICAO 9303-4 §4.6: primary << secondary, components joined by one filler, no digits.
    if set(field) & _DIGITS:
        raise MrzError("MRZ_NAME_INVALID", "name field contains a digit")
    truncated = field[-1] != FILLER
    body = field.rstrip(FILLER)
    if "<<" not in field or not body or body[0] == FILLER:
        raise MrzError("MRZ_NAME_INVALID", "name field has no primary identifier or separator")
    primary, _, secondary = body.partition("<<")
    if "<<" in secondary or secondary.startswith(FILLER):
        raise MrzError("MRZ_NAME_INVALID", "name field has an empty name component")
    return primary.replace(FILLER, " "), secondary.replace(FILLER, " "), truncated


def parse_td3(lines: Sequence[str], *, today: date, test_mode: bool = False) -> Passport:
    """Parse two TD3 lines into a `Passport`, or raise `MrzError` naming the first rule broken.

    Never repairs anything: surrounding whitespace is dropped and `«` read as `<<`; lower case,
    wrong lengths and any other character are refused. An expired passport parses (with
    `expired=True`); refusing it is `bind_to_holder`'s job. `UTO` is accepted only in test mode.

    Steps, each with its own code:
    (1) two lines, (2) 44 characters each, (3) charset A-Z 0-9 <, (4) document code P,
    (5) check digits: number, birth, expiry, personal number, composite,
    (6) dates (calendar, century), (7) issuing state, nationality, (8) sex, (9) name,
    (10) the Japanese number pattern.
    """
    # (1) two lines
    line1, line2 = _normalise(lines)
    # (2) lengths
    if len(line1) != LINE_LENGTH or len(line2) != LINE_LENGTH:
        raise MrzError("MRZ_LINE_LENGTH", "each TD3 line has exactly 44 characters")
    # (3) charset (lower case is refused, not folded)
    if not set(line1) <= MRZ_CHARSET or not set(line2) <= MRZ_CHARSET:
        raise MrzError("MRZ_CHARSET", "MRZ lines may contain only A-Z, 0-9 and <")
    # (4) document code: P then a letter or filler (ICAO 9303-4 §4.2.2)
    document_code = line1[0:2]
    if document_code[0] != "P" or document_code[1] not in _LETTERS | {FILLER}:
        raise MrzError("MRZ_DOCUMENT_TYPE", "document code is not a passport (P)")

    # (5) check digits (ICAO 9303-4 §4.2.2.2, positions 1-based)
    number_field, personal_field = line2[0:9], line2[28:42]
    if line2[9] != check_digit(number_field):
        raise MrzError("MRZ_CHECK_DIGIT_NUMBER", "document number check digit does not match")
    if line2[19] != check_digit(line2[13:19]):
        raise MrzError("MRZ_CHECK_DIGIT_BIRTH", "birth date check digit does not match")
    if line2[27] != check_digit(line2[21:27]):
        raise MrzError("MRZ_CHECK_DIGIT_EXPIRY", "expiry date check digit does not match")
    # Position 43: `0` or `<` when 29-42 are all fillers.
    empty_personal = personal_field == FILLER * 14
    allowed = {"0", FILLER} if empty_personal else {check_digit(personal_field)}
    if line2[42] not in allowed:
        raise MrzError("MRZ_CHECK_DIGIT_PERSONAL", "personal number check digit does not match")
    if line2[43] != check_digit(line2[0:10] + line2[13:20] + line2[21:43]):
        raise MrzError("MRZ_CHECK_DIGIT_COMPOSITE", "composite check digit does not match")

    # (6) dates
    birth_date = _birth_date(line2[13:19], today=today)
    expiry_date = _expiry_date(line2[21:27])

    # (7) codes
    issuing_state = _state(
        line1[2:5], code="MRZ_STATE_UNKNOWN", what="issuing state", test_mode=test_mode
    )
    nationality = _state(
        line2[10:13], code="MRZ_NATIONALITY_UNKNOWN", what="nationality", test_mode=test_mode
    )

    # (8) sex
    sex = line2[20]
    if sex not in _SEXES:
        raise MrzError("MRZ_SEX_INVALID", "sex is not F, M or <")

    # (9) name
    family_name, given_names, truncated = _name(line1[5:44])

    # (10) Japanese passports: two letters + seven digits. Refused otherwise: every booklet
    # Japan issues has this form, so another one is a misread that a check digit can miss
    # (`0` and `A` weigh the same modulo 10).
    if issuing_state == "JPN" and not _JPN_NUMBER.fullmatch(number_field.rstrip(FILLER)):
        raise MrzError("MRZ_JPN_NUMBER_INVALID", "Japanese passport number is not AA9999999")

    return Passport(
        document_code=document_code,
        issuing_state=issuing_state,
        family_name=family_name,
        given_names=given_names,
        possibly_truncated=truncated,
        number=number_field,
        nationality=nationality,
        birth_date=birth_date,
        sex=sex,
        expiry_date=expiry_date,
        personal_number=personal_field,
        expired=expiry_date < today,
        lines=(line1, line2),
    )


def _padded(value: str, width: int, *, code: str, what: str) -> str:
    if not set(value) <= MRZ_CHARSET or len(value) > width:
        raise MrzError(code, f"{what} does not fit its MRZ field")
    return value.ljust(width, FILLER)


def _name_part(value: str) -> str:
    words = value.upper().split()
    if not all(_NAME_WORD.fullmatch(w) for w in words):
        raise MrzError("MRZ_NAME_INVALID", "names may contain only letters A-Z and spaces")
    return FILLER.join(words)


def _yymmdd(value: date) -> str:
    return f"{value.year % 100:02d}{value.month:02d}{value.day:02d}"


def compose_td3(
    *,
    document_code: str = "P<",
    issuing_state: str,
    family_name: str,
    given_names: str,
    number: str,
    nationality: str,
    birth_date: date,
    sex: str,
    expiry_date: date,
    personal_number: str = "",
) -> tuple[str, str]:
    """The two TD3 lines for these fields, with every check digit computed.

    Names take letters and spaces (upper-cased); a name longer than the field is truncated as
    ICAO allows, which `parse_td3` reports as `possibly_truncated`. The personal-number check
    digit is `<` when there is no personal number. Raises `MrzError` for a value that cannot be
    written (codes as in `parse_td3`).
    """
    doc = _padded(document_code, 2, code="MRZ_DOCUMENT_TYPE", what="document code")
    state = _padded(issuing_state, 3, code="MRZ_STATE_UNKNOWN", what="issuing state")
    nat = _padded(nationality, 3, code="MRZ_NATIONALITY_UNKNOWN", what="nationality")
    family = _name_part(family_name)
    if not family:
        raise MrzError("MRZ_NAME_INVALID", "family name is empty")
    name = (family + "<<" + _name_part(given_names))[:39].ljust(39, FILLER)
    num = _padded(number, 9, code="MRZ_CHECK_DIGIT_NUMBER", what="document number")
    personal = _padded(personal_number, 14, code="MRZ_CHECK_DIGIT_PERSONAL", what="personal no.")
    if sex not in _SEXES:
        raise MrzError("MRZ_SEX_INVALID", "sex is not F, M or <")
    birth, expiry = _yymmdd(birth_date), _yymmdd(expiry_date)
    personal_cd = FILLER if personal == FILLER * 14 else check_digit(personal)
    line1 = doc + state + name
    head = num + check_digit(num)
    line2 = head + nat + birth + check_digit(birth) + sex + expiry + check_digit(expiry)
    line2 += personal + personal_cd
    line2 += check_digit(head + birth + check_digit(birth) + line2[21:43])
    return line1, line2
