"""ICAO VDS-NC seals, the CSCA / barcode signer profile, and the verifier's negatives."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from cryptography import x509

from signing import (
    FileKeyStore,
    VdsncError,
    decode_qr_image,
    mrz_name,
    qr_png,
    seal_bytes,
    sign_vdsnc,
    vdsnc_qr_symbol,
    verify_vdsnc,
)
from signing._vdsnc import DOCUMENT_TYPE_LIST_DER
from tests.unit.signing.test_certificate import AUTHORITY, NOW, make_cert, make_store


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> FileKeyStore:
    return make_store(tmp_path_factory.mktemp("vdsnc"))


def _verify(store: FileKeyStore, seal: Any) -> list[str]:
    report = verify_vdsnc(
        seal, csca_pem=store.csca_certificate_pem(), crl_pem=store.csca_crl_pem(), now=NOW
    )
    return [f.code for f in report.findings]


@pytest.mark.parametrize("doses", [1, 3, 10, 20])
def test_round_trip_through_qr(store: FileKeyStore, doses: int) -> None:
    cert = make_cert(kind="abroad", doses=doses)
    seals = sign_vdsnc(cert, signer=store.barcode_signer(), vaccination_authority=AUTHORITY)
    seqs = []
    for seal in seals:
        payload = seal_bytes(seal)
        symbol = vdsnc_qr_symbol(payload)
        assert symbol.segments == (("byte", len(payload)),)
        assert symbol.error == "M"
        assert symbol.version <= 40
        (decoded,) = decode_qr_image(qr_png(symbol, scale=2))
        assert decoded.raw == payload
        assert _verify(store, decoded.raw) == []
        seqs += [ve["vd"][0]["seq"] for ve in seal["data"]["msg"]["ve"]]
    assert seqs == list(range(1, doses + 1))
    if doses == 20:
        assert len(seals) > 1


def test_seal_shape(store: FileKeyStore) -> None:
    cert = make_cert(kind="abroad", doses=1)
    (seal,) = sign_vdsnc(cert, signer=store.barcode_signer(), vaccination_authority=AUTHORITY)
    assert set(seal) == {"data", "sig"}
    assert seal["data"] == {
        "hdr": {"t": "icao.vacc", "v": 1, "is": "JPN"},
        "msg": {
            "uvci": "ABCDEFGH2345",
            "pid": {"n": "YAMADA TARO", "dob": "1980-01-02", "i": "TR1234567"},
            "ve": [
                {
                    "des": "XM0GQ8",
                    "nam": "SPIKEVAX",
                    "dis": "RA01.0",
                    "vd": [
                        {
                            "dvc": "2021-06-17",
                            "seq": 1,
                            "ctr": "JPN",
                            "adm": AUTHORITY,
                            "lot": cert.doses[0].lot,
                        }
                    ],
                }
            ],
        },
    }
    sig = seal["sig"]
    assert sig["alg"] == "ES256"
    assert len(sig["sigvl"]) % 4 == 0 and sig["sigvl"].endswith("=")  # 64 bytes → 88 with =  # noqa: PT018
    assert base64.urlsafe_b64decode(sig["cer"]) == store.barcode_signer().certificate_der
    # signature over JCS(data), checked with the certificate's key independently
    key = x509.load_der_x509_certificate(base64.urlsafe_b64decode(sig["cer"])).public_key()
    raw = base64.urlsafe_b64decode(sig["sigvl"])
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    assert isinstance(key, ec.EllipticCurvePublicKey)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    key.verify(der, rfc8785.dumps(seal["data"]), ec.ECDSA(hashes.SHA256()))


def test_deterministic(store: FileKeyStore) -> None:
    cert = make_cert(kind="abroad", doses=2)
    a = sign_vdsnc(cert, signer=store.barcode_signer(), vaccination_authority=AUTHORITY)
    b = sign_vdsnc(cert, signer=store.barcode_signer(), vaccination_authority=AUTHORITY)
    assert a == b


def test_mrz_name_rule() -> None:
    assert mrz_name("YAMADA", "TARO") == "YAMADA TARO"
    assert mrz_name("YAMADA", None) == "YAMADA"
    long_family = "A" * 40
    assert mrz_name(long_family, "TARO") == "A" * 31 + " " + "TARO"
    n = mrz_name("WOLFESCHLEGELSTEINHAUSEN", "HUBERT BLAINE WOLFE")
    assert len(n) <= 39 and n == "WOLFESCHLEGELSTEINHAUSEN HUBERT BLAINE"  # noqa: PT018


def test_refuses_non_ascii_and_long_fields(store: FileKeyStore) -> None:
    with pytest.raises(VdsncError) as exc:
        sign_vdsnc(make_cert(kind="abroad"), signer=store.barcode_signer(),
                   vaccination_authority="厚生労働省")  # fmt: skip
    assert exc.value.code == "VDSNC_NON_ASCII"
    with pytest.raises(VdsncError) as exc:
        sign_vdsnc(make_cert(kind="abroad"), signer=store.barcode_signer(),
                   vaccination_authority="X" * 21)  # fmt: skip
    assert exc.value.code == "VDSNC_FIELD_TOO_LONG"
    with pytest.raises(VdsncError) as exc:
        sign_vdsnc(make_cert(), signer=store.barcode_signer(), vaccination_authority=AUTHORITY)
    assert exc.value.code == "VDSNC_NOT_ABROAD"


def test_certificate_profile(store: FileKeyStore) -> None:
    csca = x509.load_pem_x509_certificate(store.csca_certificate_pem())
    bsc = x509.load_der_x509_certificate(store.barcode_signer().certificate_der)
    bc = csca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca and bc.value.path_length == 0  # noqa: PT018
    ku = csca.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.key_cert_sign and ku.value.crl_sign  # noqa: PT018
    ski = csca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    aki = bsc.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    eku = bsc.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical and list(eku.value) == [x509.ObjectIdentifier("2.23.136.1.1.14.2")]  # noqa: PT018
    doc = bsc.extensions.get_extension_for_oid(x509.ObjectIdentifier("2.23.136.1.1.6.2"))
    assert isinstance(doc.value, x509.UnrecognizedExtension)
    # SEQUENCE { INTEGER 0, SET { PrintableString "NV" } }, byte for byte
    expected = bytes([0x30, 0x09, 0x02, 0x01, 0x00, 0x31, 0x04, 0x13, 0x02, ord("N"), ord("V")])
    assert doc.value.value == expected == DOCUMENT_TYPE_LIST_DER
    pkup = bsc.extensions.get_extension_for_oid(x509.ObjectIdentifier("2.5.29.16")).value
    assert isinstance(pkup, x509.PrivateKeyUsagePeriod)
    assert pkup.not_before is not None and pkup.not_after is not None  # noqa: PT018
    assert timedelta(days=85) <= pkup.not_after - pkup.not_before <= timedelta(days=95)
    assert bsc.not_valid_after_utc - bsc.not_valid_before_utc == timedelta(days=92 + 365)
    key = bsc.public_key()
    from cryptography.hazmat.primitives.asymmetric import ec

    assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"  # noqa: PT018
    crl = x509.load_pem_x509_crl(store.csca_crl_pem())
    csca_key = csca.public_key()
    assert isinstance(csca_key, ec.EllipticCurvePublicKey)
    assert crl.is_signature_valid(csca_key)
    assert len(list(crl)) == 0


def _tamper(store: FileKeyStore, fn: Any) -> dict[str, Any]:
    cert = make_cert(kind="abroad", doses=2)
    (seal,) = sign_vdsnc(cert, signer=store.barcode_signer(), vaccination_authority=AUTHORITY)
    seal = json.loads(json.dumps(seal))
    fn(seal)
    return seal  # type: ignore[no-any-return]


def _resign(store: FileKeyStore, seal: dict[str, Any]) -> None:
    seal["sig"]["sigvl"] = base64.urlsafe_b64encode(
        store.barcode_signer().sign(rfc8785.dumps(seal["data"]))
    ).decode()


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("unpadded", "VDSNC_UNPADDED_BASE64"),
        ("non-ascii", "VDSNC_NON_ASCII"),
        ("long-lot", "VDSNC_FIELD_TOO_LONG"),
        ("not-jcs", "VDSNC_SIGNATURE_INVALID"),
        ("tampered", "VDSNC_SIGNATURE_INVALID"),
        ("extra", "VDSNC_EXTRA_MEMBER"),
    ],
)
def test_verifier_detects(store: FileKeyStore, name: str, code: str) -> None:
    def mutate(seal: dict[str, Any]) -> None:
        data = seal["data"]
        if name == "unpadded":
            seal["sig"]["cer"] = seal["sig"]["cer"].rstrip("=")
            seal["sig"]["sigvl"] = seal["sig"]["sigvl"].rstrip("=")
        elif name == "non-ascii":
            data["msg"]["pid"]["n"] = "YAMADA TARŌ"
            _resign(store, seal)
        elif name == "long-lot":
            data["msg"]["ve"][0]["vd"][0]["lot"] = "L" * 21
            _resign(store, seal)
        elif name == "not-jcs":
            plain = json.dumps(data, indent=1).encode()
            seal["sig"]["sigvl"] = base64.urlsafe_b64encode(
                store.barcode_signer().sign(plain)
            ).decode()
        elif name == "tampered":
            data["msg"]["pid"]["dob"] = "1981-01-02"
        elif name == "extra":
            seal["extra"] = 1

    codes = _verify(store, _tamper(store, mutate))
    assert code in codes


def test_unpadded_is_a_spec_violation_only(store: FileKeyStore) -> None:
    # 64 bytes of r‖s always end in "=": stripping it keeps the signature valid
    seal = _tamper(store, lambda s: s["sig"].update(sigvl=s["sig"]["sigvl"].rstrip("=")))
    report = verify_vdsnc(seal, csca_pem=store.csca_certificate_pem(), now=NOW)
    assert [f.code for f in report.findings] == ["VDSNC_UNPADDED_BASE64"]
    assert report.exit_code == 2


def test_untrusted_csca_and_revoked_signer(tmp_path: Path, store: FileKeyStore) -> None:
    other = make_store(tmp_path)
    seal = _tamper(store, lambda s: None)
    report = verify_vdsnc(seal, csca_pem=other.csca_certificate_pem(), now=NOW)
    assert "VDSNC_CHAIN" in [f.code for f in report.findings]
    assert report.exit_code == 1
    # revoke the other store's signer and check its own seal
    own = sign_vdsnc(make_cert(kind="abroad"), signer=other.barcode_signer(),
                     vaccination_authority=AUTHORITY)[0]  # fmt: skip
    serial = x509.load_der_x509_certificate(other.barcode_signer().certificate_der).serial_number
    other.revoke_barcode_signer(serial, now=NOW)
    report = verify_vdsnc(
        own, csca_pem=other.csca_certificate_pem(), crl_pem=other.csca_crl_pem(), now=NOW
    )
    assert [f.code for f in report.findings] == ["VDSNC_REVOKED"]
    assert report.exit_code == 1
