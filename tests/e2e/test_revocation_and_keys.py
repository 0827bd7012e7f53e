"""Operating the service while it runs: revocation seen by a verifier, public key documents the
same on every node and written by no GET, both signing keys rotated under load, and the
master-key procedure with issuances at every step."""

from __future__ import annotations

import asyncio
import base64
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
import pytest
from cryptography import x509
from litestar import Litestar
from litestar.testing import AsyncTestClient

import signing
from certsvc.app import create_app
from certsvc.cli import main
from certsvc.issuance import (
    IssuanceServices,
    Issued,
    RefusalCode,
    Refused,
    reprint_certificate,
)
from certsvc.settings import Settings, settings_to_env
from certsvc.synthetic import ResidentEntry, World
from tests.conftest import WORLD_NOW
from tests.e2e.app_flow import request_certificate
from tests.e2e.conftest import MovableClock
from vrs_client import VrsStore

AMAGASAKI, CHIYODA = "282022", "131016"
JWKS = "/issuer/.well-known/jwks.json"


def eligible(entries: dict[str, ResidentEntry]) -> list[ResidentEntry]:
    """Residents of the municipalities that offer the app, with doses on record."""
    return [
        e
        for e in entries.values()
        if e.municipality_code in {AMAGASAKI, CHIYODA} and e.status == "resident" and e.doses
    ]


def _files(directory: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(directory)): (p.stat().st_mtime_ns, p.stat().st_size)
        for p in directory.rglob("*")
    }


@asynccontextmanager
async def node(settings: Settings, clock: MovableClock) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """One more process of the service on the same stores (another node behind the balancer)."""
    async with AsyncTestClient(app=create_app(settings, clock=clock)) as client:
        yield client


