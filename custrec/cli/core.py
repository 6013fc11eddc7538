"""The command-line plumbing shared by every command: lazy command loading, the one
error boundary, and the shared ``--format`` option.

Nothing here imports pandas, pandera or pyarrow: ``custrec --help`` and the light
commands must start fast. Command modules import heavy libraries inside their
functions.
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from collections.abc import Callable, Mapping
from typing import Any, NoReturn, TypeVar

import click

from custrec.errors import CustrecError, ExitCode
from custrec.locking import DEFAULT_LOCK_TIMEOUT, LOCK_TIMEOUT_ENV
from custrec.render import FORMATS, Result, render

F = TypeVar("F", bound=Callable[..., Any])

FORMAT_ENV = "CUSTREC_FORMAT"
INTERNAL_ERROR = 70
"""Exit code of an unexpected exception, which is a bug (EX_SOFTWARE from sysexits.h)."""


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
            return command
        return super().get_command(ctx, cmd_name)


class CustrecGroup(LazyGroup):
    """The root group: the single place where errors become messages and exit codes.

    - :class:`~custrec.errors.CustrecError`: ``Error: <message>`` on stderr, its exit code;
    - Ctrl-C: ``Interrupted.`` and exit 130 (writers clean up on the way out);
    - a closed stdout pipe (``custrec ... | head``): quiet, exit 0;
    - any other exception is a bug: a short message and exit 70.

    With ``--debug`` the traceback is printed too.
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CustrecError as exc:
            _fail(ctx, f"Error: {exc}", exc.exit_code)
        except KeyboardInterrupt:
            _fail(ctx, "Interrupted.", ExitCode.INTERRUPTED)
        except BrokenPipeError:
            _silence_stdout()
            ctx.exit(ExitCode.OK)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:  # noqa: BLE001 - the one boundary for unexpected bugs
            _fail(
                ctx,
                f"Error: internal error ({type(exc).__name__}); this is a bug in custrec. "
                "Run again with --debug for the traceback and report it.",
                INTERNAL_ERROR,
            )


def _fail(ctx: click.Context, message: str, code: int) -> NoReturn:
    if ctx.find_root().params.get("debug"):
        traceback.print_exc(file=sys.stderr)
    click.echo(message, err=True)
    ctx.exit(code)


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
        help="Output format: table for people, json/ndjson/csv for programs. "
        "JSON output is an object with a 'version' key.",
    )


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


def emit(result: Result, output_format: str) -> None:
    """Render a result on stdout: the only place commands write data."""
    render(result, output_format, sys.stdout)
    sys.stdout.flush()


def note(message: str) -> None:
    """A message for the person running the command (stderr, never stdout)."""
    click.echo(message, err=True)
