"""One test per finding of the adversarial review of input handling: each reproduces
the finding (it failed before the fix) and checks the message names file, line or
column and says what was expected. The corpus of ``test_hostile_inputs`` covers the
same ground broadly; these pin each finding down."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from custrec.errors import ExitCode, InputError, UnknownColumnError
from custrec.store import KeySource, create_store

from .conftest import REPO, InvokeCli, best_seconds, custrec_command, run_custrec, write

CUSTOMER_SCHEMA = str(REPO / "schemas" / "customer.yaml")
ROW = "C-{n:06d},Lena,Ozturk,lena.secret@example.com,+447911123456"
HEADER = "customer_id,first_name,last_name,email,phone\n"
PERSONAL = ("Ozturk", "lena.secret@example.com", "+447911123456")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CUSTREC_KEY_FILE", "CUSTREC_PASSPHRASE", "CUSTREC_FORMAT", "CUSTREC_DEBUG"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def key(tmp_path: Path, cli: InvokeCli) -> Path:
    path = tmp_path / "owner.key"
    assert cli("key", "new", str(path)).exit_code == 0
    return path


@pytest.fixture
def store(tmp_path: Path, cli: InvokeCli, key: Path) -> Path:
    path = tmp_path / "s.crec"
    made = cli("init", str(path), "--schema", CUSTOMER_SCHEMA, env={"CUSTREC_KEY_FILE": str(key)})
    assert made.exit_code == 0, made.stderr
    good = write(
        tmp_path / "good.csv",
        "customer_id,first_name,email,country,created_at,updated_at,consent_marketing\n"
        "C-000001,Lena,lena@example.com,GB,2015-01-01T00:00:00Z,2015-01-01T00:00:00Z,true\n",
    )
    filled = cli("collect", str(path), str(good), env={"CUSTREC_KEY_FILE": str(key)})
    assert filled.exit_code == 0, filled.stdout + filled.stderr
    return path


def limited(args: list[str], timeout: float = 60, memory: int = 2 << 30) -> Outcome:
    """``custrec ARGS`` as a process under an address-space limit and a timeout."""
    done = run_custrec(args, input=b"", timeout=timeout, memory_limit=memory)
    return Outcome(done.returncode, done.stderr.decode("utf-8", "replace"))


class Outcome(NamedTuple):
    returncode: int
    stderr: str


def purge_dry_run(cli: InvokeCli, store: Path, key: Path, policy: Path, *more: str) -> Any:
    return cli(
        "purge", str(store), "--policy", str(policy), "--dry-run", *more,
        env={"CUSTREC_KEY_FILE": str(key)},
    )  # fmt: skip


# --- resource exhaustion -------------------------------------------------------------


def alias_bomb(top: str) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 9)}]" for n in range(1, 10)]
    return "version: 1\n" + "\n".join(lines) + f"\n{top}: *a9\n"


@pytest.mark.parametrize("option", ["--schema", "--policy"])
def test_a_yaml_alias_bomb_is_refused_at_its_first_anchor(tmp_path: Path, option: str) -> None:
    bomb = write(tmp_path / "bomb.yaml", alias_bomb("fields" if option == "--schema" else "rules"))
    good = write(tmp_path / "c.csv", HEADER + ROW.format(n=1) + "\n")
    args = ["validate", str(good), "--schema", str(bomb)]
    if option == "--policy":
        args = ["redact", str(good), "-o", str(tmp_path / "out.csv"), "--policy", str(bomb)]
    done = limited(args, timeout=60, memory=1 << 30)
    assert done.returncode == ExitCode.USAGE, done.stderr
    assert done.stderr == (
        f"Error: {bomb}:2: an anchor (&name) is not allowed; write each value out in full\n"
    )


def test_a_self_referencing_alias_is_refused(cli: InvokeCli, tmp_path: Path) -> None:
    schema = write(tmp_path / "s.yaml", "version: 1\nname: x\nid: a\nfields: &f\n  a: *f\n")
    good = write(tmp_path / "c.csv", "a\n1\n")
    result = cli("validate", str(good), "--schema", str(schema))
    assert result.exit_code == ExitCode.USAGE
    assert result.stderr.startswith(f"Error: {schema}:4: an anchor (&name) is not allowed")


def test_a_100k_column_csv_is_refused_at_once_naming_the_count(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    names = ["customer_id", *(f"c{n}" for n in range(99_999))]
    path.write_text(",".join(names) + "\n" + ",".join(["C-1", *(["x"] * 99_999)]) + "\n")
    for command in (["inspect"], ["validate", "--schema", CUSTOMER_SCHEMA]):
        done = limited([command[0], str(path), *command[1:]], timeout=60)
        assert done.returncode == ExitCode.BAD_INPUT, done.stderr
        assert done.stderr == (
            f"Error: {path}:1: 100,000 columns; expected at most 4,096 (split the file by "
            "columns, keeping the id column in each part)\n"
        )
        # `limited` stops a run that would take a minute: refused before reading rows.


def test_wide_inputs_take_time_linear_in_their_columns() -> None:
    """Validation and collection looked up every column in a list of all of them: 10,000
    columns took seconds there alone. Four times the columns now take about four times
    as long, not sixteen (each a ratio of two sizes measured in one run)."""
    import pyarrow as pa

    from custrec.collect import _in_store_order
    from custrec.schema import shipped_schema
    from custrec.validate import Validation

    def declare(count: int) -> Callable[[], object]:
        names = [f"c{n}" for n in range(count)]

        def run() -> object:
            validation = Validation(shipped_schema("customer"), examples=1, as_of=None)
            validation.columns(names)
            validation.columns(names)
            assert validation.outcomes["schema.unknown-columns"].failed == count
            return validation

        return run

    assert best_seconds(declare(40_000)) < 8 * best_seconds(declare(10_000))

    def order(count: int) -> Callable[[], object]:
        names = [f"c{n}" for n in range(count)]
        batch = pa.RecordBatch.from_arrays([pa.array(["x"])] * count, names=names)
        types = dict.fromkeys(["id", *names], "string")

        def run() -> object:
            table = _in_store_order(batch, ["id", *names], types)
            assert table.num_columns == count + 1
            return table

        return run

    assert best_seconds(order(20_000)) < 8 * best_seconds(order(5_000))


@pytest.mark.parametrize(
    "unit",
    ["a@b.cc ", "date of birth ", "born 01/02/1990 ", "+44 7911 123456 "],
    ids=["emails", "birth-words", "dates", "phones"],
)
def test_scanning_a_text_dense_with_findings_takes_linear_time(unit: str) -> None:
    """Overlapping findings were resolved against every finding kept so far, a date's
    context word looked for among all of them, and dates searched for to the end of
    the text from every context word: 140 KB of email addresses took 20 seconds, 100
    KB of "date of birth" 28. Four times the text now takes four to seven times as
    long (a quadratic scan: sixteen); texts of 100 KB at least, so that a busy
    machine's noise on a run of a few milliseconds does not decide."""
    from custrec.redaction.detect import Detector

    detector = Detector()
    small, big = (unit * (size // len(unit)) for size in (100_000, 400_000))
    assert best_seconds(lambda: detector.find(big), 3) < 12 * best_seconds(
        lambda: detector.find(small), 3
    )


def test_a_sparse_ndjson_of_many_keys_reads_in_time_of_its_values(
    cli: InvokeCli, tmp_path: Path
) -> None:
    """Each line holds one of many keys: thousands of columns, nearly all empty. Reading
    and scanning took time in lines times keys (12 and 35 seconds for 50,000 lines of
    4,000 keys); they now take time in the values present and the columns: the same
    lines over sixteen times the keys take about four times as long (in lines times
    keys: sixteen). The bound sits between the two, clear of a busy machine's noise."""
    from custrec.io import open_table

    def sparse(keys: int) -> Path:
        path = tmp_path / f"sparse-{keys}.ndjson"
        with path.open("w") as out:
            for n in range(20_000):
                out.write(f'{{"customer_id": "C-{n}", "k{n % keys}": "x"}}\n')
        return path

    def read(path: Path, keys: int) -> Callable[[], object]:
        def run() -> object:
            with open_table(str(path)) as reader:
                batches = list(reader)
            assert sum(batch.num_rows for batch in batches) == 20_000
            assert len(reader.columns) == keys + 1
            assert max(b.num_rows * b.num_columns for b in batches) < (1 << 22) + 4096
            return batches

        return run

    few, many = sparse(250), sparse(4_000)
    assert best_seconds(read(many, 4_000), 2) < 8 * best_seconds(read(few, 250), 2)

    def scan(path: Path) -> Callable[[], object]:
        def run() -> object:
            result = cli("scan", str(path))
            assert result.exit_code == 0, result.stderr
            return result

        return run

    assert best_seconds(scan(many), 1) < 8 * best_seconds(scan(few), 1)


def test_a_csv_without_line_breaks_is_refused_without_reading_it_whole(tmp_path: Path) -> None:
    path = tmp_path / "one-line.csv"
    with path.open("w") as out:
        for _ in range(24):
            out.write("customer_id" * 100_000)
    done = limited(["inspect", str(path)], memory=1 << 30)
    assert done.returncode == ExitCode.BAD_INPUT, done.stderr
    assert done.stderr.startswith(f"Error: {path}:1: a record longer than 4 MiB;")


def test_a_ragged_row_found_by_arrow_names_its_line_and_not_its_values(
    cli: InvokeCli, tmp_path: Path
) -> None:
    rows = "".join(ROW.format(n=n) + "\n" for n in range(1, 2000))
    path = write(tmp_path / "r.csv", HEADER + rows + ROW.format(n=9) + ",extra\n")
    result = cli("--debug", "inspect", str(path))
    assert result.exit_code == ExitCode.BAD_INPUT
    assert result.stderr.endswith(
        f"Error: {path}:2001:6: expected 5 fields (customer_id, first_name, last_name, "
        "email, phone), found 6\n"
    )
    for value in PERSONAL:
        assert value not in result.stderr  # not in the traceback either


# --- exit 70 on bad input ------------------------------------------------------------


def test_ndjson_nested_2000_deep_is_bad_input(cli: InvokeCli, tmp_path: Path) -> None:
    path = write(tmp_path / "deep.ndjson", '{"a": 1}\n{"id": ' + "[" * 2000 + "]" * 2000 + "}\n")
    result = cli("inspect", str(path))
    assert result.exit_code == ExitCode.BAD_INPUT
    assert result.stderr == (
        f"Error: {path}:2: arrays or objects nested too deeply; expected one object of "
        "strings, numbers, true/false or null per line\n"
    )


def test_parquet_uint64_max_is_bad_input(cli: InvokeCli, tmp_path: Path, key: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "u.parquet"
    pq.write_table(
        pa.table({"customer_id": ["C-1", "C-2"], "n": pa.array([1, 2**64 - 1], pa.uint64())}), path
    )
    plain = tmp_path / "plain.crec"
    env = {"CUSTREC_KEY_FILE": str(key)}
    assert cli("init", str(plain), env=env).exit_code == 0
    result = cli("collect", str(plain), str(path), "--add-columns", env=env)
    assert result.exit_code == ExitCode.BAD_INPUT
    assert result.stderr == (
        f"Error: {path}: column 'n': row 2: a number beyond the 64-bit signed integer range; "
        "expected at most 2^63-1\n"
    )
    small = tmp_path / "small.parquet"
    pq.write_table(pa.table({"customer_id": ["C-1"], "n": pa.array([7], pa.uint64())}), small)
    assert cli("collect", str(plain), str(small), "--add-columns", env=env).exit_code == 0


@pytest.mark.parametrize("fmt", ["parquet", "ndjson"])
def test_a_list_typed_id_column_is_bad_input(cli: InvokeCli, tmp_path: Path, fmt: str) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / f"ids.{fmt}"
    if fmt == "parquet":
        ids = pa.array([["C-1"], ["C-2"]], pa.list_(pa.string()))
        required = ("country", "created_at", "updated_at", "consent_marketing")
        others = {name: ["x", "y"] for name in required}  # a header the schema can read
        pq.write_table(pa.table({"customer_id": ids, **others}), path)
        expected = (
            f"Error: {path}: column 'customer_id' holds list values; expected scalars (text, "
            "numbers, true/false, dates or times), one per row\n"
        )
    else:
        write(path, '{"customer_id": ["C-1"]}\n')
        expected = (
            f"Error: {path}:1: column 'customer_id': expected a string, number, true/false "
            "or null, found array\n"
        )
    for command in ("inspect", "validate"):
        extra = ["--schema", CUSTOMER_SCHEMA] if command == "validate" else []
        result = cli(command, str(path), *extra)
        assert result.exit_code == ExitCode.BAD_INPUT
        assert result.stderr == expected


@pytest.mark.parametrize(
    ("rule", "line", "message"),
    [
        ("  - id: x\n    trigger: created_at\n    period: 99999999y\n", 5,
         "period '99999999y': expected at most 200 years"),
        ("  - id: [1]\n    trigger: created_at\n    period: 6y\n", 3, "rule: 'id' must be text"),
        ("  - id: x\n    trigger: created_at\n    period: 6y\n    action: [delete]\n", 6,
         "rule: 'action' must be text"),
    ],
    ids=["period-99999999y", "id-a-list", "action-a-list"],
)  # fmt: skip
def test_a_retention_policy_value_out_of_range_or_type_is_refused(
    cli: InvokeCli, tmp_path: Path, store: Path, key: Path, rule: str, line: int, message: str
) -> None:
    """``period: 99999999y`` was exit 70 (a date overflow); ``id: [1]`` was accepted."""
    policy = write(tmp_path / "p.yaml", "version: 1\nrules:\n" + rule)
    result = purge_dry_run(cli, store, key, policy)
    assert result.exit_code == ExitCode.USAGE
    assert result.stderr == f"Error: {policy}:{line}: {message}\n"


def test_arrow_reads_csv_through_its_own_file_handle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A parse error ended the command while Arrow's read-ahead thread was reading the
    Python file object (which needs the interpreter lock): under load, the process
    sometimes aborted at exit (SIGABRT, exit 134). Arrow now gets a native handle."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from custrec.io import open_table

    given: list[object] = []
    original = pacsv.open_csv

    def spy(source: object, *args: object, **kwargs: object) -> object:
        given.append(source)
        return original(source, *args, **kwargs)

    monkeypatch.setattr(pacsv, "open_csv", spy)
    path = write(tmp_path / "r.csv", HEADER + ROW.format(n=1) + "\n" + ROW.format(n=2) + ",x\n")
    with (
        pytest.raises(InputError, match=r"r\.csv:3:6: expected 5 fields"),
        open_table(str(path)) as reader,
    ):
        list(reader)
    assert len(given) == 1
    assert isinstance(given[0], pa.NativeFile)
    assert not isinstance(given[0], pa.PythonFile)


def stress_runs(default: int = 24) -> int:
    return int(os.environ.get("CUSTREC_STRESS_ITERATIONS", default))


@pytest.mark.slow
def test_ragged_csv_under_parallel_load_never_aborts(tmp_path: Path) -> None:
    """Many ``inspect`` and ``collect`` runs of ragged CSV files at once: each ends
    with exit 3, none with a signal (SIGABRT was seen about once in 80 runs)."""
    small = write(
        tmp_path / "small.csv", HEADER + ROW.format(n=1) + "\n" + ROW.format(n=2) + ",x\n"
    )
    rows = "".join(ROW.format(n=n) + "\n" for n in range(1, 2000))
    big = write(tmp_path / "big.csv", HEADER + rows + "C-9,x\n" + rows)
    env = {**os.environ, "PYTHONPATH": str(REPO), "CUSTREC_KEY_FILE": ""}
    total = stress_runs()
    started = 0
    while started < total:
        batch = []
        for n in range(min(12, total - started)):
            path = small if n % 2 else big
            batch.append(
                subprocess.Popen(
                    custrec_command("inspect", str(path)),
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                )
            )
        started += len(batch)
        for proc in batch:
            _, err = proc.communicate(timeout=120)
            assert proc.returncode == ExitCode.BAD_INPUT, (proc.returncode, err[-500:])


# --- tracebacks ----------------------------------------------------------------------


def test_debug_tracebacks_leave_out_foreign_messages() -> None:
    from custrec.cli.core import debug_traceback

    def fail() -> None:
        try:
            {}["lena.secret@example.com"]
        except KeyError as exc:
            raise InputError("x.csv", "a message of custrec's own", line=2) from exc

    try:
        try:
            fail()
        except InputError:
            json.loads('{"name": "Ozturk"')
    except ValueError as exc:
        text = debug_traceback(exc)
    assert "Ozturk" not in text
    assert "lena.secret" not in text
    assert "KeyError (message left out: it may quote the input)" in text
    assert "custrec.errors.InputError: x.csv:2: a message of custrec's own" in text
    assert "json.decoder.JSONDecodeError (message left out" in text
    assert "The above exception was the direct cause of the following exception" in text
    assert "During handling of the above exception, another exception occurred" in text
    assert text.count("Traceback (most recent call last):") == 3
    assert ", in fail\n" in text


def test_debug_traceback_of_an_internal_error_shows_no_value(
    cli: InvokeCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from custrec import table_profile

    def broken(*args: object, **kwargs: object) -> None:
        raise ValueError("could not convert 'lena.secret@example.com'")

    monkeypatch.setattr(table_profile, "inspect_table", broken)
    path = write(tmp_path / "c.csv", HEADER + ROW.format(n=1) + "\n")
    result = cli("--debug", "inspect", str(path))
    assert result.exit_code == 70
    assert "Traceback (most recent call last):" in result.stderr
    assert "in broken" in result.stderr
    assert "lena.secret" not in result.stderr
    assert result.stderr.endswith(
        "Error: internal error (ValueError); this is a bug in custrec. Run again with "
        "--debug for the traceback and report it.\n"
    )


# --- contract defects ----------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["export", "{store}", "--fields", "customer_id,shoe_size"],
        ["export", "{store}", "--where", "shoe_size=3"],
        ["get", "{store}", "C-000001", "--fields", "shoe_size"],
        ["find", "{store}", "--email", "lena@example.com", "--fields", "shoe_size"],
        ["redact", "{store}", "-o", "-", "--fields", "shoe_size"],
        ["redact", "{csv}", "-o", "-", "--fields", "shoe_size"],
        ["scan", "{csv}", "--field", "shoe_size"],
        ["scan", "{store}", "--field", "shoe_size"],
        ["report", "kpi", "{log}", "--by", "team"],
    ],
)
def test_an_unknown_column_is_bad_input(
    cli: InvokeCli, tmp_path: Path, store: Path, key: Path, args: list[str]
) -> None:
    csv_path = write(tmp_path / "c.csv", HEADER + ROW.format(n=1) + "\n")
    log = write(
        tmp_path / "log.csv",
        "interaction_id,case_id,channel,created_at\nI-1,K-1,phone,2026-01-01T10:00:00Z\n",
    )
    names = {"store": str(store), "csv": str(csv_path), "log": str(log)}
    filled = [arg.format(**names) for arg in args]
    result = cli(*filled, env={"CUSTREC_KEY_FILE": str(key)})
    assert result.exit_code == ExitCode.BAD_INPUT, result.stderr
    source = next(arg for arg in filled if arg in names.values())
    assert result.stderr.startswith(f"Error: {source}")
    assert "shoe_size" in result.stderr or "'team'" in result.stderr


def test_unknown_column_errors_are_of_their_class(store: Path, key: Path) -> None:
    from custrec.export import export_records
    from custrec.store import open_store

    with (
        open_store(store, KeySource.from_key_file(key)) as opened,
        pytest.raises(UnknownColumnError),
    ):
        export_records(opened, "-", fields=["shoe_size"])


def test_a_key_given_twice_in_an_ndjson_object_is_refused(cli: InvokeCli, tmp_path: Path) -> None:
    path = write(
        tmp_path / "d.ndjson",
        '{"customer_id": "C-1"}\n{"customer_id": "C-2", "email": "a@b.c", "email": "x@y.z"}\n',
    )
    result = cli("inspect", str(path))
    assert result.exit_code == ExitCode.BAD_INPUT
    assert result.stderr == (
        f"Error: {path}:2: column 'email': the key is given twice in one object; expected "
        "each key once\n"
    )


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("NaN", 1, "NaN, Infinity or a number beyond the 64-bit floating-point range"),
        ("-Infinity", 1, "NaN, Infinity or a number beyond the 64-bit floating-point range"),
        ("1e400", 1, "NaN, Infinity or a number beyond the 64-bit floating-point range"),
        ("9223372036854775808", 1, "a number beyond the 64-bit integer range"),
        ("9" * 5000, 1, "a number with too many digits"),
        ('"a\\ud800b"', 1, "a \\u escape for half a UTF-16 surrogate pair"),
    ],
)
def test_ndjson_numbers_and_text_json_allows_but_columns_cannot_hold(
    cli: InvokeCli, tmp_path: Path, text: str, line: int, message: str
) -> None:
    path = write(tmp_path / "n.ndjson", '{"customer_id": "C-1", "n": ' + text + "}\n")
    result = cli("inspect", str(path))
    assert result.exit_code == ExitCode.BAD_INPUT
    assert result.stderr.startswith(f"Error: {path}:{line}")
    assert message in result.stderr


