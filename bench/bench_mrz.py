"""MRZ benchmark: parse_td3 throughput and OCR time and exact-read rate on synthetic pages.

Run: .venv/bin/python -m bench.bench_mrz   (prints, asserts nothing; tests never assert on time)
"""

from __future__ import annotations

import statistics
import time

from mrz import MrzError, parse_td3, read_mrz_image
from tests.unit.mrz.pages import (
    JAPANESE,
    TODAY,
    Degradation,
    foreign_pages,
    japanese_pages,
    render_page,
)

Page = tuple[str, bytes, tuple[str, str]]


def bench_parse(seconds: float = 2.0) -> float:
    """parse_td3 calls per second on a mix of the Japanese MRZs."""
    lines = [person.lines() for person in JAPANESE]
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for pair in lines:
            parse_td3(pair, today=TODAY)
        calls += len(lines)
    return calls / (time.perf_counter() - start)


def bench_ocr(label: str, pages: list[Page]) -> list[float]:
    """Read each page; print per-page outcome and the exact-read rate; return the timings."""
    times: list[float] = []
    exact = 0
    for kind, data, truth in pages:
        start = time.perf_counter()
        try:
            result = read_mrz_image(data, today=TODAY)
            outcome = "exact" if result.lines == truth else "different"
            exact += result.lines == truth
            fixes = len(result.corrections)
        except MrzError as exc:
            outcome, fixes = exc.code, 0
        times.append(time.perf_counter() - start)
        print(f"  {label:8} {kind:9} {times[-1]:5.2f} s  {outcome:24} corrections={fixes}")
    print(f"{label}: exact reads {exact}/{len(pages)}")
    return times


def main() -> None:
    print(f"parse_td3: {bench_parse():,.0f} calls/s")
    # Build the engine outside the timings (done once per process in production).
    read_mrz_image(render_page(JAPANESE[0]), today=TODAY)
    japanese: list[Page] = [(k, d, p.lines()) for p, k, d in japanese_pages()]
    # A second round of the Japanese people with the degradations shifted, for 20 pages.
    kinds: tuple[Degradation, ...] = ("jpeg", "clean", "blur", "rotate3", "half")
    for i, person in enumerate(JAPANESE):
        kind = kinds[i % len(kinds)]
        japanese.append((kind, render_page(person, kind, seed=50 + i), person.lines()))
    foreign: list[Page] = [(k, d, p.lines()) for p, k, d in foreign_pages()]
    times = bench_ocr("japanese", japanese) + bench_ocr("foreign", foreign)
    print(
        f"OCR seconds per page: median {statistics.median(times):.2f}, max {max(times):.2f} "
        f"({len(times)} pages)"
    )


if __name__ == "__main__":
    main()
