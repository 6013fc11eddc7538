"""Key files: owner-only permissions, refusal of unsafe or damaged files, no leaks."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from custrec.errors import KeyMissingError, MalformedKeyFileError, UnsafeKeyFileError, UsageError
from custrec.keyfile import KEY_BYTES, key_id, new_key_file, read_key_file, resolve_key_path

from .conftest import InvokeCli


def test_new_key_file_is_owner_only_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        created = new_key_file(tmp_path / "k.key")
    finally:
        os.umask(old)
    assert stat.S_IMODE(created.path.stat().st_mode) == 0o600
    assert len(created.key) == KEY_BYTES
    assert read_key_file(created.path) == created


def test_key_new_creates_missing_directories_owner_only(cli: InvokeCli, tmp_path: Path) -> None:
    existing = tmp_path / "home"
    existing.mkdir(mode=0o755)
    existing.chmod(0o755)
    path = existing / ".config" / "custrec" / "steward.key"
    old = os.umask(0)
    try:
        result = cli("key", "new", str(path))
    finally:
        os.umask(old)
    assert result.exit_code == 0, result.stderr
    assert read_key_file(path).key_id in result.stdout
    for directory in (path.parent, path.parent.parent):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory
    assert stat.S_IMODE(existing.stat().st_mode) == 0o755  # an existing one is left alone


def test_key_new_under_a_file_is_a_usage_error(cli: InvokeCli, tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("not a directory")
    result = cli("key", "new", str(tmp_path / "plain" / "sub" / "k.key"))
    assert result.exit_code == 2
    assert "cannot create directory" in result.stderr


def test_two_new_keys_differ(tmp_path: Path) -> None:
    a = new_key_file(tmp_path / "a.key")
    b = new_key_file(tmp_path / "b.key")
    assert a.key != b.key
    assert a.key_id != b.key_id


def test_key_id_is_stable_and_reveals_nothing_obvious() -> None:
    key = bytes(range(32))
    assert key_id(key) == key_id(key)
    assert len(key_id(key)) == 16
    assert key.hex()[:16] != key_id(key)


def test_refuses_to_overwrite(tmp_path: Path) -> None:
    first = new_key_file(tmp_path / "k.key")
    with pytest.raises(UsageError, match="refusing to overwrite"):
        new_key_file(tmp_path / "k.key")
    assert read_key_file(first.path).key == first.key


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660])
def test_group_or_other_access_is_refused(tmp_path: Path, mode: int) -> None:
    path = new_key_file(tmp_path / "k.key").path
    path.chmod(mode)
    with pytest.raises(UnsafeKeyFileError, match=f"mode {mode:04o}.*chmod 600"):
        read_key_file(path)


def test_symlink_is_refused(tmp_path: Path) -> None:
    real = new_key_file(tmp_path / "real.key").path
    link = tmp_path / "link.key"
    link.symlink_to(real)
    with pytest.raises(MalformedKeyFileError, match="cannot open"):
        read_key_file(link)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda t: t.replace("custrec-key v1", "other-key v9"), "first line"),
        (lambda t: "\n".join(x for x in t.splitlines() if not x.startswith("id:")), "missing 'id'"),
        (lambda t: t.replace("key: ", "key: ***"), "not valid base64"),
        (lambda t: t.replace("created: ", "created: yesterday "), "'created' must be"),
        (lambda t: t[: t.index("key: ") + 13], "must be 32 bytes, found 6"),
    ],
)
def test_damaged_files_are_refused(tmp_path: Path, mutate: object, message: str) -> None:
    path = new_key_file(tmp_path / "k.key").path
    path.write_text(mutate(path.read_text()))  # type: ignore[operator]
    path.chmod(0o600)
    with pytest.raises(MalformedKeyFileError, match=message):
        read_key_file(path)


def test_missing_file_and_missing_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(KeyMissingError, match="not found"):
        read_key_file(tmp_path / "none.key")
    monkeypatch.delenv("CUSTREC_KEY_FILE", raising=False)
    with pytest.raises(KeyMissingError, match="--key-file FILE or set CUSTREC_KEY_FILE"):
        resolve_key_path(None)
    monkeypatch.setenv("CUSTREC_KEY_FILE", str(tmp_path / "env.key"))
    assert resolve_key_path(None) == tmp_path / "env.key"
    assert resolve_key_path(tmp_path / "arg.key") == tmp_path / "arg.key"


def test_the_key_never_appears_in_output_or_repr(cli: InvokeCli, tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    result = cli("key", "new", str(path), "--format", "json")
    assert result.exit_code == 0
    secret = read_key_file(path)
    encoded = path.read_text().split("key: ")[1].strip()
    for text in (result.stdout, result.stderr, repr(secret), cli("key", "show", str(path)).stdout):
        assert encoded not in text
        assert secret.key.hex() not in text
    assert secret.key_id in result.stdout


def test_key_show_from_environment(cli: InvokeCli, tmp_path: Path) -> None:
    created = new_key_file(tmp_path / "k.key")
    result = cli("key", "show", "--format", "json", env={"CUSTREC_KEY_FILE": str(created.path)})
    assert result.exit_code == 0
    assert f'"key_id": "{created.key_id}"' in result.stdout
    assert '"mode": "0600"' in result.stdout


def test_documented_example_is_a_valid_key_file(tmp_path: Path) -> None:
    from .conftest import REPO

    doc = (REPO / "docs" / "format.md").read_text(encoding="utf-8")
    blocks = [b.split("```", 1)[0] for b in doc.split("```text\n")[1:]]
    example = next(b for b in blocks if b.startswith("custrec-key v1"))
    path = tmp_path / "example.key"
    path.write_text(example)
    path.chmod(0o600)
    parsed = read_key_file(path)
    assert parsed.key == bytes(range(32))
    assert parsed.key_id == "30818141fede7199"
