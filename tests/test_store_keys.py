"""Where keys come from: key files, environment, a terminal prompt — never arguments."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from custrec.errors import KeyMissingError, UsageError
from custrec.keyfile import new_key_file
from custrec.store.keys import resolve_key_source


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CUSTREC_KEY_FILE", "CUSTREC_PASSPHRASE", "CUSTREC_NEW_PASSPHRASE"):
        monkeypatch.delenv(name, raising=False)


def test_key_file_argument_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    created = new_key_file(tmp_path / "k.key")
    monkeypatch.setenv("CUSTREC_PASSPHRASE", "ignored")
    source = resolve_key_source(str(created.path))
    assert (source.kind, source.key) == ("keyfile", created.key)


def test_environment_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    created = new_key_file(tmp_path / "k.key")
    monkeypatch.setenv("CUSTREC_PASSPHRASE", "words")
    assert resolve_key_source(None).passphrase == "words"
    monkeypatch.setenv("CUSTREC_KEY_FILE", str(created.path))
    assert resolve_key_source(None).kind == "keyfile"


def test_prompt_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    answers = iter(["typed words", "typed words"])
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(answers))
    monkeypatch.setattr(sys, "stdin", FakeTerminal())
    source = resolve_key_source(None, confirm=True)
    assert source.passphrase == "typed words"
    monkeypatch.setattr(sys, "stdin", io.StringIO())  # not a terminal: never prompt
    with pytest.raises(KeyMissingError, match="never taken as command-line values"):
        resolve_key_source(None)


def test_prompt_confirmation_must_match(monkeypatch: pytest.MonkeyPatch) -> None:
    answers = iter(["one", "two"])
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(answers))
    monkeypatch.setattr(sys, "stdin", FakeTerminal())
    with pytest.raises(UsageError, match="differ"):
        resolve_key_source(None, confirm=True)


def test_no_command_accepts_a_key_or_passphrase_value() -> None:
    import click

    from custrec.cli.reference import iter_commands

    for name, command, _ in iter_commands():
        for param in command.params:
            if isinstance(param, click.Option):
                for flag in param.opts:
                    assert "passphrase" not in flag, (name, flag)
                    assert flag not in ("--key", "--password", "--secret"), (name, flag)
