"""The verifier's CRL rule (SHC framework): a plain `rid` revokes every card with that rid;
`rid.<unix time>` revokes those with `nbf` before that time only; other rids revoke nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from signing import sign_shc, verify_shc_jws
from tests.unit.signing.test_certificate import AUTHORITY, ISSUER, NOW, make_cert, make_store

NBF = int(NOW.timestamp())


@pytest.mark.parametrize(
    ("entry", "revoked"),
    [
        ("{rid}", True),
        (f"{{rid}}.{NBF + 1}", True),  # revoked from a time after the card was issued
        (f"{{rid}}.{NBF}", False),  # the card's nbf is not before the time
        (f"{{rid}}.{NBF - 3600}", False),  # a card issued after the cut-off stays valid
        ("someoneelse", False),
    ],
)
def test_crl_entry_rule(tmp_path: Path, entry: str, *, revoked: bool) -> None:
    store = make_store(tmp_path)
    signer = store.shc_signer()
    rid = store.rid_for("ABCDEFGH2345")
    (jws,) = sign_shc(
        make_cert(rid=rid), issuer=ISSUER, signer=signer, vaccination_authority=AUTHORITY
    )
    jwks = {"keys": [{**k, "crlVersion": 2} for k in store.public_keys()]}
    crl = {"kid": signer.kid, "method": "rid", "ctr": 2, "rids": [entry.format(rid=rid)]}
    report = verify_shc_jws(jws, jwks=jwks, now=NOW, crls={signer.kid: crl})
    assert [f.code for f in report.findings] == (["SHC_REVOKED"] if revoked else [])
    assert report.exit_code == (1 if revoked else 0)
