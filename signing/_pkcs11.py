"""`KeyStore` over a PKCS#11 token (an HSM; SoftHSM2 in tests and on one machine).

Every private key is generated inside the token (`CKA_SENSITIVE`, not `CKA_EXTRACTABLE`) and
never leaves it: this module reads only public keys and certificates out of the token and sends
it digests to sign. What the token holds (all labels start with `certsvc-`):

    certsvc-rid                 generic secret (HMAC-SHA-256): the secret of SHC `rid`s
    certsvc-shc-NNNN            SHC P-256 key pairs; the highest NNNN signs
    certsvc-csca                the country signing CA's key pair and certificate
    certsvc-bsc-NNNN            barcode signer key pairs and certificates; the highest signs
    certsvc-shc-crl-<kid>       data object: the SHC revocation list of a key (JSON)
    certsvc-csca-crl            data object: the CSCA's CRL (DER)
    certsvc-csca-crl-state      data object: {"crl_number", "revoked"} behind that CRL

Certificates and CRLs are public objects, so every node that opens the token sees the same
ones. The CSCA's signatures over a barcode signer certificate and over its CRL are made in the
token too: the certificate is built with `cryptography`, its to-be-signed bytes are signed by
the token, and the DER is assembled here (`_assemble`), then verified with the CSCA's public key.

PKCS#11 `CKM_ECDSA` signs a digest we compute and returns r‖s (PKCS#11 v2.40 §2.3.1): that is the
JOSE form SHC and VDS-NC want as it is; X.509 wants the DER `ECDSA-Sig-Value`, converted here.
HSM signatures are randomized, not RFC 6979: reprints re-attach the signatures kept in the
issuance history (`signing.replay_signers`), whatever the key store.

`python-pkcs11` rather than PyKCS11: it ships wheels (no SWIG build), keeps object handles
behind typed objects (`PrivateKey.sign`, attribute templates) and releases the GIL during the
token's calls; PyKCS11 is a thin mirror of the C API with integer handles everywhere.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import msgspec
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from signing._keystore import (
    BSC_NAME,
    CSCA_NAME,
    KeyStoreError,
    _CscaCrlState,
    _ShcCrl,
    jwks_with_crls,
    next_shc_crl,
)
from signing._shc import ShcSigner, b64url, public_jwk
from signing._vdsnc import (
    VdsncSigner,
    barcode_signer_builder,
    csca_builder,
    csca_crl_builder,
)

__all__ = ["Pkcs11KeyStore"]

_PREFIX: Final = "certsvc-"
_RID: Final = "certsvc-rid"
_CSCA: Final = "certsvc-csca"
_CSCA_CRL: Final = "certsvc-csca-crl"
_CSCA_CRL_STATE: Final = "certsvc-csca-crl-state"
_APPLICATION: Final = "certsvc"

#: (module, token label) → the process's logged-in session, a digest of its PIN, its lock.
_SESSIONS: dict[tuple[str, str], tuple[Any, bytes, threading.Lock]] = {}

# DER of AlgorithmIdentifier { ecdsa-with-SHA256 } (RFC 5758 §3.2: parameters absent)
_ECDSA_SHA256_ALG: Final = bytes.fromhex("300a06082a8648ce3d040302")


def _digest(pin: str) -> bytes:
    return hashlib.sha256(b"certsvc-pin\x1f" + pin.encode()).digest()


def _der_len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _assemble(tbs: bytes, signature_der: bytes) -> bytes:
    """RFC 5280 §4.1 / §5.1: SEQUENCE { tbs, signatureAlgorithm, signatureValue BIT STRING }."""
    bit_string = b"\x03" + _der_len(len(signature_der) + 1) + b"\x00" + signature_der
    body = tbs + _ECDSA_SHA256_ALG + bit_string
    return b"\x30" + _der_len(len(body)) + body


class _TokenKey:
    """A P-256 private key inside the token, used under the store's lock."""

    __slots__ = ("_key", "_lock", "public_key")

    def __init__(self, key: Any, public_key: ec.EllipticCurvePublicKey, lock: threading.Lock):
        self._key = key
        self.public_key = public_key
        self._lock = lock

    def sign_raw(self, data: bytes) -> bytes:
        """ECDSA P-256 over SHA-256(data), as the 64-byte r‖s."""
        import pkcs11

        digest = hashlib.sha256(data).digest()
        try:
            with self._lock:
                signature: bytes = self._key.sign(digest, mechanism=pkcs11.Mechanism.ECDSA)
        except pkcs11.PKCS11Error:
            raise KeyStoreError("KEYS_TOKEN_FAILED", "the token refused to sign") from None
        if len(signature) != 64:
            raise KeyStoreError("KEYS_TOKEN_FAILED", "the token's signature is not P-256 r||s")
        return signature

    def sign_der(self, data: bytes) -> bytes:
        """The same signature as X.509's DER `ECDSA-Sig-Value` (RFC 3279 §2.2.3)."""
        raw = self.sign_raw(data)
        return encode_dss_signature(
            int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
        )


