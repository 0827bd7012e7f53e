"""Re-attaching kept signatures: the same bytes back, or a refusal when anything differs."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import msgspec
import pytest

import signing
from signing import FileKeyStore, ReplayError, ReplaySigner
from tests.unit.signing.test_certificate import AUTHORITY, ISSUER, make_cert, make_store


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> FileKeyStore:
    return make_store(Path(tmp_path_factory.mktemp("replay")))


def _replay(store: FileKeyStore, signatures: tuple[bytes, ...]) -> ReplaySigner:
    kid = store.shc_signer().kid
    (jwk,) = [k for k in store.jwks()["keys"] if k["kid"] == kid]
    return ReplaySigner(kid=kid, public_key=signing.jwk_public_key(jwk), signatures=signatures)


def test_replay_gives_the_same_certificate_back(store: FileKeyStore) -> None:
    cert = make_cert(kind="abroad", doses=9)
    jws = signing.sign_shc(
        cert, issuer=ISSUER, signer=store.shc_signer(), vaccination_authority=AUTHORITY
    )
    replay = _replay(store, signing.shc_signatures(jws))
    again = signing.sign_shc(cert, issuer=ISSUER, signer=replay, vaccination_authority=AUTHORITY)
    assert again == jws
    assert replay.exhausted
    seals = signing.sign_vdsnc(cert, signer=store.barcode_signer(), vaccination_authority=AUTHORITY)
    bsc = store.barcode_signer().certificate_der
    seal_replay = ReplaySigner(
        public_key=signing.certificate_public_key(bsc),
        signatures=signing.vdsnc_signatures(seals),
        certificate_der=bsc,
    )
    assert signing.sign_vdsnc(cert, signer=seal_replay, vaccination_authority=AUTHORITY) == seals


def test_replay_refuses_what_the_signatures_do_not_cover(store: FileKeyStore) -> None:
    cert = make_cert(kind="domestic")
    jws = signing.sign_shc(
        cert, issuer=ISSUER, signer=store.shc_signer(), vaccination_authority=AUTHORITY
    )
    kept = signing.shc_signatures(jws)
    # another certificate (here: another time of issue, so another nbf)
    other = msgspec.structs.replace(cert, issued_at=cert.issued_at + timedelta(seconds=1))
    with pytest.raises(ReplayError) as changed:
        signing.sign_shc(
            other, issuer=ISSUER, signer=_replay(store, kept), vaccination_authority=AUTHORITY
        )
    assert changed.value.code == "REPLAY_MISMATCH"
    # an altered signature
    flipped = (bytes([kept[0][0] ^ 1]) + kept[0][1:],)
    with pytest.raises(ReplayError):
        signing.sign_shc(
            cert, issuer=ISSUER, signer=_replay(store, flipped), vaccination_authority=AUTHORITY
        )
    # fewer signatures than parts
    with pytest.raises(ReplayError):
        signing.sign_shc(
            cert, issuer=ISSUER, signer=_replay(store, ()), vaccination_authority=AUTHORITY
        )
