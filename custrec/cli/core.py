"""The command-line plumbing shared by every command: lazy command loading, the one
error boundary (and SIGTERM, which unwinds like Ctrl-C), the shared options
(``--format``, ``--key-file``, ...) and opening a store for a command.

Nothing here imports pandas, pandera or pyarrow: ``custrec --help`` and the light
commands must start fast. Command modules import heavy libraries inside their
functions.
"""

from __future__ import annotations

import gc
import importlib
import os
import re
import signal
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from custrec.errors import (
    NO_SPACE_ERRNOS,
    CustrecError,
    ExitCode,
    NoSpaceError,
    no_space_error,
    reporting_no_space,
)
from custrec.locking import DEFAULT_LOCK_TIMEOUT, LOCK_TIMEOUT_ENV
from custrec.render import FORMATS, Result, render

if TYPE_CHECKING:
    from custrec.audit import AuditContext
    from custrec.store import KeySource, Store

F = TypeVar("F", bound=Callable[..., Any])

FORMAT_ENV = "CUSTREC_FORMAT"
INTERNAL_ERROR = 70
"""Exit code of an unexpected exception, which is a bug (EX_SOFTWARE from sysexits.h)."""


_HYPHEN_STANDIN = "\ue000"  # a private-use character: never in help text
_HYPHENATED = re.compile(r"\S*-\S*")


def _keep_hyphenated_whole(text: str) -> str:
    return _HYPHENATED.sub(lambda m: m.group().replace("-", _HYPHEN_STANDIN), text)


class HelpFormatter(click.HelpFormatter):
    """click's help formatter, breaking lines at spaces only.

    click wraps with :mod:`textwrap`, which also breaks after a hyphen and so split
    option names across lines (``--fail-on-`` / ``findings``), and it offers no switch
    for that: the hyphens of the text are swapped for a stand-in while it is wrapped
    and swapped back when written.
    """

    def write_text(self, text: str) -> None:
        super().write_text(_keep_hyphenated_whole(text))

    def write_dl(
        self, rows: Iterable[tuple[str, str]], col_max: int = 30, col_spacing: int = 2
    ) -> None:
        rows = [(term, _keep_hyphenated_whole(text)) for term, text in rows]
        super().write_dl(rows, col_max, col_spacing)

    def write(self, string: str) -> None:
        super().write(string.replace(_HYPHEN_STANDIN, "-"))


class HelpContext(click.Context):
    """The context of every custrec command: help goes through :class:`HelpFormatter`."""

    formatter_class = HelpFormatter


def _use_help_context(command: click.Command) -> click.Command:
    """``command`` (and, for a group, its subcommands) set to use :class:`HelpContext`."""
    if command.context_class is click.Context:
        command.context_class = HelpContext
    if isinstance(command, click.Group):
        for subcommand in command.commands.values():
            _use_help_context(subcommand)
    return command


