"""Outputs can never destroy anything nor leave plaintext behind (``custrec.atomic``,
``custrec.protected``):

1. no output replaces a key file, a store, a store's companion file or an input of
   the same command, whatever the path (a symbolic or hard link) - exit 2;
2. no part file is left, whatever ends the writer: an error, SIGINT, SIGTERM (exit
   143, cleaned up like Ctrl-C), or ``kill -9`` (the output has no name until it is
   complete; where the filesystem cannot do that, the next write removes the part);
3. a full disk is exit 7, naming the output, and leaves nothing;
4. NDJSON and JSON output is valid JSON: NaN and infinities are written as null.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

import click
import pytest

from custrec.atomic import NAMED_PARTS_ENV, atomic_file, remove_stale_parts
from custrec.cli import main
from custrec.errors import ExitCode, NoSpaceError, UsageError
from custrec.io import open_row_writer
from custrec.keyfile import new_key_file
from custrec.protected import (
    STORE_APPLICATION_ID,
    is_key_file,
    is_store_file,
    protected_reason,
)
from custrec.render import Summary, Table, json_text, render
from custrec.store import KeySource, create_store, open_store
from custrec.store.fileformat import APPLICATION_ID

from .conftest import REPO, InvokeCli, custrec_command, files_open_for_writing, wait_until_writing

SCHEMA = REPO / "schemas" / "customer.yaml"
POLICY = REPO / "schemas" / "retention.yaml"
PART = re.compile(r"\.out\.csv\.custrec-(?P<pid>[0-9]+)-[0-9a-f]{8}\.part")


def stress_iterations(default: int) -> int:
    return int(os.environ.get("CUSTREC_STRESS_ITERATIONS", default))


@pytest.fixture(params=["unnamed", "named"])
def part_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways of writing: an unnamed O_TMPFILE file, and the named part file used
    where the filesystem has no O_TMPFILE."""
    if request.param == "named":
        monkeypatch.setenv(NAMED_PARTS_ENV, "1")
    else:
        monkeypatch.delenv(NAMED_PARTS_ENV, raising=False)
    return str(request.param)


def skip_without_o_tmpfile(directory: Path) -> None:
    """Skip a test that expects unnamed files where the filesystem cannot make them
    (custrec then writes named part files, tested with the ``named`` mode)."""
    try:
        os.close(os.open(directory, os.O_TMPFILE | os.O_WRONLY, 0o600))
    except OSError as exc:
        pytest.skip(f"no O_TMPFILE in {directory}: {exc.strerror}")


