"""The PKCS#11 key store against a real SoftHSM2 token: keys made in the token and kept there,
public material from the token's public keys, signatures that verify, rotation, refusals."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pkcs11 import Attribute, ObjectClass
from pkcs11.exceptions import AttributeSensitive

import signing
from certsvc.softhsm import SoftHsm
from signing import KeyStoreError, Pkcs11KeyStore, public_jwk
from tests.conftest import hsm_settings_env
from tests.unit.signing.test_certificate import AUTHORITY, ISSUER, NOW, make_cert

LABEL = "certsvc-unit"


def _store(hsm: SoftHsm, label: str = LABEL, pin: str | None = None) -> Pkcs11KeyStore:
    pin = pin if pin is not None else hsm.pin_files[label].read_text().strip()
    return Pkcs11KeyStore(module=hsm.module, token_label=label, pin=pin)


def _session(store: Pkcs11KeyStore) -> Any:
    return store._open()


@pytest.fixture
def token(softhsm: SoftHsm) -> Iterator[Pkcs11KeyStore]:
    """The unit token, emptied of certsvc objects, with a fresh set of keys created in it."""
    store = _store(softhsm)
    for obj in list(_session(store).get_objects()):
        if str(obj[Attribute.LABEL]).startswith("certsvc-"):
            obj.destroy()
    store.create(now=NOW)
    yield store
    store.close()


def _objects(store: Pkcs11KeyStore, object_class: ObjectClass) -> list[Any]:
    return list(_session(store).get_objects({Attribute.CLASS: object_class}))


def test_pkcs11_private_keys_are_made_in_the_token_and_never_leave_it(
    token: Pkcs11KeyStore,
) -> None:
    secrets_ = [*_objects(token, ObjectClass.PRIVATE_KEY), *_objects(token, ObjectClass.SECRET_KEY)]
    labels = sorted(str(k[Attribute.LABEL]) for k in secrets_)
    assert labels == ["certsvc-bsc-0001", "certsvc-csca", "certsvc-rid", "certsvc-shc-0001"]
    for key in secrets_:
        assert key[Attribute.LOCAL] is True  # generated on the token, not imported
        assert key[Attribute.SENSITIVE] is True
        assert key[Attribute.EXTRACTABLE] is False
        assert key[Attribute.NEVER_EXTRACTABLE] is True
        with pytest.raises(AttributeSensitive):  # the token will not hand out the key
            key[Attribute.VALUE]


def test_pkcs11_public_material_comes_from_the_token_keys(token: Pkcs11KeyStore) -> None:
    publics = {
        str(k[Attribute.LABEL]): signing._pkcs11._public_key(k)
        for k in _objects(token, ObjectClass.PUBLIC_KEY)
    }
    # JWKS: the SHC key's public half, as the token holds it
    (jwk,) = token.jwks()["keys"]
    assert jwk == public_jwk(publics["certsvc-shc-0001"])
    assert token.shc_signer().kid == jwk["kid"]
    # the CSCA certificate carries the token's CSCA key and is self-signed by it
    csca = x509.load_pem_x509_certificate(token.csca_certificate_pem())
    assert csca.public_key() == publics["certsvc-csca"]
    csca.verify_directly_issued_by(csca)
    # the barcode signer certificate carries the token's key and the CSCA signed it (DER)
    bsc = x509.load_der_x509_certificate(token.barcode_signer().certificate_der)
    assert bsc.public_key() == publics["certsvc-bsc-0001"]
    bsc.verify_directly_issued_by(csca)
    crl = x509.load_pem_x509_crl(token.csca_crl_pem())
    assert crl.is_signature_valid(publics["certsvc-csca"])
    # the certificates are public objects in the token: any node that opens it sees them
    certs = {str(c[Attribute.LABEL]): bytes(c[Attribute.VALUE]) for c in _objects(
        token, ObjectClass.CERTIFICATE)}  # fmt: skip
    assert certs["certsvc-bsc-0001"] == token.barcode_signer().certificate_der
    assert certs["certsvc-csca"] == csca.public_bytes(serialization.Encoding.DER)


def test_pkcs11_signs_certificates_that_verify_and_differ_each_time(
    token: Pkcs11KeyStore,
) -> None:
    cert = make_cert(kind="abroad", rid=token.rid_for("ABCDEFGH2345"))
    jws = signing.sign_shc(
        cert, issuer=ISSUER, signer=token.shc_signer(), vaccination_authority=AUTHORITY
    )
    for one in jws:
        report = signing.verify_shc_jws(one, jwks=token.jwks(), now=NOW)
        assert report.valid, report.findings
    seals = signing.sign_vdsnc(cert, signer=token.barcode_signer(), vaccination_authority=AUTHORITY)
    for seal in seals:
        vreport = signing.verify_vdsnc(
            seal, csca_pem=token.csca_certificate_pem(), crl_pem=token.csca_crl_pem(), now=NOW
        )
        assert vreport.valid, vreport.findings
    # randomized ECDSA: the same certificate signs to other bytes (hence kept signatures)
    again = signing.sign_shc(
        cert, issuer=ISSUER, signer=token.shc_signer(), vaccination_authority=AUTHORITY
    )
    assert again != jws
    # rids are keyed in the token: stable per (kid, id), different across ids
    assert token.rid_for("ABCDEFGH2345") == token.rid_for("ABCDEFGH2345")
    assert token.rid_for("ABCDEFGH2345") != token.rid_for("ABCDEFGH2346")


def test_pkcs11_rotation_keeps_old_public_keys_and_revokes_signers(
    softhsm: SoftHsm, token: Pkcs11KeyStore
) -> None:
    old_kid = token.shc_signer().kid
    old_bsc = x509.load_der_x509_certificate(token.barcode_signer().certificate_der)
    new_kid = token.rotate_shc(now=NOW)
    assert token.shc_signer().kid == new_kid != old_kid
    assert [k["kid"] for k in token.jwks()["keys"]] == [old_kid, new_kid]
    new_bsc = token.rotate_barcode_signer(now=NOW + timedelta(days=1))
    assert new_bsc.serial_number != old_bsc.serial_number
    token.revoke_barcode_signer(old_bsc.serial_number, now=NOW + timedelta(days=1))
    crl = x509.load_pem_x509_crl(token.csca_crl_pem())
    assert crl.get_revoked_certificate_by_serial_number(old_bsc.serial_number) is not None
    token.update_shc_crl(old_kid, ["AAAAAAAAAAA"])
    assert token.jwks()["keys"][0]["crlVersion"] == 1

    # another store of the same token (a second node) reads the same state
    other = _store(softhsm)
    other.load()
    assert other.jwks() == token.jwks()
    assert other.barcode_signer().certificate_der == token.barcode_signer().certificate_der
    assert other.csca_crl_pem() == token.csca_crl_pem()
    assert other.shc_crl(old_kid) == token.shc_crl(old_kid)


def test_pkcs11_refusals_name_what_is_wrong(softhsm: SoftHsm, token: Pkcs11KeyStore) -> None:
    with pytest.raises(KeyStoreError) as exists:
        token.create(now=NOW)
    assert exists.value.code == "KEYS_EXIST"
    with pytest.raises(KeyStoreError) as pin:
        _store(softhsm, pin="000000").load()
    assert pin.value.code == "KEYS_TOKEN_PIN_INCORRECT"
    with pytest.raises(KeyStoreError) as label:
        Pkcs11KeyStore(module=softhsm.module, token_label="no-such-token", pin="1234").load()
    assert label.value.code == "KEYS_TOKEN_UNAVAILABLE"
    with pytest.raises(KeyStoreError) as module:
        Pkcs11KeyStore(module=softhsm.root / "missing.so", token_label=LABEL, pin="1234").load()
    assert module.value.code == "KEYS_TOKEN_UNAVAILABLE"


def _keys_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "certsvc", "keys", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_keys_command_works_against_a_token(softhsm: SoftHsm, db_url: str) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CERTSVC_")},
        **softhsm.env(),
        **hsm_settings_env(softhsm, "certsvc-cli"),
        "CERTSVC_SHC_ISSUER": ISSUER,
        # `keys rotate` records who rotated which key in the service-wide audit chain.
        "CERTSVC_DATABASE_URL": db_url,
    }
    created = _keys_cli(env, "create")
    assert created.returncode == 0, created.stderr
    assert "token 'certsvc-cli'" in created.stdout
    assert "VDS-NC barcode signers" in created.stdout
    assert "CN=VRS Barcode Signer 0001" in created.stdout
    rotated = _keys_cli(env, "rotate", "--shc", "--barcode-signer")
    assert rotated.returncode == 0, rotated.stderr
    assert "new SHC key:" in rotated.stdout
    exported = _keys_cli(env, "export-csca")
    csca = x509.load_pem_x509_certificate(exported.stdout.encode())
    csca.verify_directly_issued_by(csca)
    again = _keys_cli(env, "create")
    assert again.returncode == 1
    assert "KEYS_EXIST" in again.stderr
    assert "Traceback" not in again.stderr
    wrong = {**env, "CERTSVC_PKCS11_PIN_FILE": str(softhsm.pin_files["certsvc-unit"])}
    refused = _keys_cli(wrong, "list")
    assert refused.returncode == 1
    assert "KEYS_TOKEN_PIN_INCORRECT" in refused.stderr
    missing = {k: v for k, v in env.items() if k != "CERTSVC_PKCS11_PIN_FILE"}
    unset = _keys_cli(missing, "list")
    assert unset.returncode != 0
    assert "CERTSVC_PKCS11_PIN_FILE" in unset.stderr
    assert "Traceback" not in unset.stderr


def test_pkcs11_another_node_picks_up_a_rotation_on_refresh(
    token: Pkcs11KeyStore, softhsm: SoftHsm
) -> None:
    other = _store(softhsm)
    try:
        other.load()
        assert other.refresh() is False  # nothing changed in the token
        old_kid = other.shc_signer().kid
        new_kid = token.rotate_shc(now=NOW)
        token.rotate_barcode_signer(now=NOW)
        assert other.refresh() is True
        assert other.shc_signer().kid == new_kid != old_kid
        assert [k["kid"] for k in other.public_keys()][-2:] == [old_kid, new_kid]
        assert all("crlVersion" not in k for k in other.public_keys())
        assert other.barcode_signer().certificate_der == token.barcode_signer().certificate_der
    finally:
        other.close()
