"""One definition, three engines: the schema's rules run on polars (batch by batch, in
this process), on DuckDB and on Apache Spark (local[2], one session for the whole
module) give the same converted values, the same verdicts on every record, and the
same validation report (counts, examples with rows, lines and ids), on generated
customers with defects and on hand-made edge rows: dates and times at every
boundary, fractions and offsets, 64-bit integer bounds, phone numbers written
differently that are the same number, emails differing in case, Python-only
patterns, card numbers in notes."""

from __future__ import annotations

import csv
import json
import os
import stat
import sys
from pathlib import Path
from typing import Any

import pytest

from custrec.errors import UsageError
from custrec.schema import load_schema, parse_schema
from custrec.schema.batch import ROW, BatchRules, fail_column
from custrec.validate import validate_on_engine, validate_source

from .conftest import InvokeCli, on

duckdb = pytest.importorskip("duckdb")
pyspark = pytest.importorskip("pyspark")

from custrec import engines  # noqa: E402
from custrec.schema import lazy, rules  # noqa: E402

AS_OF = "2026-11-01"

SCHEMA = parse_schema(
    r"""
name: engines
id: id
match: [email, phone]
fields:
  id: {required: true, unique: true}
  email:
    unique: true
    checks: [{check: email}]
  phone:
    unique: true
    checks:
      - {check: phone, region_field: country}
      - {id: phone.possible, check: phone, region_field: country, level: possible}
  e164: {checks: [{check: e164}]}
  country: {checks: [{check: country_code}]}
  postcode: {checks: [{check: postcode, country_field: country}]}
  qty:
    type: integer
    checks: [{check: range, min: 0, max: 1000}]
  price:
    type: number
    checks: [{check: range, min: 0}]
  born:
    type: date
    checks: [{check: date_range, not_future: true, max_age_years: 120}]
  at:
    type: datetime
    checks: [{check: date_range, not_future: true}]
  later: {type: datetime}
  seen:
    type: date
    checks: [{check: freshness, max_age_days: 30}]
  flag: {type: boolean}
  channel:
    checks: [{check: one_of, values: [email, phone], ignore_case: true}]
  code:
    checks:
      - {check: matches, pattern: '[A-Z]{2}-[0-9]{3}'}
      - {id: code.word, check: matches, pattern: '\w+(?: \w+)?'}
      - {check: length, min: 2, max: 12}
  notes:
    checks: [{check: no_card_or_id_numbers}]
rules:
  - {id: reachable, check: at_least_one_of, fields: [email, phone]}
  - {id: ordered, check: compare, left: later, op: '>=', right: at}
  - {id: code-complete, check: completeness, field: code, min_pct: 90}
"""
)

TIMES = [
    "2024-01-01T23:59:59Z",
    "2024-01-01T23:59:60Z",
    "2024-01-01T24:00",
    "2024-01-01T10:00+12:59",
    "2024-01-01T10:00+12:60",
    "0001-01-01T00:00+05:00",
    "9999-12-31T23:59:59-01:00",
    "2024-01-01 10:00:00.123456",
    "2024-01-01T10:00:00.1234567",
    "2024-01-01T10:00:00.5+01:00",
    "2024-03-31T00:59:59.999999Z",
    "2024-03-31T01:30:00+01:00",
    "2024-10-27T01:30:00+01:00",
    "2024-10-27T01:30:00+00:00",
    "2024-02-29T12:00",
    "2023-02-29T12:00",
    "2026-11-01T23:59:59.999999",
    "2026-11-02T00:00:00",
    "2024-01-01",
    "2024-01-01Z",
    " 2024-05-05T05:05:05-05:30 ",
    "",
    "soon",
]
INTEGERS = [
    "9223372036854775807",
    "-9223372036854775808",
    "+0009223372036854775807",
    "9223372036854775808",
    "99999999999999999999",
    "1e3",
    " 42 ",
    "4.2",
    "٤٢",
    "9.3e18",
    "-1",
    "1001",
    "",
]
PHONES = [
    ("+44 7911 123456", "GB"),
    ("07911 123456", "GB"),  # the same number as above
    ("+1 (415) 555-0134", "US"),
    ("415.555.0134", "us"),  # the same again, the country in lower case
    ("0176 09419808", "DE"),
    ("12-34", "GB"),
    ("+999 1234 5678", None),
    ("(0) 20 7946 0958", "GB"),
    ("phone me", "FR"),
]


