"""Offline OCR of a passport data page at the counter (spec: mrz-td3.md, "OCR input").

The engine is rapidocr with the PP-OCR models bundled in its wheel, run by onnxruntime; nothing
is downloaded. It is built once, lazily, and used by one worker thread at a time: rapidocr keeps
per-call options on the engine object, and on a two-core machine parallel reads only compete.

Steps of `read_mrz_image`:
(1) decode the image (`IMAGE_UNREADABLE`, `IMAGE_TOO_LARGE`),
(2) detect and recognise text at 0°, then 90°, 180°, 270° until two MRZ-like rows are found,
    checking the time bound before each attempt (`OCR_TIMEOUT`),
(3) refuse MRZ characters below the minimum height (`IMAGE_TOO_SMALL`), or report
    `MRZ_NOT_FOUND` (`IMAGE_TOO_SMALL` when the whole image is too small to hold a readable MRZ),
(4) repair fillers and look-alikes by position, reporting each change,
(5) `parse_td3`.
"""

from __future__ import annotations

import asyncio
import io
import math
import os
import threading
import time
import warnings
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeoutError
from datetime import date
from typing import TYPE_CHECKING, Any

import msgspec
from PIL import Image, ImageOps, UnidentifiedImageError

from mrz._errors import MrzError
from mrz._repair import clean_line, fix_line1, fix_line2, is_candidate, repair_lookalikes
from mrz._td3 import Correction, Passport, parse_td3

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    ImageArray = npt.NDArray[np.uint8]

DEFAULT_TIMEOUT = 30.0
# Box height of an MRZ row below which characters are too small to read reliably. Measured on
# the synthetic clean pages: rows of 9 px and more read exactly, 7-8 px mostly; 10 px keeps a
# margin for blur and noise, which cost legibility first.
MIN_ROW_HEIGHT_PX = 10
# An image whose longer side is below this cannot hold an MRZ of readable size.
MIN_IMAGE_SIDE_PX = 500
MAX_IMAGE_PIXELS = 40_000_000
# onnxruntime threads for one read: the counter box has two cores.
OCR_THREADS = max(1, min(2, os.cpu_count() or 1))


class OcrResult(msgspec.Struct, frozen=True, kw_only=True):
    """What the counter OCR read: the two lines after repair, the parsed passport, the repairs.

    `corrections` lists every character changed between the OCR output and `lines` (also in
    `passport.corrections`); `rotation` is the clockwise turn (degrees) that made it readable.
    """

    lines: tuple[str, str]
    passport: Passport
    corrections: tuple[Correction, ...]
    rotation: int


class _Row(msgspec.Struct, frozen=True):
    text: str
    y: float
    height: float


