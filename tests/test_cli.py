"""The command-line skeleton: entry points, lazy imports, the error boundary, pipes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

import custrec
from custrec.cli import COMMANDS, main
from custrec.errors import CustrecError, ExitCode

from .conftest import REPO, InvokeCli, run_custrec, write

PROBE = """
import sys
from custrec.cli import main
try:
    main(sys.argv[1:], prog_name="custrec")
except SystemExit as exit:
    code = exit.code
heavy = sorted(
    m for m in ("pandas", "pandera", "numpy", "pyarrow", "polars", "narwhals", "spacy")
    if m in sys.modules
)
print("HEAVY=" + ",".join(heavy), file=sys.stderr)
"""


def heavy_modules_after(*args: str, tmp_path: Path) -> list[str]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=False,
    )
    line = [x for x in proc.stderr.splitlines() if x.startswith("HEAVY=")][-1]
    return [m for m in line.removeprefix("HEAVY=").split(",") if m]


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["--version"],
        ["key", "--help"],
        ["inspect", "--help"],
        ["demo", "--help"],
        ["generate", "customers", "--help"],
    ],
)
def test_help_and_version_do_not_import_pandas_or_pandera(args: list[str], tmp_path: Path) -> None:
    heavy = heavy_modules_after(*args, tmp_path=tmp_path)
    assert "pandas" not in heavy
    assert "pandera" not in heavy
    assert "pyarrow" not in heavy


def test_light_key_commands_stay_light(tmp_path: Path) -> None:
    key = tmp_path / "k.key"
    assert heavy_modules_after("key", "new", str(key), tmp_path=tmp_path) == []
    assert heavy_modules_after("key", "show", str(key), tmp_path=tmp_path) == []


@pytest.mark.parametrize(
    ("name", "content", "extra"),
    [
        ("notes.txt", "call +4917990297922 or mail ana@example.com\n", []),
        ("rows.ndjson", '{"id": "C-1", "notes": "mail ana@example.com"}\n', []),
        ("rows.csv", "id,notes\nC-1,mail ana@example.com\n", []),
        ("rows.csv", "id;notes\nC-1;mail ana@example.com\n", ["--delimiter", ";"]),
    ],
)
def test_scan_of_a_small_file_stays_light(
    name: str, content: str, extra: list[str], tmp_path: Path
) -> None:
    source = write(tmp_path / name, content)
    assert heavy_modules_after("scan", str(source), *extra, tmp_path=tmp_path) == []
    found = subprocess.run(
        [sys.executable, "-m", "custrec", "scan", str(source), *extra, "--format", "json"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=True,
    )
    assert "EMAIL_ADDRESS" in [f["type"] for f in json.loads(found.stdout)["findings"]]


def test_python_m_custrec_and_version() -> None:
    proc = run_custrec(["--help"])
    assert proc.returncode == 0
    assert proc.stdout.startswith(b"Usage: custrec [OPTIONS] COMMAND")
    version = run_custrec(["--version"])
    assert version.stdout.decode().strip() == f"custrec, version {custrec.__version__}"


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "custrec"
    if not script.exists():
        pytest.skip("custrec is not installed in this environment (run through make test)")
    proc = subprocess.run([str(script), "--version"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0
    assert custrec.__version__ in proc.stdout


def test_every_registered_command_loads(runner: click.testing.CliRunner) -> None:
    ctx = click.Context(main, info_name="custrec")
    assert set(main.list_commands(ctx)) == set(COMMANDS)
    for name in COMMANDS:
        command = main.get_command(ctx, name)
        assert isinstance(command, click.Command), name


def test_error_boundary_one_line_without_traceback(cli: InvokeCli, tmp_path: Path) -> None:
    result = cli("inspect", str(tmp_path / "missing.csv"))
    assert result.exit_code == ExitCode.BAD_INPUT
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr


def test_debug_adds_the_traceback(cli: InvokeCli, tmp_path: Path) -> None:
    result = cli("--debug", "inspect", str(tmp_path / "missing.csv"))
    assert result.exit_code == ExitCode.BAD_INPUT
    assert "Traceback (most recent call last)" in result.stderr
    assert result.stderr.rstrip().endswith("missing.csv: no such file")


def test_unexpected_exception_is_reported_as_a_bug_without_its_text(
    cli: InvokeCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise ValueError("secret@example.com")

    monkeypatch.setattr("custrec.table_profile.inspect_table", broken)
    path = write(tmp_path / "c.csv", "id\n1\n")
    result = cli("inspect", str(path))
    assert result.exit_code == 70
    assert "internal error (ValueError)" in result.stderr
    assert "secret@example.com" not in result.stderr


def test_custrec_errors_carry_their_exit_codes() -> None:
    for error_class in [
        cls
        for cls in vars(custrec.errors).values()
        if isinstance(cls, type) and issubclass(cls, CustrecError)
    ]:
        assert isinstance(error_class.exit_code, ExitCode)


def test_closed_pipe_ends_quietly() -> None:
    command = (
        f"{sys.executable} -m custrec generate customers --rows 200000 | head -c 100 >/dev/null;"
        " echo ${PIPESTATUS[0]}"
    )
    proc = subprocess.run(
        ["bash", "-c", command],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=False,
    )
    assert proc.stdout.strip() == "0"
    assert proc.stderr == ""


def test_json_output_has_a_version_key(cli: InvokeCli, tmp_path: Path) -> None:
    path = write(tmp_path / "c.csv", "customer_id\nC-1\n")
    document = json.loads(cli("inspect", str(path), "--format", "json").stdout)
    assert document["version"] == 1
    assert document["kind"] == "inspect"


def test_format_default_follows_environment(cli: InvokeCli, tmp_path: Path) -> None:
    path = write(tmp_path / "c.csv", "customer_id\nC-1\n")
    result = cli("inspect", str(path), env={"CUSTREC_FORMAT": "json"})
    assert json.loads(result.stdout)["rows"] == 1


def test_stdin_dash(cli: InvokeCli) -> None:
    result = cli("inspect", "-", "--format", "json", input="customer_id,email\nC-1,x@example.com\n")
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert document["source"] == "<stdin>"
    assert document["rows"] == 1


def test_store_commands_do_not_import_pandas(tmp_path: Path) -> None:
    key = tmp_path / "k.key"
    store = tmp_path / "s.crec"
    assert heavy_modules_after("key", "new", str(key), tmp_path=tmp_path) == []
    for args in (
        ["init", str(store), "--key-file", str(key)],
        ["key", "list", str(store)],
        ["verify", str(store), "--key-file", str(key)],
    ):
        heavy = heavy_modules_after(*args, tmp_path=tmp_path)
        assert "pandas" not in heavy, args
        assert "pandera" not in heavy, args
    assert store.exists()


def test_rights_commands_on_one_record_do_not_import_pandas_or_pyarrow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = tmp_path / "k.key"
    store = tmp_path / "s.crec"
    source = write(tmp_path / "c.csv", "customer_id,email\nC-1,a@example.com\nC-2,b@example.com\n")
    monkeypatch.setenv("CUSTREC_KEY_FILE", str(key))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for args in (
        ["key", "new", str(key)],
        ["init", str(store)],
        ["collect", str(store), str(source)],
    ):
        subprocess.run(
            [sys.executable, "-m", "custrec", *args], env=env, check=True, capture_output=True
        )
    probe = PROBE + "print('CODE=' + str(locals().get('code', 0)), file=sys.stderr)\n"
    for args in (
        ["hold", str(store), "C-1", "--reason", "r"],
        ["release", str(store), "C-1", "--reason", "r"],
        ["restrict", str(store), "C-1", "--reason", "r"],
        ["access", str(store), "C-1", "--reason", "r"],
        ["erase", str(store), "C-2", "--reason", "r"],
    ):
        proc = subprocess.run(
            [sys.executable, "-c", probe, *args],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        assert "CODE=0" in proc.stderr, (args, proc.stderr)
        heavy = [x for x in proc.stderr.splitlines() if x.startswith("HEAVY=")][-1]
        assert {"pandas", "pandera", "pyarrow"}.isdisjoint(
            heavy.removeprefix("HEAVY=").split(",")
        ), args