def process_env(mode: str, **extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), **extra}
    env.pop(NAMED_PARTS_ENV, None)
    if mode == "named":
        env[NAMED_PARTS_ENV] = "1"
    return env


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
        (lambda w: w.dir / "s.crec.erasures", "it is the tombstone file of the store"),
        (lambda w: w.dir / "s.crec.keys", "it is the key store of the store"),
        (lambda w: w.dir / "s.crec.keys-wal", "it is the key store's write-ahead log of the store"),
    ],
    ids=["wal", "shm", "erasures", "keys", "keys-wal"],
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
    store_keys = ws.dir / "s.crec.keys"  # the key store init made
    assert store_keys.is_file()
    os.link(store_keys, ws.dir / "keys-copy.csv")
    before = snapshot(ws.dir)
    cases = [
        ("export", "to-key.csv", f"it links to {ws.key}, which is a custrec key file"),
        ("export", "to-store.csv", f"it links to {ws.store}, which is a custrec store"),
        ("export", "key-copy.csv", "it is a custrec key file"),
        ("report", "log-copy.csv", f"it is an input of this command ({ws.log})"),
        ("export", "keys-copy.csv", f"it is the key store of the store {ws.store}, an input"),
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


def test_a_symlink_at_the_output_is_replaced_not_written_through(
    tmp_path: Path, part_mode: str
) -> None:
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
    plain = tmp_path / "plain.csv"
    plain.write_text("custrec-key v2\n")
    assert not is_key_file(plain)
    assert not is_store_file(plain)
    assert protected_reason(plain) is None
    assert protected_reason(tmp_path / "absent.csv", [tmp_path / "other.csv", "-", None]) is None
    assert not is_key_file("/dev/zero")
    assert not is_store_file(tmp_path)


# --- 2. no part files ------------------------------------------------------------------


def test_an_error_leaves_the_old_file_and_nothing_else(tmp_path: Path, part_mode: str) -> None:
    out = tmp_path / "out.csv"
    out.write_text("old\n")
    with pytest.raises(RuntimeError), atomic_file(out, mode=0o600) as handle:
        handle.write(b"new, half written")
        raise RuntimeError("boom")
    assert out.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_without_overwrite_a_file_that_appears_meanwhile_is_kept(
    tmp_path: Path, part_mode: str
) -> None:
    out = tmp_path / "out.csv"
    with (
        pytest.raises(UsageError, match="already exists"),
        atomic_file(out, overwrite=False) as handle,
    ):
        handle.write(b"mine\n")
        out.write_text("theirs\n")
    assert out.read_text() == "theirs\n"
    with pytest.raises(UsageError, match="already exists"), atomic_file(out, overwrite=False):
        pass
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_the_output_has_no_name_until_complete(tmp_path: Path) -> None:
    skip_without_o_tmpfile(tmp_path)
    out = tmp_path / "out.csv"
    with atomic_file(out, mode=0o600) as handle:
        handle.write(b"a,b\n")
        handle.flush()
        assert list(tmp_path.iterdir()) == []
        assert [
            t for t in files_open_for_writing(os.getpid(), tmp_path) if t.endswith(" (deleted)")
        ]
    assert out.read_bytes() == b"a,b\n"
    assert oct(out.stat().st_mode & 0o777) == oct(0o600)
    with atomic_file(out) as handle:  # over an existing file
        handle.write(b"c,d\n")
    assert out.read_bytes() == b"c,d\n"
    assert oct(out.stat().st_mode & 0o777) == oct(0o644)
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_without_o_tmpfile_a_named_part_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_open = os.open

    def no_tmpfile(path: str, flags: int, *args: object, **kwargs: object) -> int:
        if flags & os.O_TMPFILE == os.O_TMPFILE:
            raise OSError(errno.EOPNOTSUPP, os.strerror(errno.EOPNOTSUPP))
        return real_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.delenv(NAMED_PARTS_ENV, raising=False)
    monkeypatch.setattr(os, "open", no_tmpfile)
    out = tmp_path / "out.csv"
    with atomic_file(out, mode=0o600) as handle:
        handle.write(b"x\n")
        parts = [p.name for p in tmp_path.iterdir()]
        assert len(parts) == 1, parts
        named = PART.fullmatch(parts[0])
        assert named is not None, parts
        assert named["pid"] == str(os.getpid())
        assert oct((tmp_path / parts[0]).stat().st_mode & 0o777) == oct(0o600)
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]
    assert out.read_bytes() == b"x\n"


def dead_pid() -> int:
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, check=True
    )
    return int(child.stdout)


def test_stale_parts_of_gone_writers_are_removed_by_the_next_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], part_mode: str
) -> None:
    gone = dead_pid()
    stale = tmp_path / f".out.csv.custrec-{gone}-0123abcd.part"
    alive = tmp_path / f".out.csv.custrec-{os.getppid()}-0123abcd.part"
    locked = tmp_path / f".other.csv.custrec-{gone}-4567cdef.part"
    foreign = tmp_path / ".out.csv.k2j3h4.part"  # not a name custrec gives
    for part in (stale, alive, locked, foreign):
        part.write_text("C-1,someone@example.com\n")
    holder = os.open(locked, os.O_RDWR)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)  # as a live writer (in another namespace) does
        with atomic_file(tmp_path / "new.csv") as handle:
            handle.write(b"x\n")
    finally:
        os.close(holder)
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted([alive.name, locked.name, foreign.name, "new.csv"])
    assert capsys.readouterr().err == (
        f"removed {stale}: a partial output left by custrec process {gone}, "
        "which ended before it completed\n"
    )
    dir_fd = os.open(tmp_path, os.O_RDONLY)
    try:
        assert remove_stale_parts(dir_fd, str(tmp_path)) == [locked.name]  # lock released
    finally:
        os.close(dir_fd)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a file to another user")
def test_stale_parts_of_other_users_are_left_alone(tmp_path: Path) -> None:
    part = tmp_path / f".out.csv.custrec-{dead_pid()}-0123abcd.part"
    part.write_text("x")
    os.chown(part, 65534, 65534)
    with atomic_file(tmp_path / "new.csv") as handle:
        handle.write(b"x\n")
    assert part.exists()


# A store whose export takes a few seconds to write (40 MB of CSV).
BIG_RECORDS = 30_000


class BigStore(NamedTuple):
    store: Path
    key: Path
    csv_bytes: int
    """The size of its complete export as CSV."""


