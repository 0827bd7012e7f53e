"""The issuance use case maps every library code explicitly, and every refusal has its answer."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

import mrz
import signing
from certsvc.errors import REFUSALS, refusal_problem
from certsvc.issuance import (
    CARD_REFUSALS,
    MRZ_REFUSALS,
    RefusalCode,
    Refused,
    library_refusal,
)

ROOT = Path(__file__).resolve().parents[3]


def _literals(package: str, pattern: str) -> set[str]:
    found: set[str] = set()
    for path in (ROOT / package).rglob("*.py"):
        found |= set(re.findall(rf'"({pattern})"', path.read_text(encoding="utf-8")))
    return found


def test_signing_declares_every_card_code_it_raises() -> None:
    assert _literals("signing", r"CARD_(?!ERROR_CODES\b)[A-Z_]+") == signing.CARD_ERROR_CODES


def test_mrz_declares_every_code_it_raises() -> None:
    raised = _literals("mrz", r"(?:MRZ|PASSPORT|HOLDER|IMAGE|OCR)_(?!ERROR_CODES\b)[A-Z_]+")
    assert raised == mrz.PARSE_ERROR_CODES | mrz.BINDING_ERROR_CODES | mrz.OCR_ERROR_CODES


def test_every_card_code_has_its_refusal() -> None:
    assert set(CARD_REFUSALS) == signing.CARD_ERROR_CODES


def test_every_parse_and_binding_code_has_its_refusal() -> None:
    assert set(MRZ_REFUSALS) == mrz.PARSE_ERROR_CODES | mrz.BINDING_ERROR_CODES


def test_holder_sex_invalid_is_its_own_refusal() -> None:
    passport = mrz.parse_td3(
        mrz.compose_td3(
            issuing_state="JPN",
            family_name="KOKUTO",
            given_names="MIKIYA",
            number="TR1234567",
            nationality="JPN",
            birth_date=date(1990, 1, 2),
            sex="M",
            expiry_date=date(2030, 1, 1),
        ),
        today=date(2026, 11, 27),
    )
    with pytest.raises(mrz.MrzError) as raised:
        mrz.bind_to_holder(passport, birth_date=date(1990, 1, 2), sex="X", today=date(2026, 1, 1))
    assert library_refusal(MRZ_REFUSALS, raised.value.code) is RefusalCode.HOLDER_SEX_INVALID


def test_an_unmapped_library_code_is_a_bug_not_a_guess() -> None:
    with pytest.raises(RuntimeError, match="CARD_SOMETHING_NEW"):
        library_refusal(CARD_REFUSALS, "CARD_SOMETHING_NEW")


@pytest.mark.parametrize("refusal", list(RefusalCode))
def test_every_refusal_answers_with_its_own_code(refusal: RefusalCode) -> None:
    problem = refusal_problem(Refused(code=refusal, retry_after_s=7))
    assert problem.code == refusal.value
    assert problem.status == REFUSALS[refusal].status
    assert problem.headers == {"Retry-After": "7"}
