"""Check digits and formats of the identifiers the VRS keys on."""

from __future__ import annotations

import re

_DIGITS12 = re.compile(r"[0-9]{12}")
_DIGITS6 = re.compile(r"[0-9]{6}")


def my_number_check_digit(first11: str) -> int:
    """The 12th digit of a My Number (個人番号). Ministerial ordinance on My Number, art. 5:
    Pn is the n-th digit from the right of the first 11, Qn = n + 1 (n ≤ 6) or n − 5 (n ≥ 7),
    r = Σ Pn·Qn mod 11, check = 0 if r ≤ 1 else 11 − r."""
    total = 0
    for n in range(1, 12):
        p = ord(first11[11 - n]) - 48
        q = n + 1 if n <= 6 else n - 5
        total += p * q
    r = total % 11
    return 0 if r <= 1 else 11 - r


def is_valid_my_number(value: str) -> bool:
    """12 ASCII digits whose last is the check digit of the first 11."""
    if _DIGITS12.fullmatch(value) is None:
        return False
    return my_number_check_digit(value[:11]) == ord(value[11]) - 48


def municipality_check_digit(first5: str) -> int:
    """The 6th digit of a 全国地方公共団体コード. Contracts §4:
    r = (6·d1 + 5·d2 + 4·d3 + 3·d4 + 2·d5) mod 11, check = (11 − r) mod 10."""
    r = sum((6 - i) * (ord(c) - 48) for i, c in enumerate(first5)) % 11
    return (11 - r) % 10


def is_valid_municipality_code(value: str) -> bool:
    """6 ASCII digits whose last is the check digit of the first 5."""
    if _DIGITS6.fullmatch(value) is None:
        return False
    return municipality_check_digit(value[:5]) == ord(value[5]) - 48
