"""`certsvc keys create|rotate|list|export-csca`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography import x509

from certsvc.cli import main


@pytest.fixture
def key_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for k in list(os.environ):
        if k.startswith("CERTSVC_"):
            monkeypatch.delenv(k)
    monkeypatch.setenv("CERTSVC_KEY_DIR", str(tmp_path / "keys"))
    monkeypatch.setenv("CERTSVC_SHC_ISSUER", "https://vc.example.invalid/issuer")
    return tmp_path / "keys"


def test_create_list_rotate_export(key_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "create"]) == 0
    assert main(["keys", "create"]) == 1  # never overwrites keys
    capsys.readouterr()
    before = sorted(p.name for p in key_dir.rglob("*"))
    # A rotation is audited in the database: without CERTSVC_DATABASE_URL it is refused and
    # writes nothing (tests/store/test_admin_commands.py rotates with a database).
    assert main(["keys", "rotate", "--shc", "--barcode-signer"]) == 2
    assert "CERTSVC_DATABASE_URL" in capsys.readouterr().err
    assert sorted(p.name for p in key_dir.rglob("*")) == before
    assert main(["keys", "list"]) == 0
    listing = capsys.readouterr().out
    assert listing.count("signing") == 2  # the SHC key and the barcode signer
    assert "https://vc.example.invalid/issuer/.well-known/jwks.json" in listing
    assert "PRIVATE" not in listing
    assert main(["keys", "export-csca"]) == 0
    pem = capsys.readouterr().out
    csca = x509.load_pem_x509_certificate(pem.encode())
    assert csca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_missing_key_dir_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    for k in list(os.environ):
        if k.startswith("CERTSVC_"):
            monkeypatch.delenv(k)
    assert main(["keys", "list"]) == 2
