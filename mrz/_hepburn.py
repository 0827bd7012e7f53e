"""Hepburn spelling variants of Japanese names, for staff-facing hints only."""

from __future__ import annotations

import re

# Passport Hepburn (MOFA) writes long vowels without marks and allows OH/OU/OO on request;
# M before B/M/P is also written N (NAMBA/NANBA, HOMMA/HONMA).
_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"OH(?![AEIOUY])"), "O"),  # SATOH -> SATO, OHNO -> ONO; not KOHEI
    (re.compile(r"O[OU]"), "O"),  # OOTA -> OTA, SATOU -> SATO
    (re.compile(r"UU"), "U"),  # YUUKI -> YUKI
    (re.compile(r"UH(?![AEIOUY])"), "U"),  # YUHKI -> YUKI
    (re.compile(r"M(?=[BMP])"), "N"),  # HOMMA -> HONMA
)
_NOT_LETTER = re.compile(r"[^A-Z]+")


def hepburn_canonical(name: str) -> str:
    """A canonical spelling under which Hepburn long-vowel and N/M variants coincide.

    SATO, SATOH and SATOU give SATO; OOTA gives OTA; HOMMA gives HONMA. Words are upper-cased and
    separated by one space (MRZ fillers count as spaces). Different names can share a canonical
    form (INOUE and INOE): use it for hints to staff, never to refuse.
    """
    words = _NOT_LETTER.split(name.upper().replace("<", " "))
    out: list[str] = []
    for word in words:
        if not word:
            continue
        canonical = word
        for pattern, replacement in _RULES:
            canonical = pattern.sub(replacement, canonical)
        out.append(canonical)
    return " ".join(out)


def names_match_hepburn(a: str, b: str) -> bool:
    """Whether `a` and `b` are the same name up to Hepburn variants (a hint, never a refusal)."""
    return hepburn_canonical(a) == hepburn_canonical(b)