@pytest.fixture(scope="module")
def big_store(tmp_path_factory: pytest.TempPathFactory) -> BigStore:
    directory = tmp_path_factory.mktemp("big")
    key = new_key_file(directory / "k.key").path
    rows = [
        {
            "customer_id": f"C-{i:06d}",
            "email": f"c{i}@example.com",
            "notes": f"call {i}: " + "the customer asked about the invoice again " * 30,
        }
        for i in range(BIG_RECORDS)
    ]
    with create_store(directory / "s.crec", KeySource.from_key_file(key)) as store:
        store.put(rows)
    reference = directory / "reference.csv"
    done = subprocess.run(
        custrec_command("export", str(directory / "s.crec"), "-o", str(reference)),
        capture_output=True,
        env=process_env("unnamed", CUSTREC_KEY_FILE=str(key)),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    csv_bytes = reference.stat().st_size
    reference.unlink()
    return BigStore(directory / "s.crec", key, csv_bytes)


def bytes_written(pid: int, directory: Path) -> int:
    """How much process ``pid`` has written so far into an output in ``directory``."""
    prefix = f"{directory.resolve()}/"
    sizes = [0]
    with contextlib.suppress(OSError):  # the process ended
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                if os.readlink(f"/proc/{pid}/fd/{fd}").startswith(prefix):
                    sizes.append(os.stat(f"/proc/{pid}/fd/{fd}").st_size)
    return max(sizes)


def interrupt_exports(
    big_store: BigStore,
    outdir: Path,
    *,
    rounds: int,
    rng: random.Random,
    signals: tuple[signal.Signals, ...],
    modes: tuple[str, ...],
    defects: bool = False,
) -> Counter[str]:
    """Start an export (or, with ``defects``, a generate writing two files), send it a
    signal at a random moment while it writes (an export when it has written a random
    share of its output, up to 90%), and check after each round that the directory
    holds nothing but complete outputs, or (named parts, after SIGKILL) the dead
    writer's part files, which the next write removes and names on stderr."""
    store, key = big_store.store, big_store.key
    outcome: Counter[str] = Counter()
    stale: set[str] = set()
    for round_no in range(rounds):
        mode = rng.choice(modes)
        out = outdir / "out.csv"
        if defects:
            args = custrec_command(
                "generate", "customers", "--rows", "1000000", "-o", str(out),
                "--defects", str(outdir / "defects.csv"),
            )  # fmt: skip
        else:
            args = custrec_command("export", str(store), "--key-file", str(key), "-o", str(out))
        proc = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=process_env(mode)
        )
        try:
            wait_until_writing(proc, outdir)
            if defects:  # a million rows take tens of seconds
                time.sleep(rng.uniform(0, 1.5))
            else:
                share = rng.uniform(0, 0.9)
                while bytes_written(proc.pid, outdir) < share * big_store.csv_bytes:
                    if proc.poll() is not None:
                        break
                    time.sleep(0.002)
            sent = rng.choice(signals)
            proc.send_signal(sent)
            _, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        stderr = err.decode()
        left = {p.name for p in outdir.iterdir()}
        for name in stale:  # removed by this round's write, which said so
            assert name not in left, (round_no, name)
            assert f"removed {outdir / name}: a partial output left by custrec" in stderr
        complete = left & {"out.csv", "defects.csv"}
        if complete:  # it ended before the signal came: whole
            assert not defects, (round_no, left)  # a million rows take much longer
            assert len(out.read_bytes().splitlines()) == BIG_RECORDS + 1, round_no
            outcome["completed before the signal"] += 1
        for name in complete:
            (outdir / name).unlink()
        stale = {name for name in left - complete if f".custrec-{proc.pid}-" in name}
        assert left == complete | stale, (round_no, mode, sent.name, left)
        outcome[f"{sent.name} {mode}"] += 1
        outcome[f"parts left by {sent.name} {mode}"] += len(stale)
        if stale:  # only where O_TMPFILE is not used, only after kill -9
            assert (mode, sent) == ("named", signal.SIGKILL), (round_no, stale)
            assert len(stale) <= (2 if defects else 1), (round_no, stale)
        if proc.returncode == 0:
            assert complete, (round_no, stderr)
        elif proc.returncode != -signal.SIGKILL:
            expected = {signal.SIGTERM: ExitCode.TERMINATED, signal.SIGINT: ExitCode.INTERRUPTED}
            assert proc.returncode == expected[sent], (round_no, proc.returncode, stderr)
            assert stderr.endswith(("Terminated.\n", "Interrupted.\n")), stderr
    if stale:  # a last write into the directory removes them
        with atomic_file(outdir / "last.csv") as handle:
            handle.write(b"x\n")
        assert {p.name for p in outdir.iterdir()} == {"last.csv"}
    return outcome


