"""A synthetic deployment for the demo, the tests and the reference clients.

Everything a real deployment gets from outside is made here, in one directory: the SHC and
VDS-NC keys, a synthetic J-LIS hierarchy and its trust file (hierarchy `synthetic`, key IDs that
no real hierarchy uses, refused by production settings), a demo attestation authority (its JWKS,
and its private key so a reference client can play the app), residents imported into the VRS,
their My Number cards and passport lines.

Layout of the directory:
  keys/                      CERTSVC_KEY_DIR (signing.FileKeyStore)
  jlis-trust.json            CERTSVC_JLIS_TRUST_FILE
  jlis-hierarchy.json        the synthetic J-LIS CA and signer (to issue more cards)
  attestation-jwks.json      CERTSVC_ATTESTATION_JWKS_FILE
  attestation-authority.json the demo authority's private key (reference client only)
  cards/<address>.json       one synthetic card per resident, with its expected holder
  residents.json             who is who: municipality, address number, status, passport lines
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

import mrz
import signing
from signing.synthetic import SyntheticAttestationAuthority, SyntheticCard, SyntheticJlis
from vrs_client.synthetic import SyntheticResident

DEMO_APP_ID = "jp.lg.vrs.certificate-app"
DEMO_APP_VERSION = "2.4.0"
DEMO_AUDIENCE = "https://demo.certsvc.invalid"
DEMO_ATTESTATION_ISSUER = "https://attestation.demo.certsvc.invalid"


class ResidentEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One line of residents.json: enough for a person to try the service with a card."""

    municipality_code: str
    address_number: str
    status: str
    card: str
    """The card file, relative to the world directory."""
    name: str
    birth_date: date
    doses: int
    passport_mrz: tuple[str, str]


class World(msgspec.Struct, kw_only=True):
    directory: Path
    key_dir: Path
    trust_file: Path
    attestation_jwks_file: Path
    authority_file: Path
    audience: str
    attestation_issuer: str
    app_id: str = DEMO_APP_ID
    app_version: str = DEMO_APP_VERSION

    def env(self) -> dict[str, str]:
        """The `CERTSVC_*` settings that point at this world's files."""
        return {
            "CERTSVC_KEY_DIR": str(self.key_dir),
            "CERTSVC_JLIS_TRUST_FILE": str(self.trust_file),
            # The demo's own cards are synthetic; a checker's trust file may hold test anchors.
            "CERTSVC_JLIS_HIERARCHIES": "test,synthetic",
            "CERTSVC_ATTESTATION_JWKS_FILE": str(self.attestation_jwks_file),
            "CERTSVC_ATTESTATION_ISSUER": self.attestation_issuer,
            "CERTSVC_ATTESTATION_AUDIENCE": self.audience,
            "CERTSVC_APP_IDS": self.app_id,
            "CERTSVC_APP_MIN_VERSION": "2.0.0",
        }

    def jlis(self) -> SyntheticJlis:
        return SyntheticJlis.from_json_bytes((self.directory / "jlis-hierarchy.json").read_bytes())

    def authority(self) -> SyntheticAttestationAuthority:
        return load_authority(self.authority_file)


