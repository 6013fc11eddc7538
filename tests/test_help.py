"""Every command's ``--help``: short help that reads whole in the command list, a
description for every option, ``--format`` help naming exactly its choices, and no
option name broken across lines."""

from __future__ import annotations

import re

import click
import pytest
from click.testing import CliRunner

from custrec.cli import main

FORMAT_NAMES = {"table", "json", "ndjson", "csv", "parquet", "markdown", "html"}
WIDTHS = (60, 80, 100, 120)


def _commands() -> list[tuple[list[str], click.Command]]:
    """Every command and group, with its path of names under ``custrec``."""
    found: list[tuple[list[str], click.Command]] = [([], main)]

    def walk(group: click.Group, path: list[str], ctx: click.Context) -> None:
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            assert command is not None
            found.append(([*path, name], command))
            if isinstance(command, click.Group):
                walk(command, [*path, name], click.Context(command, parent=ctx))

    walk(main, [], click.Context(main))
    return found


COMMANDS = _commands()
GROUPS = [(path, command) for path, command in COMMANDS if isinstance(command, click.Group)]
OPTIONS = [
    (path, param)
    for path, command in COMMANDS
    for param in command.params
    if isinstance(param, click.Option) and not param.hidden
]


def _help(path: list[str], width: int) -> str:
    result = CliRunner().invoke(main, [*path, "--help"], terminal_width=width)
    assert result.exit_code == 0, result.output
    return result.output


def _command_rows(text: str) -> list[str]:
    section = text.split("\nCommands:\n", 1)[1]
    return [line for line in section.splitlines() if line.strip()]


@pytest.mark.parametrize("width", [80, 100, 120])
@pytest.mark.parametrize(
    ("path", "group"), GROUPS, ids=[" ".join(p) or "custrec" for p, _ in GROUPS]
)
def test_command_list_shows_each_short_help_whole(
    path: list[str], group: click.Group, width: int
) -> None:
    rows = _command_rows(_help(path, width))
    assert len(rows) == len(group.list_commands(click.Context(group)))
    for row in rows:
        summary = row.split(None, 1)[1]
        assert not summary.endswith("..."), row
        assert summary.count("(") == summary.count(")"), row
        assert summary.endswith("."), row


@pytest.mark.parametrize(
    ("path", "option"), OPTIONS, ids=[" ".join([*p, o.opts[0]]) for p, o in OPTIONS]
)
def test_every_option_has_a_description(path: list[str], option: click.Option) -> None:
    assert option.help, f"custrec {' '.join(path)} {option.opts[0]}"


FORMAT_OPTIONS = [(path, option) for path, option in OPTIONS if "--format" in option.opts]


@pytest.mark.parametrize(
    ("path", "option"), FORMAT_OPTIONS, ids=[" ".join(p) for p, _ in FORMAT_OPTIONS]
)
def test_format_help_names_exactly_the_formats_the_command_takes(
    path: list[str], option: click.Option
) -> None:
    assert isinstance(option.type, click.Choice)
    named = set(re.findall(r"[a-z]+", str(option.help).lower())) & FORMAT_NAMES
    assert named == set(option.type.choices)


# A line ending inside an option name: a bare "--", or "--name-" cut at a hyphen (a
# bare "-" is standard input or output, as in "custrec inspect -").
SPLIT_FLAG = re.compile(r"(?:^|[\s(\[/'\"])(?:--|--?[A-Za-z]\w*(?:-\w+)*-)$")


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize(
    ("path", "command"), COMMANDS, ids=[" ".join(p) or "custrec" for p, _ in COMMANDS]
)
def test_no_help_line_breaks_an_option_name(
    path: list[str], command: click.Command, width: int
) -> None:
    for line in _help(path, width).splitlines():
        assert not SPLIT_FLAG.search(line.rstrip()), (width, line)
