"""Synthetic passport data pages, rendered at test time with Pillow and an OCR-B font.

The people are invented; the Japanese ones follow MOFA conventions (JPN, two letters + seven
digits, passport Hepburn names). Used by the OCR tests and by bench/bench_mrz.py.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

from PIL import Image, ImageDraw, ImageFilter, ImageFont

from mrz import compose_td3

FONT_PATH = Path(__file__).resolve().parents[2] / "assets" / "mrz" / "fonts" / "OCRB.otf"
Degradation = Literal["clean", "blur", "rotate3", "half", "jpeg", "rotate180", "tiny"]
DEGRADATIONS: tuple[Degradation, ...] = ("clean", "blur", "rotate3", "half", "jpeg")
TODAY = date(2026, 11, 27)


@dataclass(frozen=True, kw_only=True)
class Person:
    """The fields of one synthetic passport."""

    issuing_state: str
    family_name: str
    given_names: str
    number: str
    nationality: str
    birth_date: date
    sex: str
    expiry_date: date
    personal_number: str = ""

    def lines(self) -> tuple[str, str]:
        """The MRZ of this passport."""
        return compose_td3(
            issuing_state=self.issuing_state,
            family_name=self.family_name,
            given_names=self.given_names,
            number=self.number,
            nationality=self.nationality,
            birth_date=self.birth_date,
            sex=self.sex,
            expiry_date=self.expiry_date,
            personal_number=self.personal_number,
        )


def _jpn(family: str, given: str, number: str, birth: date, sex: str, expiry: date) -> Person:
    return Person(
        issuing_state="JPN",
        family_name=family,
        given_names=given,
        number=number,
        nationality="JPN",
        birth_date=birth,
        sex=sex,
        expiry_date=expiry,
    )


JAPANESE: tuple[Person, ...] = (
    _jpn("SATO", "HANAKO", "TR1234567", date(1990, 1, 1), "F", date(2030, 1, 1)),
    _jpn("TANAKA", "HANAKO", "TS2468013", date(1985, 3, 15), "F", date(2031, 3, 14)),
    _jpn("SUZUKI", "ICHIRO", "TK0000018", date(2000, 1, 1), "M", date(2034, 12, 31)),
    _jpn("KONDOU", "TOMOKO", "TZ7654321", date(1969, 7, 6), "F", date(2029, 7, 5)),
    _jpn("OOTA", "YOSHIO", "MU5550123", date(1958, 11, 30), "M", date(2028, 2, 29)),
    _jpn("SATOH", "YOKO", "TH3141592", date(1977, 5, 5), "F", date(2035, 5, 4)),
    _jpn("YAMAMOTO", "KENJI", "TD2718281", date(2012, 8, 20), "M", date(2027, 8, 19)),
    _jpn("WATANABE", "MISAKI", "TE1618033", date(1995, 12, 24), "F", date(2033, 6, 30)),
    _jpn("ITO", "SHUNSUKE", "TF9988776", date(1981, 2, 28), "M", date(2030, 10, 10)),
    _jpn("NAKAMURA", "AOI", "TG4455667", date(2019, 4, 1), "F", date(2029, 3, 31)),
)

FOREIGN: tuple[Person, ...] = (
    Person(
        issuing_state="USA", family_name="BROWN", given_names="OLIVIA ROSE", number="563829104",
        nationality="USA", birth_date=date(1988, 6, 9), sex="F", expiry_date=date(2032, 6, 8),
    ),
    Person(
        issuing_state="D", family_name="MUSTERMANN", given_names="ERIKA", number="C01X0006H",
        nationality="D", birth_date=date(1964, 8, 12), sex="F", expiry_date=date(2030, 10, 31),
    ),
    Person(
        issuing_state="FRA", family_name="DUPONT", given_names="JEAN PIERRE", number="19AB23456",
        nationality="FRA", birth_date=date(1972, 9, 3), sex="M", expiry_date=date(2029, 1, 15),
    ),
    Person(
        issuing_state="VNM", family_name="NGUYEN", given_names="VAN AN", number="C1234567",
        nationality="VNM", birth_date=date(1999, 10, 2), sex="M", expiry_date=date(2031, 4, 1),
        personal_number="079099001234",
    ),
)  # fmt: skip


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    # Public-domain OCR-B copied from Debian's fonts-ocr-b; Pillow's default font otherwise.
    if FONT_PATH.exists():
        return ImageFont.truetype(str(FONT_PATH), size)
    return ImageFont.load_default(size=size)


def render_page(person: Person, degradation: Degradation = "clean", *, seed: int = 0) -> bytes:
    """A data page of `person` as PNG (JPEG for `jpeg`) bytes, degraded as asked.

    Clean pages are 1250x880 px with MRZ characters about 26 px tall; `half` halves that,
    `tiny` divides it by five (below the readable minimum).
    """
    width, height = 1250, 880
    page = Image.new("RGB", (width, height), (246, 242, 232))
    draw = ImageDraw.Draw(page)
    label, text = _font(18), _font(26)
    draw.text((40, 30), "PASSPORT", fill=(60, 40, 90), font=_font(34))
    draw.text((720, 36), "JAPAN" if person.issuing_state == "JPN" else "", fill=(60, 40, 90),
              font=text)  # fmt: skip
    draw.rectangle((40, 110, 330, 480), fill=(200, 200, 205), outline=(120, 120, 120))
    rows = (
        ("Type / Country code / Passport No.",
         f"P   {person.issuing_state}   {person.number}"),
        ("Surname", person.family_name),
        ("Given name", person.given_names),
        ("Nationality", person.nationality),
        ("Date of birth / Sex", f"{person.birth_date:%d %b %Y}".upper() + f"   {person.sex}"),
        ("Date of expiry", f"{person.expiry_date:%d %b %Y}".upper()),
    )  # fmt: skip
    for i, (caption, value) in enumerate(rows):
        y = 110 + i * 62
        draw.text((370, y), caption, fill=(90, 90, 110), font=label)
        draw.text((370, y + 22), value, fill=(20, 20, 20), font=text)
    line1, line2 = person.lines()
    mrz_font = _font(36)
    draw.text((50, 730), line1, fill=(10, 10, 10), font=mrz_font)
    draw.text((50, 790), line2, fill=(10, 10, 10), font=mrz_font)
    return _degrade(page, degradation, seed=seed)


def _degrade(page: Image.Image, degradation: Degradation, *, seed: int) -> bytes:
    fmt = "PNG"
    if degradation == "blur":
        page = page.filter(ImageFilter.GaussianBlur(radius=1.6))
    elif degradation == "rotate3":
        page = page.rotate(
            3, expand=True, fillcolor=(255, 255, 255), resample=Image.Resampling.BICUBIC
        )
    elif degradation == "rotate180":
        page = page.rotate(180)
    elif degradation == "half":
        page = page.resize((page.width // 2, page.height // 2), Image.Resampling.LANCZOS)
    elif degradation == "tiny":
        page = page.resize((page.width // 5, page.height // 5), Image.Resampling.LANCZOS)
    elif degradation == "jpeg":
        rng = random.Random(seed)
        noisy = page.copy()
        pixels = noisy.load()
        if pixels is not None:
            for _ in range(page.width * page.height // 25):
                x, y = rng.randrange(page.width), rng.randrange(page.height)
                shade = rng.randrange(0, 256)
                pixels[x, y] = (shade, shade, shade)
        page = noisy
        fmt = "JPEG"
    out = io.BytesIO()
    page.save(out, format=fmt, **({"quality": 40} if fmt == "JPEG" else {}))
    return out.getvalue()


def japanese_pages() -> list[tuple[Person, Degradation, bytes]]:
    """Ten Japanese pages, each degradation twice (clean and degraded together)."""
    return [
        (person, DEGRADATIONS[i % len(DEGRADATIONS)],
         render_page(person, DEGRADATIONS[i % len(DEGRADATIONS)], seed=i))
        for i, person in enumerate(JAPANESE)
    ]  # fmt: skip


def foreign_pages() -> list[tuple[Person, Degradation, bytes]]:
    """Four foreign pages, one clean and three degraded."""
    kinds: tuple[Degradation, ...] = ("clean", "jpeg", "rotate3", "blur")
    return [
        (person, kind, render_page(person, kind, seed=100 + i))
        for i, (person, kind) in enumerate(zip(FOREIGN, kinds, strict=True))
    ]