class LazyGroup(click.Group):
    """A click group whose subcommands are imported only when they are used.

    ``lazy_commands`` maps a command name to ``"module:attribute"``.
    """

    def __init__(
        self, *args: Any, lazy_commands: Mapping[str, str] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = dict(lazy_commands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_commands:
            module_name, _, attribute = self.lazy_commands[cmd_name].partition(":")
            command = getattr(importlib.import_module(module_name), attribute)
            if not isinstance(command, click.Command):
                raise TypeError(f"{self.lazy_commands[cmd_name]} is not a click command")
            return _use_help_context(command)
        return super().get_command(ctx, cmd_name)


class CustrecGroup(LazyGroup):
    """The root group: the single place where errors become messages and exit codes.

    - :class:`~custrec.errors.CustrecError`: ``Error: <message>`` on stderr, its exit code;
    - Ctrl-C: ``Interrupted.`` and exit 130 (writers clean up on the way out);
    - SIGTERM: the same clean-up, ``Terminated.`` and exit 143 (see :class:`Terminated`);
    - a closed stdout pipe (``custrec ... | head``): quiet, exit 0;
    - a full disk met outside custrec's writers: exit 7, as a NoSpaceError;
    - any other exception is a bug: a short message and exit 70.

    With ``--debug`` the traceback is printed too.
    """

    context_class = HelpContext

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not args and kwargs.get("args") is None:
            # Run as the program, on the process's own command line (the console script,
            # python -m custrec). What is loaded by now (the interpreter's, click's and
            # this package's modules, classes and functions) lives until exit: frozen,
            # the garbage collector no longer scans it, above all in the full
            # collections at exit, which otherwise add several ms to every command.
            gc.freeze()
        return super().__call__(*args, **kwargs)

    def invoke(self, ctx: click.Context) -> Any:
        with _sigterm_unwinds():
            try:
                return super().invoke(ctx)
            except CustrecError as exc:
                if isinstance(exc, NoSpaceError):
                    _drop_unwritten_stdout()
                _fail(ctx, f"Error: {exc}", exc.exit_code)
            except Terminated:
                _fail(ctx, "Terminated.", ExitCode.TERMINATED)
            except KeyboardInterrupt:
                _fail(ctx, "Interrupted.", ExitCode.INTERRUPTED)
            except BrokenPipeError:
                _silence_stdout()
                ctx.exit(ExitCode.OK)
            except (click.ClickException, click.exceptions.Exit, click.Abort):
                raise
            except Exception as exc:  # noqa: BLE001 - the one boundary for unexpected bugs
                if isinstance(exc, OSError) and exc.errno in NO_SPACE_ERRNOS:
                    _drop_unwritten_stdout()
                    full = no_space_error("the output", exc, stream=True)
                    _fail(ctx, f"Error: {full}", full.exit_code)
                _fail(
                    ctx,
                    f"Error: internal error ({type(exc).__name__}); this is a bug in custrec. "
                    "Run again with --debug for the traceback and report it.",
                    INTERNAL_ERROR,
                )


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill PID``, a service manager stopping a job), raised in the main
    thread where the program is, as Python raises KeyboardInterrupt for Ctrl-C.

    The command unwinds the same way: writers remove their unfinished files, store
    transactions roll back; then ``Terminated.`` and exit 143. A second SIGTERM while
    it unwinds ends the process at once (nothing is left then either: outputs have no
    name until complete)."""


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    raise Terminated()


@contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    """Raise :class:`Terminated` on SIGTERM while the command runs."""
    try:
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
    except ValueError:  # not in the main thread (some test runners): leave it
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


def _fail(ctx: click.Context, message: str, code: int) -> NoReturn:
    if ctx.find_root().params.get("debug"):
        exc = sys.exc_info()[1]
        if exc is not None:
            sys.stderr.write(debug_traceback(exc))
    click.echo(message, err=True)
    ctx.exit(code)


def _drop_unwritten_stdout() -> None:
    """After a full disk, let what stdout still holds go to /dev/null if it cannot be
    written, so the flush at exit cannot fail again (Python would exit 120)."""
    try:
        sys.stdout.flush()
    except OSError:
        _silence_stdout()


def debug_traceback(exc: BaseException) -> str:
    """The traceback of ``exc`` and of the exceptions it was raised from or during, as
    Python prints it, but with the message of every exception that is not a
    :class:`CustrecError` replaced by its type's name: the messages of other libraries
    (Arrow, pandas, json) may quote the input, such as a whole CSV row of personal
    data. custrec's own messages never quote values. Frames show their file, line and
    function (not the source line: a literal in it could be a value too)."""
    import traceback  # only for --debug: the module is slow to import

    chain: list[tuple[BaseException, str]] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    link = ""
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append((current, link))
        if current.__cause__ is not None:
            current, link = current.__cause__, "direct"
        elif current.__context__ is not None and not current.__suppress_context__:
            current, link = current.__context__, "during"
        else:
            current = None
    out: list[str] = []
    for item, link in reversed(chain):
        out.append("Traceback (most recent call last):\n")
        out.extend(
            f'  File "{frame.filename}", line {frame.lineno}, in {frame.name}\n'
            for frame in traceback.extract_tb(item.__traceback__)
        )
        name = type(item).__qualname__
        module = type(item).__module__
        if module not in ("builtins", "__main__"):
            name = f"{module}.{name}"
        if isinstance(item, CustrecError):
            out.append(f"{name}: {item}\n")
        else:
            out.append(f"{name} (message left out: it may quote the input)\n")
        if link:
            out.append(
                "\nThe above exception was the direct cause of the following exception:\n\n"
                if link == "direct"
                else "\nDuring handling of the above exception, another exception occurred:\n\n"
            )
    return "".join(out)


def _silence_stdout() -> None:
    """After EPIPE, point stdout at /dev/null so the final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # stdout without a descriptor (a test runner)
        pass


def format_option(*choices: str, default: str = "table") -> Callable[[F], F]:
    """The shared ``--format`` option, restricted to the formats a command supports.

    The default can be changed for a shell session with ``CUSTREC_FORMAT``.
    """
    allowed = choices or FORMATS
    unknown = set(allowed) - set(FORMATS)
    if unknown:
        raise ValueError(f"unsupported formats {sorted(unknown)}")
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(allowed),
        default=default,
        envvar=FORMAT_ENV,
        show_default=True,
        help=_format_help(allowed),
    )