@pytest.mark.parametrize("mode", ["unnamed", "named"])
def test_kill_9_during_an_export_leaves_no_plaintext(
    big_store: BigStore, tmp_path: Path, mode: str
) -> None:
    if mode == "unnamed":
        skip_without_o_tmpfile(tmp_path)
    kill = (signal.SIGKILL,)
    outcome = interrupt_exports(
        big_store, tmp_path, rounds=10, rng=random.Random(7), signals=kill, modes=(mode,)
    )
    assert outcome[f"SIGKILL {mode}"] == 10, outcome
    finished = outcome["completed before the signal"]
    assert finished == 0, outcome
    assert outcome[f"parts left by SIGKILL {mode}"] == (0 if mode == "unnamed" else 10 - finished)
    print(dict(outcome))


def test_sigterm_during_an_export_cleans_up_like_ctrl_c(
    big_store: BigStore, tmp_path: Path
) -> None:
    term, both = (signal.SIGTERM,), ("unnamed", "named")
    outcome = interrupt_exports(
        big_store, tmp_path, rounds=4, rng=random.Random(8), signals=term, modes=both
    )
    assert outcome["SIGTERM unnamed"] + outcome["SIGTERM named"] == 4, outcome
    assert outcome["completed before the signal"] == 0, outcome


@pytest.mark.slow
def test_signals_at_random_moments_leave_no_plaintext(big_store: BigStore, tmp_path: Path) -> None:
    """SIGKILL, SIGTERM and SIGINT at random moments of exports and of a command
    writing two files at once, with both ways of writing."""
    skip_without_o_tmpfile(tmp_path)
    rng = random.Random(2026)
    iterations = stress_iterations(10)
    both = ("unnamed", "named")
    outcome: Counter[str] = Counter()
    for defects in (False, True):
        outcome += interrupt_exports(
            big_store,
            tmp_path,
            rounds=iterations,
            rng=rng,
            signals=(signal.SIGKILL, signal.SIGTERM, signal.SIGINT),
            modes=both,
            defects=defects,
        )
    assert sum(outcome[f"{sent.name} {mode}"] for sent in signal.Signals for mode in both) == (
        2 * iterations
    )
    print(dict(outcome))


def test_sigterm_during_collect_rolls_the_store_back(tmp_path: Path) -> None:
    key = new_key_file(tmp_path / "k.key").path
    store_path = tmp_path / "s.crec"
    with create_store(store_path, KeySource.from_key_file(key)) as store:
        store.put([{"customer_id": "C-0", "email": "c0@example.com"}])
    feed = tmp_path / "feed.csv"
    lines = ["customer_id,email,notes"]
    lines += [f"C-{i},c{i}@example.com,note {i} {'x' * 200}" for i in range(1, 100_001)]
    feed.write_text("\n".join(lines) + "\n")
    proc = subprocess.Popen(
        custrec_command("collect", str(store_path), str(feed), "--add-columns"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=process_env("unnamed", CUSTREC_KEY_FILE=str(key)),
    )
    wal = tmp_path / "s.crec-wal"
    try:
        deadline = time.monotonic() + 120
        while not (wal.exists() and wal.stat().st_size > 1_000_000):  # in its transaction
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.01)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == ExitCode.TERMINATED, err
    assert err.decode().endswith("Terminated.\n")
    with open_store(store_path, KeySource.from_key_file(key)) as store:
        assert store.verify() == 1  # none of the batch
    assert {p.name for p in tmp_path.iterdir()} <= {
        "k.key", "s.crec", "s.crec-wal", "s.crec-shm", "s.crec.erasures", "feed.csv",
        "s.crec.keys", "s.crec.keys-wal", "s.crec.keys-shm",
    }  # fmt: skip


def test_the_sigterm_handler_lives_as_long_as_the_command(cli: InvokeCli, tmp_path: Path) -> None:
    from custrec.cli.core import Terminated

    assert issubclass(Terminated, KeyboardInterrupt)
    before = signal.getsignal(signal.SIGTERM)
    assert cli("generate", "customers", "--rows", "3", "-o", str(tmp_path / "c.csv")).exit_code == 0
    assert signal.getsignal(signal.SIGTERM) == before


# --- 3. full disk -------------------------------------------------------------------------