@pytest.mark.parametrize(
    ("where", "problem"),
    [
        ("notes == true", "field 'notes' holds text: compare it with 'text' in quotes or null"),
        ("consent_marketing == 'true'", "holds true/false: compare it with true or false or null"),
        ("consent_marketing > false", "true/false compare with == or != only"),
        ("notes < null", "null compares with == or != only"),
    ],
)
def test_a_where_comparing_with_another_type_is_refused(
    cli: InvokeCli, tmp_path: Path, store: Path, key: Path, where: str, problem: str
) -> None:
    """A text field compared with true, or a true/false field with text, would match
    nothing, silently: the comparison is refused naming the line."""
    policy = write(
        tmp_path / "p.yaml",
        f"version: 1\nrules:\n  - id: x\n    trigger: created_at\n    period: 6y\n"
        f"    where: {where}\n",
    )
    result = purge_dry_run(cli, store, key, policy)
    assert result.exit_code == ExitCode.USAGE, result.stdout
    assert result.stderr.startswith(f"Error: {policy}:6: where: {where}: ")
    assert problem in result.stderr


def test_a_where_of_the_field_type_still_applies(
    cli: InvokeCli, tmp_path: Path, store: Path, key: Path
) -> None:
    policy = write(
        tmp_path / "p.yaml",
        "version: 1\nrules:\n  - id: x\n    trigger: created_at\n    period: 6y\n"
        "    where: consent_marketing == true and email != null and country == 'GB'\n",
    )
    result = purge_dry_run(cli, store, key, policy, "--format", "json", "--as-of", "2030-01-01")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["rules"][0]["count"] == 1


