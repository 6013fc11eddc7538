"""Progress of long runs, as the library reports it.

A library function that can run long (collect, validate, export, redact, scan, purge,
KPI reports, key rotation, verify) takes an optional ``progress`` argument: an object
with the :class:`Progress` methods. The function calls ``start`` once it knows what it
counts (and the total, when it does), ``advance`` after each batch, and may call
``close`` when its loop is done. A run of several stages (collect reads, then
writes) calls ``start`` once per stage. The default, :data:`NO_PROGRESS`, does nothing; the
command line passes a bar on stderr (:mod:`custrec.cli.progress`). A script can pass
its own object, e.g. one that logs.

This module imports only the standard library: it is on the light commands' path.
"""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    """What a long-running library function reports, batch by batch."""

    def start(self, total: int | None, unit: str, stage: str | None = None) -> None:
        """Counting ``unit`` (``"rows"``, ``"records"``, ``"chunks"``...) from zero
        begins, for ``stage`` (e.g. ``"read"``, ``"write"``) when the run has several;
        ``total`` is how many there will be, or None when unknown (a CSV read as a
        stream). A stage still counting is closed first."""
        ...

    def advance(self, n: int = 1) -> None:
        """``n`` more units are done (``advance(0)`` shows the stage has begun)."""
        ...

    def close(self) -> None:
        """The stage is done (calling it again does nothing)."""
        ...


class NoProgress:
    """A :class:`Progress` that reports nothing: the default of library functions."""

    __slots__ = ()

    def start(self, total: int | None, unit: str, stage: str | None = None) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


NO_PROGRESS: Progress = NoProgress()
"""The do-nothing progress, shared."""
