"""A synthetic J-LIS hierarchy and a synthetic attestation authority, for tests and the demo.

Nothing here is trusted in production: the J-LIS key IDs start with '9' (spec: "issuer
9000033/001"), which production settings refuse (`CERTSVC_JLIS_HIERARCHIES=production`), and the
attestation authority is whatever issuer name the caller gives it.

- `SyntheticJlis.create()` makes a CA key (the trust anchor) and a text-AP signing key with its
  card-verifiable certificate (EF0004), both RSA-2048; `issue_card(...)` writes the five files of a
  card for any person, with a fresh card key (EF0007/EF0013) that signs challenges.
- `SyntheticCard.to_json_bytes()` / `SyntheticCard.from_json_bytes()` store a ready-made card
  (base64 files, the card key as PKCS#8 PEM, the expected holder) for the demo and reference
  clients.
- `SyntheticAttestationAuthority` mints ES256 attestation tokens (contracts.md §1).

Generating an RSA-2048 key takes 50-100 ms: create one `SyntheticJlis` and issue many cards; pass
`card_key=` to reuse a card key where a test does not care which key a card has.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Final, Literal

import jwt
import msgspec
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from signing._ber import encode_tlv
from signing._card import (
    TAG_ADDRESS,
    TAG_ATTRIBUTES,
    TAG_ATTRIBUTES_DIGEST,
    TAG_BIRTH_DATE,
    TAG_CARD_KEY,
    TAG_CARD_KEY_BODY,
    TAG_CARD_KEY_SIGNATURE,
    TAG_CVC,
    TAG_CVC_BODY,
    TAG_CVC_SIGNATURE,
    TAG_DATA_SIGNATURE,
    TAG_EXPONENT,
    TAG_INTEGRITY,
    TAG_MODULUS,
    TAG_MY_NUMBER,
    TAG_MY_NUMBER_DIGEST,
    TAG_NAME,
    TAG_OFFSETS,
    TAG_SEX,
    CardEvidence,
    CardHolder,
    is_valid_my_number,
)

__all__ = [
    "SyntheticAttestationAuthority",
    "SyntheticCard",
    "SyntheticJlis",
    "encode_cvc",
    "encode_ef0001",
    "encode_ef0002",
    "encode_ef0003",
    "encode_ef0007",
    "make_key_id",
]

CARD_FILE_FORMAT: Final = "certsvc-synthetic-card/1"
JLIS_FILE_FORMAT: Final = "certsvc-synthetic-jlis/1"
SYNTHETIC_ISSUER_DIGITS: Final = "9000033"

_PKCS1V15: Final = padding.PKCS1v15()
_SHA256: Final = hashes.SHA256()


def _new_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _sign(key: rsa.RSAPrivateKey, data: bytes) -> bytes:
    return key.sign(data, _PKCS1V15, _SHA256)


def _private_pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def _load_rsa_private(pem: str) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
    if not isinstance(key, rsa.RSAPrivateKey) or key.key_size != 2048:
        raise ValueError("not an RSA-2048 private key")
    return key


# --- The file layouts (specs/mynumber-text-ap.md), written independently of the parser ---


def make_key_id(digits7: str, digits3: str, last: int = 0) -> bytes:
    """A 16-byte key ID in the real layout: 7 ASCII digits, `08 05`, 3 ASCII digits,
    `00 00 00`, one byte."""
    if len(digits7) != 7 or len(digits3) != 3 or not (digits7 + digits3).isdigit():
        raise ValueError("key ID needs 7 and 3 ASCII digits")
    if not 0 <= last <= 0xFF:
        raise ValueError("last byte out of range")
    return (
        digits7.encode("ascii")
        + b"\x08\x05"
        + digits3.encode("ascii")
        + b"\x00" * 3
        + bytes([last])
    )


def _public_key_tlvs(key: rsa.RSAPublicKey) -> bytes:
    numbers = key.public_numbers()
    if numbers.e != 65537 or key.key_size != 2048:
        raise ValueError("the card format carries RSA-2048 keys with e = 65537")
    return encode_tlv(TAG_EXPONENT, b"\x01\x00\x01") + encode_tlv(
        TAG_MODULUS, numbers.n.to_bytes(256, "big")
    )


def encode_cvc(
    *,
    issuer_key_id: bytes,
    subject_key_id: bytes,
    subject_key: rsa.RSAPublicKey,
    issuer_private_key: rsa.RSAPrivateKey,
) -> bytes:
    """EF0004 (568 bytes): `7F21 { 5F4E body(297), 5F37 signature }`, the body being issuer key
    ID, subject key ID, `90 03 010001`, `91 82 0100` modulus, signed by the issuer key."""
    if len(issuer_key_id) != 16 or len(subject_key_id) != 16:
        raise ValueError("key IDs are 16 bytes")
    body = issuer_key_id + subject_key_id + _public_key_tlvs(subject_key)
    return encode_tlv(
        TAG_CVC,
        encode_tlv(TAG_CVC_BODY, body)
        + encode_tlv(TAG_CVC_SIGNATURE, _sign(issuer_private_key, body)),
    )


def encode_ef0001(my_number: str | bytes) -> bytes:
    """EF0001 as stored (17 bytes): `FF 10 0C` + the 12 characters + filler `FF FF`. Does not
    check the number: tests write invalid ones on purpose."""
    raw = my_number.encode("ascii") if isinstance(my_number, str) else my_number
    if len(raw) != 12:
        raise ValueError("EF0001 holds exactly 12 bytes")
    return encode_tlv(TAG_MY_NUMBER, raw) + b"\xff\xff"


def encode_ef0002(
    *, name: str | bytes, address: str | bytes, birth: str | bytes, sex: str
) -> bytes:
    """EF0002: `FF20 { DF21 offsets, DF22 name, DF23 address, DF24 YYYYMMDD, DF25 sex }`, the
    offsets being the true positions of DF22..DF25 from the first byte of the file. `name` is the
    full name with U+3000 between family and given name. Text is written as UTF-8 unchecked."""

    def raw(v: str | bytes) -> bytes:
        return v.encode("utf-8") if isinstance(v, str) else v

    items = [
        encode_tlv(TAG_NAME, raw(name)),
        encode_tlv(TAG_ADDRESS, raw(address)),
        encode_tlv(TAG_BIRTH_DATE, raw(birth)),
        encode_tlv(TAG_SEX, sex.encode("ascii")),
    ]
    offsets_tlv_length = 2 + 1 + 8
    content_length = offsets_tlv_length + sum(len(i) for i in items)
    header_length = len(encode_tlv(TAG_ATTRIBUTES, b"\x00" * content_length)) - content_length
    offsets = b""
    position = header_length + offsets_tlv_length
    for item in items:
        offsets += position.to_bytes(2, "big")
        position += len(item)
    return encode_tlv(TAG_ATTRIBUTES, encode_tlv(TAG_OFFSETS, offsets) + b"".join(items))


def attributes_tlvs(ef0002: bytes) -> bytes:
    """The DF22..DF25 TLVs of an EF0002 written by `encode_ef0002` (what DF32 hashes): all of
    the FF20 value after the 11-byte DF21 TLV."""
    header_length = 3 if ef0002[2] < 0x80 else 3 + (ef0002[2] & 0x7F)
    return ef0002[header_length + 11 :]


def encode_ef0003(*, ef0001: bytes, ef0002: bytes, signer_key: rsa.RSAPrivateKey) -> bytes:
    """EF0003 (336 bytes): `FF30 { DF31 SHA-256(EF0001), DF32 SHA-256(DF22..DF25), DF33 sig }`,
    DF33 signing the DF31 and DF32 TLVs (70 bytes)."""
    signed = encode_tlv(TAG_MY_NUMBER_DIGEST, hashlib.sha256(ef0001).digest()) + encode_tlv(
        TAG_ATTRIBUTES_DIGEST, hashlib.sha256(attributes_tlvs(ef0002)).digest()
    )
    return encode_tlv(
        TAG_INTEGRITY, signed + encode_tlv(TAG_DATA_SIGNATURE, _sign(signer_key, signed))
    )


def encode_ef0007(*, card_key: rsa.RSAPublicKey, signer_key: rsa.RSAPrivateKey) -> bytes:
    """EF0007 (536 bytes): `FF50 { DF51 { 90 e, 91 n }, DF52 signature over the DF51 TLV }`."""
    body = encode_tlv(TAG_CARD_KEY_BODY, _public_key_tlvs(card_key))
    return encode_tlv(
        TAG_CARD_KEY, body + encode_tlv(TAG_CARD_KEY_SIGNATURE, _sign(signer_key, body))
    )


# --- Cards ---


class _HolderJson(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    my_number: str
    family_name: str
    given_name: str
    birth_date: date
    sex: str
    signer_key_id: str
    address: str


class _CardJson(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    format: Literal["certsvc-synthetic-card/1"]
    ef0001: bytes
    ef0002: bytes
    ef0003: bytes
    ef0004: bytes
    ef0007: bytes
    card_private_key_pem: str
    holder: _HolderJson | None


class SyntheticCard(msgspec.Struct, frozen=True, kw_only=True):
    """A synthetic card: the five files, the card key (EF0013, whose public half is in EF0007)
    and, when it was issued from valid data, the holder `verify_card` should return and the
    address."""

    ef0001: bytes
    ef0002: bytes
    ef0003: bytes
    ef0004: bytes
    ef0007: bytes
    card_key: rsa.RSAPrivateKey
    holder: CardHolder | None
    address: str | None

    def __repr__(self) -> str:
        return f"SyntheticCard(signer_key_id={self.ef0004[26:42].hex()!r})"

    def sign_challenge(self, nonce: bytes) -> bytes:
        """What the card answers to INTERNAL AUTHENTICATE: RSASSA-PKCS1-v1_5 / SHA-256 over the
        raw nonce bytes."""
        return _sign(self.card_key, nonce)

    def evidence(
        self, challenge_signature: bytes | None = None, *, nonce: bytes | None = None
    ) -> CardEvidence:
        """The evidence an app would send: give the challenge signature, or the nonce to sign."""
        if challenge_signature is None:
            if nonce is None:
                raise ValueError("give challenge_signature or nonce")
            challenge_signature = self.sign_challenge(nonce)
        return CardEvidence(
            ef0001=self.ef0001,
            ef0002=self.ef0002,
            ef0003=self.ef0003,
            ef0004=self.ef0004,
            ef0007=self.ef0007,
            challenge_signature=challenge_signature,
        )

    def to_json_bytes(self) -> bytes:
        """The card file format `certsvc-synthetic-card/1`: base64 files, the card key as
        unencrypted PKCS#8 PEM and the expected holder (with the address), or null."""
        holder = None
        if self.holder is not None:
            holder = _HolderJson(**msgspec.structs.asdict(self.holder), address=self.address or "")
        return msgspec.json.encode(
            _CardJson(
                format=CARD_FILE_FORMAT,
                ef0001=self.ef0001,
                ef0002=self.ef0002,
                ef0003=self.ef0003,
                ef0004=self.ef0004,
                ef0007=self.ef0007,
                card_private_key_pem=_private_pem(self.card_key),
                holder=holder,
            )
        )

    @classmethod
    def from_json_bytes(cls, data: bytes) -> SyntheticCard:
        """Read a card written by `to_json_bytes`; raises `ValueError` on anything else."""
        try:
            parsed = msgspec.json.decode(data, type=_CardJson)
        except msgspec.DecodeError as exc:
            raise ValueError(f"not a synthetic card file: {exc}") from None
        holder = address = None
        if parsed.holder is not None:
            fields = msgspec.structs.asdict(parsed.holder)
            address = fields.pop("address")
            holder = CardHolder(**fields)
        return cls(
            ef0001=parsed.ef0001,
            ef0002=parsed.ef0002,
            ef0003=parsed.ef0003,
            ef0004=parsed.ef0004,
            ef0007=parsed.ef0007,
            card_key=_load_rsa_private(parsed.card_private_key_pem),
            holder=holder,
            address=address,
        )

    def save(self, path: str | Path) -> None:
        """Write the card file (mode 0600: it holds a private key and personal data)."""
        p = Path(path)
        p.touch(mode=0o600, exist_ok=True)
        p.write_bytes(self.to_json_bytes())

    @classmethod
    def load(cls, path: str | Path) -> SyntheticCard:
        """Read a card file written by `save`."""
        return cls.from_json_bytes(Path(path).read_bytes())


