"""The command line fails in one line, naming what is wrong, with a documented exit status —
for the mistakes that need no database (those that do are in tests/store/test_cli_errors.py)."""

from __future__ import annotations

import argparse
import base64
import os
import re
import socket
from pathlib import Path
from typing import Any

import pytest

from certsvc import cli
from certsvc.commands._failures import Exit

KEY = base64.b64encode(b"k" * 32).decode()


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("CERTSVC_"):
            monkeypatch.delenv(name)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = cli.main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_import_missing_file_is_named(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "persons.csv"
    status, _, err = run(capsys, "import", str(missing))
    assert status == 3
    assert f"{missing} does not exist" in one_line(err)


def test_unreachable_database_is_named_with_the_password_masked(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as s:  # a port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("CERTSVC_DATABASE_URL", f"postgresql://certsvc:s3cret@127.0.0.1:{port}/x")
    status, _, err = run(capsys, "migrate")
    line = one_line(err)
    assert status == 7
    assert f"cannot reach PostgreSQL at postgresql://certsvc:***@127.0.0.1:{port}/x" in line
    assert "connection refused" in line
    assert "s3cret" not in err


def test_non_postgresql_url_is_a_settings_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CERTSVC_DATABASE_URL", "mysql://root:pw@db/vrs")
    status, _, err = run(capsys, "migrate")
    assert status == 2
    assert "CERTSVC_DATABASE_URL must be a PostgreSQL URL" in one_line(err)
    assert "pw@" not in err


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"CERTSVC_DB_POOL_MAX": "0"}, "CERTSVC_DB_POOL_MAX must be at least 1"),
        ({"CERTSVC_DB_POOL_MIN": "9", "CERTSVC_DB_POOL_MAX": "4"}, "CERTSVC_DB_POOL_MIN"),
    ],
)
def test_pool_size_is_refused_before_anything_starts(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    env: dict[str, str],
    named: str,
) -> None:
    monkeypatch.setenv("CERTSVC_DATABASE_URL", "postgresql://u@127.0.0.1:1/x")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    status, _, err = run(capsys, "migrate")
    assert status == Exit.USAGE
    assert named in one_line(err)


def test_missing_settings_are_named(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, "export", "282022")
    line = one_line(err)
    assert status == Exit.USAGE
    assert "CERTSVC_DATABASE_URL" in line
    assert "CERTSVC_MASTER_KEY" in line


@pytest.mark.parametrize(
    ("content", "status", "said"),
    [
        (None, Exit.FILE, "no such file"),
        (b"not a key\n", Exit.USAGE, "must be base64 of 32 random bytes"),
        (base64.b64encode(b"short"), Exit.USAGE, "must be base64 of 32 random bytes"),
    ],
)
def test_bad_new_key_file_is_named(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    content: bytes | None,
    status: Exit,
    said: str,
) -> None:
    monkeypatch.setenv("CERTSVC_DATABASE_URL", "postgresql://u@127.0.0.1:1/x")
    monkeypatch.setenv("CERTSVC_MASTER_KEY", KEY)
    key_file = tmp_path / "new.key"
    if content is not None:
        key_file.write_bytes(content)
    got, _, err = run(capsys, "rotate-master-key", "--new-key-file", str(key_file))
    line = one_line(err)
    assert got == status
    assert str(key_file) in line
    assert said in line


def test_export_to_a_missing_directory_fails_before_the_database(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The database URL points nowhere: the directory is checked first.
    monkeypatch.setenv("CERTSVC_DATABASE_URL", "postgresql://u@127.0.0.1:1/x")
    monkeypatch.setenv("CERTSVC_MASTER_KEY", KEY)
    monkeypatch.setenv("CERTSVC_LOOKUP_KEY", KEY)
    target = tmp_path / "no-such-dir" / "export.csv"
    status, _, err = run(capsys, "export", "282022", "-o", str(target))
    assert status == Exit.FILE
    assert f"the directory {target.parent} does not exist" in one_line(err)


def test_demo_on_a_busy_port_says_which_and_starts_nothing(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        monkeypatch.setenv("CERTSVC_PORT", str(port))
        status, _, err = run(capsys, "demo", "--dir", str(tmp_path / "demo"))
    line = one_line(err)
    assert status == 8
    assert f"port {port} on 127.0.0.1 (CERTSVC_PORT) is in use" in line
    assert not (tmp_path / "demo" / "demo.env").exists()


def test_demo_says_when_it_moved_off_a_usual_port() -> None:
    from certsvc.demo import _moved_ports
    from certsvc.settings import load_settings

    settings = load_settings({"CERTSVC_PORT": "8123", "CERTSVC_OPS_PORT": "9180"}, mode="demo")
    assert _moved_ports(settings, {}) == [
        "note: port 8000 was in use (another demo?), so the API listens on 8123; "
        "set CERTSVC_PORT to choose"
    ]
    assert _moved_ports(settings, {"CERTSVC_PORT": "8123"}) == []


@pytest.fixture
def exploding_command(monkeypatch: pytest.MonkeyPatch) -> None:
    real = cli.build_parser

    def parser() -> argparse.ArgumentParser:
        p = real()
        sub = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction))
        boom = sub.add_parser("boom")

        def explode(_: Any) -> int:
            raise ValueError("row 7: 山田\u3000太郎 123456789018")  # personal data in a message

        boom.set_defaults(run=explode)
        return p

    monkeypatch.setattr(cli, "build_parser", parser)


