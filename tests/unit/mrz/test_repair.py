"""The OCR repair rules, without an OCR engine."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from mrz import Correction, parse_td3
from mrz._repair import clean_line, fix_line1, fix_line2, is_candidate, repair_lookalikes

TODAY = date(2026, 11, 27)
KONDOU = (
    "P<JPNKONDOU<<TOMOKO<<<<<<<<<<<<<<<<<<<<<<<<<",
    "TZ76543214JPN6907064F2907055<<<<<<<<<<<<<<<6",
)
SPECIMEN = (
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
    "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
)


def _fields(corrections: Sequence[Correction]) -> list[tuple[str, int, int, str, str]]:
    return [(c.field, c.line, c.position, c.from_, c.to) for c in corrections]


def test_clean_line_maps_filler_lookalikes_and_homoglyphs() -> None:
    text, corrections = clean_line("P<JΡN SATO«HANAKO(く", line=1)
    assert text == "P<JPNSATO<<HANAKO<<"
    assert _fields(corrections) == [
        ("homoglyph", 1, 4, "Ρ", "P"),
        ("filler", 1, 10, "«", "<<"),
        ("filler", 1, 18, "(", "<"),
        ("filler", 1, 19, "く", "<"),
    ]


def test_is_candidate() -> None:
    assert is_candidate(KONDOU[0])
    assert not is_candidate("PASSPORT")
    assert not is_candidate("Φ" * 44)


def test_fix_lines_set_filler_runs_to_44() -> None:
    line1, fixes1 = fix_line1(KONDOU[0][:-3])
    line2, fixes2 = fix_line2(KONDOU[1][:30] + KONDOU[1][32:])
    assert (line1, line2) == KONDOU
    assert [c.to for c in fixes1] == ["<"] * 3
    assert [c.to for c in fixes2] == ["<"] * 2
    line1, fixes1 = fix_line1(KONDOU[0] + "<<")
    assert line1 == KONDOU[0]
    assert [c.from_ for c in fixes1] == ["<"] * 2


def test_fix_lines_k_among_fillers() -> None:
    line1, fixes = fix_line1(KONDOU[0][:30] + "K" + KONDOU[0][31:])
    assert line1 == KONDOU[0]
    assert _fields(fixes) == [("filler", 1, 31, "K", "<")]
    # A K inside the name stays.
    assert fix_line1(KONDOU[0])[1] == []


def test_repair_name_and_dates_by_position() -> None:
    line1 = KONDOU[0].replace("KONDOU<<TOMOKO", "K0ND0U<<T0M0K0")
    line2 = KONDOU[1][:13] + "69O7O64" + KONDOU[1][20:]
    repaired1, repaired2, corrections = repair_lookalikes(line1, line2)
    assert repaired1 == KONDOU[0]
    # Two letters in one date: more than one substitution per field, left for parse_td3.
    assert repaired2 == line2
    assert {c.field for c in corrections} == {"name"}
    assert len(corrections) == 5
    line2 = KONDOU[1][:13] + "69O7064" + KONDOU[1][20:]
    _, repaired2, corrections = repair_lookalikes(KONDOU[0], line2)
    assert repaired2 == KONDOU[1]
    assert _fields(corrections) == [("birth_date", 2, 16, "O", "0")]


def test_repair_jpn_number_pattern() -> None:
    line2 = "T2" + KONDOU[1][2:]
    _, repaired2, corrections = repair_lookalikes(KONDOU[0], line2)
    assert repaired2 == KONDOU[1]
    assert _fields(corrections) == [("number", 2, 2, "2", "Z")]


def test_repair_alphanumeric_number_guided_by_check_digits() -> None:
    line2 = "L8989O2C3" + SPECIMEN[1][9:]
    _, repaired2, corrections = repair_lookalikes(SPECIMEN[0], line2)
    assert repaired2 == SPECIMEN[1]
    assert _fields(corrections) == [("number", 2, 6, "O", "0")]
    assert parse_td3((SPECIMEN[0], repaired2), today=TODAY, test_mode=True).number == "L898902C3"


def test_repair_leaves_valid_lines_alone() -> None:
    assert repair_lookalikes(*SPECIMEN) == (*SPECIMEN, [])
    assert repair_lookalikes(*KONDOU) == (*KONDOU, [])
