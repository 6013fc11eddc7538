"""Docs that cannot drift: the CLI reference, help examples, README and changelog."""

from __future__ import annotations

import re

import pytest

from custrec.cli.reference import iter_commands, render_reference
from custrec.cli.reference import main as reference_main

from .conftest import REPO


def test_cli_reference_is_up_to_date() -> None:
    current = (REPO / "docs" / "cli.md").read_text(encoding="utf-8")
    assert current == render_reference(), "docs/cli.md is stale: run `make docs`"
    assert reference_main(["--check", str(REPO / "docs" / "cli.md")]) == 0


def test_reference_check_fails_on_a_stale_file(tmp_path: pytest.TempPathFactory) -> None:
    stale = tmp_path / "cli.md"  # type: ignore[operator]
    stale.write_text(render_reference().replace("Examples:", "Exemples:", 1))
    assert reference_main(["--check", str(stale)]) == 1


@pytest.mark.parametrize("name", [name for name, _, _ in iter_commands()])
def test_every_command_help_has_an_example(name: str) -> None:
    help_text = next(text for n, _, text in iter_commands() if n == name)
    match = re.search(r"^\s*Examples?:\n((?:\s+custrec .+\n?)+)", help_text, re.MULTILINE)
    assert match, f"`{name} --help` has no 'Examples:' block with a custrec invocation"


def test_readme_opens_with_the_two_commands() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    first_block = readme.split("```sh\n", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in first_block.splitlines()]
    assert commands == ["make demo", "make test"]
    assert readme.index("```sh") < readme.index("custrec is a command-line toolkit")


def test_changelog_has_an_unreleased_section() -> None:
    changelog = (REPO / "CHANGELOG.md").read_text(encoding="utf-8")
    assert re.search(r"^## \[Unreleased\]\n", changelog, re.MULTILINE)


def test_ci_runs_make_test() -> None:
    script = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r"^make test$", script, re.MULTILINE)
