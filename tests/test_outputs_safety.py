"""Outputs can never destroy anything (``custrec.protected``), and are valid:

1. no output replaces a key file, a store, a store's companion file or an input of
   the same command, whatever the path (a symbolic or hard link) - exit 2;
4. NDJSON and JSON output is valid JSON: NaN and infinities are written as null.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

import click
import pytest

from custrec.cli import main
from custrec.errors import ExitCode, UsageError
from custrec.io import atomic_file, open_row_writer
from custrec.keyfile import new_key_file
from custrec.protected import (
    STORE_APPLICATION_ID,
    is_key_file,
    is_store_file,
    protected_reason,
)
from custrec.render import Summary, Table, json_text, render
from custrec.store import KeySource, create_store, open_store
from custrec.store.container import APPLICATION_ID
from custrec.store.container import is_store_file as container_is_store_file

from .conftest import REPO, InvokeCli

SCHEMA = REPO / "schemas" / "customer.yaml"
POLICY = REPO / "schemas" / "retention.yaml"
PART = re.compile(r"\.out\.csv\.custrec-(?P<pid>[0-9]+)-[0-9a-f]{8}\.part")


def stress_iterations(default: int) -> int:
    return int(os.environ.get("CUSTREC_STRESS_ITERATIONS", default))


# --- 1. protected destinations ------------------------------------------------------


class Workspace(NamedTuple):
    dir: Path
    key: Path
    store: Path
    customers: Path
    log: Path


@pytest.fixture
def ws(tmp_path: Path, cli: InvokeCli, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    """A key ($CUSTREC_KEY_FILE), a store with a schema holding the example customers,
    the customers file and an interaction log."""
    key = new_key_file(tmp_path / "k.key").path
    monkeypatch.setenv("CUSTREC_KEY_FILE", str(key))
    store = tmp_path / "s.crec"
    customers = tmp_path / "customers.csv"
    shutil.copy(REPO / "examples" / "customers.csv", customers)
    assert cli("init", str(store), "--schema", str(SCHEMA)).exit_code == 0
    collected = cli(
        "collect",
        str(store),
        str(customers),
        "--on-invalid",
        "reject",
        "--rejects",
        str(tmp_path / "rejects.csv"),
    )
    assert collected.exit_code == 0, collected.stderr
    log = tmp_path / "log.csv"
    made = cli("generate", "interactions", "--rows", "40", "--bad-share", "0", "-o", str(log))
    assert made.exit_code == 0, made.stderr
    return Workspace(tmp_path, key, store, customers, log)


OUTPUTS = {
    ("export", "output"): "export {store} -o {target}",
    ("collect", "rejects"): (
        "collect {store} {customers} --on-invalid reject --on-duplicate skip --rejects {target}"
    ),
    ("validate", "failures"): "validate {customers} --schema {schema} --failures {target}",
    ("generate customers", "output"): "generate customers --rows 5 -o {target}",
    ("generate customers", "defects_path"): (
        "generate customers --rows 5 -o {dir}/generated.csv --defects {target}"
    ),
    ("generate interactions", "output"): "generate interactions --rows 5 -o {target}",
    ("generate interactions", "defects_path"): (
        "generate interactions --rows 5 -o {dir}/generated.csv --defects {target}"
    ),
    ("purge", "plan_file"): "purge {store} --policy {policy} --plan {target}",
    ("report kpi", "output"): "report kpi {log} --format html -o {target}",
    ("access", "output"): "access {store} C-000001 --reason SAR-1 -o {target}",
    ("redact", "output"): "redact {customers} -o {target}",
}
"""Every command option that names an output file, with a command line using it."""


def command_line(template: str, ws: Workspace, **names: str) -> list[str]:
    """``template`` split into arguments, ``{store}``, ``{customers}``... filled in."""
    known = {
        "dir": str(ws.dir),
        "store": str(ws.store),
        "customers": str(ws.customers),
        "log": str(ws.log),
        "schema": str(SCHEMA),
        "policy": str(POLICY),
        **names,
    }
    return [part.format(**known) for part in template.split()]


OUTPUT_OPTION_NAMES = {"output", "rejects", "failures", "defects_path", "plan_file"}


def test_every_output_option_is_covered_here() -> None:
    ctx = click.Context(main)

    def walk(command: click.Command, path: list[str]) -> Iterator[tuple[str, str]]:
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                assert sub is not None
                yield from walk(sub, [*path, name])
            return
        for param in command.params:
            if param.name in OUTPUT_OPTION_NAMES:
                yield " ".join(path), param.name

    assert set(walk(main, [])) == set(OUTPUTS)


def snapshot(directory: Path) -> dict[str, tuple[bool, bytes]]:
    """Every entry of ``directory`` but the store (whose audit trail records reads):
    (is a symbolic link, content or link target)."""
    found = {}
    for entry in sorted(directory.iterdir()):
        if entry.name in ("s.crec", "s.crec-wal", "s.crec-shm"):
            continue
        if entry.is_symlink():
            found[entry.name] = (True, os.readlink(entry).encode())
        elif entry.is_file():
            found[entry.name] = (False, entry.read_bytes())
    return found


def assert_refused(result: click.testing.Result, target: str, why: str) -> None:
    assert result.exit_code == ExitCode.USAGE, result.stderr
    assert result.stderr.startswith(f"Error: refusing to write {target}: "), result.stderr
    assert why in result.stderr


@pytest.mark.parametrize("option", sorted(OUTPUTS), ids=" ".join)
@pytest.mark.parametrize(
    ("target", "why"),
    [
        ("k.key", "it is a custrec key file"),
        ("s.crec", "it is a custrec store"),
    ],
)
def test_no_output_replaces_a_key_or_a_store(
    cli: InvokeCli, ws: Workspace, option: tuple[str, str], target: str, why: str
) -> None:
    before = snapshot(ws.dir)
    path = str(ws.dir / target)
    result = cli(*command_line(OUTPUTS[option], ws, target=path))
    assert_refused(result, path, why)
    assert snapshot(ws.dir) == before
    with open_store(ws.store, KeySource.from_key_file(ws.key)) as store:
        assert store.verify() == 20


@pytest.mark.parametrize(
    ("make_target", "why"),
    [
        (lambda w: w.dir / "s.crec-wal", "it is the write-ahead log of the store"),
        (lambda w: w.dir / "s.crec-shm", "it is the shared-memory index of the store"),
        (lambda w: w.dir / "s.crec.erasures", "it is the erasure list of the store"),
        (lambda w: w.dir / "s.crec.keys", "it is the key list of the store"),
    ],
    ids=["wal", "shm", "erasures", "keys"],
)
def test_no_output_replaces_a_store_companion(
    cli: InvokeCli, ws: Workspace, make_target: Callable[[Workspace], Path], why: str
) -> None:
    target = make_target(ws)
    before = snapshot(ws.dir)
    result = cli("generate", "customers", "--rows", "5", "-o", str(target))
    assert_refused(result, str(target), f"{why} {ws.store}")
    assert snapshot(ws.dir) == before


def test_links_to_protected_files_are_refused(cli: InvokeCli, ws: Workspace) -> None:
    (ws.dir / "to-key.csv").symlink_to(ws.key)
    (ws.dir / "to-store.csv").symlink_to("s.crec")
    os.link(ws.key, ws.dir / "key-copy.csv")
    os.link(ws.log, ws.dir / "log-copy.csv")
    store_keys = ws.dir / "s.crec.keys"
    store_keys.write_text("the store's own\n")
    os.link(store_keys, ws.dir / "keys-copy.csv")
    before = snapshot(ws.dir)
    cases = [
        ("export", "to-key.csv", f"it links to {ws.key}, which is a custrec key file"),
        ("export", "to-store.csv", f"it links to {ws.store}, which is a custrec store"),
        ("export", "key-copy.csv", "it is a custrec key file"),
        ("report", "log-copy.csv", f"it is an input of this command ({ws.log})"),
        ("export", "keys-copy.csv", f"it is the key list of the store {ws.store}, an input"),
    ]
    for command, name, why in cases:
        target = str(ws.dir / name)
        if command == "export":
            result = cli("export", str(ws.store), "-o", target)
        else:
            result = cli("report", "kpi", str(ws.log), "--format", "csv", "-o", target)
        assert_refused(result, target, why)
    assert snapshot(ws.dir) == before


def test_the_key_file_in_use_is_protected_even_if_it_is_not_a_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "passphrase.txt"
    secret.write_text("not a key file, but named as one\n")
    monkeypatch.setenv("CUSTREC_KEY_FILE", str(secret))
    refused = pytest.raises(UsageError, match=r"it is the key file in \$CUSTREC_KEY_FILE")
    with refused, atomic_file(secret):
        pass
    assert secret.read_text() == "not a key file, but named as one\n"


@pytest.mark.parametrize(
    ("template", "target", "read_by"),
    [
        ("validate {customers} --schema {schema} --failures {customers}", "customers", "customers"),
        ("validate {customers} --schema {schema} --failures {schema}", "schema", "schema"),
        ("redact {customers} -o {customers}", "customers", "customers"),
        ("redact {customers} --policy {policy} -o {policy}", "policy", "policy"),
        ("report kpi {log} -o {log}", "log", "log"),
        ("report kpi {log} -o {alias}", "alias", "log"),
        (
            "collect {store} {customers} --on-invalid reject --rejects {customers}",
            "customers",
            "customers",
        ),
        ("purge {store} --policy {policy} --plan {policy}", "policy", "policy"),
        ("access {store} C-000001 --reason r --logs {log} -o {log}", "log", "log"),
    ],
    ids=[
        "validate-source",
        "validate-schema",
        "redact-source",
        "redact-policy",
        "report-log",
        "report-log-by-symlink",
        "collect-input",
        "purge-policy",
        "access-log",
    ],
)
def test_no_output_replaces_an_input_of_the_same_command(
    cli: InvokeCli, ws: Workspace, template: str, target: str, read_by: str
) -> None:
    names = {
        "policy": str(ws.dir / "policy.yaml"),
        "schema": str(ws.dir / "schema.yaml"),
        "alias": str(ws.dir / "alias.csv"),
    }
    shutil.copy(POLICY, names["policy"])
    shutil.copy(SCHEMA, names["schema"])
    (ws.dir / "alias.csv").symlink_to(ws.log)
    if template.startswith("redact") and "--policy" in template:
        Path(names["policy"]).write_text("version: 1\nfields:\n  customer_id: keep\n")
    args = command_line(template, ws, **names)
    paths = dict(zip(template.split(), args, strict=True))
    before = snapshot(ws.dir)
    result = cli(*args)
    why = f"an input of this command ({paths['{' + read_by + '}']})"
    assert_refused(result, paths["{" + target + "}"], why)
    assert snapshot(ws.dir) == before
    with open_store(ws.store, KeySource.from_key_file(ws.key)) as store:
        assert store.count() == 20


def test_a_symlink_at_the_output_is_replaced_not_written_through(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.csv"
    elsewhere.write_text("someone else's file\n")
    link = tmp_path / "out.csv"
    link.symlink_to(elsewhere)
    dangling = tmp_path / "dangling.csv"
    dangling.symlink_to(tmp_path / "nowhere" / "x.csv")
    for path in (link, dangling):
        with atomic_file(path) as handle:
            handle.write(b"new\n")
        assert not path.is_symlink()
        assert path.read_bytes() == b"new\n"
    assert elsewhere.read_text() == "someone else's file\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "dangling.csv",
        "elsewhere.csv",
        "out.csv",
    ]


def test_the_checks_agree_with_the_key_and_store_formats(tmp_path: Path) -> None:
    key = new_key_file(tmp_path / "k.key")
    assert is_key_file(key.path)
    assert STORE_APPLICATION_ID == APPLICATION_ID
    with create_store(tmp_path / "s.crec", KeySource.from_key_file(key.path)):
        pass
    assert is_store_file(tmp_path / "s.crec")
    assert container_is_store_file(tmp_path / "s.crec")
    plain = tmp_path / "plain.csv"
    plain.write_text("custrec-key v2\n")
    assert not is_key_file(plain)
    assert not is_store_file(plain)
    assert protected_reason(plain) is None
    assert protected_reason(tmp_path / "absent.csv", [tmp_path / "other.csv", "-", None]) is None
    assert not is_key_file("/dev/zero")
    assert not is_store_file(tmp_path)


# --- 4. valid JSON ---------------------------------------------------------------------------


def strict_json(line: str) -> object:
    def refuse(constant: str) -> object:
        raise AssertionError(f"invalid JSON: {constant} in {line!r}")

    return json.loads(line, parse_constant=refuse)


ODD_FLOATS = [float("nan"), float("inf"), float("-inf"), float("1e400"), 2.5, -0.0]


def test_ndjson_writes_nan_and_infinities_as_null(tmp_path: Path) -> None:
    out = tmp_path / "out.ndjson"
    with open_row_writer(str(out), "ndjson", ["id", "x"]) as writer:
        writer.write_rows([{"id": n, "x": value} for n, value in enumerate(ODD_FLOATS)])
    rows = [strict_json(line) for line in out.read_text().splitlines()]
    assert rows == [{"id": n, "x": x} for n, x in enumerate([None, None, None, None, 2.5, -0.0])]


def test_redact_keeps_odd_numbers_as_valid_json(cli: InvokeCli, tmp_path: Path) -> None:
    source = tmp_path / "scores.ndjson"
    source.write_text(
        '{"customer_id":"C-1","score":NaN}\n{"customer_id":"C-2","score":1e400}\n'
        '{"customer_id":"C-3","score":-Infinity}\n{"customer_id":"C-4","score":2.5}\n'
    )
    policy = tmp_path / "keep.yaml"
    policy.write_text("fields:\n  customer_id: keep\n  score: keep\n")
    result = cli("redact", str(source), "--policy", str(policy), "--format", "ndjson", "-o", "-")
    assert result.exit_code == 0, result.stderr
    assert [strict_json(line) for line in result.stdout.splitlines()] == [
        {"customer_id": "C-1", "score": None},
        {"customer_id": "C-2", "score": None},
        {"customer_id": "C-3", "score": None},
        {"customer_id": "C-4", "score": 2.5},
    ]


class OddNumbers:
    """A result holding numbers JSON cannot write."""

    kind = "odd"

    def to_json(self) -> dict[str, object]:
        return {"x": float("nan"), "y": [1.5, float("inf")]}

    def tables(self) -> list[Table]:
        return [Table(["n", "x"], [[n, x] for n, x in enumerate(ODD_FLOATS)])]

    def summary(self) -> Summary:
        return Summary()


def test_json_renderers_write_nan_as_null() -> None:
    import io

    buffer = io.StringIO()
    render(OddNumbers(), "json", buffer)
    document = strict_json(buffer.getvalue())
    assert document == {"version": 1, "kind": "odd", "x": None, "y": [1.5, None]}
    buffer = io.StringIO()
    render(OddNumbers(), "ndjson", buffer)
    rows = [strict_json(line) for line in buffer.getvalue().splitlines()]
    assert rows == [{"n": n, "x": x} for n, x in enumerate([None, None, None, None, 2.5, -0.0])]
    assert json_text({"a": [float("-inf"), {"b": float("nan")}], "c": 1}) == (
        '{"a": [null, {"b": null}], "c": 1}'
    )
