"""Shared synthetic J-LIS material for the card tests, generated once per test session.

RSA-2048 key generation costs 50-100 ms, so every key here is made once (functools.cache) and
tests that need signed-but-hostile content reuse `spare_card_key`.
"""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime

import msgspec
from cryptography.hazmat.primitives.asymmetric import rsa

from signing import CardEvidence, TrustStore
from signing.synthetic import SyntheticCard, SyntheticJlis

NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)  # 12:00 JST
NONCE = bytes(range(32))

# The public test-card sample of specs/mynumber-text-ap.md.
SAMPLE_MY_NUMBER = "537686677188"
SAMPLE_FAMILY = "黒桐"
SAMPLE_GIVEN = "幹也"
SAMPLE_BIRTH = date(1980, 2, 17)
SAMPLE_ADDRESS = "東京都清瀬市観布子南１２－７－２０２"


class CardWorld(msgspec.Struct, frozen=True, kw_only=True):
    jlis: SyntheticJlis
    other_jlis: SyntheticJlis  # a hierarchy nobody trusts, another key ID
    twin_jlis: SyntheticJlis  # same key IDs as `jlis`, other keys
    card: SyntheticCard  # the public sample holder
    other_card: SyntheticCard  # another person, same hierarchy, own card key
    spare_card_key: rsa.RSAPrivateKey
    trust: TrustStore  # synthetic anchor, synthetic policy


@functools.cache
def card_world() -> CardWorld:
    jlis = SyntheticJlis.create()
    card = jlis.issue_card(
        my_number=SAMPLE_MY_NUMBER,
        family_name=SAMPLE_FAMILY,
        given_name=SAMPLE_GIVEN,
        birth_date=SAMPLE_BIRTH,
        sex="1",
        address=SAMPLE_ADDRESS,
    )
    other_card = jlis.issue_card(
        my_number="123456789018",
        family_name="山田",
        given_name="花子",
        birth_date=date(1990, 4, 1),
        sex="2",
        address="兵庫県尼崎市東七松町１－２３－１",
    )
    return CardWorld(
        jlis=jlis,
        other_jlis=SyntheticJlis.create(ca_number="002"),
        twin_jlis=SyntheticJlis.create(),
        card=card,
        other_card=other_card,
        spare_card_key=rsa.generate_private_key(public_exponent=65537, key_size=2048),
        trust=TrustStore.from_dict(jlis.trust_file_json(), hierarchies=["synthetic"]),
    )


def good_evidence(card: SyntheticCard | None = None) -> CardEvidence:
    """Evidence of `card` (default: the sample card) signed over NONCE."""
    return (card or card_world().card).evidence(nonce=NONCE)
