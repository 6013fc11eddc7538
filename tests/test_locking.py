"""Locks: a second process waits, then gives up with StoreBusyError; a killed holder
releases its lock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from custrec.errors import StoreBusyError
from custrec.locking import exclusive_lock

from .conftest import REPO

HOLDER = """
import sys, time
from custrec.locking import exclusive_lock
with exclusive_lock(sys.argv[1], timeout=5, what="test"):
    print("locked", flush=True)
    time.sleep(60)
"""


def start_holder(lock: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(lock)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_busy_while_another_process_holds_the_lock(tmp_path: Path) -> None:
    lock = tmp_path / "x.lock"
    holder = start_holder(lock)
    try:
        started = time.monotonic()
        with (
            pytest.raises(StoreBusyError, match=r"store x is busy.*waited 0\.2 s"),
            exclusive_lock(lock, timeout=0.2, what="store x"),
        ):
            pass
        assert time.monotonic() - started >= 0.2
    finally:
        holder.kill()
        holder.wait()


def test_kill_9_releases_the_lock(tmp_path: Path) -> None:
    lock = tmp_path / "x.lock"
    holder = start_holder(lock)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    with exclusive_lock(lock, timeout=2, what="store x"):
        assert lock.exists()


def test_waiting_writer_gets_the_lock_when_released(tmp_path: Path) -> None:
    lock = tmp_path / "x.lock"
    holder = start_holder(lock)
    try:
        time.sleep(0.1)
        holder.terminate()
        with exclusive_lock(lock, timeout=10, what="store x"):
            assert holder.wait(timeout=10) is not None
    finally:
        holder.kill()


def test_remove_deletes_the_lock_file_on_success_only(tmp_path: Path) -> None:
    lock = tmp_path / "x.lock"
    with exclusive_lock(lock, timeout=1, what="x", remove=True):
        assert lock.exists()
    assert not lock.exists()
    with (
        pytest.raises(RuntimeError),
        exclusive_lock(lock, timeout=1, what="x", remove=True),
    ):
        raise RuntimeError("failed")
    assert lock.exists()


TAKER = """
import os, sys, time
from custrec.locking import exclusive_lock
lock, log, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
for _ in range(rounds):
    with exclusive_lock(lock, timeout=30, what="test", remove=True):
        with open(log, "a") as out:
            out.write(f"in {os.getpid()}\\n")
        time.sleep(0.001)
        with open(log, "a") as out:
            out.write(f"out {os.getpid()}\\n")
"""


def test_removing_lock_files_keeps_holders_one_at_a_time(tmp_path: Path) -> None:
    """Processes that delete the lock file on leaving never hold the lock together,
    although a waiter may have opened a file that the holder then deleted."""
    lock, log = tmp_path / "x.lock", tmp_path / "log"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", TAKER, str(lock), str(log), "60"],
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        for _ in range(4)
    ]
    assert [proc.wait(timeout=120) for proc in procs] == [0, 0, 0, 0]
    lines = log.read_text().splitlines()
    assert len(lines) == 4 * 60 * 2
    for enter, leave in zip(lines[::2], lines[1::2], strict=True):
        assert enter.startswith("in ")
        assert leave == "out " + enter.removeprefix("in ")
    assert not lock.exists()
