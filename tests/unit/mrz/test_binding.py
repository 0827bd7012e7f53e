"""bind_to_holder codes, and the Hepburn hints."""

from __future__ import annotations

from datetime import date

import pytest

from mrz import MrzError, bind_to_holder, hepburn_canonical, names_match_hepburn, parse_td3

TODAY = date(2026, 11, 27)
# SATO TARO, male, born 1990-01-01, expires 2030-01-01.
SATO = (
    "P<JPNSATO<<TARO<<<<<<<<<<<<<<<<<<<<<<<<<<<<<",
    "TZ12345676JPN9001011M3001019<<<<<<<<<<<<<<<4",
)
PASSPORT = parse_td3(SATO, today=TODAY)


@pytest.mark.parametrize("card_sex", ["1", "9", "0"])
def test_bind_to_holder_ok(card_sex: str) -> None:
    bind_to_holder(PASSPORT, birth_date=date(1990, 1, 1), sex=card_sex, today=TODAY)


def test_bind_to_holder_valid_on_expiry_day() -> None:
    bind_to_holder(PASSPORT, birth_date=date(1990, 1, 1), sex="1", today=date(2030, 1, 1))


@pytest.mark.parametrize(
    ("birth_date", "sex", "today", "code"),
    [
        (date(1990, 1, 1), "1", date(2030, 1, 2), "PASSPORT_EXPIRED"),
        (date(1990, 1, 2), "1", TODAY, "PASSPORT_BIRTH_DATE_MISMATCH"),
        (date(1990, 1, 1), "2", TODAY, "PASSPORT_SEX_MISMATCH"),
        (date(1990, 1, 1), "M", TODAY, "HOLDER_SEX_INVALID"),
        # Identity before validity: someone else's expired passport is a mismatch.
        (date(1991, 1, 1), "1", date(2031, 1, 1), "PASSPORT_BIRTH_DATE_MISMATCH"),
    ],
)
def test_bind_to_holder_refusals(birth_date: date, sex: str, today: date, code: str) -> None:
    with pytest.raises(MrzError) as info:
        bind_to_holder(PASSPORT, birth_date=birth_date, sex=sex, today=today)
    assert info.value.code == code


@pytest.mark.parametrize("card_sex", ["1", "2", "9", "0"])
def test_bind_to_holder_unspecified_mrz_sex_matches_any(card_sex: str) -> None:
    line2 = SATO[1][:20] + "<" + SATO[1][21:]
    passport = parse_td3((SATO[0], line2), today=TODAY)
    bind_to_holder(passport, birth_date=date(1990, 1, 1), sex=card_sex, today=TODAY)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("SATO", "SATOH"),
        ("SATO", "SATOU"),
        ("OTA", "OOTA"),
        ("ONO", "OHNO"),
        ("YUKI", "YUUKI"),
        ("HONMA", "HOMMA"),
        ("NANBA", "namba"),
        ("SATO HANAKO", "SATOH<HANAKO"),
    ],
)
def test_names_match_hepburn_variants(a: str, b: str) -> None:
    assert names_match_hepburn(a, b)


@pytest.mark.parametrize(("a", "b"), [("SATO", "SAITO"), ("KOHEI", "KOEI"), ("ONO", "ONODA")])
def test_names_match_hepburn_different_names(a: str, b: str) -> None:
    assert not names_match_hepburn(a, b)


def test_hepburn_canonical_examples() -> None:
    assert hepburn_canonical("Satoh  Yoko") == "SATO YOKO"
    assert hepburn_canonical("KONDOU") == "KONDO"
