"""DESIGN §2's import rules, checked on the source: the libraries import no other project
package; certsvc never imports kiosk_adapter; only certsvc and kiosk_adapter import litestar;
only vrs_client (and certsvc/db/, for staff accounts) imports asyncpg for data; only certsvc
imports redis."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ("certsvc", "kiosk_adapter", "signing", "mrz", "vrs_client")

# (package, what it must not import)
RULES = [
    ("signing", {"certsvc", "kiosk_adapter", "mrz", "vrs_client", "litestar", "redis", "asyncpg"}),
    ("mrz", {"certsvc", "kiosk_adapter", "signing", "vrs_client", "litestar", "redis", "asyncpg"}),
    ("vrs_client", {"certsvc", "kiosk_adapter", "signing", "mrz", "litestar", "redis"}),
    ("certsvc", {"kiosk_adapter"}),
    ("kiosk_adapter", set()),
]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize(("package", "forbidden"), RULES)
def test_package_imports_respect_the_design(package: str, forbidden: set[str]) -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(_imports(path) & forbidden)
        for path in (ROOT / package).rglob("*.py")
        if _imports(path) & forbidden
    }
    assert offenders == {}


def test_only_the_store_talks_to_postgresql_about_data() -> None:
    # certsvc uses asyncpg only to open the pool and run migrations/imports through vrs_client
    # (the operations listener opens a one-connection pool for its readiness probe).
    allowed = {
        "certsvc/app.py",
        "certsvc/resources.py",
        "certsvc/demo.py",
        "certsvc/errors.py",
        "certsvc/ops.py",
        # The demo's staff accounts are made before the counter's listener starts.
        "certsvc/counter/demo_listener.py",
    }
    users = {
        str(path.relative_to(ROOT))
        for package in ("certsvc", "kiosk_adapter")
        for path in (ROOT / package).rglob("*.py")
        if "asyncpg" in _imports(path)
    }
    commands = {u for u in users if u.startswith("certsvc/commands/")}
    # certsvc/db/: certsvc's own tables (staff accounts, terminals), DESIGN §2.
    own_tables = {u for u in users if u.startswith("certsvc/db/")}
    assert users - allowed - commands - own_tables == set()


def _certsvc_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "certsvc")
        elif (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.level == 0
            and node.module.split(".")[0] == "certsvc"
        ):
            found.add(node.module)
    return found


def test_the_kiosk_adapter_uses_only_the_channel_face() -> None:
    used = {
        str(path.relative_to(ROOT)): sorted(_certsvc_modules(path) - {"certsvc.channel"})
        for path in (ROOT / "kiosk_adapter").rglob("*.py")
    }
    assert {path: mods for path, mods in used.items() if mods} == {}


def test_the_counter_imports_only_the_face_and_the_staff_layer_of_certsvc() -> None:
    # A channel calls certsvc through certsvc.channel only; the counter also uses its staff
    # accounts layer (certsvc.staff), and its own modules.
    def foreign(module: str) -> bool:
        return not any(
            module == allowed or module.startswith(allowed + ".")
            for allowed in ("certsvc.channel", "certsvc.staff", "certsvc.counter")
        )

    used = {
        str(path.relative_to(ROOT)): sorted(m for m in _certsvc_modules(path) if foreign(m))
        for path in (ROOT / "certsvc" / "counter").rglob("*.py")
    }
    assert used
    assert {path: mods for path, mods in used.items() if mods} == {}
