"""The synthetic J-LIS hierarchy and attestation authority: layout, files, round trips."""

from __future__ import annotations

import json
import stat
from datetime import date
from pathlib import Path

import jwt
import pytest

from signing import CardVerificationError, TrustStore, verify_card
from signing.synthetic import (
    SyntheticAttestationAuthority,
    SyntheticCard,
    SyntheticJlis,
    make_key_id,
)
from tests.unit.signing.conftest_card import NONCE, NOW, card_world


def test_key_ids_follow_the_real_layout() -> None:
    world = card_world()
    for key_id in (world.jlis.ca_key_id, world.jlis.signer_key_id):
        assert len(key_id) == 16
        assert key_id[:7] == b"9000033"
        assert key_id[7:9] == b"\x08\x05"
        assert key_id[9:12].isdigit()
        assert key_id[12:15] == b"\x00\x00\x00"
    assert make_key_id("5000033", "001", 1).hex() == "35303030303333080530303100000001"
    with pytest.raises(ValueError, match="digits"):
        make_key_id("500003", "001")


def test_card_files_have_the_real_sizes_and_headers() -> None:
    card = card_world().card
    assert [len(card.ef0001), len(card.ef0003), len(card.ef0004), len(card.ef0007)] == [
        17,
        336,
        568,
        536,
    ]
    assert card.ef0001[:3] == b"\xff\x10\x0c"
    assert card.ef0001[-2:] == b"\xff\xff"
    assert card.ef0003[:5] == bytes.fromhex("ff3082014b")
    assert card.ef0004[:10] == bytes.fromhex("7f2182023" + "35f4e820129")
    assert card.ef0004[42:51] == bytes.fromhex("9003010001" + "91820100")
    assert card.ef0004[307:312] == bytes.fromhex("5f37820100")
    assert card.ef0007[:10] == bytes.fromhex("ff50820213" + "df51820109")
    assert card.ef0007[275:280] == bytes.fromhex("df52820100")


def test_trust_file_json_is_the_contract_format() -> None:
    jlis = card_world().jlis
    data = jlis.trust_file_json("test", date(2025, 1, 1), date(2027, 3, 31))
    assert set(data) == {"anchors", "revoked_subject_key_ids"}
    (anchor,) = data["anchors"]
    assert set(anchor) == {"key_id", "hierarchy", "public_key_pem", "valid_from", "valid_until"}
    assert anchor["hierarchy"] == "test"
    assert (anchor["valid_from"], anchor["valid_until"]) == ("2025-01-01", "2027-03-31")
    assert bytes.fromhex(anchor["key_id"]) == jlis.ca_key_id


def test_card_json_round_trip(tmp_path: Path) -> None:
    world = card_world()
    path = tmp_path / "card.json"
    world.card.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["format"] == "certsvc-synthetic-card/1"
    assert document["holder"]["birth_date"] == "1980-02-17"
    assert document["card_private_key_pem"].startswith("-----BEGIN PRIVATE KEY-----")
    loaded = SyntheticCard.load(path)
    assert loaded.holder == world.card.holder
    assert loaded.address == world.card.address
    holder = verify_card(loaded.evidence(nonce=NONCE), world.trust, nonce=NONCE, now=NOW)
    assert holder == world.card.holder


def test_card_json_refuses_other_documents() -> None:
    with pytest.raises(ValueError, match="not a synthetic card"):
        SyntheticCard.from_json_bytes(b'{"format": "other"}')


def test_jlis_json_round_trip_issues_cards_the_old_anchor_accepts() -> None:
    world = card_world()
    restored = SyntheticJlis.from_json_bytes(world.jlis.to_json_bytes())
    assert restored.ef0004 == world.jlis.ef0004  # PKCS#1 v1.5 is deterministic
    card = restored.sign_files(
        ef0001=world.card.ef0001, ef0002=world.card.ef0002, card_key=world.spare_card_key
    )
    verify_card(card.evidence(nonce=NONCE), world.trust, nonce=NONCE, now=NOW)


def test_issue_card_refuses_data_a_card_cannot_hold() -> None:
    jlis = card_world().jlis
    base = {
        "my_number": "537686677188",
        "family_name": "黒桐",
        "given_name": "幹也",
        "birth_date": date(1980, 2, 17),
        "sex": "1",
        "address": "東京都",
        "card_key": card_world().spare_card_key,
    }
    for bad in ({"my_number": "537686677189"}, {"sex": "M"}, {"given_name": ""}):
        with pytest.raises(ValueError, match="must"):
            jlis.issue_card(**{**base, **bad})  # type: ignore[arg-type]


def test_cards_of_one_hierarchy_are_refused_by_production_settings() -> None:
    world = card_world()
    trust = TrustStore.from_dict(world.jlis.trust_file_json(), hierarchies=["production"])
    with pytest.raises(CardVerificationError) as info:
        verify_card(world.card.evidence(nonce=NONCE), trust, nonce=NONCE, now=NOW)
    assert info.value.code == "CARD_HIERARCHY_NOT_ALLOWED"


def test_attestation_authority_publishes_its_key_and_mints_tokens() -> None:
    authority = SyntheticAttestationAuthority.create(issuer="https://attest.invalid")
    (jwk,) = authority.jwks()["keys"]
    assert jwk["kid"] == authority.kid
    assert (jwk["kty"], jwk["crv"], jwk["alg"], jwk["use"]) == ("EC", "P-256", "ES256", "sig")
    assert "d" not in jwk
    token = authority.mint(nonce="n", audience="aud", app_id="app", app_version="1.0", now=NOW)
    header = jwt.get_unverified_header(token)
    assert (header["alg"], header["kid"]) == ("ES256", authority.kid)
    key = jwt.PyJWK(jwk).key
    claims = jwt.decode(
        token, key, algorithms=["ES256"], audience="aud", options={"verify_exp": False}
    )
    assert claims["exp"] - claims["iat"] == 300
    assert claims["jti"]
    same = SyntheticAttestationAuthority.create(
        issuer="https://attest.invalid", private_key=authority.private_key
    )
    assert same.kid == authority.kid