class _TokenSigner:
    """ES256 through the token (`ShcSigner` and `VdsncSigner`). No key material in `repr`."""

    __slots__ = ("_certificate_der", "_key", "_kid")

    def __init__(self, key: _TokenKey, kid: str, certificate_der: bytes = b"") -> None:
        self._key = key
        self._kid = kid
        self._certificate_der = certificate_der

    @property
    def kid(self) -> str:
        return self._kid

    @property
    def certificate_der(self) -> bytes:
        return self._certificate_der

    def sign(self, data: bytes) -> bytes:
        return self._key.sign_raw(data)

    def __repr__(self) -> str:
        return f"<ES256 token signer kid={self._kid!r}>"


class Pkcs11KeyStore:
    """`KeyStore` over the PKCS#11 token labelled `token_label` in the library `module`.

    The token must be initialised with a user PIN (the HSM's own tooling, `softhsm2-util
    --init-token` for SoftHSM2); `create` fills it. The library is loaded, and the token opened,
    on first use in this process (after any fork)."""

    def __init__(self, *, module: Path, token_label: str, pin: str) -> None:
        self._module = Path(module)
        self._label = token_label
        self._pin = pin
        self._session: Any = None
        self._lock = threading.Lock()
        self._loaded = False
        self._shc: list[_TokenSigner] = []
        self._shc_public: list[ec.EllipticCurvePublicKey] = []
        self._rid_key: Any = None
        self._crls: dict[str, _ShcCrl] = {}
        self._csca: x509.Certificate | None = None
        self._csca_key: _TokenKey | None = None
        self._csca_crl_pem = b""
        self._csca_crl_state = _CscaCrlState(crl_number=0, revoked=[])
        self._bsc: _TokenSigner | None = None
        self._jwks: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return f"Pkcs11KeyStore(token={self._label!r}, loaded={self._loaded})"

    # -- the token --

    def _open(self) -> Any:
        if self._session is not None:
            return self._session
        import pkcs11

        # PKCS#11 logs in per process, not per session: every store of one token in a process
        # shares one session (and one lock, since a session serves one call at a time).
        key = (str(self._module), self._label)
        shared = _SESSIONS.get(key)
        if shared is not None:
            session, pin_digest, lock = shared
            if not hmac.compare_digest(pin_digest, _digest(self._pin)):
                # the token accepted another PIN for its user in this process
                raise KeyStoreError("KEYS_TOKEN_PIN_INCORRECT", "the token refused the PIN")
            self._session, self._lock = session, lock
            return session
        if not self._module.is_file():
            raise KeyStoreError("KEYS_TOKEN_UNAVAILABLE", "the PKCS#11 module does not exist")
        try:
            lib = pkcs11.lib(str(self._module))
        except (pkcs11.PKCS11Error, RuntimeError, OSError):
            raise KeyStoreError(
                "KEYS_TOKEN_UNAVAILABLE", "the PKCS#11 module cannot be loaded"
            ) from None
        try:
            token = lib.get_token(token_label=self._label)
        except pkcs11.NoSuchToken:
            raise KeyStoreError(
                "KEYS_TOKEN_UNAVAILABLE", "no token with this label (initialise it first)"
            ) from None
        except pkcs11.MultipleTokensReturned:
            raise KeyStoreError(
                "KEYS_TOKEN_UNAVAILABLE", "several tokens have this label"
            ) from None
        try:
            session = token.open(user_pin=self._pin, rw=True)
        except pkcs11.PinIncorrect:
            raise KeyStoreError("KEYS_TOKEN_PIN_INCORRECT", "the token refused the PIN") from None
        except pkcs11.PKCS11Error:
            raise KeyStoreError("KEYS_TOKEN_UNAVAILABLE", "the token cannot be opened") from None
        _SESSIONS[key] = (session, _digest(self._pin), self._lock)
        self._session = session
        return session

    def close(self) -> None:
        """Forget the keys read from the token (its session stays open for the process)."""
        self._session = None
        self._loaded = False

    def _objects(self, object_class: Any) -> dict[str, Any]:
        from pkcs11 import Attribute

        found: dict[str, Any] = {}
        for obj in self._open().get_objects({Attribute.CLASS: object_class}):
            label = obj[Attribute.LABEL]
            if isinstance(label, str) and label.startswith(_PREFIX):
                found[label] = obj
        return found

    def _data(self, label: str) -> bytes | None:
        from pkcs11 import Attribute, ObjectClass

        obj = self._objects(ObjectClass.DATA).get(label)
        return None if obj is None else bytes(obj[Attribute.VALUE])

    def _put_data(self, label: str, value: bytes) -> None:
        from pkcs11 import Attribute, ObjectClass

        session = self._open()
        old = self._objects(ObjectClass.DATA).get(label)
        session.create_object(
            {
                Attribute.CLASS: ObjectClass.DATA,
                Attribute.TOKEN: True,
                Attribute.PRIVATE: False,
                Attribute.LABEL: label,
                Attribute.APPLICATION: _APPLICATION,
                Attribute.VALUE: value,
            }
        )
        if old is not None:
            old.destroy()

    def _put_certificate(self, label: str, certificate: x509.Certificate) -> None:
        from pkcs11 import Attribute, CertificateType, ObjectClass

        self._open().create_object(
            {
                Attribute.CLASS: ObjectClass.CERTIFICATE,
                Attribute.CERTIFICATE_TYPE: CertificateType.X_509,
                Attribute.TOKEN: True,
                Attribute.PRIVATE: False,
                Attribute.LABEL: label,
                Attribute.ID: label.encode(),
                Attribute.SUBJECT: certificate.subject.public_bytes(),
                Attribute.VALUE: certificate.public_bytes(serialization.Encoding.DER),
            }
        )

    def _generate_ec(self, label: str) -> _TokenKey:
        """A P-256 key pair made by the token: private half sensitive, never extractable."""
        from pkcs11 import Attribute, KeyType
        from pkcs11.util.ec import encode_named_curve_parameters

        session = self._open()
        params = session.create_domain_parameters(
            KeyType.EC,
            {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")},
            local=True,
        )
        public, private = params.generate_keypair(
            store=True,
            label=label,
            id=label.encode(),
            public_template={Attribute.VERIFY: True, Attribute.PRIVATE: False},
            private_template={
                Attribute.SIGN: True,
                Attribute.SENSITIVE: True,
                Attribute.EXTRACTABLE: False,
                Attribute.PRIVATE: True,
            },
        )
        return _TokenKey(private, _public_key(public), self._lock)

    def _key_pairs(self) -> dict[str, _TokenKey]:
        from pkcs11 import ObjectClass

        privates = self._objects(ObjectClass.PRIVATE_KEY)
        publics = self._objects(ObjectClass.PUBLIC_KEY)
        pairs = {}
        for label, private in privates.items():
            public = publics.get(label)
            if public is None:
                raise KeyStoreError("KEYS_MISMATCH", f"{label} has no public key in the token")
            pairs[label] = _TokenKey(private, _public_key(public), self._lock)
        return pairs

    @staticmethod
    def _seqs(labels: Any, prefix: str) -> list[int]:
        out = []
        for label in labels:
            rest = label[len(prefix) :] if label.startswith(prefix) else ""
            if len(rest) == 4 and rest.isdigit():
                out.append(int(rest))
        return sorted(out)

    # -- life cycle --

    def create(self, *, now: datetime) -> None:
        from pkcs11 import Attribute, KeyType, ObjectClass

        session = self._open()
        if any(self._objects(c) for c in (ObjectClass.PRIVATE_KEY, ObjectClass.SECRET_KEY)):
            raise KeyStoreError("KEYS_EXIST", "the token already holds certsvc keys")
        session.generate_key(
            KeyType.GENERIC_SECRET,
            256,
            store=True,
            label=_RID,
            id=_RID.encode(),
            template={
                Attribute.SIGN: True,
                Attribute.VERIFY: True,
                Attribute.SENSITIVE: True,
                Attribute.EXTRACTABLE: False,
                Attribute.PRIVATE: True,
            },
        )
        self._generate_ec(f"{_PREFIX}shc-0001")
        csca_key = self._generate_ec(_CSCA)
        csca = _signed_certificate(
            csca_builder(csca_key.public_key, common_name=CSCA_NAME, now=now), csca_key
        )
        self._put_certificate(_CSCA, csca)
        self._csca, self._csca_key = csca, csca_key
        self._csca_crl_state = _CscaCrlState(crl_number=0, revoked=[])
        self._write_csca_crl([], now=now)
        self._new_bsc(now=now)
        self._loaded = False
        self.load()

    def load(self) -> None:
        from pkcs11 import Attribute, ObjectClass

        secrets = self._objects(ObjectClass.SECRET_KEY)
        if _RID not in secrets:
            raise KeyStoreError("KEYS_MISSING", "no certsvc keys in the token (keys create)")
        pairs = self._key_pairs()
        shc_seqs = self._seqs(pairs, f"{_PREFIX}shc-")
        if not shc_seqs:
            raise KeyStoreError("KEYS_MISSING", "no SHC key")
        shc = []
        for seq in shc_seqs:
            key = pairs[f"{_PREFIX}shc-{seq:04d}"]
            shc.append(_TokenSigner(key, public_jwk(key.public_key)["kid"]))
        certificates = {
            label: x509.load_der_x509_certificate(bytes(obj[Attribute.VALUE]))
            for label, obj in self._objects(ObjectClass.CERTIFICATE).items()
        }
        csca = certificates.get(_CSCA)
        csca_key = pairs.get(_CSCA)
        if csca is None or csca_key is None:
            raise KeyStoreError("KEYS_MISSING", "no CSCA")
        if csca.public_key() != csca_key.public_key:
            raise KeyStoreError("KEYS_MISMATCH", "CSCA key and certificate differ")
        bsc_seqs = self._seqs(pairs, f"{_PREFIX}bsc-")
        if not bsc_seqs:
            raise KeyStoreError("KEYS_MISSING", "no barcode signer")
        bsc_label = f"{_PREFIX}bsc-{bsc_seqs[-1]:04d}"
        bsc_cert = certificates.get(bsc_label)
        if bsc_cert is None:
            raise KeyStoreError("KEYS_MISSING", "no barcode signer certificate")
        if bsc_cert.public_key() != pairs[bsc_label].public_key:
            raise KeyStoreError("KEYS_MISMATCH", "barcode signer key and certificate differ")
        crls = {}
        for label, obj in self._objects(ObjectClass.DATA).items():
            if label.startswith(f"{_PREFIX}shc-crl-"):
                crl = msgspec.json.decode(bytes(obj[Attribute.VALUE]), type=_ShcCrl)
                crls[crl.kid] = crl
        crl_der = self._data(_CSCA_CRL)
        state = self._data(_CSCA_CRL_STATE)
        if crl_der is None or state is None:
            raise KeyStoreError("KEYS_MISSING", "no CSCA CRL")
        self._rid_key = secrets[_RID]
        self._shc = shc
        self._shc_public = [s._key.public_key for s in shc]
        self._crls = crls
        self._csca, self._csca_key = csca, csca_key
        self._csca_crl_pem = x509.load_der_x509_crl(crl_der).public_bytes(
            serialization.Encoding.PEM
        )
        self._csca_crl_state = msgspec.json.decode(state, type=_CscaCrlState)
        self._bsc = _TokenSigner(
            pairs[bsc_label],
            bsc_label[len(_PREFIX) :],
            bsc_cert.public_bytes(serialization.Encoding.DER),
        )
        self._jwks = None
        self._loaded = True

    def _ensure(self) -> None:
        if not self._loaded:
            self.load()

    def refresh(self) -> bool:
        """Read the token again: it is what every node shares, so a key another node added
        there (`keys rotate`) is picked up here. `load` replaces the keys in memory only once
        everything was read, so on failure they stay as they were."""
        if not self._loaded:
            self.load()
            return True
        before = (tuple(s.kid for s in self._shc), self._bsc.kid if self._bsc else None)
        self.load()
        return before != (tuple(s.kid for s in self._shc), self._bsc.kid if self._bsc else None)

    def public_keys(self) -> list[dict[str, Any]]:
        """Every SHC public key in the token as a JWK, oldest first (no `crlVersion`)."""
        self._ensure()
        return [dict(public_jwk(pub)) for pub in self._shc_public]

    def _new_bsc(self, *, now: datetime) -> x509.Certificate:
        from pkcs11 import ObjectClass

        if self._csca is None or self._csca_key is None:
            raise KeyStoreError("KEYS_MISSING", "no CSCA")
        seqs = self._seqs(self._objects(ObjectClass.PRIVATE_KEY), f"{_PREFIX}bsc-")
        seq = (seqs[-1] + 1) if seqs else 1
        label = f"{_PREFIX}bsc-{seq:04d}"
        key = self._generate_ec(label)
        builder = barcode_signer_builder(
            key.public_key, csca=self._csca, common_name=f"{BSC_NAME} {seq:04d}", now=now
        )
        cert = _signed_certificate(builder, self._csca_key, issuer=self._csca)
        self._put_certificate(label, cert)
        return cert

    def _write_csca_crl(self, revoked: list[int], *, now: datetime) -> None:
        if self._csca is None or self._csca_key is None:
            raise KeyStoreError("KEYS_MISSING", "no CSCA")
        state = _CscaCrlState(
            crl_number=self._csca_crl_state.crl_number + 1, revoked=sorted(set(revoked))
        )
        builder = csca_crl_builder(
            csca=self._csca, revoked_serials=state.revoked, crl_number=state.crl_number, now=now
        )
        # cryptography signs only with its own keys: a throwaway key gives the to-be-signed
        # bytes, which the token then signs (the throwaway signature is discarded).
        draft = builder.sign(ec.generate_private_key(ec.SECP256R1()), hashes.SHA256())
        der = _assemble(draft.tbs_certlist_bytes, self._csca_key.sign_der(draft.tbs_certlist_bytes))
        crl = x509.load_der_x509_crl(der)
        if not crl.is_signature_valid(self._csca_key.public_key):
            raise KeyStoreError("KEYS_TOKEN_FAILED", "the token's CRL signature does not verify")
        self._put_data(_CSCA_CRL, der)
        self._put_data(_CSCA_CRL_STATE, msgspec.json.encode(state))
        self._csca_crl_state = state
        self._csca_crl_pem = crl.public_bytes(serialization.Encoding.PEM)

    def rotate_shc(self, *, now: datetime) -> str:
        from pkcs11 import ObjectClass

        self._ensure()
        seqs = self._seqs(self._objects(ObjectClass.PRIVATE_KEY), f"{_PREFIX}shc-")
        key = self._generate_ec(f"{_PREFIX}shc-{seqs[-1] + 1:04d}")
        self.load()
        return public_jwk(key.public_key)["kid"]

    def rotate_barcode_signer(self, *, now: datetime) -> x509.Certificate:
        self._ensure()
        cert = self._new_bsc(now=now)
        self.load()
        return cert

    def revoke_barcode_signer(self, serial: int, *, now: datetime) -> None:
        self._ensure()
        self._write_csca_crl([*self._csca_crl_state.revoked, serial], now=now)

    # -- use --

    def shc_signer(self) -> ShcSigner:
        self._ensure()
        return self._shc[-1]

    def rid_for(self, internal_id: str, *, kid: str | None = None) -> str:
        """The SHC framework's recommended rid, keyed in the token: the first 8 bytes of
        HMAC-SHA-256(rid secret, kid ‖ 0x1F ‖ internal id), base64url. The secret never leaves
        the token, so the key cannot be `secret ‖ kid` as in the file store; the kid goes into
        the message instead (still a different rid per key)."""
        import pkcs11

        self._ensure()
        message = (kid or self._shc[-1].kid).encode("ascii") + b"\x1f" + internal_id.encode()
        try:
            with self._lock:
                mac: bytes = self._rid_key.sign(message, mechanism=pkcs11.Mechanism.SHA256_HMAC)
        except pkcs11.PKCS11Error:
            raise KeyStoreError("KEYS_TOKEN_FAILED", "the token refused the rid HMAC") from None
        return b64url(mac[:8])

    def jwks(self) -> dict[str, Any]:
        self._ensure()
        if self._jwks is None:
            self._jwks = jwks_with_crls(self._shc_public, self._crls)
        return self._jwks

    def shc_crl(self, kid: str) -> dict[str, Any] | None:
        self._ensure()
        crl = self._crls.get(kid)
        return None if crl is None else msgspec.to_builtins(crl)

    def update_shc_crl(self, kid: str, rids: list[str]) -> dict[str, Any]:
        self._ensure()
        crl, changed = next_shc_crl(self._crls, {s.kid for s in self._shc}, kid, rids)
        if not changed:
            return msgspec.to_builtins(crl)  # type: ignore[no-any-return]
        self._put_data(f"{_PREFIX}shc-crl-{kid}", msgspec.json.encode(crl))
        self._crls[kid] = crl
        self._jwks = None
        return msgspec.to_builtins(crl)  # type: ignore[no-any-return]

    def barcode_signer(self) -> VdsncSigner:
        self._ensure()
        if self._bsc is None:
            raise KeyStoreError("KEYS_MISSING", "no barcode signer")
        return self._bsc

    def csca_certificate_pem(self) -> bytes:
        self._ensure()
        if self._csca is None:
            raise KeyStoreError("KEYS_MISSING", "no CSCA")
        return self._csca.public_bytes(serialization.Encoding.PEM)

    def csca_crl_pem(self) -> bytes:
        self._ensure()
        return self._csca_crl_pem


def _public_key(obj: Any) -> ec.EllipticCurvePublicKey:
    from pkcs11.util.ec import encode_ec_public_key

    key = serialization.load_der_public_key(encode_ec_public_key(obj))
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise KeyStoreError("KEYS_UNREADABLE", "a token key is not P-256")
    return key


def _signed_certificate(
    builder: x509.CertificateBuilder, key: _TokenKey, *, issuer: x509.Certificate | None = None
) -> x509.Certificate:
    """`builder` signed by `key` in the token (self-signed when `issuer` is None), verified."""
    # cryptography signs only with its own keys: a throwaway key gives the to-be-signed bytes
    # (the signature algorithm in them is ecdsa-with-SHA256 for any P-256 key).
    draft = builder.sign(ec.generate_private_key(ec.SECP256R1()), hashes.SHA256())
    tbs = draft.tbs_certificate_bytes
    cert = x509.load_der_x509_certificate(_assemble(tbs, key.sign_der(tbs)))
    try:
        cert.verify_directly_issued_by(issuer or cert)
    except (InvalidSignature, ValueError, TypeError):
        raise KeyStoreError(
            "KEYS_TOKEN_FAILED", "the token's certificate signature fails"
        ) from None
    return cert
