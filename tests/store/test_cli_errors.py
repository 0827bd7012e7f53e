"""The command line's failures that need a database: one line naming the file, column or
municipality, and the exit status of the README's table."""

from __future__ import annotations

import base64
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from certsvc import cli
from certsvc.commands._failures import Exit
from tests.store.conftest import AMAGASAKI
from vrs_client import VrsStore
from vrs_client.synthetic import generate_files


@pytest.fixture
def cli_env(
    monkeypatch: pytest.MonkeyPatch,
    store: VrsStore,
    db_url: str,
    master_key: bytes,
    lookup_key: bytes,
) -> dict[str, str]:
    """The process environment of an operator's shell on the test database."""
    for name in list(os.environ):
        if name.startswith("CERTSVC_"):
            monkeypatch.delenv(name)
    env = {
        "CERTSVC_DATABASE_URL": db_url,
        "CERTSVC_MASTER_KEY": base64.b64encode(master_key).decode(),
        "CERTSVC_LOOKUP_KEY": base64.b64encode(lookup_key).decode(),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = cli.main([*args])
    out, err = capsys.readouterr()
    return status, out, err


def one_line(err: str) -> str:
    lines = [line for line in err.strip().splitlines() if line]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.usefixtures("cli_env")
def test_import_names_the_wrong_column(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    persons, _, _ = generate_files(tmp_path, 3, municipalities=1, seed=1)
    text = persons.read_text(encoding="utf-8")
    persons.write_text(text.replace(",name,", ",nam,", 1), encoding="utf-8")
    status, _, err = run(capsys, "import", str(persons), "--no-progress")
    line = one_line(err)
    assert status == Exit.FILE
    assert "VRS_IMPORT_HEADER_INVALID" in line
    assert "persons.csv: unexpected column 'nam'; missing column name" in line


@pytest.mark.usefixtures("cli_env")
def test_import_reads_cp932_with_the_option_and_hints_without(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    persons, vaccinations, residents = generate_files(tmp_path, 6, municipalities=1, seed=2)
    for path in (persons, vaccinations):  # as a municipal system exports them
        path.write_bytes(path.read_text(encoding="utf-8").encode("cp932"))
    status, _, err = run(capsys, "import", str(persons), str(vaccinations), "--no-progress")
    line = one_line(err)
    assert status == Exit.FILE
    assert "persons.csv: not UTF-8 text" in line
    assert "it reads as Shift_JIS/CP932: run again with --encoding cp932" in line
    assert not any(r.name in err for r in residents)

    status, out, err = run(
        capsys, "import", str(persons), str(vaccinations), "--encoding", "cp932", "--no-progress"
    )
    assert status == Exit.OK, err
    assert "persons: 6 read, 6 inserted" in out


@pytest.mark.usefixtures("cli_env")
def test_import_exit_status_says_how_much_was_applied(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    persons, vaccinations, _ = generate_files(tmp_path, 4, municipalities=1, seed=3)
    header, *rows = persons.read_text(encoding="utf-8").splitlines()
    broken = [row.replace(AMAGASAKI, "282023", 1) for row in rows]  # a wrong check digit

    status, _, err = run(capsys, "import", str(persons), "--no-progress")
    assert status == Exit.OK, err

    persons.write_text("\n".join([header, *rows[:2], *broken[2:]]) + "\n", encoding="utf-8")
    status, _, err = run(capsys, "import", str(persons), "--no-progress")
    line = one_line(err)
    assert status == 4
    assert f"2 of 4 rows rejected (the others were applied); see {persons}.rejected.csv" in line

    status, _, err = run(capsys, "import", str(persons), "--strict", "--no-progress")
    assert status == 5
    assert "--strict: 2 rows rejected, nothing was applied" in one_line(err)

    persons.write_text("\n".join([header, *broken]) + "\n", encoding="utf-8")
    status, _, err = run(capsys, "import", str(persons), "--no-progress")
    assert status == Exit.IMPORT_NOTHING_APPLIED
    assert "every row (4) was rejected, nothing was applied" in one_line(err)
    del vaccinations


@pytest.mark.usefixtures("cli_env")
def test_import_progress_shows_phases_and_totals(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    persons, vaccinations, _ = generate_files(tmp_path, 5, municipalities=1, seed=4)
    status, _, err = run(capsys, "import", str(persons), str(vaccinations))
    assert status == Exit.OK, err
    assert "persons.csv: validate+encrypt+copy" in err
    assert "5/5" in err  # the total is known up front (tqdm prints done/total and an ETA)
    assert "vaccinations.csv: validate+copy" in err
    assert "merge" in err


@pytest.mark.usefixtures("cli_env")
@pytest.mark.parametrize(
    ("code", "status", "said"),
    [
        ("131008", Exit.NOT_FOUND, "municipality 131008 is not in the database"),
        ("282023", Exit.USAGE, "'282023' is not a municipality code"),
        ("28202", Exit.USAGE, "'28202' is not a municipality code"),
    ],
)
def test_export_and_audit_refuse_an_unknown_or_mistyped_municipality(
    capsys: pytest.CaptureFixture[str], code: str, status: Exit, said: str
) -> None:
    for command in (["export", code], ["audit", "verify", code], ["audit", "chain", code]):
        got, out, err = run(capsys, *command)
        assert got == status, (command, err)
        assert said in one_line(err)
        assert "intact" not in out


@pytest.mark.usefixtures("cli_env")
def test_export_with_bom_to_a_private_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    persons, vaccinations, _ = generate_files(tmp_path, 3, municipalities=1, seed=5)
    assert run(capsys, "import", str(persons), str(vaccinations), "--no-progress")[0] == 0
    target = tmp_path / "export.csv"
    status, _, err = run(capsys, "export", AMAGASAKI, "-o", str(target), "--bom")
    assert status == Exit.OK, err
    raw = target.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfmunicipality_code,")
    assert raw.count(b"\xef\xbb\xbf") == 1
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_export_into_a_closed_pipe(cli_env: dict[str, str], tmp_path: Path) -> None:
    persons, vaccinations, _ = generate_files(tmp_path, 400, municipalities=1, seed=6)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTSVC_")} | cli_env
    imported = subprocess.run(
        [sys.executable, "-m", "certsvc", "import", str(persons), str(vaccinations)],
        env=env,
        capture_output=True,
        check=False,
        timeout=120,
    )
    assert imported.returncode == 0, imported.stderr
    # `certsvc export 282022 | head -1`: the reader goes away after one line.
    err_file = tmp_path / "err"
    script = 'set -o pipefail; "$0" -m certsvc export "$1" 2>"$2" | head -1; echo "status=$?"'
    done = subprocess.run(
        ["bash", "-c", script, sys.executable, AMAGASAKI, str(err_file)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    first, status = done.stdout.splitlines()
    assert first.startswith("municipality_code,")
    assert status == f"status={Exit.OUTPUT_CLOSED.value}"
    line = one_line(err_file.read_text(encoding="utf-8"))
    assert "standard output was closed before the export finished" in line
    assert "-o FILE" in line


@pytest.mark.usefixtures("cli_env")
def test_the_documented_example_files_import_cleanly(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    examples = Path(__file__).resolve().parents[2] / "docs" / "examples"
    persons, vaccinations = tmp_path / "persons.csv", tmp_path / "vaccinations.csv"
    persons.write_bytes((examples / "persons.csv").read_bytes())
    vaccinations.write_bytes((examples / "vaccinations.csv").read_bytes())
    status, out, err = run(capsys, "import", str(persons), str(vaccinations), "--no-progress")
    assert status == 0, err
    assert "persons: 3 read, 3 inserted" in out
    assert "vaccinations: 6 read, 6 inserted" in out
