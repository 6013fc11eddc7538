"""``custrec init``, ``custrec verify`` and ``custrec key list|add|remove|rotate``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from custrec.errors import ExitCode
from custrec.keyfile import new_key_file, read_key_file
from custrec.store import KeySource, open_store

from .conftest import InvokeCli


@pytest.fixture
def key(tmp_path: Path) -> Path:
    return new_key_file(tmp_path / "steward.key").path


@pytest.fixture
def store(cli: InvokeCli, tmp_path: Path, key: Path) -> Path:
    path = tmp_path / "customers.crec"
    result = cli("init", str(path), "--key-file", str(key), "--region", "gb")
    assert result.exit_code == 0, result.stderr
    return path


def test_init_reports_the_store(cli: InvokeCli, tmp_path: Path, key: Path) -> None:
    path = tmp_path / "c.crec"
    result = cli(
        "init", str(path), "--key-file", str(key), "--format", "json", "--match-field", "email"
    )
    document = json.loads(result.stdout)
    assert document["version"] == 1
    assert document["kind"] == "init"
    assert document["match_fields"] == ["email"]
    assert document["key_id"] == read_key_file(key).key_id
    assert len(document["store_id"]) == 32
    with open_store(path, KeySource.from_key_file(key)) as opened:
        assert opened.store_id == document["store_id"]


def test_init_refuses_an_existing_file(cli: InvokeCli, store: Path, key: Path) -> None:
    result = cli("init", str(store), "--key-file", str(key))
    assert result.exit_code == ExitCode.USAGE
    assert "already exists" in result.stderr


def test_init_without_any_key_is_exit_4(cli: InvokeCli, tmp_path: Path) -> None:
    result = cli(
        "init", str(tmp_path / "c.crec"), env={"CUSTREC_KEY_FILE": "", "CUSTREC_PASSPHRASE": ""}
    )
    assert result.exit_code == ExitCode.KEY_OR_INTEGRITY
    assert "no key given" in result.stderr
    assert not (tmp_path / "c.crec").exists()


def test_key_from_environment_and_passphrase(cli: InvokeCli, tmp_path: Path, key: Path) -> None:
    path = tmp_path / "p.crec"
    result = cli(
        "init", str(path), env={"CUSTREC_PASSPHRASE": "s3cret words", "CUSTREC_KEY_FILE": ""}
    )
    assert result.exit_code == 0, result.stderr
    ok = cli(
        "verify", str(path), env={"CUSTREC_PASSPHRASE": "s3cret words", "CUSTREC_KEY_FILE": ""}
    )
    assert ok.exit_code == 0
    wrong = cli("verify", str(path), env={"CUSTREC_PASSPHRASE": "guess", "CUSTREC_KEY_FILE": ""})
    assert wrong.exit_code == ExitCode.KEY_OR_INTEGRITY
    assert "wrong passphrase" in wrong.stderr


def test_verify_counts_records(cli: InvokeCli, store: Path, key: Path) -> None:
    with open_store(store, KeySource.from_key_file(key)) as opened:
        opened.put([{"customer_id": f"C-{i}"} for i in range(5)])
    result = cli("verify", str(store), "--format", "json", env={"CUSTREC_KEY_FILE": str(key)})
    assert result.exit_code == 0
    assert json.loads(result.stdout)["records"] == 5


def test_unsafe_key_file_is_refused_before_opening(cli: InvokeCli, store: Path, key: Path) -> None:
    key.chmod(0o644)
    result = cli("verify", str(store), "--key-file", str(key))
    assert result.exit_code == ExitCode.KEY_OR_INTEGRITY
    assert "chmod 600" in result.stderr


def test_not_a_store_is_bad_input(cli: InvokeCli, tmp_path: Path, key: Path) -> None:
    other = tmp_path / "x.crec"
    other.write_text("customer_id\nC-1\n")
    result = cli("verify", str(other), "--key-file", str(key))
    assert result.exit_code == ExitCode.BAD_INPUT
    assert "not a custrec store" in result.stderr


def test_key_add_list_remove_rotate(cli: InvokeCli, tmp_path: Path, store: Path, key: Path) -> None:
    officer = new_key_file(tmp_path / "officer.key")
    added = cli(
        "key",
        "add",
        str(store),
        "--key-file",
        str(key),
        "--new-key-file",
        str(officer.path),
        "--format",
        "json",
    )
    assert added.exit_code == 0, added.stderr
    assert f"Added key {officer.key_id}." in added.stderr
    listed = cli(
        "key",
        "list",
        str(store),
        "--format",
        "json",
        env={"CUSTREC_KEY_FILE": "", "CUSTREC_PASSPHRASE": ""},
    )
    document = json.loads(listed.stdout)
    assert document["verified"] is False
    steward_id = read_key_file(key).key_id
    assert {k["key_id"] for k in document["keys"]} == {officer.key_id, steward_id}
    again = cli(
        "key", "add", str(store), "--key-file", str(key), "--new-key-file", str(officer.path)
    )
    assert again.exit_code == ExitCode.USAGE
    missing = cli("key", "remove", str(store), "0000000000000000", "--key-file", str(key))
    assert missing.exit_code == ExitCode.NOT_FOUND
    removed = cli("key", "remove", str(store), steward_id, "--key-file", str(officer.path))
    assert removed.exit_code == 0, removed.stderr
    assert cli("verify", str(store), "--key-file", str(key)).exit_code == 4
    rotated = cli("key", "rotate", str(store), "--key-file", str(officer.path))
    assert rotated.exit_code == 0
    assert "Rotated the data keys" in rotated.stderr
    listed = cli("key", "list", str(store), "--key-file", str(officer.path), "--format", "csv")
    assert listed.stdout.splitlines()[1].startswith(f"{officer.key_id},keyfile,")


def test_key_add_passphrase_from_environment(cli: InvokeCli, store: Path, key: Path) -> None:
    result = cli(
        "key",
        "add",
        str(store),
        "--key-file",
        str(key),
        env={"CUSTREC_NEW_PASSPHRASE": "officer's own words"},
    )
    assert result.exit_code == 0, result.stderr
    with open_store(store, KeySource.from_passphrase("officer's own words")) as opened:
        assert {h.kind for h in opened.holders()} == {"keyfile", "passphrase"}
