"""The admin commands end to end: import, audit chain/verify, export, rotate-master-key, purge."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

from tests.store.conftest import AMAGASAKI
from vrs_client import VrsStore
from vrs_client.synthetic import generate_files


def _certsvc(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "certsvc", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_admin_commands(
    store: VrsStore, db_url: str, tmp_path: Path, *, master_key: bytes, lookup_key: bytes
) -> None:
    persons, vaccinations, residents = generate_files(tmp_path, 40, municipalities=2, seed=11)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTSVC_")}
    env |= {
        "CERTSVC_DATABASE_URL": db_url,
        "CERTSVC_MASTER_KEY": base64.b64encode(master_key).decode(),
        "CERTSVC_LOOKUP_KEY": base64.b64encode(lookup_key).decode(),
    }
    done = _certsvc(env, "import", str(persons), str(vaccinations), "--strict")
    assert done.returncode == 0, done.stderr
    assert "persons: 40 read, 40 inserted" in done.stdout
    assert (tmp_path / "persons.csv.rejected.csv").read_text() == "line,reason\n"
    assert "rows" in done.stderr  # the progress bar
    assert _certsvc(env, "audit", "chain", AMAGASAKI).returncode == 0
    verified = _certsvc(env, "audit", "verify", AMAGASAKI)
    assert verified.returncode == 0, verified.stdout
    assert "intact" in verified.stdout
    exported = _certsvc(env, "export", AMAGASAKI)
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout.startswith("municipality_code,address_number,name,")
    assert not any(r.my_number in exported.stdout for r in residents)
    new_key = base64.b64encode(os.urandom(32)).decode()
    rotated = _certsvc(env, "rotate-master-key", stdin=new_key + "\n")
    assert rotated.returncode == 0, rotated.stderr
    assert "re-wrapped 2 data keys" in rotated.stdout
    stale = _certsvc(env, "export", AMAGASAKI)
    assert stale.returncode == 9  # Exit.KEYS
    assert "VRS_DATA_KEY_UNWRAP_FAILED" in stale.stderr
    env["CERTSVC_MASTER_KEY"] = new_key
    assert _certsvc(env, "export", AMAGASAKI).returncode == 0
    refused = _certsvc(env | {"CERTSVC_NEW_MASTER_KEY": new_key}, "rotate-master-key")
    assert refused.returncode == 2  # unknown CERTSVC_ variables are refused
    purged = _certsvc(env, "purge")
    assert purged.returncode == 0, purged.stderr
    assert purged.stdout.startswith("purged:")