def _format_help(formats: Sequence[str]) -> str:
    """The help of ``--format``, naming exactly ``formats``."""
    for_programs = [name for name in formats if name != "table"]
    parts = ["table for people"] if "table" in formats else []
    if for_programs:
        parts.append(f"{'/'.join(for_programs)} for programs")
    text = f"Output format: {', '.join(parts)}."
    if "json" in formats:
        text += " JSON output is an object with a 'version' key."
    return text


def input_format_option(formats: tuple[str, ...]) -> Callable[[F], F]:
    """``--input-format``, for inputs whose format the file name does not tell (stdin)."""
    return click.option(
        "--input-format",
        type=click.Choice(formats),
        default=None,
        help="Format of the input. Default: from the file extension; for '-' (stdin), "
        "guessed from the first bytes.",
    )


def lock_timeout_option() -> Callable[[F], F]:
    return click.option(
        "--lock-timeout",
        type=click.FloatRange(min=0),
        default=DEFAULT_LOCK_TIMEOUT,
        envvar=LOCK_TIMEOUT_ENV,
        show_default=True,
        metavar="SECONDS",
        help="How long to wait for another custrec process to finish before giving up with exit 5.",
    )


INPUT_FORMATS = ("csv", "ndjson", "parquet")
"""Formats of record files read by ``collect``, ``update --from``, ``validate``, ``report``."""


def csv_options(func: F) -> F:
    """--delimiter and --encoding, for CSV inputs."""
    func = click.option(
        "--encoding",
        metavar="CODEC",
        help="Character encoding of CSV input (e.g. cp1252, latin-1, utf-16). Default: UTF-8.",
    )(func)
    return click.option(
        "--delimiter",
        metavar="CHAR",
        help="Field separator of CSV input (e.g. ';' or '\\t'). Default: ','.",
    )(func)


def engine_options(what: str) -> Callable[[F], F]:
    """--engine, --memory-limit and --spark-remote: where ``what`` (e.g. "the rules
    run") happens (:mod:`custrec.engines`)."""

    def decorate(func: F) -> F:
        func = click.option(
            "--spark-remote",
            metavar="URL",
            envvar="CUSTREC_SPARK_REMOTE",
            help="With --engine spark: a Spark Connect server (sc://host:15002) instead of "
            "Spark on this machine. [env: CUSTREC_SPARK_REMOTE]",
        )(func)
        func = click.option(
            "--memory-limit",
            metavar="SIZE",
            help="With --engine duckdb: the most memory DuckDB may use before it spills to "
            "a private temporary directory (e.g. 4GB). Default: 40% of this machine's memory.",
        )(func)
        return click.option(
            "--engine",
            type=click.Choice(["polars", "duckdb", "spark", "auto"]),
            envvar="CUSTREC_ENGINE",
            help=f"Where {what}: polars in this process (default); duckdb, out of core; "
            "spark, on Apache Spark (local, or a cluster with --spark-remote); auto, polars "
            "while the input fits in memory, else duckdb (stderr says which and why). duckdb "
            "and spark read CSV or Parquet files, directories and globs, and need their "
            "extra: pip install 'custrec[duckdb]' or 'custrec[spark]'. [env: CUSTREC_ENGINE]",
        )(func)

    return decorate


def resolved_engine(given: str | None, sources: Sequence[str], *, holds_all: bool) -> str:
    """The engine of ``--engine`` (or ``CUSTREC_ENGINE``); for ``auto``, the one
    :func:`custrec.engines.auto_engine` chooses, said on stderr."""
    from custrec.engines import AUTO, auto_engine, engine_name

    name = engine_name(given)
    if name != AUTO:
        return name
    chosen, why = auto_engine(sources, holds_all=holds_all)
    note(f"--engine auto: {chosen} ({why})")
    return chosen


def csv_delimiter(value: str | None) -> str | None:
    """The ``--delimiter`` value, with ``\\t`` or ``tab`` meaning a tab."""
    return "\t" if value in ("\\t", "tab", "TAB") else value


