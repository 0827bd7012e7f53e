"""The print-out from several threads at once (the channel face's rendering thread beside the
kiosk adapter's event loop in one demo process): every document is the one a lone render gives,
and its streams are FlateDecode that zlib reads back."""

from __future__ import annotations

import base64
import re
import zlib
from concurrent.futures import ThreadPoolExecutor

import pytest

from certsvc.printout import render_certificate_pdf
from signing import FileKeyStore, seal_bytes, shc_qr_text, sign_shc, sign_vdsnc
from tests.unit.signing.test_certificate import AUTHORITY, ISSUER, make_cert, make_store


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> FileKeyStore:
    return make_store(tmp_path_factory.mktemp("print-threads"))


def _arguments(store: FileKeyStore, kind: str) -> dict[str, object]:
    cert = make_cert(kind=kind, doses=3)
    jws = sign_shc(cert, issuer=ISSUER, signer=store.shc_signer(), vaccination_authority=AUTHORITY)
    seals = (
        sign_vdsnc(cert, signer=store.barcode_signer(), vaccination_authority=AUTHORITY)
        if kind == "abroad"
        else []
    )
    return {
        "cert": cert,
        "shc_qr_texts": [shc_qr_text(j) for j in jws],
        "vdsnc_payloads": [seal_bytes(s) for s in seals],
    }


def test_documents_rendered_at_once_are_those_rendered_alone(store: FileKeyStore) -> None:
    kinds = ["domestic", "abroad"] * 6
    arguments = {kind: _arguments(store, kind) for kind in ("domestic", "abroad")}
    alone = {kind: render_certificate_pdf(**arguments[kind]) for kind in arguments}  # type: ignore[arg-type]
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(
            pool.map(lambda kind: render_certificate_pdf(**arguments[kind]), kinds)  # type: ignore[arg-type]
        )
    assert together == [alone[kind] for kind in kinds]
    assert alone["domestic"] != alone["abroad"]


_STREAM = re.compile(rb"<<((?:[^<>]|<<[^<>]*>>)*)>>\s*stream\r?\n")


def test_every_stream_is_flate_that_zlib_reads_back(store: FileKeyStore) -> None:
    pdf = render_certificate_pdf(**_arguments(store, "domestic"))  # type: ignore[arg-type]
    found = 0
    for match in _STREAM.finditer(pdf):
        header = match.group(1)
        filters = re.search(rb"/Filter \[([^\]]*)\]", header)
        assert filters is not None, header
        length = re.search(rb"/Length (\d+)", header)
        assert length is not None, header
        data = pdf[match.end() : match.end() + int(length.group(1))]
        names = filters.group(1).split()
        if names[0] == b"/ASCII85Decode":
            data = base64.a85decode(data.strip().removesuffix(b"~>"))
            names = names[1:]
        assert names == [b"/FlateDecode"]
        assert zlib.decompress(data)
        found += 1
    assert found == 4  # the guilloche, the page, the font subset and its ToUnicode map