def edge_rows() -> list[dict[str, str]]:
    rows = []
    for n in range(max(len(TIMES), len(INTEGERS), len(PHONES))):
        time = TIMES[n % len(TIMES)]
        phone, country = PHONES[n % len(PHONES)]
        rows.append(
            {
                "id": f"E-{n}" if n % 11 else "E-0",  # a repeated id
                "email": ["Ann@Example.com", "ann@example.com ", "ZOË@example.com", "no-at"][n % 4],
                "phone": phone,
                "e164": ["+447911123456", "447911123456", ""][n % 3],
                "country": country or "",
                "postcode": ["SW1A 1AA", "12345", "sw1a1aa", ""][n % 4],
                "qty": INTEGERS[n % len(INTEGERS)],
                "price": ["1e999", "nan", "-0.5", "3.25", ""][n % 5],
                "born": TIMES[(n + 3) % len(TIMES)][:10],
                "at": time,
                "later": TIMES[(n + 5) % len(TIMES)],
                "seen": ["2026-10-20", "2026-09-01", "2026-11-02", "x"][n % 4],
                "flag": [" TRUE ", "0", "yes", ""][n % 4],
                "channel": ["EMAIL", "phone", "fax", ""][n % 4],
                "code": ["AB-123", "ab-123", "Ω-1", "word two", ""][n % 5],
                "notes": [
                    "card 4111 1111 1111 1111 please",
                    "call 0207 946 0958",
                    "NI QQ123456C",
                    "",
                ][n % 4],
            }
        )
    return rows


def generated_rows(count: int) -> list[dict[str, str]]:
    from custrec.generate import generate_customers

    out = []
    for chunk in generate_customers(count, seed=21, bad_share=0.3):
        for row in chunk.rows:
            out.append(
                {
                    "id": str(row.get("customer_id") or ""),
                    "email": str(row.get("email") or ""),
                    "phone": str(row.get("phone") or ""),
                    "e164": "",
                    "country": str(row.get("country") or ""),
                    "postcode": str(row.get("postcode") or ""),
                    "qty": "",
                    "price": "",
                    "born": str(row.get("date_of_birth") or ""),
                    "at": str(row.get("created_at") or ""),
                    "later": str(row.get("updated_at") or ""),
                    "seen": str(row.get("last_verified") or ""),
                    "flag": str(row.get("consent_marketing") or ""),
                    "channel": str(row.get("preferred_channel") or ""),
                    "code": "AB-123",
                    "notes": str(row.get("notes") or ""),
                }
            )
    return out


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("engines")
    rows = edge_rows() + generated_rows(1500) + edge_rows()
    rows[5]["notes"] = "a note\nover two lines, with a card 4111 1111 1111 1111"
    path = folder / "records.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    import pyarrow as pa
    import pyarrow.parquet as pq

    parquet = folder / "records.parquet"
    pq.write_table(pa.Table.from_pylist(rows), parquet)
    single = folder / "single-lines.csv"  # no record spans lines
    with single.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(r for r in rows if "\n" not in r["notes"])
    return {"csv": path, "parquet": parquet, "single": single}


def report_json(report: Any) -> dict[str, Any]:
    return json.loads(json.dumps(report.to_json(), default=str))


