"""Position-aware repair of OCR output before `parse_td3` (spec: mrz-td3.md, "OCR input").

Pure functions over strings, so they are tested without an OCR engine. Every change is returned
as a `Correction`; nothing here decides whether the result is a valid MRZ - `parse_td3` does.

Rules:
- Filler look-alikes: `«` is two fillers, `(` `‹` `〈` `＜` `く` are one. Greek and Cyrillic
  capitals drawn like Latin ones become Latin. A `K` standing among fillers
  (filler before it and filler or line end after it) in the filler tail of line 1 or in the
  personal-number field is a filler. Filler runs at the end of line 1 and of the personal number
  are stretched or shrunk to make 44 characters.
- Look-alikes `O/0 I/1 B/8 S/5 Z/2`, by position (ICAO 9303-4 §4.2.2): letters-only positions
  (document code, states, name) take the letter, digits-only positions (dates, check digits,
  the seven digits of a Japanese number) take the digit. At most one substitution per field,
  except in the name (below). Alphanumeric fields (document number, personal number) are
  repaired only when exactly one single look-alike swap makes both their check digit and the
  composite check digit match.
- The name has no check digit but can never contain a digit, and the engine misreads `O` as `0`
  systematically (KONDOU TOMOKO comes out as K0ND0U T0M0K0), so one-per-field would refuse most
  Japanese names. Each digit with a letter twin is replaced, provided digits are at most half
  the letters of the name; the name is always shown back to staff for confirmation.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

from mrz._td3 import FILLER, LINE_LENGTH, MRZ_CHARSET, Correction, check_digit

TO_LETTER = {"0": "O", "1": "I", "8": "B", "5": "S", "2": "Z"}
TO_DIGIT = {letter: digit for digit, letter in TO_LETTER.items()}
_FILLER_LOOKALIKES = {
    "(": "<", "‹": "<", "〈": "<", "く": "<", "«": "<<", "《": "<<",
}  # fmt: skip
# The recogniser's alphabet includes Greek and Cyrillic capitals drawn exactly like Latin ones
# (it reads the P of JPN as Greek Rho, U as the union sign): same glyph, so mapped, and reported
# as "homoglyph".
_HOMOGLYPHS = dict(
    zip(
        "ΑΒΕΖΗΙΚΜΝΟΡΤΥΧАВЕКМНОРСТУХІЈЅ∪",
        "ABEZHIKMNOPTYXABEKMHOPCTYXIJSU",
        strict=True,
    )
)
_DIGITS = frozenset("0123456789")
_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def clean_line(text: str, *, line: int) -> tuple[str, list[Correction]]:
    """Drop spaces, upper-case, and map filler look-alikes; report each mapped character."""
    out: list[str] = []
    corrections: list[Correction] = []
    # NFKC folds full-width forms (＜, Ａ, ０) into ASCII.
    for char in unicodedata.normalize("NFKC", "".join(text.split())).upper():
        if char in _FILLER_LOOKALIKES:
            corrections.append(
                Correction(
                    field="filler",
                    line=line,
                    position=len(out) + 1,
                    from_=char,
                    to=_FILLER_LOOKALIKES[char],
                )
            )
            out.extend(_FILLER_LOOKALIKES[char])
        elif char in _HOMOGLYPHS:
            latin = _HOMOGLYPHS[char]
            corrections.append(
                Correction(
                    field="homoglyph", line=line, position=len(out) + 1, from_=char, to=latin
                )
            )
            out.append(latin)
        else:
            out.append(char)
    return "".join(out), corrections


def is_candidate(text: str) -> bool:
    """Whether a cleaned OCR row could be one MRZ line: about 44 characters, nearly all of the
    MRZ charset (a stray symbol is left for `parse_td3` to refuse with its own code)."""
    foreign = sum(c not in MRZ_CHARSET for c in text)
    return 40 <= len(text) <= 48 and foreign <= 2


def _stray_k(text: str, start: int, end: int, *, line: int) -> tuple[str, list[Correction]]:
    # A `K` after two fillers and before a filler (or the end) is a misread filler: a one-letter
    # name component after `<<` is rarer than this misread, and the change is reported.
    chars = list(text)
    corrections: list[Correction] = []
    for i in range(max(start, 2), min(end, len(chars))):
        after = chars[i + 1] if i + 1 < len(chars) else FILLER
        if chars[i] == "K" and chars[i - 2] == chars[i - 1] == FILLER and after == FILLER:
            chars[i] = FILLER
            corrections.append(
                Correction(field="filler", line=line, position=i + 1, from_="K", to=FILLER)
            )
    return "".join(chars), corrections


def _resize_run(text: str, *, line: int, at: int) -> list[Correction]:
    # Report a stretched or shrunk filler run as inserted or removed fillers.
    delta = LINE_LENGTH - len(text)
    if delta > 0:
        return [Correction(field="filler", line=line, position=at + 1, from_="", to=FILLER)] * delta
    return [Correction(field="filler", line=line, position=at + 1, from_=FILLER, to="")] * -delta


def fix_line1(text: str) -> tuple[str, list[Correction]]:
    """Line 1 with stray `K` fillers in the name fixed and its trailing filler run set to 44."""
    text, corrections = _stray_k(text, 5, len(text), line=1)
    if len(text) != LINE_LENGTH and text.endswith(FILLER):
        body = text.rstrip(FILLER)
        if len(body) < LINE_LENGTH:
            corrections += _resize_run(text, line=1, at=len(body))
            text = body.ljust(LINE_LENGTH, FILLER)
    return text, corrections


def fix_line2(text: str) -> tuple[str, list[Correction]]:
    """Line 2 with stray `K` fillers in the personal number fixed and its filler run set to 44."""
    if len(text) < 30:
        return text, []
    text, corrections = _stray_k(text, 28, len(text) - 2, line=2)
    if len(text) != LINE_LENGTH:
        head, middle, tail = text[:28], text[28:-2], text[-2:]
        content = middle.rstrip(FILLER)
        if len(content) < 14 and middle.endswith(FILLER):
            corrections += _resize_run(text, line=2, at=28 + len(content))
            text = head + content.ljust(14, FILLER) + tail
    if len(text) == LINE_LENGTH and text[28:43] == FILLER * 14 + "K":
        # Position 43 may be a filler when the personal number is empty.
        corrections.append(Correction(field="filler", line=2, position=43, from_="K", to=FILLER))
        text = text[:42] + FILLER + text[43]
    return text, corrections


def _forced(
    chars: list[str],
    start: int,
    end: int,
    *,
    field: str,
    line: int,
    allowed: Callable[[int, str], bool],
    twins: Callable[[int], dict[str, str]],
    limit: int | None,
) -> list[Correction]:
    # Replace characters not allowed at their position by their only allowed look-alike.
    wanted: list[tuple[int, str]] = []
    for i in range(start, end):
        if not allowed(i, chars[i]):
            twin = twins(i).get(chars[i])
            if twin is None:
                return []  # nothing sensible to do: let parse_td3 refuse
            wanted.append((i, twin))
    if limit is not None and len(wanted) > limit:
        return []
    corrections = []
    for i, twin in wanted:
        corrections.append(
            Correction(field=field, line=line, position=i + 1, from_=chars[i], to=twin)
        )
        chars[i] = twin
    return corrections


def _letters_or_filler(_i: int, char: str) -> bool:
    return char in _LETTERS or char == FILLER


def _digit(_i: int, char: str) -> bool:
    return char in _DIGITS


def _to_letter(_i: int) -> dict[str, str]:
    return TO_LETTER


def _to_digit(_i: int) -> dict[str, str]:
    return TO_DIGIT


def _composite(line2: list[str]) -> str:
    text = "".join(line2)
    return check_digit(text[0:10] + text[13:20] + text[21:43])


def _swap_search(
    line2: list[str], start: int, end: int, check_at: int, *, field: str
) -> list[Correction]:
    # One look-alike swap in an alphanumeric field, accepted only if it is the unique swap that
    # makes the field's check digit and the composite match.
    def matches() -> bool:
        data = "".join(line2[start:end])
        expected = check_digit(data)
        if field == "personal_number" and data == FILLER * 14:
            ok = line2[check_at] in {"0", FILLER}
        else:
            ok = line2[check_at] == expected
        return ok and line2[43] == _composite(line2)

    if not set(line2[start:end]) <= MRZ_CHARSET or matches():
        return []
    found: list[tuple[int, str]] = []
    for i in range(start, end):
        original = line2[i]
        twin = TO_LETTER.get(original) or TO_DIGIT.get(original)
        if twin is None:
            continue
        line2[i] = twin
        if matches():
            found.append((i, twin))
        line2[i] = original
    if len(found) != 1:
        return []
    i, twin = found[0]
    correction = Correction(field=field, line=2, position=i + 1, from_=line2[i], to=twin)
    line2[i] = twin
    return [correction]


def repair_lookalikes(line1: str, line2: str) -> tuple[str, str, list[Correction]]:
    """Both lines with position-aware look-alike repairs applied, and the list of repairs.

    Lines of the wrong length are returned unchanged (parse_td3 refuses them).
    """
    if len(line1) != LINE_LENGTH or len(line2) != LINE_LENGTH:
        return line1, line2, []
    one, two = list(line1), list(line2)
    out: list[Correction] = []

    def letters(chars: list[str], start: int, end: int, field: str, line: int) -> None:
        out.extend(
            _forced(
                chars, start, end, field=field, line=line,
                allowed=_letters_or_filler, twins=_to_letter, limit=1,
            )
        )  # fmt: skip

    def digits(start: int, end: int, field: str) -> None:
        out.extend(
            _forced(
                two, start, end, field=field, line=2,
                allowed=_digit, twins=_to_digit, limit=1,
            )
        )  # fmt: skip

    # Line 1: document code, issuing state, name (letters-only positions).
    letters(one, 0, 2, "document_code", 1)
    letters(one, 2, 5, "issuing_state", 1)
    name = one[5:]
    digit_count = sum(c in _DIGITS for c in name)
    letter_count = sum(c in _LETTERS for c in name)
    if digit_count and digit_count <= letter_count:
        out.extend(
            _forced(
                one, 5, LINE_LENGTH, field="name", line=1,
                allowed=_letters_or_filler, twins=_to_letter, limit=None,
            )
        )  # fmt: skip

    # Line 2: fixed-kind fields first, so the check-digit search below sees clean digits.
    digits(9, 10, "number_check_digit")
    letters(two, 10, 13, "nationality", 2)
    digits(13, 19, "birth_date")
    digits(19, 20, "birth_check_digit")
    digits(21, 27, "expiry_date")
    digits(27, 28, "expiry_check_digit")
    if two[42] != FILLER:
        digits(42, 43, "personal_check_digit")
    digits(43, 44, "composite_check_digit")

    if "".join(one[2:5]) == "JPN":
        # Japanese number: two letters + seven digits, a pattern parse_td3 enforces.
        def jpn_allowed(i: int, char: str) -> bool:
            return char in _LETTERS if i < 2 else char in _DIGITS

        def jpn_twins(i: int) -> dict[str, str]:
            return TO_LETTER if i < 2 else TO_DIGIT

        out.extend(
            _forced(
                two, 0, 9, field="number", line=2,
                allowed=jpn_allowed, twins=jpn_twins, limit=1,
            )
        )  # fmt: skip
    else:
        out.extend(_swap_search(two, 0, 9, 9, field="number"))
    out.extend(_swap_search(two, 28, 42, 42, field="personal_number"))
    return "".join(one), "".join(two), out
