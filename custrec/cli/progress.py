"""The progress bar of long commands, on stderr, for a person at a terminal.

A long command wraps its library call in :func:`command_progress` and passes what it
yields as the call's ``progress`` (see :mod:`custrec.progress`). That is a bar on
stderr when stderr is a terminal, and nothing otherwise (a pipe, a log file, cron);
``-q/--quiet`` (:func:`quiet_option`, on the root group and on each long command)
turns it off. stdout is never touched, so data output is the same with or without a
bar.

The bar is tqdm's: it shows the count, the rate and, when the total is known, the
time left, and it is light to import (only when a bar is shown). click.progressbar
shows no rate; rich would do, but is several times heavier to import.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO, TypeVar

import click

from custrec.progress import NO_PROGRESS, Progress

F = TypeVar("F", bound=Callable[..., Any])

QUIET_KEY = "custrec.quiet"
"""Where ``--quiet`` is kept in the click context's ``meta`` (shared by the root
group and the command)."""


class ProgressSettings:
    """How commands show progress, given as the root context's ``obj``
    (``main(obj=ProgressSettings(...))``, or ``CliRunner.invoke(..., obj=...)`` in
    tests): ``terminal`` True or False instead of asking whether stderr is a terminal;
    ``min_interval``, the seconds between two redraws of the bar."""

    __slots__ = ("min_interval", "terminal")

    def __init__(self, terminal: bool | None = None, min_interval: float = 0.2) -> None:
        self.terminal = terminal
        self.min_interval = min_interval


def quiet_option() -> Callable[[F], F]:
    """``-q/--quiet``: no progress bar. Accepted before the command name and after it."""

    def remember(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
        if value:
            ctx.meta[QUIET_KEY] = True
        return value

    return click.option(
        "-q",
        "--quiet",
        is_flag=True,
        expose_value=False,
        is_eager=True,
        callback=remember,
        help="Show no progress bar (warnings and errors are still shown).",
    )


BAR_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n:,}/{total:,} [{elapsed}<{remaining}, {rate_fmt}]"
"""A stage with a known total: done, total, time so far and left, rate."""
COUNT_FORMAT = "{desc}: {n:,}{unit} [{elapsed}, {rate_fmt}]"
"""A stage whose total is not known (a file read as a stream): count, time, rate."""


class TerminalProgress:
    """A :class:`~custrec.progress.Progress` drawn as a tqdm bar on ``stream``, one
    bar per stage.

    A stage's bar appears at its first ``advance``, not at ``start``: what happens in
    between (a passphrase prompt when a store is opened) is not drawn over."""

    def __init__(self, label: str, stream: TextIO, min_interval: float = 0.2) -> None:
        self.label = label
        self.stream = stream
        self.min_interval = min_interval
        self._stage: tuple[int | None, str, str | None] | None = None
        self._bar: Any = None

    def start(self, total: int | None, unit: str, stage: str | None = None) -> None:
        self.close()
        self._stage = (total, unit, stage)

    def advance(self, n: int = 1) -> None:
        if self._bar is None:
            if self._stage is None:
                return
            from tqdm import tqdm

            total, unit, stage = self._stage
            tqdm.monitor_interval = 0  # no monitor thread: the bar is redrawn on advance
            self._bar = tqdm(
                total=total,
                desc=f"{self.label} ({stage})" if stage else self.label,
                unit=f" {unit}",
                unit_scale=True,  # the rate as 41.8k rows/s; counts exact, by the format
                bar_format=BAR_FORMAT if total is not None else COUNT_FORMAT,
                file=self.stream,
                mininterval=self.min_interval,
                dynamic_ncols=True,
                leave=True,
            )
        if n:
            self._bar.update(n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        self._bar = self._stage = None


@contextmanager
def command_progress(label: str) -> Iterator[Progress]:
    """The running command's progress: a bar on stderr labelled ``label`` when stderr
    is a terminal and ``--quiet`` was not given, else one that shows nothing. The bar
    is closed on the way out, before the command renders its result."""
    ctx = click.get_current_context()
    settings = ctx.find_root().obj
    if not isinstance(settings, ProgressSettings):
        settings = ProgressSettings()
    terminal = settings.terminal
    if terminal is None:
        terminal = _stderr_is_terminal()
    if ctx.meta.get(QUIET_KEY) or not terminal:
        yield NO_PROGRESS
        return
    bar = TerminalProgress(label, sys.stderr, settings.min_interval)
    try:
        yield bar
    finally:
        bar.close()


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stderr
        return False
