"""SMART Health Cards: composition, signing, splitting, QR, and every negative the verifier
must catch (shc-jp.md)."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from signing import (
    MAX_JWS_CHARS,
    FileKeyStore,
    compute_rid,
    decode_qr_image,
    jwk_thumbprint,
    qr_png,
    shc_file,
    shc_qr_symbol,
    shc_qr_text,
    shc_qr_to_jws,
    sign_shc,
    verify_shc_jws,
)
from tests.unit.signing.test_certificate import AUTHORITY, ISSUER, NOW, make_cert, make_store


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> FileKeyStore:
    return make_store(tmp_path_factory.mktemp("shc"))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _payload(jws: str) -> dict[str, Any]:
    return json.loads(zlib.decompress(_unb64(jws.split(".")[1]), -15))  # type: ignore[no-any-return]


def _resign(store: FileKeyStore, header: bytes, body: bytes, *, der: bool = False) -> str:
    """A JWS over arbitrary header/body bytes with the store's key (for negative tests)."""
    signing_input = _b64(header) + "." + _b64(body)
    sig = store.shc_signer().sign(signing_input.encode())
    if der:
        from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

        sig = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    return signing_input + "." + _b64(sig)


def _deflate(obj: Any) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(json.dumps(obj, separators=(",", ":")).encode()) + c.flush()


def _header(kid: str) -> bytes:
    return b'{"alg":"ES256","kid":"' + kid.encode() + b'","zip":"DEF"}'


