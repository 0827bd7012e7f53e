"""The admin commands of revocation, key rotation and audit, run as an operator runs them."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import asyncpg

import signing
from tests.store.conftest import AMAGASAKI, NOW
from tests.store.test_commands import _certsvc
from tests.store.test_store import MY_NUMBER, issuance, seed_people
from vrs_client import VrsStore


def _env(db_url: str, master_key: bytes, lookup_key: bytes, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTSVC_")}
    return env | {
        "CERTSVC_DATABASE_URL": db_url,
        "CERTSVC_MASTER_KEY": base64.b64encode(master_key).decode(),
        "CERTSVC_LOOKUP_KEY": base64.b64encode(lookup_key).decode(),
        **extra,
    }


async def test_revoke_and_status_commands(
    store: VrsStore, db_url: str, tmp_path: Path, *, master_key: bytes, lookup_key: bytes
) -> None:
    await seed_people(store, tmp_path)
    async with store.scoped(AMAGASAKI) as tx:
        person = await tx.find_person_by_my_number(MY_NUMBER)
        assert person is not None
        await tx.record_issuance(issuance(person, "AAAAAAAAAAAA"))
    env = _env(db_url, master_key, lookup_key)
    where = ["--municipality", AMAGASAKI, "AAAAAAAAAAAA"]
    status = _certsvc(env, "status", *where)
    assert status.returncode == 0, status.stderr
    assert "state         issued" in status.stdout
    assert "channel       app" in status.stdout
    assert "1001" not in status.stdout  # no person key, no personal data
    done = _certsvc(env, "revoke", *where, "--reason", "key_compromise", "--operator", "officer")
    assert done.returncode == 0, done.stderr
    assert "CRL of key kid-1 is now at ctr 2" in done.stdout
    assert "state         revoked (key_compromise)" in _certsvc(env, "status", *where).stdout
    again = _certsvc(env, "revoke", *where, "--reason", "superseded")
    assert again.returncode == 1
    assert again.stderr.startswith("certsvc revoke: ISSUANCE_REVOKED: AAAAAAAAAAAA is revoked")
    missing = _certsvc(env, "status", "--municipality", AMAGASAKI, "ZZZZZZZZZZZZ")
    assert missing.returncode == 6  # Exit.NOT_FOUND
    assert missing.stderr.startswith("certsvc status: ISSUANCE_NOT_FOUND: no certificate ZZZZ")
    unknown = _certsvc(env, "status", "--municipality", "999997", "AAAAAAAAAAAA")
    assert unknown.returncode == 6
    assert "municipality 999997 is not in the database" in unknown.stderr
    malformed = _certsvc(env, "revoke", "--municipality", "12345", "AAAAAAAAAAAA", "--reason",
                         "superseded")  # fmt: skip
    assert malformed.returncode == 2
    assert "is not a municipality code" in malformed.stderr
    bad_reason = _certsvc(env, "revoke", *where, "--reason", "because")
    assert bad_reason.returncode == 2
    assert "invalid choice" in bad_reason.stderr
    bad_operator = _certsvc(env, "revoke", *where, "--reason", "superseded", "--operator", "a b")
    assert bad_operator.returncode == 2
    assert "Traceback" not in bad_reason.stderr + bad_operator.stderr
    async with store.scoped(AMAGASAKI) as tx:
        actors = await tx.connection.fetch(
            "SELECT actor FROM audit_events WHERE action = 'issuance.revoke'"
        )
    assert [r[0] for r in actors] == ["cli:officer"]


async def test_unreachable_database_is_exit_3(
    store: VrsStore, tmp_path: Path, *, master_key: bytes, lookup_key: bytes
) -> None:
    env = _env("postgresql://nobody@127.0.0.1:9/none", master_key, lookup_key)
    done = _certsvc(env, "status", "--municipality", AMAGASAKI, "AAAAAAAAAAAA")
    assert done.returncode == 7  # Exit.STORE
    assert done.stderr.startswith("certsvc status: cannot reach PostgreSQL at")
    assert len(done.stderr.splitlines()) == 1


async def test_key_rotation_is_audited_in_the_service_chain(
    store: VrsStore, db: asyncpg.Pool, db_url: str, tmp_path: Path, *, master_key: bytes,
    lookup_key: bytes,
) -> None:  # fmt: skip
    key_dir = tmp_path / "keys"
    signing.FileKeyStore(key_dir).create(now=NOW)
    env = _env(db_url, master_key, lookup_key, CERTSVC_KEY_DIR=str(key_dir))
    rotated = _certsvc(env, "keys", "rotate", "--shc", "--barcode-signer", "--operator", "kanri")
    assert rotated.returncode == 0, rotated.stderr
    kid = signing.FileKeyStore(key_dir).shc_signer().kid
    assert f"new SHC key: {kid}" in rotated.stdout
    async with db.acquire() as conn:
        rows = await conn.fetch(
            "SELECT actor, action, detail FROM service_audit_events ORDER BY id"
        )
    assert [(r[0], r[1]) for r in rows] == [
        ("cli:kanri", "keys.rotate.shc"),
        ("cli:kanri", "keys.rotate.barcode_signer"),
    ]
    assert rows[0][2] == f"kid={kid}"
    verified = _certsvc(env, "audit", "verify", "--service")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "audit chain of the service: intact (2 rows checked, 0 not linked yet)" in (
        verified.stdout
    )
    listing = _certsvc(env, "keys", "list")
    assert listing.stdout.count("signing") == 2  # one SHC key and one barcode signer sign
    assert "private key usable until" in listing.stdout
    # Without a database the rotation cannot be audited: refused before any key is written.
    no_db = {k: v for k, v in env.items() if k != "CERTSVC_DATABASE_URL"}
    refused = _certsvc(no_db, "keys", "rotate")
    assert refused.returncode == 2
    assert "CERTSVC_DATABASE_URL" in refused.stderr
    assert signing.FileKeyStore(key_dir).shc_signer().kid == kid
    # An unreachable database: nothing rotated, said in one line.
    down = env | {"CERTSVC_DATABASE_URL": "postgresql://nobody@127.0.0.1:9/none"}
    unreachable = _certsvc(down, "keys", "rotate")
    assert unreachable.returncode == 7  # Exit.STORE
    assert unreachable.stderr.startswith("certsvc keys: nothing rotated: cannot reach PostgreSQL")
    assert len(unreachable.stderr.splitlines()) == 1
    assert signing.FileKeyStore(key_dir).shc_signer().kid == kid


async def test_purge_dry_run_command(
    store: VrsStore, db_url: str, tmp_path: Path, *, master_key: bytes, lookup_key: bytes
) -> None:
    await seed_people(store, tmp_path)
    env = _env(db_url, master_key, lookup_key)
    dry = _certsvc(env, "purge", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    # The seeded doses of 2021 are past 5 years from today on; both persons stay on record.
    assert dry.stdout.startswith("would purge (dry run, nothing deleted): 3 vaccinations")
    assert "note: 2 persons lose doses but stay on record" in dry.stdout
    async with store.scoped(AMAGASAKI) as tx:
        assert await tx.connection.fetchval("SELECT count(*) FROM vaccinations") == 2
