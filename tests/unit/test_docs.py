"""The documents travel with the code: every document in docs/ is linked from the README, every
relative link resolves, nothing points outside the repository, and the README's tables of
exit statuses and store codes are the ones the code has."""

from __future__ import annotations

import re
from pathlib import Path

from certsvc.commands._failures import Exit
from vrs_client import VrsErrorCode

ROOT = Path(__file__).resolve().parents[2]
_LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def _readme() -> str:
    return (ROOT / "README.md").read_text(encoding="utf-8")


def _documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_every_document_is_linked_from_the_readme() -> None:
    linked = {(ROOT / target).resolve() for target in _LINK.findall(_readme())}
    docs = set((ROOT / "docs").glob("*.md")) | {ROOT / "kiosk_adapter" / "PROTOCOL.md"}
    assert {d.resolve() for d in docs} - linked == set()


def test_every_relative_link_resolves() -> None:
    broken = [
        f"{doc.relative_to(ROOT)} → {target}"
        for doc in _documents()
        for target in _LINK.findall(doc.read_text(encoding="utf-8"))
        if "://" not in target and not (doc.parent / target).exists()
    ]
    assert broken == []


def test_nothing_points_outside_the_repository() -> None:
    texts = [doc.read_text(encoding="utf-8") for doc in _documents()]
    texts += [p.read_text(encoding="utf-8") for p in (ROOT / "certsvc").rglob("*.py")]
    assert not [t for t in texts if "../shared" in t]


def test_every_store_code_is_in_the_readme() -> None:
    documented = set(re.findall(r"^\| `(VRS_[A-Z_]+)` \|", _readme(), re.M))
    assert {code.value for code in VrsErrorCode} == documented


def test_the_exit_code_table_is_the_code_s() -> None:
    section = _readme().split("## Exit codes of the command line", 1)[1].split("\n## ", 1)[0]
    documented = {int(n) for n in re.findall(r"^\| (\d+) \|", section, re.M)}
    assert documented == {int(e) for e in Exit}
