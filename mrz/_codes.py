"""Issuing-state and nationality codes accepted in a TD3 MRZ (ICAO 9303-3 §5)."""

from __future__ import annotations

import json
from importlib import resources

# ICAO 9303-3 §5: codes that are not ISO 3166-1 alpha-3 but may appear in an MRZ.
ICAO_ADDITIONS: frozenset[str] = frozenset(
    {
        "D",  # Germany (one letter, padded `D<<`)
        "GBD", "GBN", "GBO", "GBP", "GBS",  # British nationals of various kinds
        "RKS",  # Kosovo
        "EUE",  # European Union
        "UNO", "UNA", "UNK",  # United Nations
        "XBA", "XIM", "XCC", "XCE", "XCO", "XEC", "XPO", "XES", "XMP", "XOM", "XDC",
        "XXA",  # stateless person
        "XXB",  # refugee (1951 Convention)
        "XXC",  # refugee (other)
        "XXX",  # nationality unspecified
    }
)  # fmt: skip

# Utopia: appears only in ICAO specimens.
TEST_STATES: frozenset[str] = frozenset({"UTO"})


def _load_iso3166() -> frozenset[str]:
    text = resources.files(__package__).joinpath("iso3166_alpha3.json").read_text("utf-8")
    codes = json.loads(text)["codes"]
    return frozenset(str(code) for code in codes)


ISO3166_ALPHA3: frozenset[str] = _load_iso3166()


def is_known_state(code: str, *, test_mode: bool) -> bool:
    """Whether `code` (fillers already removed) is an accepted state or organisation code."""
    if code in ISO3166_ALPHA3 or code in ICAO_ADDITIONS:
        return True
    return test_mode and code in TEST_STATES
