"""`certsvc verify` reads a PDF print-out and a JWKS URL, and keeps the exit codes of contracts
§5 (3: the input or the keys could not be read) when settings or arguments are wrong."""

from __future__ import annotations

import http.server
import json
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from certsvc.cli import main
from certsvc.printout import render_certificate_pdf
from signing import FileKeyStore, seal_bytes, shc_qr_text, sign_shc, sign_vdsnc
from tests.unit.signing.test_certificate import AUTHORITY, ISSUER, make_cert, make_store


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> FileKeyStore:
    return make_store(tmp_path_factory.mktemp("verify-inputs"))


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for k in list(os.environ):
        if k.startswith("CERTSVC_"):
            monkeypatch.delenv(k)


@pytest.fixture(scope="module")
def printout(store: FileKeyStore, tmp_path_factory: pytest.TempPathFactory) -> Path:
    cert = make_cert(kind="abroad", doses=3)
    jws = sign_shc(cert, issuer=ISSUER, signer=store.shc_signer(), vaccination_authority=AUTHORITY)
    seals = sign_vdsnc(cert, signer=store.barcode_signer(), vaccination_authority=AUTHORITY)
    pdf = render_certificate_pdf(
        cert,
        shc_qr_texts=[shc_qr_text(j) for j in jws],
        vdsnc_payloads=[seal_bytes(s) for s in seals],
    )
    path = tmp_path_factory.mktemp("pdf") / "certificate.pdf"
    path.write_bytes(pdf)
    return path


@pytest.fixture
def jwks_url(store: FileKeyStore) -> Iterator[str]:
    body = json.dumps(store.jwks()).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            found = self.path == "/issuer/.well-known/jwks.json"
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body if found else b"{}")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/issuer/.well-known/jwks.json"
    finally:
        server.shutdown()
        server.server_close()


def _csca(store: FileKeyStore, tmp_path: Path) -> list[str]:
    (tmp_path / "csca.pem").write_bytes(store.csca_certificate_pem())
    return ["--csca", str(tmp_path / "csca.pem")]


def test_pdf_printout_verifies_both_codes_with_a_jwks_url(
    store: FileKeyStore,
    printout: Path,
    jwks_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    status = main(["verify", str(printout), "--jwks", jwks_url, *_csca(store, tmp_path)])
    out = capsys.readouterr().out
    assert status == 0, out
    assert f"{printout}#page1#qr" in out
    assert "SMART Health Card — VALID" in out
    assert "ICAO VDS-NC — VALID" in out


def test_pdf_without_a_rasteriser_says_what_to_install(
    store: FileKeyStore,
    printout: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setitem(sys.modules, "pypdfium2", None)  # as in the base install
    monkeypatch.setenv("CERTSVC_KEY_DIR", str(store._dir))
    assert main(["verify", str(printout)]) == 3
    out = capsys.readouterr().out
    assert "VERIFY_PDF_UNSUPPORTED" in out
    assert "pip install pypdfium2" in out


def test_a_jwks_url_that_is_not_https_is_refused(
    printout: Path, store: FileKeyStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = "http://vc.example.jp/issuer/.well-known/jwks.json"
    assert main(["verify", str(printout), "--jwks", url, *_csca(store, tmp_path)]) == 3
    assert "must be https" in capsys.readouterr().out


def test_a_jwks_url_that_answers_404_is_unreadable(
    printout: Path,
    jwks_url: str,
    store: FileKeyStore,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    wrong = jwks_url.replace("/issuer/", "/elsewhere/")
    assert main(["verify", str(printout), "--jwks", wrong, *_csca(store, tmp_path)]) == 3
    assert "VERIFY_BAD_JWKS" in capsys.readouterr().out


@pytest.mark.parametrize(
    "env",
    [
        {},  # no CERTSVC_KEY_DIR and no --jwks/--csca
        {"CERTSVC_KEY_DRI": "keys"},  # a mistyped setting
        {"CERTSVC_KEY_DIR": ""},  # an empty one
    ],
)
def test_missing_or_wrong_settings_exit_3_not_2(
    printout: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["verify", str(printout)]) == 3  # 2 would mean "breaks the spec"
    out, err = capsys.readouterr()
    assert "VERIFY_NO_KEYS" in out + err
    assert "Traceback" not in out + err


def test_a_usage_error_exits_3(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["verify"])
    assert exited.value.code == 3
    assert "certsvc verify: the following arguments are required" in capsys.readouterr().err