class _AuthorityFile(msgspec.Struct, frozen=True, kw_only=True):
    issuer: str
    kid: str
    private_key_pem: str


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def load_authority(path: Path) -> SyntheticAttestationAuthority:
    """The demo attestation authority saved by `create_world`."""
    saved = msgspec.json.decode(path.read_bytes(), type=_AuthorityFile)
    key = serialization.load_pem_private_key(saved.private_key_pem.encode(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError("the authority file does not hold an EC key")
    return SyntheticAttestationAuthority(issuer=saved.issuer, private_key=key, kid=saved.kid)


def create_world(
    directory: Path,
    *,
    now: datetime,
    environ: dict[str, str] | None = None,
    audience: str = DEMO_AUDIENCE,
    attestation_issuer: str = DEMO_ATTESTATION_ISSUER,
) -> World:
    """Create (or reuse, when present) the keys, trust file and attestation authority in
    `directory`. Settings already present in `environ` are left alone by the caller: only the
    files are made here."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    world = World(
        directory=directory,
        key_dir=directory / "keys",
        trust_file=directory / "jlis-trust.json",
        attestation_jwks_file=directory / "attestation-jwks.json",
        authority_file=directory / "attestation-authority.json",
        audience=audience,
        attestation_issuer=attestation_issuer,
    )
    env = environ or {}
    if "CERTSVC_KEY_DIR" not in env and not (world.key_dir / "rid-secret").exists():
        signing.FileKeyStore(world.key_dir).create(now=now)
    if not (directory / "jlis-hierarchy.json").exists():
        jlis = SyntheticJlis.create()
        _write_private(directory / "jlis-hierarchy.json", jlis.to_json_bytes())
        world.trust_file.write_bytes(msgspec.json.encode(jlis.trust_file_json()))
    if not world.authority_file.exists():
        authority = SyntheticAttestationAuthority.create(issuer=attestation_issuer)
        _write_private(
            world.authority_file,
            msgspec.json.encode(
                _AuthorityFile(
                    issuer=authority.issuer,
                    kid=authority.kid,
                    private_key_pem=authority.private_key_pem(),
                )
            ),
        )
        world.attestation_jwks_file.write_bytes(msgspec.json.encode(authority.jwks()))
    return world


def passport_for(resident: SyntheticResident, *, today: date, index: int = 0) -> tuple[str, str]:
    """MRZ lines of a valid Japanese passport for `resident` (expires 5 years after `today`)."""
    number = f"T{chr(ord('A') + index % 26)}{int(resident.address_number) % 10_000_000:07d}"
    sex = {"1": "M", "2": "F"}.get(resident.sex, "<")
    return mrz.compose_td3(
        issuing_state="JPN",
        family_name=resident.family_name_roman,
        given_names=resident.given_name_roman,
        number=number,
        nationality="JPN",
        birth_date=resident.birth_date,
        sex=sex,
        expiry_date=today + timedelta(days=5 * 365),
    )


def issue_cards(
    world: World,
    residents: Sequence[SyntheticResident],
    *,
    today: date,
    address: str = "兵庫県尼崎市東七松町１－２３－１",
) -> list[ResidentEntry]:
    """A card file per resident under `cards/`, and `residents.json` listing them."""
    jlis = world.jlis()
    cards_dir = world.directory / "cards"
    cards_dir.mkdir(exist_ok=True, mode=0o700)
    entries = []
    for index, resident in enumerate(residents):
        card = jlis.issue_card(
            my_number=resident.my_number,
            family_name=resident.family_name,
            given_name=resident.given_name,
            birth_date=resident.birth_date,
            sex=resident.sex,
            address=address,
        )
        path = cards_dir / f"{resident.municipality_code}-{resident.address_number}.json"
        card.save(path)
        path.chmod(0o600)
        entries.append(
            ResidentEntry(
                municipality_code=resident.municipality_code,
                address_number=resident.address_number,
                status=resident.status.value,
                card=str(path.relative_to(world.directory)),
                name=resident.name,
                birth_date=resident.birth_date,
                doses=len(resident.doses),
                passport_mrz=passport_for(resident, today=today, index=index),
            )
        )
    residents_file = world.directory / "residents.json"
    _write_private(residents_file, msgspec.json.format(msgspec.json.encode(entries)))
    return entries


def load_residents(directory: Path) -> list[ResidentEntry]:
    return msgspec.json.decode(
        (directory / "residents.json").read_bytes(), type=list[ResidentEntry]
    )


def load_card(directory: Path, entry: ResidentEntry) -> SyntheticCard:
    return SyntheticCard.load(directory / entry.card)


def card_json(card: SyntheticCard, challenge_signature: bytes) -> dict[str, Any]:
    """The `card` member of a certificate request (standard base64, with padding)."""
    import base64

    evidence = card.evidence(challenge_signature)
    return {
        name: base64.b64encode(getattr(evidence, name)).decode()
        for name in ("ef0001", "ef0002", "ef0003", "ef0004", "ef0007", "challenge_signature")
    }
