"""OCR end to end on pages rendered at test time (rapidocr, offline)."""

from __future__ import annotations

import io
import socket
from typing import Any

import pytest
from PIL import Image

from mrz import MrzError, _ocr, read_mrz_image, read_mrz_image_async
from tests.unit.mrz.pages import (
    FOREIGN,
    JAPANESE,
    TODAY,
    foreign_pages,
    japanese_pages,
    render_page,
)

pytest.importorskip("rapidocr")
pytest.importorskip("onnxruntime")


def test_read_mrz_image_japanese_pages_exact() -> None:
    # The bar: at least 9 of 10 Japanese pages, clean and degraded, read exactly.
    exact = 0
    for person, _kind, data in japanese_pages():
        try:
            result = read_mrz_image(data, today=TODAY)
        except MrzError:
            continue
        exact += result.lines == person.lines()
        assert result.passport.issuing_state == "JPN"
    assert exact >= 9


def test_read_mrz_image_reports_repairs() -> None:
    # KONDOU TOMOKO at half size: the engine reads every O of the name as 0.
    person = JAPANESE[3]
    result = read_mrz_image(render_page(person, "half"), today=TODAY)
    assert result.lines == person.lines()
    assert (result.passport.family_name, result.passport.given_names) == ("KONDOU", "TOMOKO")
    name_fixes = [c for c in result.corrections if c.field == "name"]
    assert name_fixes
    assert all((c.from_, c.to) == ("0", "O") and c.line == 1 for c in name_fixes)
    assert result.passport.corrections == result.corrections


def test_read_mrz_image_foreign_page() -> None:
    person, _kind, data = foreign_pages()[2]
    result = read_mrz_image(data, today=TODAY)
    assert result.lines == person.lines()
    assert result.passport.given_names == "JEAN PIERRE"
    assert person is FOREIGN[2]


def test_read_mrz_image_upside_down() -> None:
    person = JAPANESE[0]
    result = read_mrz_image(render_page(person, "rotate180"), today=TODAY)
    assert result.rotation == 180
    assert result.lines == person.lines()


def test_read_mrz_image_too_small() -> None:
    with pytest.raises(MrzError) as info:
        read_mrz_image(render_page(JAPANESE[1], "tiny"), today=TODAY)
    assert info.value.code == "IMAGE_TOO_SMALL"


@pytest.mark.parametrize("data", [b"", b"not an image", b"\x89PNG\r\n\x1a\n" + b"\0" * 40])
def test_read_mrz_image_unreadable(data: bytes) -> None:
    with pytest.raises(MrzError) as info:
        read_mrz_image(data, today=TODAY)
    assert info.value.code == "IMAGE_UNREADABLE"


def test_read_mrz_image_not_found() -> None:
    blank = io.BytesIO()
    Image.new("RGB", (800, 600), "white").save(blank, "PNG")
    with pytest.raises(MrzError) as info:
        read_mrz_image(blank.getvalue(), today=TODAY)
    assert info.value.code == "MRZ_NOT_FOUND"


def test_read_mrz_image_timeout() -> None:
    with pytest.raises(MrzError) as info:
        read_mrz_image(render_page(JAPANESE[0]), today=TODAY, timeout=0.001)
    assert info.value.code == "OCR_TIMEOUT"


async def test_read_mrz_image_async() -> None:
    person = JAPANESE[5]
    result = await read_mrz_image_async(render_page(person, "clean"), today=TODAY)
    assert result.lines == person.lines()


def test_read_mrz_image_needs_no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    # A fresh engine, built with every socket refused and download hubs pointed nowhere.
    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("MODELSCOPE_CACHE", "/nonexistent")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setattr(_ocr, "_ENGINE", _ocr._Engine())
    person = JAPANESE[2]
    result = read_mrz_image(render_page(person, "clean"), today=TODAY)
    assert result.lines == person.lines()