def _certsvc(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTSVC_")}
    env |= settings_to_env(settings)
    return subprocess.run(
        [sys.executable, "-m", "certsvc", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_public_documents_write_nothing_and_agree_across_nodes(
    app_client: AsyncTestClient[Litestar], world_settings: Settings, world: World,
    clock: MovableClock,
) -> None:  # fmt: skip
    assert world_settings.key_dir is not None
    before = _files(world_settings.key_dir)
    jwks = (await app_client.get(JWKS)).json()
    # crlVersion from the first key, before anyone fetched a CRL (SHC: ctr starts at 1).
    assert jwks["keys"]
    assert all(k["crlVersion"] == 1 for k in jwks["keys"])
    kid = jwks["keys"][-1]["kid"]
    crl = await app_client.get(f"/issuer/.well-known/crl/{kid}.json")
    assert crl.status_code == 200
    assert crl.json() == {"kid": kid, "method": "rid", "ctr": 1, "rids": []}
    assert crl.headers["access-control-allow-origin"] == "*"
    async with node(world_settings, clock) as other:
        assert (await other.get(JWKS)).json() == jwks
        assert (await other.get(f"/.well-known/crl/{kid}.json")).json() == crl.json()
    unknown = await app_client.get("/issuer/.well-known/crl/nokey.json")
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "NOT_FOUND"
    assert _files(world_settings.key_dir) == before  # a GET wrote nothing


async def test_cors_preflight_on_the_public_documents(
    app_client: AsyncTestClient[Litestar],
) -> None:
    kid = (await app_client.get(JWKS)).json()["keys"][0]["kid"]
    for path in (JWKS, "/.well-known/jwks.json", f"/issuer/.well-known/crl/{kid}.json"):
        response = await app_client.options(
            path,
            headers={"Origin": "https://verifier.example", "Access-Control-Request-Method": "GET"},
        )
        assert response.status_code == 204, path
        assert response.headers["access-control-allow-origin"] == "*"
        assert "GET" in response.headers["access-control-allow-methods"]
        assert response.headers["access-control-allow-headers"] == "*"
        assert int(response.headers["access-control-max-age"]) > 0


@pytest.fixture
def crl_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A plain HTTP server on 127.0.0.1 serving `tmp_path/www` (a verifier's fetch of the CRL)."""
    root = tmp_path / "www"
    root.mkdir()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 — the base's name
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()


async def test_revoked_certificate_is_refused_by_a_verifier(
    app_client: AsyncTestClient[Litestar], world: World, world_settings: Settings,
    resident_entries: dict[str, ResidentEntry], tmp_path: Path,
    crl_server: tuple[str, Path], capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    entry = eligible(resident_entries)[0]
    response = await request_certificate(app_client, world, entry, now=WORLD_NOW)
    assert response.status_code == 201, response.text
    (cert,) = response.json()["certificates"]
    card = tmp_path / "card.smart-health-card"
    card.write_text(json.dumps({"verifiableCredential": cert["shc"]["jws"]}))
    kid = signing.verify_shc_jws(cert["shc"]["jws"][0], jwks=(await app_client.get(JWKS)).json(),
                                 now=WORLD_NOW).kid  # fmt: skip
    assert kid is not None

    async def save_documents() -> tuple[Path, Path]:
        jwks_file, crl_file = tmp_path / "jwks.json", crl_server[1] / f"{kid}.json"
        jwks_file.write_text((await app_client.get(JWKS)).text)
        crl_file.write_text((await app_client.get(f"/issuer/.well-known/crl/{kid}.json")).text)
        return jwks_file, crl_file

    jwks_file, crl_file = await save_documents()
    assert main(["verify", str(card), "--jwks", str(jwks_file), "--crl", str(crl_file)]) == 0
    capsys.readouterr()

    where = ["--municipality", entry.municipality_code, cert["certificate_id"]]
    revoked = _certsvc(world_settings, "revoke", *where, "--reason", "holder_request")
    assert revoked.returncode == 0, revoked.stderr
    status = _certsvc(world_settings, "status", *where)
    assert "revoked (holder_request)" in status.stdout
    assert entry.name not in status.stdout

    jwks_file, crl_file = await save_documents()
    crl = json.loads(crl_file.read_text())
    assert crl["ctr"] == 2
    assert len(crl["rids"]) == 1
    assert (
        next(k for k in json.loads(jwks_file.read_text())["keys"] if k["kid"] == kid)["crlVersion"]
        == 2
    )
    # From a file and from the issuer's URL alike: refused, exit 1 (contracts §5), SHC_REVOKED.
    for source in (str(crl_file), f"{crl_server[0]}/{kid}.json"):
        assert main(["verify", str(card), "--jwks", str(jwks_file), "--crl", source]) == 1
        assert "SHC_REVOKED" in capsys.readouterr().out
    # A CRL that is not one is unreadable input (exit 3), not a pass.
    bogus = tmp_path / "bogus.json"
    bogus.write_text('{"rids": []}')
    assert main(["verify", str(card), "--jwks", str(jwks_file), "--crl", str(bogus)]) == 3
    assert "VERIFY_BAD_CRL" in capsys.readouterr().out


@pytest.fixture
def own_keys(world_settings: Settings, world: World, tmp_path: Path) -> Settings:
    """The world's settings over a copy of its key directory (this test rotates keys), checked
    for rotated keys every second."""
    assert world_settings.key_dir is not None
    key_dir = tmp_path / "keys"
    shutil.copytree(world_settings.key_dir, key_dir)
    return msgspec.structs.replace(world_settings, key_dir=key_dir, key_refresh_seconds=1)


async def _until_signing(client: AsyncTestClient[Litestar], kid: str) -> None:
    """Wait (at most ~15 s) until the running process serves `kid` in its JWKS."""
    for _ in range(150):
        if any(k["kid"] == kid for k in (await client.get(JWKS)).json()["keys"]):
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the running process did not pick up the rotated key")


async def test_both_signing_keys_rotate_under_load_without_a_restart(
    own_keys: Settings, loaded_db: asyncpg.Pool, redis_client: Any, clock: MovableClock,
    world: World, resident_entries: dict[str, ResidentEntry],
) -> None:  # fmt: skip
    assert own_keys.key_dir is not None
    entries = eligible(resident_entries)[:6]
    async with node(own_keys, clock) as client:

        async def issue(entry: ResidentEntry) -> dict[str, Any]:
            response = await request_certificate(client, world, entry, now=WORLD_NOW, kind="abroad")
            assert response.status_code == 201, response.text
            cert: dict[str, Any] = response.json()["certificates"][0]
            return cert

        old_jwks = (await client.get(JWKS)).json()
        first = await issue(entries[0])
        operator = signing.FileKeyStore(own_keys.key_dir)
        old_bsc_serial = x509.load_der_x509_certificate(
            operator.barcode_signer().certificate_der
        ).serial_number

        async def rotate() -> str:
            await asyncio.sleep(0)  # in the middle of the requests below
            kid = operator.rotate_shc(now=WORLD_NOW)
            operator.rotate_barcode_signer(now=WORLD_NOW)
            return kid

        # Issuances keep running while both keys rotate: every one succeeds (0 errors).
        results = await asyncio.gather(*(issue(e) for e in entries[1:4]), rotate())
        new_kid = results[-1]
        assert isinstance(new_kid, str)
        await _until_signing(client, new_kid)
        after = await asyncio.gather(*(issue(e) for e in entries[3:6]))

        jwks = (await client.get(JWKS)).json()
        kids = [k["kid"] for k in jwks["keys"]]
        assert kids == [*(k["kid"] for k in old_jwks["keys"]), new_kid]  # old keys stay
        csca = operator.csca_certificate_pem()
        for cert in [first, *results[:-1], *after]:
            assert isinstance(cert, dict)
            for jws in cert["shc"]["jws"]:
                assert signing.verify_shc_jws(jws, jwks=jwks, now=WORLD_NOW).exit_code == 0
            for seal in cert["vdsnc"]:
                report = signing.verify_vdsnc(
                    json.dumps(seal).encode(), csca_pem=csca, crl_pem=None, now=WORLD_NOW
                )
                assert report.exit_code == 0, report.findings
        # After the pick-up the new keys sign: the new SHC kid, a new barcode signer certificate.
        for cert in after:
            shc = signing.verify_shc_jws(cert["shc"]["jws"][0], jwks=jwks, now=WORLD_NOW)
            assert shc.kid == new_kid
            cer = cert["vdsnc"][0]["sig"]["cer"]
            serial = x509.load_der_x509_certificate(base64.urlsafe_b64decode(cer)).serial_number
            assert serial != old_bsc_serial
        # A reprint of a certificate signed before the rotation is refused (asked of another
        # node's use case: the test client runs the app on its own event loop).
        services = _services(own_keys, loaded_db)
        reprint = await reprint_certificate(
            municipality_code=entries[0].municipality_code,
            address_number=entries[0].address_number,
            certificate_id=first["certificate_id"],
            services=services,
        )
        assert reprint == Refused(code=RefusalCode.REPRINT_KEY_ROTATED)
        fresh = await reprint_certificate(
            municipality_code=entries[3].municipality_code,
            address_number=entries[3].address_number,
            certificate_id=after[0]["certificate_id"],
            services=services,
        )
        assert isinstance(fresh, Issued)


def _services(settings: Settings, pool: asyncpg.Pool) -> IssuanceServices:
    assert settings.master_key is not None
    assert settings.lookup_key is not None
    assert settings.key_dir is not None
    assert settings.jlis_trust_file is not None
    assert settings.shc_issuer is not None
    return IssuanceServices(
        store=VrsStore(pool, master_key=settings.master_key, lookup_key=settings.lookup_key),
        keys=signing.FileKeyStore(settings.key_dir),
        trust=signing.load_trust_store(
            settings.jlis_trust_file, hierarchies=settings.jlis_hierarchies
        ),
        shc_issuer=settings.shc_issuer,
        vaccination_authority=settings.vaccination_authority,
        lookup_key=settings.lookup_key,
        mrz_test_mode=True,
    )


async def test_master_key_rotation_procedure_issues_at_every_step(
    world_settings: Settings, loaded_db: asyncpg.Pool, redis_client: Any, clock: MovableClock,
    world: World, resident_entries: dict[str, ResidentEntry],
) -> None:  # fmt: skip
    old = world_settings.master_key
    new = os.urandom(32)
    both = msgspec.structs.replace(world_settings, master_key=new, master_key_previous=old)
    new_only = msgspec.structs.replace(world_settings, master_key=new)
    people = eligible(resident_entries)

    async def issues(client: AsyncTestClient[Litestar], step: int) -> None:
        # Both municipalities, so a data key is unwrapped by this node in every step.
        for entry in (p for p in people if p.municipality_code in {AMAGASAKI, CHIYODA}):
            if people.index(entry) % 4 == step:
                response = await request_certificate(client, world, entry, now=WORLD_NOW)
                assert response.status_code == 201, (step, response.text)

    async with node(world_settings, clock) as first:
        await issues(first, 0)  # (0) every node on the old key
        async with node(both, clock) as restarted:
            # (1) the nodes restart one by one with both keys: old and restarted nodes coexist
            await issues(restarted, 1)
            await issues(first, 1)
        # Out of order, a node with the new key alone cannot open the data keys yet: a 503 the
        # balancer may retry elsewhere, never a 500, and no issuance written.
        async with node(new_only, clock) as too_early:
            entry = people[1]
            response = await request_certificate(too_early, world, entry, now=WORLD_NOW)
            assert response.status_code == 503, response.text
            assert response.json()["code"] == "DATA_KEY_UNAVAILABLE"
            assert response.headers["retry-after"] == "5"
    async with node(both, clock) as second:
        # (2) every node has both keys: re-wrap every data key under the new one
        rewrapped = _certsvc(both, "rotate-master-key", "--from-previous", "--operator", "kanri")
        assert rewrapped.returncode == 0, rewrapped.stderr
        assert "re-wrapped 8 data keys" in rewrapped.stdout  # the 8 demo municipalities
        await issues(second, 2)
    async with node(new_only, clock) as third:
        await issues(third, 3)  # (3) the nodes restart without the previous key
    again = _certsvc(both, "rotate-master-key", "--from-previous")
    assert (again.returncode, "re-wrapped 0 data keys" in again.stdout) == (0, True)  # rerun: safe
    audit = _certsvc(new_only, "audit", "verify", "--service")
    assert audit.returncode == 0, audit.stdout + audit.stderr
    async with loaded_db.acquire() as conn:
        rows = await conn.fetch(
            "SELECT actor, detail FROM service_audit_events WHERE action = 'master_key.rotate'"
            " ORDER BY id"
        )
    assert [(r[0], r[1]) for r in rows] == [
        ("cli:kanri", "rewrapped=8"),
        (rows[1][0], "rewrapped=0"),
    ]
