"""Worker processes for per-value library calls (libphonenumber, card and id detection).

Those libraries are pure Python and hold the interpreter's lock, so only processes run
them on several cores. ``multiprocessing`` is not used: its ``spawn`` and
``forkserver`` methods import the caller's main module again (a script without a
``__main__`` guard would start itself over), and ``fork`` is unsafe once polars' threads
run. Each worker here is ``python -m custrec.schema.workers``: it reads a pickled
``(function, keys)`` from its stdin and writes back the list of ``function(key)``.
The values travel through pipes, never a file. Only module-level functions of custrec
are sent (pickled by name). When a worker cannot start or dies, the calls are made in
this process instead.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import subprocess
import sys
from collections.abc import Callable, Sequence
from typing import Any, BinaryIO

WORKERS_VARIABLE = "CUSTREC_WORKERS"
_ENVIRONMENT = frozenset({"PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "SYSTEMROOT"})


def workers() -> int:
    """Processes for per-value library calls: ``CUSTREC_WORKERS``, else the cores this
    process may run on."""
    given = os.environ.get(WORKERS_VARIABLE, "").strip()
    if given.isdigit() and int(given) > 0:
        return int(given)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1


class Pool:
    """``count`` worker processes, started on first use and stopped by :meth:`close`."""

    def __init__(self, count: int) -> None:
        self.count = count
        self._procs: list[subprocess.Popen[bytes]] = []

    @property
    def running(self) -> int:
        """Worker processes started and not stopped."""
        return len(self._procs)

    def _started(self) -> list[subprocess.Popen[bytes]]:
        if not self._procs:
            # Only what starting Python needs: no key file paths or passphrases.
            env = {k: v for k, v in os.environ.items() if k in _ENVIRONMENT}
            env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
            self._procs = [
                subprocess.Popen(
                    [sys.executable, "-m", "custrec.schema.workers"],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,  # a value could be in a message
                    env=env,
                )
                for _ in range(self.count)
            ]
        return self._procs

    def map(self, function: Callable[[str], Any], keys: Sequence[str]) -> list[Any]:
        """``function(key)`` for each of ``keys``, shared among the workers."""
        try:
            procs = self._started()
            size = -(-len(keys) // len(procs))
            parts = [list(keys[i : i + size]) for i in range(0, len(keys), size)]
            for proc, part in zip(procs, parts, strict=False):
                assert proc.stdin is not None
                pickle.dump((function, part), proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
                proc.stdin.flush()
            results: list[Any] = []
            failed = False
            for proc, _ in zip(procs, parts, strict=False):
                assert proc.stdout is not None
                done, part_results = pickle.load(proc.stdout)
                failed = failed or not done
                results += part_results
            if failed:  # made again here, where an error is reported as usual
                return [function(key) for key in keys]
            return results
        except (OSError, EOFError, pickle.PickleError):
            self.close()
            return [function(key) for key in keys]

    def close(self) -> None:
        for proc in self._procs:
            if proc.stdin is not None:
                with contextlib.suppress(OSError):  # a dead worker's pipe may be gone
                    proc.stdin.close()
        for proc in self._procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._procs = []


def serve(stdin: BinaryIO, stdout: BinaryIO) -> None:
    """A worker's loop: a pickled ``(function, keys)`` in, the results out, until the
    input ends."""
    while True:
        try:
            function, keys = pickle.load(stdin)
        except EOFError:
            return
        try:
            answer: tuple[bool, list[Any]] = (True, [function(key) for key in keys])
        except Exception:  # noqa: BLE001 - the caller makes the calls again itself
            answer = (False, [])
        pickle.dump(answer, stdout, protocol=pickle.HIGHEST_PROTOCOL)
        stdout.flush()


if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)