def test_rfc7638_thumbprint_example() -> None:
    # RFC 7638 §3.1 uses an RSA key; compute an EC thumbprint independently with hashlib/json
    jwk = {"kty": "EC", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
           "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}  # fmt: skip
    canonical = json.dumps(
        {k: jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"), sort_keys=True
    )
    expected = _b64(hashlib.sha256(canonical.encode()).digest())
    assert jwk_thumbprint(jwk) == expected


def test_jwks_shape(store: FileKeyStore) -> None:
    (jwk,) = store.jwks()["keys"]
    assert set(jwk) == {"kty", "crv", "use", "alg", "kid", "x", "y"}
    assert (jwk["kty"], jwk["crv"], jwk["use"], jwk["alg"]) == ("EC", "P-256", "sig", "ES256")
    assert jwk["kid"] == jwk_thumbprint(jwk) == store.shc_signer().kid


@pytest.mark.parametrize("kind", ["domestic", "abroad"])
@pytest.mark.parametrize("doses", [1, 2, 4, 7, 10])
def test_round_trip_through_qr(store: FileKeyStore, kind: str, doses: int) -> None:
    cert = make_cert(kind=kind, doses=doses, rid=store.rid_for("ABCDEFGH2345"))
    jws_list = sign_shc(
        cert, issuer=ISSUER, signer=store.shc_signer(), vaccination_authority=AUTHORITY
    )
    seen_dates = []
    for jws in jws_list:
        assert len(jws) <= MAX_JWS_CHARS
        text = shc_qr_text(jws)
        symbol = shc_qr_symbol(text)
        assert symbol.segments == (("byte", 5), ("numeric", 2 * len(jws)))
        assert symbol.error == "L"
        assert symbol.version <= 22
        (decoded,) = decode_qr_image(qr_png(symbol, scale=3))
        assert decoded.text == text
        assert decoded.version == symbol.version
        assert decoded.error == "L"
        report = verify_shc_jws(shc_qr_to_jws(decoded.text), jwks=store.jwks(), now=NOW)
        assert report.findings == []
        assert report.exit_code == 0
        entries = _payload(jws)["vc"]["credentialSubject"]["fhirBundle"]["entry"]
        seen_dates += [e["resource"]["occurrenceDateTime"] for e in entries[1:]]
    assert seen_dates == [d.date.isoformat() for d in cert.doses]


def test_payload_shape_abroad(store: FileKeyStore) -> None:
    cert = make_cert(kind="abroad", doses=1, rid="abcdEFGH_-1")
    (jws,) = sign_shc(
        cert, issuer=ISSUER, signer=store.shc_signer(), vaccination_authority=AUTHORITY
    )
    header = _unb64(jws.split(".")[0])
    assert header == _header(store.shc_signer().kid)
    assert len(_unb64(jws.split(".")[2])) == 64
    p = _payload(jws)
    assert p["iss"] == ISSUER
    assert p["nbf"] == int(NOW.timestamp()) and isinstance(p["nbf"], int)  # noqa: PT018
    assert p["vc"]["type"] == [
        "https://smarthealth.cards#health-card",
        "https://smarthealth.cards#immunization",
        "https://smarthealth.cards#covid19",
    ]
    assert p["vc"]["rid"] == "abcdEFGH_-1"
    bundle = p["vc"]["credentialSubject"]["fhirBundle"]
    patient = bundle["entry"][0]["resource"]
    assert patient["name"] == [
        {"use": "usual", "family": "YAMADA", "given": ["TARO"]},
        {"use": "usual", "family": "山田", "given": ["太郎"]},
    ]
    assert patient["identifier"] == [
        {
            "type": {
                "coding": [
                    {"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "PPN"}
                ]
            },
            "value": "TR1234567",
        }
    ]
    imm = bundle["entry"][1]["resource"]
    assert imm["performer"] == [{"actor": {"display": AUTHORITY}}]
    assert imm["vaccineCode"]["coding"] == [
        {"system": "http://hl7.org/fhir/sid/cvx", "code": "207"}
    ]
    assert [e["fullUrl"] for e in bundle["entry"]] == ["resource:0", "resource:1"]


def test_split_keeps_every_dose_with_long_names(store: FileKeyStore) -> None:
    cert = make_cert(
        kind="abroad",
        doses=30,
        family_roman="WOLFESCHLEGELSTEINHAUSENBERGERDORFF",
        given_roman="HUBERT BLAINE ADOLPH CHARLES",
        rid="r1",
    )
    jws_list = sign_shc(
        cert, issuer=ISSUER, signer=store.shc_signer(), vaccination_authority=AUTHORITY
    )
    assert len(jws_list) >= 2
    lots = []
    for jws in jws_list:
        assert len(jws) <= MAX_JWS_CHARS
        p = _payload(jws)
        assert p["vc"]["rid"] == "r1"
        entries = p["vc"]["credentialSubject"]["fhirBundle"]["entry"]
        assert entries[0]["resource"]["resourceType"] == "Patient"
        lots += [e["resource"]["lotNumber"] for e in entries[1:]]
        assert verify_shc_jws(jws, jwks=store.jwks(), now=NOW).exit_code == 0
    assert lots == [d.lot for d in cert.doses]


def test_deterministic_reprint(store: FileKeyStore) -> None:
    cert = make_cert(kind="abroad", doses=3)

    def sign() -> list[str]:
        return sign_shc(
            cert, issuer=ISSUER, signer=store.shc_signer(), vaccination_authority=AUTHORITY
        )

    assert sign() == sign()


def test_compute_rid_matches_recipe() -> None:
    import hmac

    mac = hmac.new(b"secret" + b"kid1", b"ABCDEFGH2345", hashlib.sha256).digest()[:8]
    assert compute_rid(b"secret", "kid1", "ABCDEFGH2345") == _b64(mac)
    assert len(compute_rid(b"s", "k", "x")) == 11


def test_smart_health_card_file() -> None:
    assert shc_file(["a.b.c", "d.e.f"]) == b'{"verifiableCredential":["a.b.c","d.e.f"]}'


def test_qr_text_digits() -> None:
    assert shc_qr_text("-.z") == "shc:/000177"
    assert shc_qr_to_jws("shc:/000177") == "-.z"


# --- negatives: each spec violation is detected with its code --------------------------------


def _good_payload(store: FileKeyStore) -> dict[str, Any]:
    cert = make_cert(doses=2)
    (jws,) = sign_shc(
        cert, issuer=ISSUER, signer=store.shc_signer(), vaccination_authority=AUTHORITY
    )
    return _payload(jws)


def _mutations() -> list[tuple[str, Callable[[FileKeyStore, dict[str, Any]], str], str, int]]:
    def kid(s: FileKeyStore) -> str:
        return s.shc_signer().kid

    def with_bundle(p: dict[str, Any], fn: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        fn(p["vc"]["credentialSubject"]["fhirBundle"])
        return p

    def patient(b: dict[str, Any]) -> dict[str, Any]:
        return b["entry"][0]["resource"]  # type: ignore[no-any-return]

    def imm(b: dict[str, Any]) -> dict[str, Any]:
        return b["entry"][1]["resource"]  # type: ignore[no-any-return]

    return [
        ("der", lambda s, p: _resign(s, _header(kid(s)), _deflate(p), der=True),
         "SHC_SIGNATURE_DER", 2),
        ("zlib", lambda s, p: _resign(s, _header(kid(s)), zlib.compress(json.dumps(p).encode())),
         "SHC_ZLIB_HEADER", 2),
        ("typ", lambda s, p: _resign(
            s, b'{"alg":"ES256","kid":"' + kid(s).encode() + b'","typ":"JWT","zip":"DEF"}',
            _deflate(p)), "SHC_HEADER_TYP", 2),
        ("extra", lambda s, p: _resign(
            s, b'{"alg":"ES256","kid":"' + kid(s).encode() + b'","x5u":"x","zip":"DEF"}',
            _deflate(p)), "SHC_HEADER_EXTRA", 2),
        ("nbf", lambda s, p: _resign(s, _header(kid(s)), _deflate({**p, "nbf": p["nbf"] + 0.5})),
         "SHC_NBF_NOT_INTEGER", 2),
        ("extension", lambda s, p: _resign(s, _header(kid(s)), _deflate(with_bundle(
            p, lambda b: patient(b).update(extension=[{"url": "x", "valueString": "JPN"}])))),
         "SHC_FHIR_EXTENSION", 2),
        ("id", lambda s, p: _resign(s, _header(kid(s)), _deflate(with_bundle(
            p, lambda b: patient(b).update(id="p1")))), "SHC_FHIR_ID", 2),
        ("meta", lambda s, p: _resign(s, _header(kid(s)), _deflate(with_bundle(
            p, lambda b: imm(b).update(meta={"versionId": "1"})))), "SHC_FHIR_META", 2),
        ("text", lambda s, p: _resign(s, _header(kid(s)), _deflate(with_bundle(
            p, lambda b: imm(b)["vaccineCode"].update(text="Comirnaty")))), "SHC_FHIR_TEXT", 2),
        ("display", lambda s, p: _resign(s, _header(kid(s)), _deflate(with_bundle(
            p, lambda b: imm(b)["vaccineCode"]["coding"][0].update(display="Pfizer")))),
         "SHC_FHIR_DISPLAY", 2),
        ("empty", lambda s, p: _resign(s, _header(kid(s)), _deflate(with_bundle(
            p, lambda b: imm(b).update(lotNumber="")))), "SHC_FHIR_EMPTY", 2),
        ("too-long", lambda s, p: _resign(s, _header(kid(s)), _deflate(
            {**p, "pad": secrets.token_urlsafe(900)})), "SHC_JWS_TOO_LONG", 2),
        ("vc-type", lambda s, p: _resign(s, _header(kid(s)), _deflate(
            {**p, "vc": {**p["vc"], "type": ["https://smarthealth.cards#health-card"]}})),
         "SHC_VC_TYPE", 2),
        ("unknown-kid", lambda s, p: _resign(s, _header("AAAA"), _deflate(p)),
         "SHC_UNKNOWN_KID", 1),
        ("bad-sig", lambda s, p: _resign(s, _header(kid(s)), _deflate(p))[:-4] + "AAAA",
         "SHC_SIGNATURE_INVALID", 1),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("mutate", "code", "exit_code"),
    [(m[1], m[2], m[3]) for m in _mutations()],
    ids=[m[0] for m in _mutations()],
)
def test_verifier_detects(
    store: FileKeyStore,
    mutate: Callable[[FileKeyStore, dict[str, Any]], str],
    code: str,
    exit_code: int,
) -> None:
    jws = mutate(store, _good_payload(store))
    report = verify_shc_jws(jws, jwks=store.jwks(), now=NOW)
    assert code in [f.code for f in report.findings]
    assert report.exit_code == exit_code


def test_signature_other_key_fails(store: FileKeyStore) -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    signing_input = (
        _b64(_header(store.shc_signer().kid)) + "." + _b64(_deflate(_good_payload(store)))
    )
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    r, s = decode_dss_signature(other.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    jws = signing_input + "." + _b64(r.to_bytes(32, "big") + s.to_bytes(32, "big"))
    report = verify_shc_jws(jws, jwks=store.jwks(), now=NOW)
    assert [f.code for f in report.findings] == ["SHC_SIGNATURE_INVALID"]


def test_revoked_rid(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    kid = store.shc_signer().kid
    cert = make_cert(rid=store.rid_for("ABCDEFGH2345"))
    (jws,) = sign_shc(
        cert, issuer=ISSUER, signer=store.shc_signer(), vaccination_authority=AUTHORITY
    )
    crl = store.update_shc_crl(kid, [cert.rid or ""])
    assert crl == {"kid": kid, "method": "rid", "ctr": 1, "rids": [cert.rid]}
    assert store.update_shc_crl(kid, [cert.rid or ""])["ctr"] == 1  # unchanged: same ctr
    assert store.update_shc_crl(kid, [cert.rid or "", "other"])["ctr"] == 2
    assert store.jwks()["keys"][0]["crlVersion"] == 2
    report = verify_shc_jws(jws, jwks=store.jwks(), now=NOW, crls={kid: crl})
    assert [f.code for f in report.findings] == ["SHC_REVOKED"]
