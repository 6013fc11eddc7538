"""The exit-code contract (docs/exit-codes.md): one test per code, each provoking it
through the command line, plus checks that the enum and the document agree."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

from custrec.errors import ExitCode
from custrec.keyfile import new_key_file
from custrec.locking import exclusive_lock

from .conftest import REPO, InvokeCli, custrec_command, run_custrec, wait_until_writing, write

DOCUMENTED = {
    ExitCode.OK: 0,
    ExitCode.CHECK_FAILED: 1,
    ExitCode.USAGE: 2,
    ExitCode.BAD_INPUT: 3,
    ExitCode.KEY_OR_INTEGRITY: 4,
    ExitCode.BUSY: 5,
    ExitCode.NOT_FOUND: 6,
    ExitCode.NO_SPACE: 7,
    ExitCode.INTERRUPTED: 130,
    ExitCode.TERMINATED: 143,
}

CUSTOMERS = "customer_id,email\nC-1,a@example.com\nC-2,b@example.com\nC-2,c@example.com\n"


def test_enum_values_are_the_contract() -> None:
    assert {code: int(code) for code in ExitCode} == DOCUMENTED


def test_every_code_is_documented() -> None:
    text = (REPO / "docs" / "exit-codes.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\|\s*(\d+)\s*\|\s*`(\w+)`", text, flags=re.MULTILINE))
    assert {int(k): v for k, v in rows.items() if int(k) in DOCUMENTED.values()} == {
        int(code): code.name for code in ExitCode
    }


def test_0_success(cli: InvokeCli, tmp_path: Path) -> None:
    path = write(tmp_path / "c.csv", CUSTOMERS)
    result = cli("inspect", str(path))
    assert result.exit_code == ExitCode.OK
    assert result.stderr == ""
    assert "rows:" in result.stdout


def test_1_data_failed_a_check(cli: InvokeCli, tmp_path: Path) -> None:
    path = write(tmp_path / "c.csv", CUSTOMERS)
    result = cli("inspect", str(path), "--fail-on-duplicates", "--format", "json")
    assert result.exit_code == ExitCode.CHECK_FAILED
    assert '"duplicate_ids": 1' in result.stdout  # the report is still on stdout
    assert result.stderr.startswith("Error: ")
    assert "1 ids in column 'customer_id' occur more than once" in result.stderr


def test_2_usage_error(cli: InvokeCli) -> None:
    result = cli("inspect", "--no-such-option", "x.csv")
    assert result.exit_code == ExitCode.USAGE
    assert "No such option" in result.stderr
    assert result.stdout == ""


def test_2_refusing_to_overwrite_a_key(cli: InvokeCli, tmp_path: Path) -> None:
    key = tmp_path / "k.key"
    assert cli("key", "new", str(key)).exit_code == ExitCode.OK
    before = key.read_bytes()
    result = cli("key", "new", str(key))
    assert result.exit_code == ExitCode.USAGE
    assert "refusing to overwrite" in result.stderr
    assert key.read_bytes() == before


def test_3_bad_input_names_file_line_and_column(cli: InvokeCli, tmp_path: Path) -> None:
    path = write(tmp_path / "c.csv", "customer_id,email\nC-1,a@example.com\nC-2\n")
    result = cli("inspect", str(path))
    assert result.exit_code == ExitCode.BAD_INPUT
    assert result.stderr == (
        f"Error: {path}:3:2: expected 2 fields (customer_id, email), found 1\n"
    )
    assert result.stdout == ""


def test_3_missing_file(cli: InvokeCli, tmp_path: Path) -> None:
    result = cli("inspect", str(tmp_path / "absent.csv"))
    assert result.exit_code == ExitCode.BAD_INPUT
    assert "absent.csv: no such file" in result.stderr


def test_3_unknown_column(cli: InvokeCli, tmp_path: Path) -> None:
    path = write(tmp_path / "c.csv", CUSTOMERS)
    result = cli("inspect", str(path), "--id-column", "cust_no")
    assert result.exit_code == ExitCode.BAD_INPUT
    assert "no column 'cust_no'; the columns are: customer_id, email" in result.stderr


def test_4_unsafe_key_file_permissions(cli: InvokeCli, tmp_path: Path) -> None:
    key = new_key_file(tmp_path / "k.key").path
    key.chmod(0o640)
    result = cli("key", "show", str(key))
    assert result.exit_code == ExitCode.KEY_OR_INTEGRITY
    assert f"chmod 600 {key}" in result.stderr
    assert result.stdout == ""


def test_4_missing_key(cli: InvokeCli, tmp_path: Path) -> None:
    result = cli("key", "show", env={"CUSTREC_KEY_FILE": ""})
    assert result.exit_code == ExitCode.KEY_OR_INTEGRITY
    assert "no key given" in result.stderr
    result = cli("key", "show", str(tmp_path / "none.key"))
    assert result.exit_code == ExitCode.KEY_OR_INTEGRITY
    assert "not found" in result.stderr


def test_4_tampered_key_file(cli: InvokeCli, tmp_path: Path) -> None:
    key = new_key_file(tmp_path / "k.key").path
    text = key.read_text()
    encoded = text.split("key: ")[1].strip()
    flipped = ("B" if encoded[0] != "B" else "C") + encoded[1:]
    key.write_text(text.replace(encoded, flipped))
    result = cli("key", "show", str(key))
    assert result.exit_code == ExitCode.KEY_OR_INTEGRITY
    assert "does not match its id" in result.stderr


def test_5_busy_when_the_lock_is_held(tmp_path: Path) -> None:
    # POSIX locks belong to a process, so the command must run in another one.
    workdir = tmp_path / "demo"
    workdir.mkdir()
    with exclusive_lock(workdir / ".custrec-demo.lock", timeout=0, what="test"):
        started = time.monotonic()
        proc = run_custrec(["demo", "--workdir", str(workdir), "--lock-timeout", "0.3"])
        waited = time.monotonic() - started
    assert proc.returncode == ExitCode.BUSY, proc.stderr
    assert b"is busy" in proc.stderr
    assert waited >= 0.3
    assert not (workdir / "customers.csv").exists()


def test_6_not_found(cli: InvokeCli, tmp_path: Path) -> None:
    path = write(tmp_path / "c.csv", CUSTOMERS)
    result = cli("inspect", str(path), "--id", "C-2", "--id", "C-404", "--format", "json")
    assert result.exit_code == ExitCode.NOT_FOUND
    assert "no row with customer_id C-404" in result.stderr
    assert '"rows": [\n        2,\n        3\n      ]' in result.stdout


def test_7_no_space_left(tmp_path: Path) -> None:
    # /dev/full fails every write with ENOSPC, as a full disk does.
    with open("/dev/full", "wb") as full:
        proc = subprocess.run(
            custrec_command("generate", "customers", "--rows", "20000"),
            stdout=full,
            stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            timeout=120,
            check=False,
        )
    assert proc.returncode == ExitCode.NO_SPACE
    assert proc.stderr.decode() == (
        "Error: cannot write <stdout>: no space left on device (the disk or your quota is "
        "full); the output is incomplete: free some space and run the command again\n"
    )


def signal_a_writer(tmp_path: Path, sent: signal.Signals) -> tuple[int, str]:
    """Send ``sent`` to a command while it writes a big file into ``tmp_path``."""
    out = tmp_path / "big.csv"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        custrec_command("generate", "customers", "--rows", "50000000", "-o", str(out)),
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
    )
    try:
        wait_until_writing(proc, tmp_path)
        time.sleep(0.3)
        proc.send_signal(sent)
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    return proc.returncode, stderr.decode()


def test_130_interrupted_leaves_nothing_half_written(tmp_path: Path) -> None:
    returncode, stderr = signal_a_writer(tmp_path, signal.SIGINT)
    assert returncode == ExitCode.INTERRUPTED
    assert stderr.strip().endswith("Interrupted.")
    assert list(tmp_path.iterdir()) == []  # neither the file nor its temporary


def test_143_terminated_leaves_nothing_half_written(tmp_path: Path) -> None:
    returncode, stderr = signal_a_writer(tmp_path, signal.SIGTERM)
    assert returncode == ExitCode.TERMINATED
    assert stderr.strip().endswith("Terminated.")
    assert list(tmp_path.iterdir()) == []  # neither the file nor its temporary
