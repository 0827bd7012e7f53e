"""The J-LIS trust file (contracts.md §3)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from signing import SigningError, TrustStore, TrustStoreError, load_trust_store
from tests.unit.signing.conftest_card import card_world


def _trust_file(**anchor_changes: Any) -> dict[str, Any]:
    data = card_world().jlis.trust_file_json()
    data["anchors"][0].update(anchor_changes)
    return data


def _refused(data: dict[str, Any] | bytes, code: str = "TRUST_FILE_INVALID") -> None:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    with pytest.raises(TrustStoreError) as info:
        TrustStore.from_json_bytes(raw, hierarchies=["synthetic"])
    assert info.value.code == code
    assert isinstance(info.value, SigningError)


def _pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def test_load_trust_store_from_a_file(tmp_path: Path) -> None:
    world = card_world()
    data = world.jlis.trust_file_json(revoked_subject_key_ids=(b"\xab" * 16,))
    path = tmp_path / "trust.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    store = load_trust_store(path, hierarchies=("synthetic", "test"))
    anchor = store.anchors[world.jlis.ca_key_id]
    assert anchor.hierarchy == "synthetic"
    assert anchor.public_key.public_numbers() == world.jlis.ca_key.public_key().public_numbers()
    assert store.revoked_subject_key_ids == frozenset({b"\xab" * 16})
    assert store.hierarchies == frozenset({"synthetic", "test"})
    assert "BEGIN" not in repr(store)


def test_key_ids_in_either_case() -> None:
    key_id = card_world().jlis.ca_key_id
    for text in (key_id.hex(), key_id.hex().upper()):
        store = TrustStore.from_dict(_trust_file(key_id=text), hierarchies=["synthetic"])
        assert key_id in store.anchors


def test_revoked_list_is_optional() -> None:
    data = _trust_file()
    del data["revoked_subject_key_ids"]
    assert TrustStore.from_dict(data, hierarchies=["synthetic"]).revoked_subject_key_ids == set()


def test_missing_file_is_unreadable(tmp_path: Path) -> None:
    with pytest.raises(TrustStoreError) as info:
        load_trust_store(tmp_path / "absent.json", hierarchies=["production"])
    assert info.value.code == "TRUST_FILE_UNREADABLE"


@pytest.mark.parametrize(
    "changes",
    [
        {"key_id": "00" * 15},
        {"key_id": "zz" * 16},
        {"key_id": "0x" + "00" * 15},
        {"hierarchy": "staging"},
        {"valid_from": "2026/01/01"},
        {"valid_from": "2030-01-01", "valid_until": "2029-12-31"},
        {"public_key_pem": "not a key"},
        {"public_key_pem": 42},
        {"comment": "unknown field"},
    ],
)
def test_invalid_anchor(changes: dict[str, Any]) -> None:
    _refused(_trust_file(**changes))


def test_non_rsa_2048_keys_refused() -> None:
    _refused(_trust_file(public_key_pem=_pem(ec.generate_private_key(ec.SECP256R1()))))
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - shows a weak key is refused
    _refused(_trust_file(public_key_pem=_pem(small)))


def test_duplicate_key_id_refused() -> None:
    data = _trust_file()
    data["anchors"].append(dict(data["anchors"][0]))
    _refused(data)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not json",
        b"[]",
        b'{"anchors": {}}',
        b"{}",
        b'{"anchors": [], "revoked_subject_key_ids": ["x"]}',
    ],
)
def test_not_a_trust_file(raw: bytes) -> None:
    _refused(raw)


@pytest.mark.parametrize("hierarchies", [[], ["staging"], ["production", "prod"], "production"])
def test_hierarchies_invalid(hierarchies: Any) -> None:
    with pytest.raises(TrustStoreError) as info:
        TrustStore.from_dict(_trust_file(), hierarchies=hierarchies)
    assert info.value.code == "TRUST_HIERARCHIES_INVALID"
