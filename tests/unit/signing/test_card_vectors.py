"""Frozen golden vectors (tests/assets/card/): a genuine card and known-malicious variants."""

from __future__ import annotations

import base64
import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from signing import CardEvidence, CardHolder, CardVerificationError, load_trust_store, verify_card

ASSETS = Path(__file__).parents[2] / "assets" / "card"
_DOCUMENT: dict[str, Any] = json.loads((ASSETS / "vectors.json").read_text(encoding="utf-8"))
_NONCE = base64.b64decode(_DOCUMENT["nonce"])
_NOW = datetime.fromisoformat(_DOCUMENT["now"])
_VECTORS: list[dict[str, Any]] = _DOCUMENT["vectors"]


def _evidence(vector: dict[str, Any]) -> CardEvidence:
    return CardEvidence(**{k: base64.b64decode(v) for k, v in vector["evidence"].items()})


@pytest.mark.parametrize("vector", _VECTORS, ids=[v["name"] for v in _VECTORS])
def test_card_vector(vector: dict[str, Any]) -> None:
    trust = load_trust_store(ASSETS / "synthetic-trust.json", hierarchies=["synthetic"])
    if vector["code"] is None:
        expected = dict(_DOCUMENT["expected_holder"])
        expected["birth_date"] = date.fromisoformat(expected["birth_date"])
        holder = verify_card(_evidence(vector), trust, nonce=_NONCE, now=_NOW)
        assert holder == CardHolder(**expected)
        return
    with pytest.raises(CardVerificationError) as info:
        verify_card(_evidence(vector), trust, nonce=_NONCE, now=_NOW)
    assert info.value.code == vector["code"]


def test_card_vectors_refused_by_production_settings() -> None:
    trust = load_trust_store(ASSETS / "synthetic-trust.json", hierarchies=["production"])
    with pytest.raises(CardVerificationError) as info:
        verify_card(_evidence(_VECTORS[0]), trust, nonce=_NONCE, now=_NOW)
    assert info.value.code == "CARD_HIERARCHY_NOT_ALLOWED"
