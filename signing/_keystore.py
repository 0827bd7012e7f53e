"""Signing keys behind one small interface (`KeyStore`), and its file-based implementation.

A PKCS#11 (HSM) implementation replaces `FileKeyStore` without touching callers: they see only
`KeyStore`, `ShcSigner` and `VdsncSigner`. Private keys are loaded once and kept in memory; a
signature does no file I/O. Nothing here logs, and no `repr` shows key material.

Running processes pick up keys added by another process (`certsvc keys rotate`) through
`refresh()`: every change of the directory ends by rewriting `generation` (a counter), and
`refresh()` reloads only when that file says something else than at the last load — one small
read when nothing changed. Key files are written before the generation, so a process that sees the
new generation finds every file it names. Old SHC keys and barcode signers are never removed by
the service: their public halves stay published for as long as their files stay.

Key directory layout (directory 0700, every file 0600, written atomically):

    <key_dir>/generation              a counter, rewritten last by every change of the directory
    <key_dir>/rid-secret              32 random bytes: the HMAC secret of SHC `rid`s
    <key_dir>/shc/NNNN.key.pem        SHC P-256 private keys (PKCS#8); the highest NNNN signs
    <key_dir>/shc/crl/<kid>.json      legacy: SHC revocation lists written by `update_shc_crl`
                                      (the service keeps its lists in the database)
    <key_dir>/vdsnc/csca.key.pem      the country signing CA key
    <key_dir>/vdsnc/csca.cert.pem     its self-signed certificate
    <key_dir>/vdsnc/csca.crl.pem      the CSCA's CRL of barcode signers
    <key_dir>/vdsnc/csca.crl.json     {"crl_number": n, "revoked": [serials]} behind that CRL
    <key_dir>/vdsnc/bsc-NNNN.key.pem  barcode signer keys; the highest NNNN signs
    <key_dir>/vdsnc/bsc-NNNN.cert.pem their certificates
"""

from __future__ import annotations

import os
import re
import secrets
from datetime import datetime
from pathlib import Path
from typing import Any, Final, Protocol

import msgspec
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from signing._errors import SigningError
from signing._shc import ShcSigner, compute_rid, public_jwk
from signing._vdsnc import VdsncSigner, issue_barcode_signer, issue_csca, issue_csca_crl

__all__ = ["FileKeyStore", "KeyStore", "KeyStoreError"]

# RFC 6979 deterministic ECDSA: a reprint is byte-identical (DESIGN §1.2 item 7)
_ECDSA: Final = ec.ECDSA(hashes.SHA256(), deterministic_signing=True)
_RID_RE: Final = re.compile(r"[A-Za-z0-9_-]{1,24}(?:\.[0-9]{1,12})?")
_SEQ_RE: Final = re.compile(r"(?:bsc-)?([0-9]{4})\.key\.pem")

CSCA_NAME: Final = "VRS Country Signing CA"
BSC_NAME: Final = "VRS Barcode Signer"


class KeyStoreError(SigningError):
    """Keys are missing, unreadable or inconsistent (codes start with `KEYS_`)."""


class KeyStore(Protocol):
    """Where the signing keys live. File-based today; a PKCS#11 token later."""

    def create(self, *, now: datetime) -> None:
        """Create every key (SHC key, CSCA, barcode signer, empty CRLs); `KEYS_EXIST` if any."""
        ...

    def load(self) -> None:
        """Load the keys into memory; `KEYS_MISSING` / `KEYS_UNREADABLE` when it cannot."""
        ...

    def refresh(self) -> bool:
        """Pick up keys another process added since the last load (cheap when nothing changed).
        Returns True when the keys in memory changed. On failure the keys in memory stay as
        they were and the `KeyStoreError` is raised."""
        ...

    def public_keys(self) -> list[dict[str, Any]]:
        """Every SHC public key as a JWK (no `crlVersion`: the service adds it from its
        database), oldest first."""
        ...

    def rotate_shc(self, *, now: datetime) -> str:
        """Add a new SHC key that signs from now on; old public keys stay in the JWKS. Returns
        the new `kid`."""
        ...

    def rotate_barcode_signer(self, *, now: datetime) -> x509.Certificate:
        """Issue a new barcode signer under the CSCA; it signs from now on."""
        ...

    def shc_signer(self) -> ShcSigner:
        """The current SHC signer (newest key)."""
        ...

    def rid_for(self, internal_id: str, *, kid: str | None = None) -> str:
        """The SHC `rid` of `internal_id` under `kid` (default: the current key)."""
        ...

    def jwks(self) -> dict[str, Any]:
        """`{"keys": [...]}`: every SHC public key, with `crlVersion` where a CRL exists."""
        ...

    def shc_crl(self, kid: str) -> dict[str, Any] | None:
        """The CRL of `kid`, or None when it has none."""
        ...

    def update_shc_crl(self, kid: str, rids: list[str]) -> dict[str, Any]:
        """Make `rids` the revoked list of `kid`; `ctr` goes up by one when the set changes."""
        ...

    def barcode_signer(self) -> VdsncSigner:
        """The current VDS-NC barcode signer."""
        ...

    def csca_certificate_pem(self) -> bytes:
        """The CSCA certificate, PEM."""
        ...

    def csca_crl_pem(self) -> bytes:
        """The CSCA's current CRL, PEM."""
        ...

    def revoke_barcode_signer(self, serial: int, *, now: datetime) -> None:
        """Add a barcode signer to the CSCA's CRL and re-issue it."""
        ...


