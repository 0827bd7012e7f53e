"""The README's promises are checked: its test command is the one CI runs, and every error code
the service can return is in its table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from certsvc.errors import CATALOGUE, REFUSALS
from certsvc.issuance import RefusalCode
from kiosk_adapter import KIOSK_CODES

ROOT = Path(__file__).resolve().parents[2]


def _readme() -> str:
    return (ROOT / "README.md").read_text(encoding="utf-8")


def _quick_start() -> list[str]:
    section = _readme().split("## Quick start", 1)[1]
    block = section.split("```sh", 1)[1].split("```", 1)[0]
    return [line for line in block.strip().splitlines() if line.strip()]


def test_quick_start_is_exactly_two_commands_demo_then_tests() -> None:
    commands = _quick_start()
    assert len(commands) == 2
    assert commands[0].endswith("certsvc demo")
    assert "pytest" in commands[1]


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert _quick_start()[1] in ci


def _documented() -> set[tuple[str, str]]:
    return set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \| (\d{3}) \|", _readme(), re.M))


def test_every_error_code_is_documented() -> None:
    # certsvc's own catalogue and each channel's own table: nothing is registered on import.
    tables = {**CATALOGUE, **KIOSK_CODES}
    expected = {(code, str(info.status)) for code, info in tables.items()}
    assert expected - _documented() == set()


@pytest.mark.parametrize("refusal", list(RefusalCode))
def test_every_refusal_has_status_title_and_readme_row(refusal: RefusalCode) -> None:
    info = REFUSALS[refusal]
    assert 400 <= info.status < 500
    assert info.title
    assert (refusal.value, str(info.status)) in _documented()


def test_every_test_the_readme_names_exists() -> None:
    # The privacy-controls table points the security officer at tests: they must stay real.
    named = set(re.findall(r"`(test_[a-z0-9_]+)`", _readme()))
    defined = {
        m
        for path in (ROOT / "tests").rglob("test_*.py")
        for m in re.findall(r"^(?:async )?def (test_[a-z0-9_]+)", path.read_text(), re.M)
    }
    assert named
    assert named - defined == set()