def mapping_options(func: F) -> F:
    """--map and --map-file: read fields from differently named input columns (one
    definition for every command that reads record files; see :func:`read_mapping`)."""
    func = click.option(
        "--map-file",
        type=click.Path(dir_okay=False),
        metavar="FILE",
        help="FIELD=COLUMN lines (# starts a comment), to adapt another tool's exports.",
    )(func)
    return click.option(
        "--map",
        "mapping",
        multiple=True,
        metavar="FIELD=COLUMN",
        help="Read field FIELD from input column COLUMN (repeatable), e.g. "
        "--map phone=Telephone --map customer_id='Customer ID'.",
    )(func)


def read_mapping(pairs: tuple[str, ...], map_file: str | None) -> dict[str, str]:
    """The field -> column mapping of ``--map`` and ``--map-file`` (a usage error names
    a wrong pair or an unreadable file)."""
    from custrec.mapping import parse_mapping, read_map_file

    return parse_mapping([*pairs, *(read_map_file(map_file) if map_file else [])])


def fields_option() -> Callable[[F], F]:
    return click.option(
        "--fields",
        "fields",
        multiple=True,
        metavar="F1,F2",
        help="Show only these fields, in this order (comma-separated or repeated). "
        "Select what the request needs, nothing more.",
    )


def split_fields(values: tuple[str, ...]) -> list[str] | None:
    names = [name.strip() for value in values for name in value.split(",") if name.strip()]
    return names or None


def add_columns_option() -> Callable[[F], F]:
    return click.option(
        "--add-columns",
        is_flag=True,
        help="Accept fields the store does not have yet (added as new fields). Without "
        "it, an unknown field is refused.",
    )


def key_file_option() -> Callable[[F], F]:
    return click.option(
        "--key-file",
        type=click.Path(dir_okay=False),
        metavar="FILE",
        help="Key file that opens the store. Default: $CUSTREC_KEY_FILE; else the "
        "passphrase in $CUSTREC_PASSPHRASE, or a prompt on a terminal.",
    )


def output_option(
    help_text: str = "Where to write ('-' for stdout, the default). Created with mode 0600.",
    default: str | None = "-",
) -> Callable[[F], F]:
    """``-o/--output FILE``: a path, or ``-`` for stdout."""
    return click.option(
        "-o",
        "--output",
        default=default,
        type=click.Path(dir_okay=False, allow_dash=True),
        metavar="FILE",
        help=help_text,
    )


def store_argument() -> Callable[[F], F]:
    return click.argument("store", type=click.Path(dir_okay=False))


def reason_option() -> Callable[[F], F]:
    return click.option(
        "--reason",
        metavar="TEXT",
        help="Why, for the audit trail (e.g. a ticket number). Never put personal data here.",
    )


def audit_context(reason: str | None = None) -> AuditContext:
    """Who runs which command and why, from the command line (see ``--actor``)."""
    from custrec.audit import AuditContext

    ctx = click.get_current_context()
    actor = ctx.find_root().params.get("actor")
    command = " ".join(["custrec", *ctx.command_path.split()[1:]])
    if actor:
        return AuditContext(command=command, actor=actor, reason=reason)
    return AuditContext(command=command, reason=reason)


def open_cli_store(
    store: str,
    key_file: str | None,
    lock_timeout: float,
    reason: str | None = None,
    *,
    source: KeySource | None = None,
) -> Store:
    """Open STORE with the key the user gave, for the running command (``source``: a
    key already resolved, so that a passphrase is asked for once)."""
    from custrec.store import open_store, resolve_key_source

    opened = open_store(
        store,
        source or resolve_key_source(key_file),
        lock_timeout=lock_timeout,
        context=audit_context(reason),
    )
    note_store(opened)
    return opened


def note_store(store: Store) -> None:
    """Say what the store reported (a tombstone file recreated or behind, erasures a
    restored backup lacks, a scrub still pending), on stderr."""
    for text in store.notes:
        note(f"Warning: {text}")


def emit(result: Result, output_format: str) -> None:
    """Render a result on stdout: the only place commands write data."""
    with reporting_no_space("<stdout>", stream=True):
        render(result, output_format, sys.stdout)
        sys.stdout.flush()


def note(message: str) -> None:
    """A message for the person running the command (stderr, never stdout)."""
    click.echo(message, err=True)


def note_restricted(store: Store) -> None:
    """Say how many restricted records the command's read of ``store`` left out."""
    if store.restricted_skipped:
        note(
            f"{store.restricted_skipped} restricted record(s) left out (processing "
            "restricted; custrec access exports them for their subject)"
        )
