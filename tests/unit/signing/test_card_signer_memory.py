"""verify_card remembers an EF0004 it verified (the signing key's certificate, the same on every
card of that key): what it remembers never lets a card through that a fresh verification would
refuse."""

from __future__ import annotations

import pytest

from signing import CardVerificationError, TrustStore, verify_card
from tests.unit.signing.conftest_card import NONCE, NOW, card_world, good_evidence


def _code(evidence_trust: TrustStore) -> str:
    with pytest.raises(CardVerificationError) as info:
        verify_card(good_evidence(), evidence_trust, nonce=NONCE, now=NOW)
    return info.value.code


def test_a_remembered_certificate_is_not_trusted_under_another_anchor_key() -> None:
    world = card_world()
    verify_card(good_evidence(), world.trust, nonce=NONCE, now=NOW)  # now remembered
    # The same key ID pinned to another key (a trust file replaced): verified again, refused.
    twin = TrustStore.from_dict(world.twin_jlis.trust_file_json(), hierarchies=["synthetic"])
    assert _code(twin) == "CARD_CERTIFICATE_SIGNATURE_INVALID"


def test_a_remembered_certificate_still_meets_the_deny_list_and_the_policy() -> None:
    world = card_world()
    verify_card(good_evidence(), world.trust, nonce=NONCE, now=NOW)  # now remembered
    revoked = TrustStore.from_dict(
        world.jlis.trust_file_json(revoked_subject_key_ids=(world.jlis.signer_key_id,)),
        hierarchies=["synthetic"],
    )
    assert _code(revoked) == "CARD_SIGNER_REVOKED"
    production_only = TrustStore.from_dict(world.jlis.trust_file_json(), hierarchies=["production"])
    assert _code(production_only) == "CARD_HIERARCHY_NOT_ALLOWED"


def test_a_remembered_certificate_does_not_vouch_for_the_rest_of_a_card() -> None:
    world = card_world()
    evidence = good_evidence()
    verify_card(evidence, world.trust, nonce=NONCE, now=NOW)  # now remembered
    with pytest.raises(CardVerificationError) as info:
        verify_card(evidence, world.trust, nonce=b"another nonce of 32 bytes.......", now=NOW)
    assert info.value.code == "CARD_CHALLENGE_SIGNATURE_INVALID"
