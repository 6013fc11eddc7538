"""Shared fixtures: a click runner with separate stdout/stderr, and a way to run the
real ``custrec`` process when a test needs process-level behaviour (locks, signals,
start-up imports)."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from custrec.cli import main

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


InvokeCli = Callable[..., Result]


@pytest.fixture
def cli(runner: CliRunner) -> InvokeCli:
    """Invoke the CLI in-process: ``cli("inspect", path, input=...)``."""

    def invoke(
        *args: str, input: str | bytes | None = None, env: dict[str, str] | None = None
    ) -> Result:
        return runner.invoke(main, list(args), input=input, env=env, catch_exceptions=False)

    return invoke


def custrec_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "custrec", *args]


def run_custrec(
    args: Sequence[str],
    *,
    cwd: Path | None = None,
    input: bytes | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 120,
    memory_limit: int | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``python -m custrec ARGS`` as a separate process; ``memory_limit`` bounds its
    address space (bytes), so that runaway memory ends in MemoryError, not swapping."""
    full_env = {**os.environ, **(env or {})}
    full_env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO), full_env.get("PYTHONPATH", "")) if p
    )

    def limit() -> None:
        if memory_limit is not None:
            resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))

    return subprocess.run(
        custrec_command(*args),
        cwd=cwd,
        input=input,
        env=full_env,
        capture_output=True,
        timeout=timeout,
        check=False,
        preexec_fn=limit if memory_limit is not None else None,
    )


def write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def files_open_for_writing(pid: int, directory: Path) -> list[str]:
    """The files in ``directory`` that process ``pid`` holds open, as ``/proc`` names
    them: an output still being written shows as ``DIR/#INODE (deleted)`` (unnamed,
    ``O_TMPFILE``) or as its part file."""
    prefix = f"{directory.resolve()}/"
    found = []
    try:
        descriptors = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return []
    for fd in descriptors:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith(prefix):
            found.append(target)
    return found


def wait_until_writing(proc: subprocess.Popen[bytes], directory: Path, timeout: float = 60) -> None:
    """Wait until ``proc`` writes an output into ``directory`` (fail if it ends first)."""
    deadline = time.monotonic() + timeout
    while not files_open_for_writing(proc.pid, directory):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            _, stderr = proc.communicate()
            raise AssertionError(f"the writer never started (exit {proc.returncode}): {stderr!r}")
        time.sleep(0.01)
