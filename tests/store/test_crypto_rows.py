"""The bulk paths of the key ring give exactly what the one-at-a-time paths give: the keyed
digests are RFC 2104 HMAC-SHA-256 under the lookup key, and a row encrypted in one call opens
field by field with `decrypt` (and only in its own row and column)."""

from __future__ import annotations

import hashlib
import hmac
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vrs_client import VrsError, VrsErrorCode
from vrs_client._crypto import FieldCipher, KeyRing

_LOOKUP = os.urandom(32)
_RING = KeyRing(master_key=os.urandom(32), lookup_key=_LOOKUP)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40), st.lists(st.text(max_size=30), max_size=8))
def test_keyed_digest_is_hmac_sha256(label: str, parts: list[str]) -> None:
    msg = b"\x1f".join(p.encode() for p in [label, *parts])
    assert _RING.keyed_digest(label, parts) == hmac.new(_LOOKUP, msg, hashlib.sha256).digest()


@given(st.from_regex(r"[0-9]{12}", fullmatch=True))
def test_my_number_hmac_is_hmac_sha256(my_number: str) -> None:
    expected = hmac.new(_LOOKUP, b"vrs.my_number\x1f" + my_number.encode(), hashlib.sha256)
    assert _RING.my_number_hmac(my_number) == expected.digest()


def test_row_encryption_opens_field_by_field() -> None:
    cipher = FieldCipher("282022", os.urandom(32))
    fields = [("my_number", b"123456789018"), ("name", "佐藤\u3000花子".encode()), ("sex", b"2")]
    blobs = cipher.encrypt_row("persons", "42", fields)
    assert len({b[1:13] for b in blobs}) == 3  # a fresh nonce per field
    for (column, plaintext), blob in zip(fields, blobs, strict=True):
        assert cipher.decrypt("persons", column, "42", blob) == plaintext
    with pytest.raises(VrsError) as e:
        cipher.decrypt("persons", "name", "43", blobs[1])  # moved to another row
    assert e.value.code == VrsErrorCode.FIELD_DECRYPT_FAILED
    with pytest.raises(VrsError) as e:
        cipher.decrypt("persons", "my_number", "42", blobs[1])  # moved to another column
    assert e.value.code == VrsErrorCode.FIELD_DECRYPT_FAILED