class _EcSigner:
    """An in-memory P-256 key that signs ES256 as r‖s. No key material in `repr`."""

    __slots__ = ("_certificate_der", "_key", "_kid")

    def __init__(self, key: ec.EllipticCurvePrivateKey, kid: str, certificate_der: bytes = b""):
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
        r, s = decode_dss_signature(self._key.sign(data, _ECDSA))
        # JOSE: fixed-length r‖s, 32 bytes each for P-256 (RFC 7518 §3.4)
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def __repr__(self) -> str:
        return f"<ES256 signer kid={self._kid!r}>"


class _ShcCrl(msgspec.Struct, frozen=True, kw_only=True):
    kid: str
    method: str
    ctr: int
    rids: list[str]


class _CscaCrlState(msgspec.Struct, frozen=True, kw_only=True):
    crl_number: int
    revoked: list[int]


def jwks_with_crls(
    publics: list[ec.EllipticCurvePublicKey], crls: dict[str, _ShcCrl]
) -> dict[str, Any]:
    """`{"keys": [...]}` of `publics`, each with the `crlVersion` of its CRL when it has one
    (shared by every key store)."""
    keys = []
    for pub in publics:
        jwk: dict[str, Any] = dict(public_jwk(pub))
        crl = crls.get(jwk["kid"])
        if crl is not None:
            jwk["crlVersion"] = crl.ctr
        keys.append(jwk)
    return {"keys": keys}


def next_shc_crl(
    crls: dict[str, _ShcCrl], kids: set[str], kid: str, rids: list[str]
) -> tuple[_ShcCrl, bool]:
    """The CRL of `kid` listing `rids`, and whether it changed (then the caller stores it).
    Refuses an unknown `kid` or a malformed rid (shared by every key store)."""
    if kid not in kids:
        raise KeyStoreError("KEYS_UNKNOWN_KID", "no SHC key with this kid")
    for rid in rids:
        if not _RID_RE.fullmatch(rid):
            raise KeyStoreError("KEYS_BAD_RID", "a rid is base64url, at most 24 characters")
    wanted = sorted(set(rids))
    old = crls.get(kid)
    if old is not None and old.rids == wanted:
        return old, False
    # SHC: ctr starts at 1 and goes up on every change
    return _ShcCrl(kid=kid, method="rid", ctr=(old.ctr + 1) if old else 1, rids=wanted), True


