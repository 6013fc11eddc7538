"""Shared fixtures: a click runner with separate stdout/stderr, and a way to run the
real ``custrec`` process when a test needs process-level behaviour (locks, signals,
start-up imports)."""

from __future__ import annotations

import datetime as dt
import os
import re
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

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


_ISO_SHAPE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})?)?"
)


def iso_instant(text: str | None, kind: str = "datetime") -> dt.datetime | None:
    """An oracle for the date and time rules, independent of their patterns: Python's
    own reading of ``text`` (stripped) as a UTC instant when it has one of the accepted
    shapes (a day; ``T`` or a space, hours and minutes, optional seconds with up to six
    decimals, optional ``Z`` or ``+HH:MM``), else None. A leap second and year 0 are
    not times in Python either; an offset's minutes must be 00-59 (Python reads
    +05:60 as 6 h). A time without an offset is read as UTC."""
    if text is None:
        return None
    text = text.strip()
    if not _ISO_SHAPE.fullmatch(text) or (kind == "date" and len(text) != 10):
        return None
    if re.search(r"[+-][0-9]{2}:[6-9][0-9]$", text):
        return None
    try:
        if kind == "date":
            return dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), dt.UTC)
        value = dt.datetime.fromisoformat(text.replace(" ", "T", 1))
    except ValueError:
        return None
    value = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:
        return None


def best_seconds(run: Callable[[], object], repeat: int = 3) -> float:
    """The shortest wall time of ``repeat`` calls of ``run``: for tests that compare the
    cost of two input sizes within one run (a ratio, never a time against a constant,
    which would depend on the machine)."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """One Spark session (``local[2]``) for the whole run: starting one takes seconds.
    Tests that need it are skipped without pyspark."""
    pytest.importorskip("pyspark")
    from custrec.engines import SparkEngine

    engine = SparkEngine(master="local[2]")
    engine.session.conf.set("spark.sql.shuffle.partitions", "2")
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def duck() -> Iterator[Any]:
    """One DuckDB engine for the whole run (skipped without duckdb)."""
    pytest.importorskip("duckdb")
    from custrec.engines import DuckDBEngine

    engine = DuckDBEngine()
    yield engine
    engine.close()


def on(name: str, request: pytest.FixtureRequest) -> Any:
    """The session's engine ``name`` (duckdb or spark), from its fixture."""
    return request.getfixturevalue({"duckdb": "duck", "spark": "spark"}[name])


def copy_store(source: Path, target: Path) -> None:
    """Copy a store as a backup does: its data file and, beside it, its key store
    (``STORE.keys``), taken together."""
    import shutil

    shutil.copy(source, target)
    keys = source.with_name(source.name + ".keys")
    if keys.exists():
        shutil.copy(keys, target.with_name(target.name + ".keys"))