def on_tiny_disk(directory: Path, args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    """Run ``args`` with a 64 KiB tmpfs mounted on ``directory`` (holding ``out.csv``
    = ``old``) in a private mount namespace; return its exit code, stderr, and what
    the directory holds afterwards (``name=content`` lines)."""
    script = (
        'mount -t tmpfs -o size=64k tmpfs "$0" || exit 99; echo old > "$0/out.csv"; '
        '"$@" >/dev/null 2>"$0.err"; rc=$?; '
        'for f in "$0"/* "$0"/.[!.]*; do [ -e "$f" ] && echo "${f##*/}=$(head -c 20 "$f")"; done; '
        "exit $rc"
    )
    proc = subprocess.run(
        ["unshare", "-rm", "sh", "-c", script, str(directory), *args],
        capture_output=True,
        env=env,
        timeout=300,
        check=False,
    )
    if proc.returncode == 99:
        pytest.skip(f"cannot mount a tmpfs in a user namespace here: {proc.stderr!r}")
    stderr = Path(f"{directory}.err").read_text()
    return proc.returncode, stderr, proc.stdout.decode()


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Path:
    if shutil.which("unshare") is None:
        pytest.skip("unshare(1) is not installed")
    probe = subprocess.run(
        ["unshare", "-rm", "sh", "-c", 'mount -t tmpfs -o size=64k tmpfs "$0"', str(tmp_path)],
        capture_output=True,
        check=False,
    )
    if probe.returncode != 0:
        pytest.skip(f"unshare/mount not permitted here: {probe.stderr.decode().strip()}")
    directory = tmp_path / "full"
    directory.mkdir()
    return directory


@pytest.mark.parametrize("mode", ["unnamed", "named"])
def test_a_full_disk_is_exit_7_and_leaves_nothing(
    big_store: BigStore, tiny_disk: Path, mode: str
) -> None:
    store, key = big_store.store, big_store.key
    out = tiny_disk / "out.csv"
    rc, stderr, left = on_tiny_disk(
        tiny_disk,
        custrec_command("export", str(store), "--key-file", str(key), "-o", str(out)),
        process_env(mode),
    )
    assert rc == ExitCode.NO_SPACE, stderr
    assert stderr == (
        f"Error: cannot write {out}: no space left on device (the disk or your quota is full); "
        "nothing was written: free some space and run the command again\n"
    )
    assert left == "out.csv=old\n"  # the old file, and nothing else


@pytest.mark.parametrize(
    "args",
    [
        ["export", "{store}", "--format", "csv"],
        ["export", "{store}", "--format", "ndjson"],
        ["export", "{store}", "--format", "parquet"],
        ["get", "{store}", "C-000001", "--format", "json"],
        ["access", "{store}", "C-000001", "--reason", "SAR 2"],
    ],
    ids=["csv", "ndjson", "parquet", "get-json", "access"],
)
def test_stdout_on_a_full_disk_is_exit_7(big_store: BigStore, args: list[str]) -> None:
    store, key = big_store.store, big_store.key
    with open("/dev/full", "wb") as full:
        proc = subprocess.run(
            custrec_command(*[a.format(store=store) for a in args]),
            stdout=full,
            stderr=subprocess.PIPE,
            env=process_env("unnamed", CUSTREC_KEY_FILE=str(key)),
            timeout=120,
            check=False,
        )
    assert proc.returncode == ExitCode.NO_SPACE, proc.stderr
    assert proc.stderr.decode() == (
        "Error: cannot write <stdout>: no space left on device (the disk or your quota is "
        "full); the output is incomplete: free some space and run the command again\n"
    )


def test_a_full_disk_met_by_the_caller_is_a_no_space_error(tmp_path: Path, part_mode: str) -> None:
    out = tmp_path / "out.ndjson"
    full = pytest.raises(NoSpaceError, match=f"cannot write {out}: disk quota exceeded")
    with full, open_row_writer(str(out), "ndjson", ["a"]) as writer:
        writer.write_rows([{"a": 1}])
        raise OSError(errno.EDQUOT, os.strerror(errno.EDQUOT))
    assert list(tmp_path.iterdir()) == []


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
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = tmp_path / "scores.parquet"  # NDJSON input refuses such numbers; Parquet holds them
    pq.write_table(
        pa.table(
            {
                "customer_id": ["C-1", "C-2", "C-3", "C-4"],
                "score": [float("nan"), float("inf"), float("-inf"), 2.5],
            }
        ),
        source,
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