def _write_private(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically with mode 0600."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _load_key(path: Path) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError):
        raise KeyStoreError("KEYS_UNREADABLE", f"cannot read key file {path.name}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise KeyStoreError("KEYS_UNREADABLE", f"{path.name} is not a P-256 key")
    return key


class FileKeyStore:
    """`KeyStore` over PEM files in `key_dir` (see the module docstring for the layout)."""

    def __init__(self, key_dir: Path) -> None:
        self._dir = Path(key_dir)
        self._loaded = False
        self._shc: list[_EcSigner] = []
        self._shc_public: list[ec.EllipticCurvePublicKey] = []
        self._rid_secret = b""
        self._crls: dict[str, _ShcCrl] = {}
        self._csca: x509.Certificate | None = None
        self._csca_key: ec.EllipticCurvePrivateKey | None = None
        self._csca_crl_pem = b""
        self._csca_crl_state = _CscaCrlState(crl_number=0, revoked=[])
        self._bsc: _EcSigner | None = None
        self._bsc_seq = 0
        self._jwks: dict[str, Any] | None = None
        self._generation = -1

    def __repr__(self) -> str:
        return f"FileKeyStore({str(self._dir)!r}, loaded={self._loaded})"

    # -- paths --

    @property
    def _shc_dir(self) -> Path:
        return self._dir / "shc"

    @property
    def _crl_dir(self) -> Path:
        return self._dir / "shc" / "crl"

    @property
    def _vdsnc_dir(self) -> Path:
        return self._dir / "vdsnc"

    def _mkdirs(self) -> None:
        for d in (self._dir, self._shc_dir, self._crl_dir, self._vdsnc_dir):
            d.mkdir(mode=0o700, parents=True, exist_ok=True)
            d.chmod(0o700)

    @property
    def _generation_file(self) -> Path:
        return self._dir / "generation"

    def _read_generation(self) -> int:
        """The directory's generation; 0 for a directory written before generations existed."""
        try:
            text = self._generation_file.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            return 0
        except (OSError, UnicodeDecodeError):
            raise KeyStoreError("KEYS_UNREADABLE", "cannot read the key generation") from None
        if not text.isdigit():
            raise KeyStoreError("KEYS_UNREADABLE", "the key generation is not a number")
        return int(text)

    def _bump_generation(self) -> None:
        """The last step of every change: running processes reload on their next refresh."""
        _write_private(self._generation_file, f"{self._read_generation() + 1}\n".encode())

    @staticmethod
    def _seqs(directory: Path, prefix: str) -> list[int]:
        out = []
        for p in directory.glob(f"{prefix}*.key.pem"):
            m = _SEQ_RE.fullmatch(p.name)
            if m is not None and p.name.startswith(prefix):
                out.append(int(m.group(1)))
        return sorted(out)

    # -- life cycle --

    def create(self, *, now: datetime) -> None:
        if (self._dir / "rid-secret").exists() or (self._vdsnc_dir / "csca.key.pem").exists():
            raise KeyStoreError("KEYS_EXIST", "the key directory already holds keys")
        self._mkdirs()
        _write_private(self._dir / "rid-secret", secrets.token_bytes(32))
        self._new_shc_key()
        csca_key = ec.generate_private_key(ec.SECP256R1())
        csca = issue_csca(csca_key, common_name=CSCA_NAME, now=now)
        _write_private(self._vdsnc_dir / "csca.key.pem", _pem_key(csca_key))
        _write_private(
            self._vdsnc_dir / "csca.cert.pem", csca.public_bytes(serialization.Encoding.PEM)
        )
        self._csca, self._csca_key = csca, csca_key
        self._write_csca_crl([], now=now)
        self._new_bsc(now=now)
        self._bump_generation()
        self._loaded = False
        self.load()

    def load(self) -> None:
        if not (self._dir / "rid-secret").is_file():
            raise KeyStoreError("KEYS_MISSING", "no keys in the key directory (keys create)")
        # Read before the files: a change during this load is seen again by the next refresh.
        generation = self._read_generation()
        try:
            self._rid_secret = (self._dir / "rid-secret").read_bytes()
            shc = []
            for seq in self._seqs(self._shc_dir, ""):
                key = _load_key(self._shc_dir / f"{seq:04d}.key.pem")
                shc.append(_EcSigner(key, public_jwk(key.public_key())["kid"]))
            if not shc:
                raise KeyStoreError("KEYS_MISSING", "no SHC key")
            crls = {}
            for p in self._crl_dir.glob("*.json"):
                crl = msgspec.json.decode(p.read_bytes(), type=_ShcCrl)
                crls[crl.kid] = crl
            self._csca_key = _load_key(self._vdsnc_dir / "csca.key.pem")
            self._csca = x509.load_pem_x509_certificate(
                (self._vdsnc_dir / "csca.cert.pem").read_bytes()
            )
            self._csca_crl_pem = (self._vdsnc_dir / "csca.crl.pem").read_bytes()
            self._csca_crl_state = msgspec.json.decode(
                (self._vdsnc_dir / "csca.crl.json").read_bytes(), type=_CscaCrlState
            )
            seqs = self._seqs(self._vdsnc_dir, "bsc-")
            if not seqs:
                raise KeyStoreError("KEYS_MISSING", "no barcode signer")
            self._bsc_seq = seqs[-1]
            bsc_key = _load_key(self._vdsnc_dir / f"bsc-{seqs[-1]:04d}.key.pem")
            bsc_cert = x509.load_pem_x509_certificate(
                (self._vdsnc_dir / f"bsc-{seqs[-1]:04d}.cert.pem").read_bytes()
            )
        except FileNotFoundError as exc:
            name = Path(exc.filename).name if exc.filename else "a key file"
            raise KeyStoreError("KEYS_MISSING", f"missing {name}") from None
        except (OSError, ValueError, msgspec.DecodeError):
            raise KeyStoreError("KEYS_UNREADABLE", "a key file cannot be read") from None
        if bsc_cert.public_key() != bsc_key.public_key():
            raise KeyStoreError("KEYS_MISMATCH", "barcode signer key and certificate differ")
        self._shc = shc
        self._shc_public = [s._key.public_key() for s in shc]
        self._crls = crls
        self._bsc = _EcSigner(
            bsc_key, f"bsc-{seqs[-1]:04d}", bsc_cert.public_bytes(serialization.Encoding.DER)
        )
        self._jwks = None
        self._generation = generation
        self._loaded = True

    def refresh(self) -> bool:
        if self._loaded and self._read_generation() == self._generation:
            return False
        before = (self._shc[-1].kid if self._shc else None, self._bsc_seq, len(self._shc))
        self.load()
        return before != (self._shc[-1].kid, self._bsc_seq, len(self._shc))

    def _ensure(self) -> None:
        if not self._loaded:
            self.load()

    def _new_shc_key(self) -> str:
        seqs = self._seqs(self._shc_dir, "")
        seq = (seqs[-1] + 1) if seqs else 1
        key = ec.generate_private_key(ec.SECP256R1())
        _write_private(self._shc_dir / f"{seq:04d}.key.pem", _pem_key(key))
        return public_jwk(key.public_key())["kid"]

    def _new_bsc(self, *, now: datetime) -> x509.Certificate:
        if self._csca is None or self._csca_key is None:
            raise KeyStoreError("KEYS_MISSING", "no CSCA")
        seqs = self._seqs(self._vdsnc_dir, "bsc-")
        seq = (seqs[-1] + 1) if seqs else 1
        key = ec.generate_private_key(ec.SECP256R1())
        cert = issue_barcode_signer(
            key.public_key(),
            csca=self._csca,
            csca_key=self._csca_key,
            common_name=f"{BSC_NAME} {seq:04d}",
            now=now,
        )
        _write_private(self._vdsnc_dir / f"bsc-{seq:04d}.key.pem", _pem_key(key))
        _write_private(
            self._vdsnc_dir / f"bsc-{seq:04d}.cert.pem",
            cert.public_bytes(serialization.Encoding.PEM),
        )
        return cert

    def _write_csca_crl(self, revoked: list[int], *, now: datetime) -> None:
        if self._csca is None or self._csca_key is None:
            raise KeyStoreError("KEYS_MISSING", "no CSCA")
        state = _CscaCrlState(
            crl_number=self._csca_crl_state.crl_number + 1, revoked=sorted(set(revoked))
        )
        crl = issue_csca_crl(
            csca=self._csca,
            csca_key=self._csca_key,
            revoked_serials=state.revoked,
            crl_number=state.crl_number,
            now=now,
        )
        pem = crl.public_bytes(serialization.Encoding.PEM)
        _write_private(self._vdsnc_dir / "csca.crl.pem", pem)
        _write_private(self._vdsnc_dir / "csca.crl.json", msgspec.json.encode(state))
        self._csca_crl_state = state
        self._csca_crl_pem = pem

    def rotate_shc(self, *, now: datetime) -> str:
        self._ensure()
        kid = self._new_shc_key()
        self._bump_generation()
        self.load()
        return kid

    def rotate_barcode_signer(self, *, now: datetime) -> x509.Certificate:
        self._ensure()
        cert = self._new_bsc(now=now)
        self._bump_generation()
        self.load()
        return cert

    def revoke_barcode_signer(self, serial: int, *, now: datetime) -> None:
        self._ensure()
        self._write_csca_crl([*self._csca_crl_state.revoked, serial], now=now)
        self._bump_generation()

    # -- use --

    def shc_signer(self) -> ShcSigner:
        self._ensure()
        return self._shc[-1]

    def rid_for(self, internal_id: str, *, kid: str | None = None) -> str:
        self._ensure()
        return compute_rid(self._rid_secret, kid or self._shc[-1].kid, internal_id)

    def public_keys(self) -> list[dict[str, Any]]:
        self._ensure()
        return [dict(public_jwk(pub)) for pub in self._shc_public]

    def barcode_signer_certificates(self) -> list[x509.Certificate]:
        """Every barcode signer certificate in the directory, oldest first (the last signs)."""
        self._ensure()
        return [
            x509.load_pem_x509_certificate(
                (self._vdsnc_dir / f"bsc-{seq:04d}.cert.pem").read_bytes()
            )
            for seq in self._seqs(self._vdsnc_dir, "bsc-")
        ]

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
        _write_private(self._crl_dir / f"{kid}.json", msgspec.json.encode(crl))
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
