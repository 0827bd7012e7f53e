"""`certsvc verify`: inputs, keys, and the exit codes of contracts §5."""

from __future__ import annotations

import base64
import json
import zlib
from pathlib import Path

import pytest

from certsvc.cli import main
from signing import (
    FileKeyStore,
    qr_png,
    seal_bytes,
    shc_file,
    shc_qr_symbol,
    shc_qr_text,
    sign_shc,
    sign_vdsnc,
    vdsnc_qr_symbol,
)
from tests.unit.signing.test_certificate import AUTHORITY, ISSUER, make_cert, make_store


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> FileKeyStore:
    return make_store(tmp_path_factory.mktemp("verify"))


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for k in list(os.environ):
        if k.startswith("CERTSVC_"):
            monkeypatch.delenv(k)


def _jws(store: FileKeyStore, kind: str = "abroad") -> list[str]:
    cert = make_cert(kind=kind, doses=3)
    return sign_shc(cert, issuer=ISSUER, signer=store.shc_signer(), vaccination_authority=AUTHORITY)


def _keys_args(store: FileKeyStore, tmp_path: Path) -> list[str]:
    (tmp_path / "jwks.json").write_text(json.dumps(store.jwks()))
    (tmp_path / "csca.pem").write_bytes(store.csca_certificate_pem())
    (tmp_path / "csca.crl").write_bytes(store.csca_crl_pem())
    return ["--jwks", str(tmp_path / "jwks.json"), "--csca", str(tmp_path / "csca.pem"),
            "--csca-crl", str(tmp_path / "csca.crl")]  # fmt: skip


def test_valid_inputs_of_every_kind(
    store: FileKeyStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    jws = _jws(store)
    seal = sign_vdsnc(make_cert(kind="abroad", doses=3), signer=store.barcode_signer(),
                      vaccination_authority=AUTHORITY)[0]  # fmt: skip
    (tmp_path / "card.jws").write_text(jws[0] + "\n")
    (tmp_path / "c.smart-health-card").write_bytes(shc_file(jws))
    (tmp_path / "seal.json").write_bytes(seal_bytes(seal))
    (tmp_path / "shc.png").write_bytes(qr_png(shc_qr_symbol(shc_qr_text(jws[0]))))
    (tmp_path / "vds.png").write_bytes(qr_png(vdsnc_qr_symbol(seal_bytes(seal)), scale=3))
    files = [str(tmp_path / n) for n in
             ("card.jws", "c.smart-health-card", "seal.json", "shc.png", "vds.png")]  # fmt: skip
    assert main(["verify", *files, *_keys_args(store, tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.count("VALID") == 5
    assert "YAMADA TARO" in out


def test_local_key_dir_is_the_default(
    store: FileKeyStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "card.jws").write_text(_jws(store)[0])
    monkeypatch.setenv("CERTSVC_KEY_DIR", str(store._dir))
    assert main(["verify", str(tmp_path / "card.jws")]) == 0


def test_spec_violation_exits_2(
    store: FileKeyStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    header, body, _sig = _jws(store)[0].split(".")
    payload = zlib.decompress(base64.urlsafe_b64decode(body + "=="), -15)
    zbody = base64.urlsafe_b64encode(zlib.compress(payload)).rstrip(b"=").decode()
    signing_input = f"{header}.{zbody}"
    sig = base64.urlsafe_b64encode(store.shc_signer().sign(signing_input.encode()))
    (tmp_path / "z.jws").write_text(signing_input + "." + sig.rstrip(b"=").decode())
    assert main(["verify", str(tmp_path / "z.jws"), *_keys_args(store, tmp_path)]) == 2
    assert "SHC_ZLIB_HEADER" in capsys.readouterr().out


def test_unknown_key_exits_1(tmp_path: Path, store: FileKeyStore) -> None:
    other = make_store(tmp_path)
    (tmp_path / "card.jws").write_text(_jws(store)[0])
    (tmp_path / "jwks.json").write_text(json.dumps(other.jwks()))
    assert main(["verify", str(tmp_path / "card.jws"), "--jwks", str(tmp_path / "jwks.json")]) == 1


def test_bad_signature_exits_1(store: FileKeyStore, tmp_path: Path) -> None:
    jws = _jws(store)[0]
    (tmp_path / "card.jws").write_text(jws[:-6] + ("AAAAAA" if jws[-6:] != "AAAAAA" else "BBBBBB"))
    assert main(["verify", str(tmp_path / "card.jws"), *_keys_args(store, tmp_path)]) == 1


def test_unreadable_exits_3(store: FileKeyStore, tmp_path: Path) -> None:
    (tmp_path / "junk.txt").write_text("hello")
    (tmp_path / "blank.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    args = _keys_args(store, tmp_path)
    assert main(["verify", str(tmp_path / "junk.txt"), *args]) == 3
    assert main(["verify", str(tmp_path / "blank.png"), *args]) == 3
    assert main(["verify", str(tmp_path / "missing.jws"), *args]) == 3


def test_vdsnc_non_ascii_exits_2(store: FileKeyStore, tmp_path: Path) -> None:
    import rfc8785

    seal = sign_vdsnc(make_cert(kind="abroad"), signer=store.barcode_signer(),
                      vaccination_authority=AUTHORITY)[0]  # fmt: skip
    seal["data"]["msg"]["pid"]["n"] = "YAMADA TARŌ"
    seal["sig"]["sigvl"] = base64.urlsafe_b64encode(
        store.barcode_signer().sign(rfc8785.dumps(seal["data"]))
    ).decode()
    (tmp_path / "seal.json").write_text(json.dumps(seal))
    assert main(["verify", str(tmp_path / "seal.json"), *_keys_args(store, tmp_path)]) == 2