@pytest.mark.parametrize("engine_name", ["duckdb", "spark"])
@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_the_report_is_the_same_on_every_engine(
    engine_name: str,
    kind: str,
    data: dict[str, Path],
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """From Parquet, the distinct keys of the per-value checks go to the driver and
    back in chunks of 50 (bounded memory); many chunks build the same tables as one."""
    if kind == "parquet":
        monkeypatch.setattr(lazy, "KEY_CHUNK", 50)
    engine = on(engine_name, request)
    path = str(data[kind])
    local = report_json(validate_source(path, SCHEMA, as_of=AS_OF, examples=4))
    remote = report_json(validate_on_engine([path], SCHEMA, engine, as_of=AS_OF, examples=4))
    assert remote == local
    failed = {rule["id"]: rule["failed"] for rule in local["rules"] if rule["failed"]}
    # The data exercises the rules: most fail somewhere, and the report has lines.
    assert len(failed) >= 20, failed
    for rule in ("id.unique", "email.unique", "phone.unique", "ordered", "code.word"):
        assert failed.get(rule), rule
    if kind == "csv":
        lines = [e["line"] for r in local["rules"] for e in r["examples"]]
        assert any(line is not None and line > 2 for line in lines)


def test_duckdb_keeps_each_large_join_with_the_same_report(
    duck: engines.DuckDBEngine, data: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """From KEEP_JOINS_FROM records, DuckDB keeps the result of each lookup's and
    unique field's join (one hash table at a time): the same report either way."""
    path = str(data["csv"])
    local = report_json(validate_source(path, SCHEMA, as_of=AS_OF, examples=4))
    kept: list[int] = []
    materialise = duck.materialise

    def counted(frame: Any) -> Any:
        kept.append(1)
        return materialise(frame)

    monkeypatch.setattr(duck, "materialise", counted)
    validate_on_engine([path], SCHEMA, duck, as_of=AS_OF, examples=4)
    chained = len(kept)
    monkeypatch.setattr(engines, "KEEP_JOINS_FROM", 0)
    kept.clear()
    remote = report_json(validate_on_engine([path], SCHEMA, duck, as_of=AS_OF, examples=4))
    assert remote == local
    assert len(kept) >= chained + 3  # after each of the three unique fields at least


def failure_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def canonical(found: list[dict[str, Any]]) -> list[str]:
    return sorted(json.dumps(item, sort_keys=True) for item in found)


@pytest.mark.parametrize("engine_name", ["duckdb", "spark"])
@pytest.mark.parametrize("kind", ["csv", "single", "parquet"])
def test_the_failures_file_is_the_same_on_every_engine(
    engine_name: str,
    kind: str,
    data: dict[str, Path],
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    """Every failure of the polars engine's file, field for field (lines where a
    record spans two lines included), written by the engine in record order, put in
    place with mode 0600."""
    engine = on(engine_name, request)
    path = str(data[kind])
    local, remote = tmp_path / "local.ndjson", tmp_path / "remote.ndjson"
    validate_source(path, SCHEMA, as_of=AS_OF, failures=str(local))
    validate_on_engine([path], SCHEMA, engine, as_of=AS_OF, failures=str(remote))
    ours, theirs = failure_lines(local), failure_lines(remote)
    assert len(ours) > 500
    assert theirs == ours  # in the same order: by record, then rule
    assert [(f["row"], f["rule"]) for f in theirs] == sorted((f["row"], f["rule"]) for f in ours)
    assert stat.S_IMODE(remote.stat().st_mode) == 0o600
    lines = {f["row"]: f["line"] for f in ours}
    if kind == "parquet":
        assert set(lines.values()) == {None}
    elif kind == "csv":  # the record over two lines shifts the lines after it
        assert any(line > row + 1 for row, line in lines.items())
    else:
        assert all(line == row + 1 for row, line in lines.items())
    assert any(f["other_fields"] for f in ours)


def test_spark_writes_the_failures_as_part_files_at_a_uri(
    spark: engines.SparkEngine, data: dict[str, Path], tmp_path: Path
) -> None:
    """A path of the cluster's storage (a scheme://) is written by Spark's workers as
    a directory of part files; an existing one is refused (exit 2), not replaced."""
    path = str(data["single"])
    local = tmp_path / "local.ndjson"
    validate_source(path, SCHEMA, as_of=AS_OF, failures=str(local))
    uri = (tmp_path / "failures").as_uri()
    validate_on_engine([path], SCHEMA, spark, as_of=AS_OF, failures=uri)
    found = [
        json.loads(line)
        for part in sorted((tmp_path / "failures").glob("part-*"))
        for line in part.read_text(encoding="utf-8").splitlines()
    ]
    assert canonical(found) == canonical(failure_lines(local))
    with pytest.raises(UsageError, match="already exists"):
        validate_on_engine([path], SCHEMA, spark, as_of=AS_OF, failures=uri)


def test_the_failures_file_on_duckdb_from_the_cli(
    cli: InvokeCli, data: dict[str, Path], tmp_path: Path
) -> None:
    """--failures on --engine duckdb: the polars engine's failures, to a file or to
    stdout; never over the input it reads (exit 2, the input untouched)."""
    path = str(data["single"])
    schema_file = tmp_path / "engines.yaml"
    from custrec.schema.model import dump_schema

    schema_file.write_text(dump_schema(SCHEMA), encoding="utf-8")
    base = ["validate", path, "--schema", str(schema_file), "--as-of", AS_OF]
    local, duck = tmp_path / "local.ndjson", tmp_path / "duck.ndjson"
    assert cli(*base, "--failures", str(local)).exit_code == 1
    result = cli(*base, "--engine", "duckdb", "--failures", str(duck), "--format", "json")
    assert result.exit_code == 1, result.output
    assert json.loads(result.stdout)["failures_file"] == str(duck)
    assert canonical(failure_lines(duck)) == canonical(failure_lines(local))
    out = cli(*base, "--engine", "duckdb", "--failures", "-", "--format", "json")
    assert out.exit_code == 1, out.output
    printed = [json.loads(line) for line in out.stdout.splitlines() if '"rule":' in line]
    assert canonical(printed) == canonical(failure_lines(local))
    before = data["single"].read_bytes()
    refused = cli(*base, "--engine", "duckdb", "--failures", path)
    assert refused.exit_code == 2, refused.output
    assert data["single"].read_bytes() == before


def collected(frame: Any, columns: list[str]) -> list[tuple[Any, ...]]:
    return sorted(frame.select(ROW, *columns).collect().to_polars().rows())


@pytest.mark.parametrize("engine_name", ["duckdb", "spark"])
def test_every_records_values_and_verdicts_are_the_same(
    engine_name: str, data: dict[str, Path], request: pytest.FixtureRequest
) -> None:
    """Not only the counts: each record's converted values (instants to the
    microsecond, exact integers) and its verdict on each rule."""
    import pyarrow.csv as pacsv

    engine = on(engine_name, request)
    engine_rules = BatchRules(SCHEMA, AS_OF)
    import pyarrow as pa

    with data["csv"].open(encoding="utf-8") as handle:
        names = next(csv.reader(handle))
    table = pacsv.read_csv(
        data["csv"],
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=False
        ),
    )
    local = engine_rules.evaluate(table).frame
    frame = engine.read([str(data["csv"])], None, ROW)
    evaluated, verdicts, _ = lazy.evaluate(BatchRules(SCHEMA, AS_OF), frame, engine)
    columns = [rules.value_column(n) for n in SCHEMA.fields] + [
        fail_column(v.rule_id) for v in verdicts
    ]
    numbers = engine.record_numbers(
        evaluated, ROW, evaluated.select(ROW).collect().get_column(ROW).to_list()
    )
    theirs = [(numbers[row[0]] - 1, *row[1:]) for row in collected(evaluated, columns)]
    ours = sorted(local.select(ROW, *columns).rows())
    assert len(theirs) == len(ours) == table.num_rows
    for mine, other in zip(ours, theirs, strict=True):
        differ = [c for c, a, b in zip(columns, mine[1:], other[1:], strict=True) if a != b]
        assert mine == other, (mine[0], differ)


def test_the_shipped_customer_schema_gives_the_same_report_on_duckdb(
    duck: engines.DuckDBEngine, tmp_path: Path
) -> None:
    from custrec.generate import generate_customers

    schema = load_schema("customer")
    path = tmp_path / "customers.csv"
    chunks = list(generate_customers(2000, seed=4, bad_share=0.25))
    names = list(chunks[0].rows[0])
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=names)
        writer.writeheader()
        for chunk in chunks:
            writer.writerows(chunk.rows)
    local = report_json(validate_source(str(path), schema, as_of=AS_OF))
    remote = report_json(validate_on_engine([str(path)], schema, duck, as_of=AS_OF))
    assert remote == local


def test_duckdb_spills_into_a_private_directory_removed_at_the_end() -> None:
    engine = engines.DuckDBEngine(memory_limit="256MB")
    spill = Path(engine.spill)
    assert spill.is_dir()
    assert stat.S_IMODE(spill.stat().st_mode) == 0o700
    setting = engine.connection.execute("SELECT current_setting('temp_directory')").fetchall()[0]
    assert setting is not None
    assert setting[0] == str(spill)
    engine.close()
    assert not spill.exists()


def test_engines_run_in_utc(duck: engines.DuckDBEngine, spark: engines.SparkEngine) -> None:
    zone = duck.connection.execute("SELECT current_setting('TimeZone')").fetchall()[0]
    assert zone is not None
    assert zone[0] == "UTC"
    assert spark.session.conf.get("spark.sql.session.timeZone") == "UTC"
    assert spark.session.conf.get("spark.io.encryption.enabled") == "true"


def test_the_cli_gives_the_same_json_on_each_engine(
    cli: InvokeCli, data: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = str(data["csv"])
    schema_file = data["csv"].parent / "engines.yaml"
    from custrec.schema.model import dump_schema

    schema_file.write_text(dump_schema(SCHEMA), encoding="utf-8")
    base = ["validate", path, "--schema", str(schema_file), "--as-of", AS_OF, "--format", "json"]
    local = cli(*base)
    assert local.exit_code == 1, local.output
    duck = cli(*base, "--engine", "duckdb", "--memory-limit", "512MB")
    assert duck.exit_code == 1, duck.output
    assert json.loads(duck.stdout) == json.loads(local.stdout)
    monkeypatch.setenv("CUSTREC_ENGINE", "duckdb")
    by_env = cli(*base)
    assert json.loads(by_env.stdout) == json.loads(local.stdout)


def test_an_engine_without_its_package_exits_2_naming_the_extra(
    cli: InvokeCli, data: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pyspark", None)  # import pyspark now fails
    result = cli("validate", str(data["csv"]), "--schema", "customer", "--engine", "spark")
    assert result.exit_code == 2
    assert "pip install 'custrec[spark]'" in result.stderr


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--engine", "oracle"], "oracle"),
        (["--engine", "duckdb", "--failures", "s3a://bucket/failures"], "--failures"),
        (["--memory-limit", "1GB"], "--memory-limit"),
        (["--engine", "spark", "--memory-limit", "1GB"], "--memory-limit"),
    ],
)
def test_engine_options_that_do_not_go_together_exit_2(
    cli: InvokeCli, data: dict[str, Path], extra: list[str], message: str
) -> None:
    result = cli("validate", str(data["csv"]), "--schema", "customer", *extra)
    assert result.exit_code == 2, result.output
    assert message in result.stderr


def test_a_missing_input_on_an_engine_exits_3(cli: InvokeCli, tmp_path: Path) -> None:
    missing = str(tmp_path / "nothing-here.csv")
    result = cli("validate", missing, "--schema", "customer", "--engine", "duckdb")
    assert result.exit_code == 3, result.output
    assert "nothing-here.csv" in result.stderr
    assert not os.path.exists(missing)


def test_duckdb_out_of_memory_exits_2_asking_for_a_larger_limit(
    cli: InvokeCli, data: dict[str, Path]
) -> None:
    """Not exit 70: the limit given is too small for the input, and the message says
    what to do."""
    result = cli(
        "validate", str(data["csv"]), "--schema", "customer",
        "--engine", "duckdb", "--memory-limit", "2MB",
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "larger --memory-limit" in result.stderr


def ragged_file(folder: Path) -> Path:
    path = folder / "ragged.csv"
    path.write_text(
        "id,email,phone\nC1,secret@example.com,+447911123456,extra\nC2\n", encoding="utf-8"
    )
    return path


def test_a_ragged_csv_exits_3_on_duckdb_without_quoting_the_record(
    cli: InvokeCli, tmp_path: Path
) -> None:
    result = cli(
        "validate", str(ragged_file(tmp_path)), "--schema", "customer", "--engine", "duckdb"
    )
    assert result.exit_code == 3, result.output
    assert "secret@example.com" not in result.stderr


def test_a_ragged_csv_is_an_input_error_on_spark_without_the_record(
    spark: engines.SparkEngine, tmp_path: Path
) -> None:
    from custrec.errors import InputError

    with pytest.raises(InputError) as raised:
        validate_on_engine([str(ragged_file(tmp_path))], SCHEMA, spark, as_of=AS_OF)
    assert "MALFORMED" in str(raised.value)
    assert "secret@example.com" not in str(raised.value)


def test_a_killed_runs_spill_directory_is_removed_by_the_next_run(tmp_path: Path) -> None:
    import subprocess

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    stale = tmp_path / f"{engines.SPILL_PREFIX}stale"
    stale.mkdir()
    (stale / engines.OWNER_FILE).write_text(gone.stdout.strip())
    (stale / "work.duckdb").write_bytes(b"plaintext pages")
    alive = tmp_path / f"{engines.SPILL_PREFIX}alive"
    alive.mkdir()
    (alive / engines.OWNER_FILE).write_text(str(os.getpid()))
    unnamed = tmp_path / f"{engines.SPILL_PREFIX}unnamed"
    unnamed.mkdir()
    assert engines.remove_stale_spills(str(tmp_path)) == [str(stale)]
    assert not stale.exists()
    assert alive.exists()
    assert unnamed.exists()


@pytest.fixture(scope="module")
def purged_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(a store of generated customers with defects, after a retention purge that
    anonymised some of them; one anonymised record that still names its customer, so
    that the anonymised-record rules fail; its key file)."""
    from click.testing import CliRunner

    from custrec.anonymised import ANONYMISED_SOURCE
    from custrec.cli import main
    from custrec.store import KeySource, open_store

    folder = tmp_path_factory.mktemp("purged")
    key, store, given = folder / "k.key", folder / "s.crec", folder / "c.csv"
    refused = folder / "rejects.csv"
    repo = Path(__file__).resolve().parent.parent
    runner = CliRunner()
    env = {"CUSTREC_KEY_FILE": str(key), "CUSTREC_ACTOR": "officer"}
    policy = str(repo / "schemas" / "retention.yaml")
    for args in (
        ["key", "new", str(key)],
        ["generate", "customers", "--rows", "1500", "--seed", "7", "-o", str(given)],
        ["init", str(store), "--schema", str(repo / "schemas" / "customer.yaml")],
        ["collect", str(store), str(given), "--on-invalid", "reject", "--rejects", str(refused)],
        ["purge", str(store), "--policy", policy, "--as-of", "2030-01-01", "--yes"],
    ):
        result = runner.invoke(main, args, env=env, catch_exceptions=False)
        assert result.exit_code == 0, (args, result.output)
    with open_store(store, KeySource.from_key_file(key)) as opened:
        anonymous = [
            row
            for batch in opened.iter_batches(system=True)
            for row in batch.to_pylist()
            if str(row["_source"] or "").startswith(ANONYMISED_SOURCE)
        ]
        assert len(anonymous) >= 20
        victim = anonymous[len(anonymous) // 2]
        bad = {k: v for k, v in victim.items() if k not in ("_version", "_collected")}
        bad.update(first_name="Name1", postcode="LS1 4AP", customer_id="C-999999")
        opened.purge({victim["customer_id"]: (victim["_version"], bad)})
    return store, key


@pytest.mark.parametrize("engine_name", ["duckdb", "spark"])
def test_a_store_streamed_into_an_engine_gives_the_same_report_and_failures(
    engine_name: str,
    purged_store: tuple[Path, Path],
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """A store is decrypted batch by batch into the engine; the records a purge
    anonymised are checked by their own rules on the way, and every example and
    failure names the position the polars engine gives it (batches of 200 records
    here, so that anonymised records sit in many of them)."""
    import functools

    from custrec import io
    from custrec.schema import shipped_schema
    from custrec.store import KeySource, open_store

    monkeypatch.setattr(io, "regrouped", functools.partial(io.regrouped, rows=200))
    engine = on(engine_name, request)
    store, key = purged_store
    schema = shipped_schema("customer")
    local, remote = tmp_path / "local.ndjson", tmp_path / "remote.ndjson"
    with open_store(store, KeySource.from_key_file(key)) as opened:
        ours = validate_source(
            str(store), schema, store=opened, as_of=AS_OF, examples=50, failures=str(local)
        )
    with open_store(store, KeySource.from_key_file(key)) as opened:
        theirs = validate_on_engine(
            [], schema, engine, store=opened, as_of=AS_OF, examples=50, failures=str(remote)
        )
    expected, found = report_json(ours), report_json(theirs)
    expected.pop("failures_file")
    found.pop("failures_file")
    assert found == expected
    assert found["source_kind"] == "store"
    failed = {rule["id"]: rule["failed"] for rule in expected["rules"] if rule["failed"]}
    assert failed["anonymised.empty"] == 1, failed
    assert failed["anonymised.id"] == 1, failed
    assert len(failed) >= 5, failed
    ours_failures, theirs_failures = failure_lines(local), failure_lines(remote)
    assert theirs_failures == ours_failures
    rows = [f["row"] for f in theirs_failures]
    assert rows == sorted(rows)
    assert any(f["rule"].startswith("anonymised.") for f in theirs_failures)
    # Positions differ from the order among the records sent: anonymised ones came first.
    assert max(rows) > found["rows"] - failed.get("anonymised.id", 0) - 20


@pytest.mark.parametrize("engine_name", ["duckdb", "spark"])
def test_ndjson_streamed_into_an_engine_names_its_lines(
    engine_name: str, data: dict[str, Path], request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """NDJSON, which the engines do not read as custrec does, is read by custrec and
    streamed in: the same report, and the same failures with their lines (a blank
    line shifts them)."""
    engine = on(engine_name, request)
    rows = list(csv.DictReader(data["csv"].open(encoding="utf-8", newline="")))
    path = tmp_path / "records.ndjson"
    lines = [json.dumps(row) for row in rows]
    lines.insert(40, "")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    local, remote = tmp_path / "local.ndjson", tmp_path / "remote.ndjson"
    ours = validate_source(str(path), SCHEMA, as_of=AS_OF, examples=4, failures=str(local))
    theirs = validate_on_engine(
        [str(path)], SCHEMA, engine, as_of=AS_OF, examples=4, failures=str(remote)
    )
    expected, found = report_json(ours), report_json(theirs)
    assert expected.pop("failures_file") != found.pop("failures_file")
    assert found == expected
    failures = failure_lines(remote)
    assert canonical(failures) == canonical(failure_lines(local))
    assert any(f["line"] == f["row"] + 1 for f in failures)  # after the blank line
    assert any(f["line"] == f["row"] for f in failures)  # before it


def test_a_store_and_stdin_on_duckdb_from_the_cli(
    cli: InvokeCli, purged_store: tuple[Path, Path], data: dict[str, Path], tmp_path: Path
) -> None:
    """``validate STORE --engine duckdb`` reads the store with its key (the store's own
    schema, audited) and standard input is streamed in: both as on polars."""
    store, key = purged_store
    env = {"CUSTREC_KEY_FILE": str(key), "CUSTREC_ACTOR": "steward"}
    base = ["validate", str(store), "--as-of", AS_OF, "--format", "json"]
    local = cli(*base, env=env)
    duck = cli(*base, "--engine", "duckdb", env=env)
    assert duck.exit_code == local.exit_code == 1, duck.output
    assert json.loads(duck.stdout) == json.loads(local.stdout)
    shown = cli("audit", "show", str(store), "--format", "json", env=env)
    actions = [entry["action"] for entry in json.loads(shown.stdout)["entries"]]
    assert actions.count("validate") >= 2
    refused = cli(*base, "--engine", "duckdb", "--failures", "file:///tmp/x", env=env)
    assert refused.exit_code == 2
    schema_file = tmp_path / "engines.yaml"
    from custrec.schema.model import dump_schema

    schema_file.write_text(dump_schema(SCHEMA), encoding="utf-8")
    text = data["csv"].read_text(encoding="utf-8")
    piped = ["validate", "-", "--schema", str(schema_file), "--as-of", AS_OF, "--format", "json"]
    local = cli(*piped, input=text)
    duck = cli(*piped, "--engine", "duckdb", input=text)
    assert duck.exit_code == local.exit_code == 1, duck.output
    assert json.loads(duck.stdout) == json.loads(local.stdout)
    lines = [e["line"] for r in json.loads(duck.stdout)["rules"] for e in r["examples"]]
    assert any(line is not None and line > 2 for line in lines)


def test_validate_sets_the_engine_back_to_utc_after_a_report_in_another_zone(
    duck: engines.DuckDBEngine, data: dict[str, Path]
) -> None:
    """One engine for several runs: a KPI report leaves its session in the reporting
    zone; validate sets it back to UTC (its rules compare instants, and DuckDB refuses
    UTC datetimes in another session zone) and gives the same report as before."""
    path = str(data["csv"])
    before = report_json(validate_on_engine([path], SCHEMA, duck, as_of=AS_OF, examples=4))
    duck.set_zone("Europe/London")
    after = report_json(validate_on_engine([path], SCHEMA, duck, as_of=AS_OF, examples=4))
    assert after == before
    zone = duck.connection.execute("SELECT current_setting('TimeZone')").fetchall()[0][0]
    assert zone == "UTC"
