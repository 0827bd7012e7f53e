"""Every code the counter's pages can show has its row, with its status, in the README."""

from __future__ import annotations

import re
from pathlib import Path

from certsvc.counter import COUNTER_CODES
from certsvc.staff import PasswordRefusal, SignInRefusal

ROOT = Path(__file__).resolve().parents[3]


def test_every_counter_code_is_in_the_readme_with_its_status() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \| (\d{3}) \|", readme, re.M))
    expected = {(code, str(info.status)) for code, info in COUNTER_CODES.items()}
    assert expected - documented == set()


def test_every_staff_refusal_has_a_counter_page() -> None:
    for refusal in (*SignInRefusal, *PasswordRefusal):
        assert refusal.value in COUNTER_CODES
