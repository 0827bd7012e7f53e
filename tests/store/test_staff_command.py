"""`certsvc staff` as an operator runs it: accounts, terminals, review, and one line with a
documented exit status for every ordinary mistake."""

from __future__ import annotations

import base64
import csv
import io
import os
import subprocess
import sys
from urllib.parse import parse_qs, urlsplit

import asyncpg
import pytest
import redis.asyncio as redis_asyncio

from certsvc.resources import system_clock
from certsvc.staff import SignedIn, StaffService
from tests.store.conftest import AMAGASAKI, CHIYODA
from vrs_client import VrsStore


def _certsvc(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "certsvc", "staff", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _refused(done: subprocess.CompletedProcess[str], status: int, text: str) -> None:
    """The command failed with `status` and said so in exactly one line naming `text`."""
    assert done.returncode == status, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert text in lines[0]
    assert "Traceback" not in done.stderr


@pytest.fixture
def env(store: VrsStore, db_url: str, redis_url: str, lookup_key: bytes) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CERTSVC_")}
    return clean | {
        "CERTSVC_DATABASE_URL": db_url,
        "CERTSVC_REDIS_URL": redis_url,
        "CERTSVC_LOOKUP_KEY": base64.b64encode(lookup_key).decode(),
    }


def _password(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stderr
    [line] = [x for x in done.stdout.splitlines() if x.startswith("one-time password: ")]
    return line.removeprefix("one-time password: ")


async def test_staff_command(
    env: dict[str, str], db: asyncpg.Pool, redis_client: redis_asyncio.Redis, lookup_key: bytes
) -> None:
    service = StaffService(pool=db, redis=redis_client, lookup_key=lookup_key, clock=system_clock)
    # The first administrator, from the command line.
    first = _certsvc(
        env,
        "create",
        "Admin1",
        "--role",
        "administrator",
        "--municipality",
        f"{AMAGASAKI},{CHIYODA}",
        "--expires",
        "2099-12-31",
        "--operator",
        "setup",
    )
    otp = _password(first)
    assert "created admin1 (administrator; 131016, 282022) until 2099-12-31" in first.stdout
    signed = await service.sign_in("admin1", otp, terminal_id=None)
    assert isinstance(signed, SignedIn)
    assert signed.session.staff.must_change_password

    _refused(
        _certsvc(
            env,
            "create",
            "admin1",
            "--role",
            "supervisor",
            "--municipality",
            AMAGASAKI,
            "--expires",
            "2099-01-01",
        ),
        1,
        "STAFF_ID_TAKEN",
    )
    _refused(
        _certsvc(
            env,
            "create",
            "haken",
            "--role",
            "contractor",
            "--municipality",
            AMAGASAKI,
            "--expires",
            "2099-01-01",
        ),
        1,
        "STAFF_CONTRACT_END_REQUIRED",
    )
    _refused(
        _certsvc(
            env,
            "create",
            "haken",
            "--role",
            "contractor",
            "--municipality",
            AMAGASAKI,
            "--contract-end",
            "2098-12-31",
            "--expires",
            "2099-01-01",
        ),
        1,
        "STAFF_EXPIRY_AFTER_CONTRACT_END",
    )
    _refused(
        _certsvc(
            env,
            "create",
            "sato",
            "--role",
            "counter_staff",
            "--municipality",
            "999999",
            "--expires",
            "2099-01-01",
        ),
        1,
        "STAFF_MUNICIPALITY_UNKNOWN",
    )
    _refused(
        _certsvc(
            env,
            "create",
            "sato",
            "--role",
            "clerk",
            "--municipality",
            AMAGASAKI,
            "--expires",
            "2099-01-01",
        ),
        1,
        "STAFF_ROLE_INVALID",
    )
    _refused(
        _certsvc(
            env,
            "create",
            "sato",
            "--role",
            "counter_staff",
            "--municipality",
            AMAGASAKI,
            "--expires",
            "31/12/2099",
        ),
        1,
        "STAFF_DATE_INVALID",
    )
    _refused(
        _certsvc(env, "create", "sato", "--role", "counter_staff", "--municipality", AMAGASAKI),
        2,
        "--expires",
    )
    _refused(_certsvc(env, "expire", "nobody"), 1, "STAFF_UNKNOWN")
    _refused(_certsvc(env, "reset-password", "nobody"), 1, "STAFF_UNKNOWN")
    _refused(
        _certsvc(
            env,
            "create",
            "shared1",
            "--role",
            "counter_staff",
            "--municipality",
            AMAGASAKI,
            "--expires",
            "2099-01-01",
            "--shared",
            "--terminal",
            "desk 9",
        ),
        1,
        "TERMINAL_UNKNOWN",
    )

    # A contractor, whose expiry defaults to the contract end.
    contractor = _certsvc(
        env,
        "create",
        "haken",
        "--role",
        "contractor",
        "--municipality",
        AMAGASAKI,
        "--contract-end",
        "2098-12-31",
    )
    _password(contractor)
    assert "until 2098-12-31" in contractor.stdout

    # Terminals: the enrolment link works once.
    added = _certsvc(
        env,
        "terminal",
        "add",
        "desk 1",
        "--counter-url",
        "https://counter.city.invalid/",
        "--operator",
        "setup",
    )
    assert added.returncode == 0, added.stderr
    [link] = [x for x in added.stdout.splitlines() if x.startswith("https://")]
    assert link.startswith("https://counter.city.invalid/terminal/enrol?token=")
    token = parse_qs(urlsplit(link).query)["token"][0]
    assert await service.enrol_terminal(token) is not None
    assert await service.enrol_terminal(token) is None
    _refused(_certsvc(env, "terminal", "add", "desk 1"), 1, "TERMINAL_NAME_TAKEN")
    default_url = _certsvc(env | {"CERTSVC_COUNTER_PORT": "9099"}, "terminal", "add", "desk 2")
    assert "http://127.0.0.1:9099/terminal/enrol?token=" in default_url.stdout
    listed = _certsvc(env, "terminal", "list")
    assert listed.returncode == 0
    assert "desk 1" in listed.stdout
    assert "desk 2" in listed.stdout

    shared = _certsvc(
        env,
        "create",
        "counter-a",
        "--role",
        "counter_staff",
        "--municipality",
        AMAGASAKI,
        "--expires",
        "2099-01-01",
        "--shared",
        "--terminal",
        "desk 1",
    )
    _password(shared)

    members = _certsvc(env, "list")
    assert members.returncode == 0
    assert [line.split()[0] for line in members.stdout.splitlines()] == [
        "staff_id",
        "admin1",
        "counter-a",
        "haken",
    ]

    review = _certsvc(env, "review", "--csv")
    assert review.returncode == 0, review.stderr
    rows = list(csv.DictReader(io.StringIO(review.stdout)))
    by_id = {r["staff_id"]: r for r in rows}
    assert set(by_id) == {"admin1", "counter-a", "haken"}
    assert by_id["admin1"]["issuer"] == "setup"
    assert by_id["admin1"]["municipalities"] == f"{CHIYODA},{AMAGASAKI}"
    assert by_id["admin1"]["last_use"] != "-"
    assert by_id["haken"]["last_use"] == "-"
    assert by_id["haken"]["contract_end"] == "2098-12-31"
    assert by_id["counter-a"]["shared_terminals"] == "desk 1"
    assert {r["locked"] for r in rows} == {"no"}
    table = _certsvc(env, "review")
    assert table.returncode == 0
    assert table.stdout.splitlines()[1].split()[:3] == ["staff_id", "role", "municipalities"]

    new_otp = _password(_certsvc(env, "reset-password", "admin1", "--operator", "setup"))
    assert await service.session(signed.session_id) is None
    assert isinstance(await service.sign_in("admin1", new_otp, terminal_id=None), SignedIn)
    expired = _certsvc(env, "expire", "admin1", "--operator", "setup")
    assert expired.returncode == 0
    assert expired.stdout.strip() == "expired admin1"

    actions = [
        (e.action, e.subject) for e in reversed(await service.audit_events(CHIYODA, actor="setup"))
    ]
    assert actions == [
        ("staff.create", "admin1"),
        ("terminal.add", "desk 1"),
        ("staff.reset_password", "admin1"),
        ("staff.expire", "admin1"),
    ]
    async with db.acquire() as conn:
        audit = str([tuple(r) for r in await conn.fetch("SELECT * FROM audit_events")])
    assert otp not in audit
    assert new_otp not in audit


def test_staff_command_without_its_stores(env: dict[str, str]) -> None:
    down = env | {"CERTSVC_DATABASE_URL": "postgresql://certsvc@127.0.0.1:9/certsvc"}
    _refused(_certsvc(down, "list"), 3, "the database is unreachable")
    no_redis = env | {"CERTSVC_REDIS_URL": "redis://127.0.0.1:9/0"}
    _refused(_certsvc(no_redis, "list"), 3, "Redis is unreachable")
    missing = {k: v for k, v in env.items() if k != "CERTSVC_LOOKUP_KEY"}
    _refused(_certsvc(missing, "list"), 2, "CERTSVC_LOOKUP_KEY")