class _Engine:
    """The rapidocr engine, built on first use (thread-safe) and reused."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._engine: Any = None

    def get(self) -> Any:
        with self._lock:
            if self._engine is None:
                try:
                    from rapidocr import RapidOCR
                except ImportError as exc:
                    raise MrzError("OCR_UNAVAILABLE", "the ocr extra is not installed") from exc
                self._engine = RapidOCR(
                    params={
                        "Global.log_level": "error",
                        # Rotations are tried by us; the angle classifier flips MRZ rows.
                        "Global.use_cls": False,
                        "EngineConfig.onnxruntime.intra_op_num_threads": OCR_THREADS,
                        "EngineConfig.onnxruntime.inter_op_num_threads": 1,
                    }
                )
            return self._engine

    def rows(self, image: ImageArray) -> list[_Row]:
        """Text rows found in `image`, boxes on one line merged left to right."""
        engine = self.get()
        # Options are passed on every call: rapidocr stores them on the engine.
        result = engine(image, use_det=True, use_cls=False, use_rec=True)
        txts = getattr(result, "txts", None)
        boxes = getattr(result, "boxes", None)
        if not txts or boxes is None:
            return []
        items: list[tuple[float, float, float, str]] = []
        for text, box in zip(txts, boxes, strict=True):
            # Quad p0..p3 clockwise from top left; its left edge is the row height even when
            # the page is slightly turned.
            (x0, y0), (x3, y3) = (float(v) for v in box[0]), (float(v) for v in box[3])
            ys = [float(p[1]) for p in box]
            height = math.hypot(x3 - x0, y3 - y0)
            items.append(((min(ys) + max(ys)) / 2, height, x0, str(text)))
        items.sort()
        rows: list[list[tuple[float, float, float, str]]] = []
        for item in items:
            if rows and abs(rows[-1][0][0] - item[0]) < 0.5 * max(item[1], rows[-1][0][1]):
                rows[-1].append(item)
            else:
                rows.append([item])
        out = []
        for row in rows:
            row.sort(key=lambda it: it[2])
            text = "".join(it[3] for it in row)
            out.append(_Row(text, row[0][0], max(it[1] for it in row)))
        return out


_ENGINE = _Engine()
_EXECUTOR_LOCK = threading.Lock()
_EXECUTOR: list[ThreadPoolExecutor] = []


def _executor() -> ThreadPoolExecutor:
    with _EXECUTOR_LOCK:
        if not _EXECUTOR:
            _EXECUTOR.append(ThreadPoolExecutor(max_workers=1, thread_name_prefix="mrz-ocr"))
        return _EXECUTOR[0]


def _decode(image_bytes: bytes) -> ImageArray:
    import numpy as np

    if not isinstance(image_bytes, bytes | bytearray | memoryview):
        raise MrzError("IMAGE_UNREADABLE", "image is not bytes")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(image_bytes)) as opened:
                if opened.width * opened.height > MAX_IMAGE_PIXELS:
                    raise MrzError("IMAGE_TOO_LARGE", "image has too many pixels")
                image = ImageOps.exif_transpose(opened).convert("RGB")
    except MrzError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise MrzError("IMAGE_UNREADABLE", "not a readable image") from exc
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise MrzError("IMAGE_TOO_LARGE", "image has too many pixels") from exc
    return np.ascontiguousarray(np.asarray(image, dtype=np.uint8))


def _mrz_rows(rows: list[_Row]) -> tuple[_Row, _Row, list[Correction], str, str] | None:
    # The lowest pair of consecutive MRZ-like rows whose first starts with P.
    cleaned = [(row, *clean_line(row.text, line=0)) for row in rows]
    for i in range(len(cleaned) - 2, -1, -1):
        row1, text1, corr1 = cleaned[i]
        row2, text2, corr2 = cleaned[i + 1]
        if text1.startswith("P") and is_candidate(text1) and is_candidate(text2):
            corrections = [msgspec.structs.replace(c, line=1) for c in corr1]
            corrections += [msgspec.structs.replace(c, line=2) for c in corr2]
            return row1, row2, corrections, text1, text2
    return None


def _read(image_bytes: bytes, today: date, test_mode: bool, deadline: float) -> OcrResult:
    import numpy as np

    # (1) decode
    image = _decode(image_bytes)
    # (2) rotations
    for rotation in (0, 90, 180, 270):
        if time.monotonic() > deadline:
            raise MrzError("OCR_TIMEOUT", "OCR took longer than its time bound")
        # np.rot90 turns counter-clockwise; k=3 per 90° turns the image clockwise.
        turned = np.ascontiguousarray(np.rot90(image, k=(4 - rotation // 90) % 4))
        found = _mrz_rows(_ENGINE.rows(turned))
        if found is None:
            continue
        row1, row2, corrections, text1, text2 = found
        # (3) minimum character height: refuse rather than guess
        if min(row1.height, row2.height) < MIN_ROW_HEIGHT_PX:
            raise MrzError("IMAGE_TOO_SMALL", "MRZ characters are too small to read reliably")
        # (4) repair, (5) parse
        line1, fixes1 = fix_line1(text1)
        line2, fixes2 = fix_line2(text2)
        line1, line2, lookalikes = repair_lookalikes(line1, line2)
        all_corrections = (*corrections, *fixes1, *fixes2, *lookalikes)
        passport = parse_td3((line1, line2), today=today, test_mode=test_mode)
        passport = msgspec.structs.replace(passport, corrections=all_corrections)
        return OcrResult(
            lines=passport.lines, passport=passport, corrections=all_corrections, rotation=rotation
        )
    if max(image.shape[0], image.shape[1]) < MIN_IMAGE_SIDE_PX:
        raise MrzError("IMAGE_TOO_SMALL", "image is too small to hold a readable MRZ")
    raise MrzError("MRZ_NOT_FOUND", "no two-line passport MRZ found in the image")


def read_mrz_image(
    image_bytes: bytes, *, today: date, test_mode: bool = False, timeout: float = DEFAULT_TIMEOUT
) -> OcrResult:
    """Find, read, repair and parse the MRZ of a passport data page image (PNG, JPEG, ...).

    Runs offline with rapidocr's bundled models. Repairs are limited and always reported in
    `corrections`; the result passed every rule of `parse_td3`, whose codes it raises, besides
    `IMAGE_UNREADABLE`, `IMAGE_TOO_LARGE`, `IMAGE_TOO_SMALL`, `MRZ_NOT_FOUND`, `OCR_TIMEOUT` and
    `OCR_UNAVAILABLE`. Reads are serialised on one worker thread; `timeout` (seconds) bounds
    the wait including the queue, after which a running read stops at its next step.
    """
    deadline = time.monotonic() + timeout
    future: Future[OcrResult] = _executor().submit(
        _read, bytes(image_bytes) if isinstance(image_bytes, bytearray) else image_bytes,
        today, test_mode, deadline,
    )  # fmt: skip
    try:
        return future.result(timeout=timeout)
    except FutureTimeoutError as exc:
        future.cancel()
        raise MrzError("OCR_TIMEOUT", "OCR took longer than its time bound") from exc


async def read_mrz_image_async(
    image_bytes: bytes, *, today: date, test_mode: bool = False, timeout: float = DEFAULT_TIMEOUT
) -> OcrResult:
    """`read_mrz_image` for the event loop: the read runs on the OCR worker thread.

    onnxruntime releases the GIL while it computes, so the loop keeps serving other requests.
    """
    deadline = time.monotonic() + timeout
    future = _executor().submit(_read, image_bytes, today, test_mode, deadline)
    try:
        return await asyncio.wait_for(asyncio.wrap_future(future), timeout)
    except TimeoutError as exc:
        future.cancel()
        raise MrzError("OCR_TIMEOUT", "OCR took longer than its time bound") from exc