@pytest.mark.usefixtures("exploding_command")
def test_an_unexpected_error_is_one_line_without_its_message(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, _, err = run(capsys, "boom")
    line = one_line(err)
    assert status == 70
    assert re.match(r"certsvc boom: unexpected error ValueError at [a-z_]+\.py:\d+; ", line)
    assert "certsvc --version" in line
    assert "山田" not in err
    assert "123456789018" not in err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith("certsvc 0.")


def test_help_describes_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {c.dest: (c.help or "") for c in sub._choices_actions}
    assert set(helps) == set(sub.choices)
    assert all(len(text) > 20 for text in helps.values()), helps
    for name in sub.choices:
        with pytest.raises(SystemExit) as exited:
            cli.main([name, "--help"])
        assert exited.value.code == 0
        assert capsys.readouterr().out.startswith("usage: certsvc " + name)


def test_import_help_names_the_columns(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["import", "--help"])
    out = capsys.readouterr().out
    assert "municipality_code,address_number,my_number,ticket_number,name,birth_date" in out
    assert "dose_number,vaccinated_on,product,lot_number" in out
    assert "--encoding" in out
    assert "docs/import-format.md" in out


def test_the_banner_of_a_temporary_demo_directory_says_it_goes(tmp_path: Path) -> None:
    import io

    from certsvc.demo import _banner
    from certsvc.settings import load_settings

    settings = load_settings({}, mode="demo")
    out = io.StringIO()
    _banner(
        settings,
        demo_dir=tmp_path,
        base_url="http://127.0.0.1:8000",
        started=0.0,
        entries=[],
        extra="",
        out=out,
        temporary=True,
    )
    text = out.getvalue()
    assert f"demo directory: {tmp_path}\n" in text  # the line scripts read stays as it was
    assert "temporary: removed with everything in it" in text
    assert "certsvc demo --dir DIR to keep it" in text
    assert "metrics: http://127.0.0.1:8000/metrics" in text


def test_serve_with_an_unreachable_database_says_so_before_any_worker_starts(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = {
        "CERTSVC_DATABASE_URL": f"postgresql://svc:pw@127.0.0.1:{port}/vrs",
        "CERTSVC_REDIS_URL": f"redis://127.0.0.1:{port}/0",
        "CERTSVC_MASTER_KEY": KEY,
        "CERTSVC_LOOKUP_KEY": KEY,
        "CERTSVC_JLIS_TRUST_FILE": str(tmp_path / "trust.json"),
        "CERTSVC_ATTESTATION_JWKS_FILE": str(tmp_path / "jwks.json"),
        "CERTSVC_ATTESTATION_ISSUER": "https://attestation.example.jp",
        "CERTSVC_ATTESTATION_AUDIENCE": "https://vc.example.jp",
        "CERTSVC_APP_IDS": "jp.lg.example",
        "CERTSVC_SHC_ISSUER": "https://vc.example.jp/issuer",
        "CERTSVC_KEY_DIR": str(tmp_path / "keys"),
        "CERTSVC_TERMS_VERSION": "1",
        "CERTSVC_PORT": "0",
        "CERTSVC_OPS_PORT": "0",
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    status, _, err = run(capsys, "serve")
    line = one_line(err)
    assert status == 7
    assert line.startswith(
        f"certsvc serve: cannot reach PostgreSQL at postgresql://svc:***@127.0.0.1:{port}/vrs"
    )
    assert "pw@" not in err


def test_app_client_names_a_directory_that_is_not_a_demo_directory(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status, _, err = run(capsys, "app-client", "--demo-dir", str(tmp_path))
    assert status == 3
    assert f"{tmp_path} is not a demo directory (it has no demo.env)" in one_line(err)


def test_kiosk_sim_names_the_demo_file_it_cannot_read(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status, _, err = run(
        capsys, "kiosk-sim", "--demo-dir", str(tmp_path), "--url", "https://127.0.0.1:1",
        "--out", str(tmp_path / "out"),
    )  # fmt: skip
    assert status == 3
    assert f"cannot read {tmp_path}/residents.json" in one_line(err)