class _JlisJson(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    format: Literal["certsvc-synthetic-jlis/1"]
    ca_key_id: str
    ca_private_key_pem: str
    signer_key_id: str
    signer_private_key_pem: str


class SyntheticJlis(msgspec.Struct, frozen=True, kw_only=True):
    """A synthetic J-LIS: a CA key (the trust anchor, found by `ca_key_id`) and a text-AP signing
    key (`signer_key_id`) certified by it in `ef0004`. Reusable for any number of cards."""

    ca_key_id: bytes
    ca_key: rsa.RSAPrivateKey
    signer_key_id: bytes
    signer_key: rsa.RSAPrivateKey
    ef0004: bytes

    def __repr__(self) -> str:
        return f"SyntheticJlis(ca_key_id={self.ca_key_id.hex()!r})"

    @classmethod
    def create(
        cls,
        *,
        issuer_digits: str = SYNTHETIC_ISSUER_DIGITS,
        ca_number: str = "001",
        signer_number: str = "101",
        ca_key: rsa.RSAPrivateKey | None = None,
        signer_key: rsa.RSAPrivateKey | None = None,
    ) -> SyntheticJlis:
        """New keys (unless given) and the EF0004 of the signing key. Key IDs are in the real
        layout: issuer `9000033` by default (neither real hierarchy uses '9')."""
        ca_key = ca_key or _new_rsa_key()
        signer_key = signer_key or _new_rsa_key()
        ca_key_id = make_key_id(issuer_digits, ca_number)
        signer_key_id = make_key_id(issuer_digits, signer_number)
        ef0004 = encode_cvc(
            issuer_key_id=ca_key_id,
            subject_key_id=signer_key_id,
            subject_key=signer_key.public_key(),
            issuer_private_key=ca_key,
        )
        return cls(
            ca_key_id=ca_key_id,
            ca_key=ca_key,
            signer_key_id=signer_key_id,
            signer_key=signer_key,
            ef0004=ef0004,
        )

    def trust_file_json(
        self,
        hierarchy: str = "synthetic",
        valid_from: date = date(2020, 1, 1),
        valid_until: date = date(2099, 12, 31),
        *,
        revoked_subject_key_ids: tuple[bytes, ...] = (),
    ) -> dict[str, Any]:
        """A trust file (contracts.md §3) with this CA as its only anchor."""
        pem = (
            self.ca_key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode("ascii")
        )
        return {
            "anchors": [
                {
                    "key_id": self.ca_key_id.hex().upper(),
                    "hierarchy": hierarchy,
                    "public_key_pem": pem,
                    "valid_from": valid_from.isoformat(),
                    "valid_until": valid_until.isoformat(),
                }
            ],
            "revoked_subject_key_ids": [k.hex() for k in revoked_subject_key_ids],
        }

    def issue_card(
        self,
        *,
        my_number: str,
        family_name: str,
        given_name: str,
        birth_date: date,
        sex: str,
        address: str,
        card_key: rsa.RSAPrivateKey | None = None,
    ) -> SyntheticCard:
        """A complete, valid card for this person, with a new card key unless one is given.
        Raises `ValueError` for data a real card could not hold (use `sign_files` for that)."""
        if not is_valid_my_number(my_number):
            raise ValueError("my_number must be 12 digits with a valid check digit")
        if sex not in {"0", "1", "2", "9"}:
            raise ValueError("sex must be 0, 1, 2 or 9")
        if not family_name or not given_name or "\u3000" in family_name:
            raise ValueError("family and given name must be non-empty, family without U+3000")
        card = self.sign_files(
            ef0001=encode_ef0001(my_number),
            ef0002=encode_ef0002(
                name=f"{family_name}\u3000{given_name}",
                address=address,
                birth=birth_date.strftime("%Y%m%d"),
                sex=sex,
            ),
            card_key=card_key,
        )
        holder = CardHolder(
            my_number=my_number,
            family_name=family_name,
            given_name=given_name,
            birth_date=birth_date,
            sex=sex,
            signer_key_id=self.signer_key_id.hex(),
        )
        return msgspec.structs.replace(card, holder=holder, address=address)

    def sign_files(
        self, *, ef0001: bytes, ef0002: bytes, card_key: rsa.RSAPrivateKey | None = None
    ) -> SyntheticCard:
        """Sign any EF0001/EF0002 bytes as J-LIS would (EF0003, EF0007): for tests that need
        genuine signatures over content the verifier must refuse. The holder is None."""
        card_key = card_key or _new_rsa_key()
        return SyntheticCard(
            ef0001=ef0001,
            ef0002=ef0002,
            ef0003=encode_ef0003(ef0001=ef0001, ef0002=ef0002, signer_key=self.signer_key),
            ef0004=self.ef0004,
            ef0007=encode_ef0007(card_key=card_key.public_key(), signer_key=self.signer_key),
            card_key=card_key,
            holder=None,
            address=None,
        )

    def to_json_bytes(self) -> bytes:
        """The hierarchy's keys (`certsvc-synthetic-jlis/1`), so a demo keeps one across runs."""
        return msgspec.json.encode(
            _JlisJson(
                format=JLIS_FILE_FORMAT,
                ca_key_id=self.ca_key_id.hex(),
                ca_private_key_pem=_private_pem(self.ca_key),
                signer_key_id=self.signer_key_id.hex(),
                signer_private_key_pem=_private_pem(self.signer_key),
            )
        )

    @classmethod
    def from_json_bytes(cls, data: bytes) -> SyntheticJlis:
        """Rebuild a hierarchy written by `to_json_bytes` (EF0004 is re-signed, same keys)."""
        try:
            parsed = msgspec.json.decode(data, type=_JlisJson)
            ca_key_id = bytes.fromhex(parsed.ca_key_id)
            signer_key_id = bytes.fromhex(parsed.signer_key_id)
        except (msgspec.DecodeError, ValueError) as exc:
            raise ValueError(f"not a synthetic J-LIS file: {exc}") from None
        ca_key = _load_rsa_private(parsed.ca_private_key_pem)
        signer_key = _load_rsa_private(parsed.signer_private_key_pem)
        return cls(
            ca_key_id=ca_key_id,
            ca_key=ca_key,
            signer_key_id=signer_key_id,
            signer_key=signer_key,
            ef0004=encode_cvc(
                issuer_key_id=ca_key_id,
                subject_key_id=signer_key_id,
                subject_key=signer_key.public_key(),
                issuer_private_key=ca_key,
            ),
        )


# --- Attestation ---


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class SyntheticAttestationAuthority(msgspec.Struct, frozen=True, kw_only=True):
    """An attestation authority with one P-256 key: publishes a JWKS and mints ES256 tokens
    with the claims of contracts.md §1."""

    issuer: str
    private_key: ec.EllipticCurvePrivateKey
    kid: str

    def __repr__(self) -> str:
        return f"SyntheticAttestationAuthority(issuer={self.issuer!r}, kid={self.kid!r})"

    @classmethod
    def create(
        cls, *, issuer: str, private_key: ec.EllipticCurvePrivateKey | None = None
    ) -> SyntheticAttestationAuthority:
        """A new authority (or one around the given P-256 key); `kid` is the RFC 7638
        thumbprint of its public key."""
        key = private_key or ec.generate_private_key(ec.SECP256R1())
        if not isinstance(key.curve, ec.SECP256R1):
            raise ValueError("ES256 needs a P-256 key")
        jwk = cls._public_jwk(key)
        # RFC 7638 §3.2: the required members in lexicographic order, no whitespace.
        canonical = json.dumps({k: jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"))
        kid = _b64url(hashlib.sha256(canonical.encode("ascii")).digest())
        return cls(issuer=issuer, private_key=key, kid=kid)

    @staticmethod
    def _public_jwk(key: ec.EllipticCurvePrivateKey) -> dict[str, str]:
        numbers = key.public_key().public_numbers()
        return {
            "kty": "EC",
            "crv": "P-256",
            "x": _b64url(numbers.x.to_bytes(32, "big")),
            "y": _b64url(numbers.y.to_bytes(32, "big")),
        }

    def private_key_pem(self) -> str:
        """The key as unencrypted PKCS#8 PEM, to rebuild the authority with `create`."""
        return _private_pem(self.private_key)

    def jwks(self) -> dict[str, Any]:
        """The authority's JWKS: one EC P-256 key with its `kid`, `alg` ES256, `use` sig."""
        jwk: dict[str, str] = {
            **self._public_jwk(self.private_key),
            "kid": self.kid,
            "alg": "ES256",
            "use": "sig",
        }
        return {"keys": [jwk]}

    def mint(
        self,
        *,
        nonce: str,
        audience: str,
        app_id: str,
        app_version: str,
        now: datetime,
        lifetime: timedelta = timedelta(minutes=5),
        jti: str | None = None,
    ) -> str:
        """A compact ES256 JWS with `iss`, `aud`, `iat` (now), `exp` (now + lifetime), a random
        `jti`, `nonce`, `app_id` and `app_version`."""
        iat = int(now.timestamp())
        claims = {
            "iss": self.issuer,
            "aud": audience,
            "iat": iat,
            "exp": iat + int(lifetime.total_seconds()),
            "jti": jti or secrets.token_urlsafe(16),
            "nonce": nonce,
            "app_id": app_id,
            "app_version": app_version,
        }
        return jwt.encode(claims, self.private_key, algorithm="ES256", headers={"kid": self.kid})