def test_a_new_passphrase_needs_12_characters_an_old_one_still_opens(
    cli: InvokeCli, tmp_path: Path
) -> None:
    short = tmp_path / "short.crec"
    refused = cli("init", str(short), env={"CUSTREC_PASSPHRASE": "x"})
    assert refused.exit_code == ExitCode.USAGE
    assert refused.stderr.startswith("Error: a new passphrase needs at least 12 characters")
    assert not short.exists()
    same = cli("init", str(short), env={"CUSTREC_PASSPHRASE": "aaaaaaaaaaaaaaa"})
    assert same.exit_code == ExitCode.USAGE
    assert not short.exists()

    with create_store(short, KeySource.from_passphrase("x")):  # made before the rule
        pass
    opened = cli("verify", str(short), env={"CUSTREC_PASSPHRASE": "x"})
    assert opened.exit_code == 0, opened.stderr
    added = cli(
        "key", "add", str(short), env={"CUSTREC_PASSPHRASE": "x", "CUSTREC_NEW_PASSPHRASE": "y"}
    )
    assert added.exit_code == ExitCode.USAGE
    assert "at least 12 characters" in added.stderr
    good = cli(
        "key", "add", str(short),
        env={"CUSTREC_PASSPHRASE": "x", "CUSTREC_NEW_PASSPHRASE": "four unrelated words"},
    )  # fmt: skip
    assert good.exit_code == 0, good.stderr
