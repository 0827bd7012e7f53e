"""The file key store: layout, permissions, rotation, CRLs, no key material in repr."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from signing import FileKeyStore, KeyStore, KeyStoreError, sign_shc, verify_shc_jws
from tests.unit.signing.test_certificate import AUTHORITY, ISSUER, NOW, make_cert, make_store


def test_layout_and_permissions(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    root = tmp_path / "keys"
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    assert files == [
        "generation",
        "rid-secret",
        "shc/0001.key.pem",
        "vdsnc/bsc-0001.cert.pem",
        "vdsnc/bsc-0001.key.pem",
        "vdsnc/csca.cert.pem",
        "vdsnc/csca.crl.json",
        "vdsnc/csca.crl.pem",
        "vdsnc/csca.key.pem",
    ]
    for p in root.rglob("*"):
        mode = stat.S_IMODE(p.stat().st_mode)
        assert mode == (0o700 if p.is_dir() else 0o600), p
    assert "PRIVATE" not in repr(store) and "BEGIN" not in repr(store.shc_signer())  # noqa: PT018
    _: KeyStore = store  # the file store satisfies the protocol


def test_create_twice_refused(tmp_path: Path) -> None:
    make_store(tmp_path)
    with pytest.raises(KeyStoreError) as exc:
        FileKeyStore(tmp_path / "keys").create(now=NOW)
    assert exc.value.code == "KEYS_EXIST"


def test_missing_keys(tmp_path: Path) -> None:
    with pytest.raises(KeyStoreError) as exc:
        FileKeyStore(tmp_path / "nothing").jwks()
    assert exc.value.code == "KEYS_MISSING"


def test_rotation_keeps_old_public_keys(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    cert = make_cert()
    (old_card,) = sign_shc(cert, issuer=ISSUER, signer=store.shc_signer(),
                           vaccination_authority=AUTHORITY)  # fmt: skip
    old_kid = store.shc_signer().kid
    new_kid = store.rotate_shc(now=NOW)
    assert new_kid != old_kid
    reloaded = FileKeyStore(tmp_path / "keys")
    assert reloaded.shc_signer().kid == new_kid
    assert [k["kid"] for k in reloaded.jwks()["keys"]] == [old_kid, new_kid]
    assert all("d" not in k for k in reloaded.jwks()["keys"])
    assert verify_shc_jws(old_card, jwks=reloaded.jwks(), now=NOW).exit_code == 0
    old_bsc = store.barcode_signer().certificate_der
    store.rotate_barcode_signer(now=NOW)
    assert FileKeyStore(tmp_path / "keys").barcode_signer().certificate_der != old_bsc


def test_crl_persisted(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    kid = store.shc_signer().kid
    store.update_shc_crl(kid, ["abc", "abc", "def.1700000000"])
    again = FileKeyStore(tmp_path / "keys")
    assert again.shc_crl(kid) == {"kid": kid, "method": "rid", "ctr": 1,
                                  "rids": ["abc", "def.1700000000"]}  # fmt: skip
    assert again.jwks()["keys"][0]["crlVersion"] == 1
    with pytest.raises(KeyStoreError) as exc:
        again.update_shc_crl(kid, ["not a rid!"])
    assert exc.value.code == "KEYS_BAD_RID"
    with pytest.raises(KeyStoreError) as exc:
        again.update_shc_crl("unknown", [])
    assert exc.value.code == "KEYS_UNKNOWN_KID"


def test_refresh_picks_up_a_rotation_by_another_process(tmp_path: Path) -> None:
    running = make_store(tmp_path)
    old_kid, old_bsc = running.shc_signer().kid, running.barcode_signer().certificate_der
    assert running.refresh() is False  # nothing changed: no reload
    operator = FileKeyStore(tmp_path / "keys")
    new_kid = operator.rotate_shc(now=NOW)
    operator.rotate_barcode_signer(now=NOW)
    assert running.shc_signer().kid == old_kid  # not before the refresh
    assert running.refresh() is True
    assert running.shc_signer().kid == new_kid != old_kid
    assert running.barcode_signer().certificate_der != old_bsc
    assert [k["kid"] for k in running.public_keys()] == [old_kid, new_kid]
    assert all("crlVersion" not in k and "d" not in k for k in running.public_keys())
    assert len(running.barcode_signer_certificates()) == 2


def test_refresh_keeps_the_keys_when_the_directory_is_half_written(tmp_path: Path) -> None:
    running = make_store(tmp_path)
    kid = running.shc_signer().kid
    (tmp_path / "keys" / "shc" / "0002.key.pem").write_bytes(b"not a key")
    (tmp_path / "keys" / "generation").write_text("7\n")
    with pytest.raises(KeyStoreError) as exc:
        running.refresh()
    assert exc.value.code == "KEYS_UNREADABLE"
    assert running.shc_signer().kid == kid


def test_a_compromised_key_leaves_the_key_set_after_removal_and_rotation(tmp_path: Path) -> None:
    # docs/keys-and-revocation.md: move the key file out, then rotate.
    running = make_store(tmp_path)
    first = running.shc_signer().kid
    operator = FileKeyStore(tmp_path / "keys")
    compromised = operator.rotate_shc(now=NOW)
    assert running.refresh() is True
    (tmp_path / "keys" / "shc" / "0002.key.pem").rename(tmp_path / "compromised.pem")
    replacement = operator.rotate_shc(now=NOW)
    assert running.refresh() is True
    assert [k["kid"] for k in running.public_keys()] == [first, replacement]
    assert compromised not in {k["kid"] for k in running.public_keys()}
    assert running.shc_signer().kid == replacement
