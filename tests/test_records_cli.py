"""The record commands through the CLI: ``collect``, ``get``, ``find``, ``update`` and
``export`` (exit codes, stdout and stderr checked separately)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from .conftest import InvokeCli, run_custrec, write

Row = dict[str, Any]

COLUMNS = ["customer_id", "name", "email", "phone", "city", "country", "notes"]
BASE_ROWS: list[Row] = [
    {
        "customer_id": "C-001",
        "name": "Lena Öztürk",
        "email": "lena@example.com",
        "phone": "+44 7911 123456",
        "city": "London",
        "country": "GB",
        "notes": "007",
    },
    {
        "customer_id": "C-002",
        "name": "Bob Smith",
        "email": "bob@example.com",
        "phone": "07700 900123",
        "city": "Leeds",
        "country": "GB",
        "notes": None,
    },
    {
        "customer_id": "C-003",
        "name": "Ann Jones",
        "email": "ann@example.com",
        "phone": None,
        "city": "Paris",
        "country": "FR",
        "notes": '=HYPERLINK("http://x")',
    },
    {
        "customer_id": "C-004",
        "name": "Carl Berg",
        "email": "carl@example.com",
        "phone": "+46 70 123 45 67",
        "city": "Stockholm",
        "country": "SE",
        "notes": "+44 7911 123456",
    },
    {
        "customer_id": "C-005",
        "name": "Dora Day",
        "email": "dora@example.com",
        "phone": None,
        "city": "York",
        "country": "GB",
        "notes": "@SUM(A1)",
    },
    {
        "customer_id": "C-006",
        "name": "Eve Ng",
        "email": "eve@example.com",
        "phone": "07911 654321",
        "city": None,
        "country": None,
        "notes": "-12.5",
    },
]
BASE = {row["customer_id"]: row for row in BASE_ROWS}
SOURCE = "crm-2026"
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
ABORTED = re.compile(
    r"Error: \S+ line \d+: [^\n]+; 1 problem\(s\) in the input; nothing was written "
    r"\(see the report; --on-invalid reject writes the valid rows\)\n"
)
"""The one-line refusal of a collect that wrote nothing: the first problem's file,
line and reason, then the count."""


def csv_text(rows: list[Row], columns: list[str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([["" if row.get(c) is None else row[c] for c in columns] for row in rows])
    return out.getvalue()


def read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def ndjson_rows(text: str) -> list[Row]:
    return [json.loads(line) for line in text.splitlines()]


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- fixtures ------------------------------------------------------------------------


@pytest.fixture
def key(cli: InvokeCli, tmp_path: Path) -> Path:
    path = tmp_path / "steward.key"
    result = cli("key", "new", str(path))
    assert result.exit_code == 0, result.stderr
    assert mode_of(path) == 0o600
    return path


@pytest.fixture(autouse=True)
def key_env(monkeypatch: pytest.MonkeyPatch, key: Path) -> None:
    """Every command (in-process or a real process) opens stores with ``key``."""
    monkeypatch.setenv("CUSTREC_KEY_FILE", str(key))
    monkeypatch.setenv("CUSTREC_ACTOR", "tester")
    for name in ("CUSTREC_PASSPHRASE", "CUSTREC_FORMAT", "CUSTREC_DEBUG", "CUSTREC_LOCK_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)


MakeStore = Callable[..., Path]


@pytest.fixture
def make_store(cli: InvokeCli, tmp_path: Path) -> MakeStore:
    """An empty store (4 records per chunk, so a few records span several chunks)."""

    def make(name: str = "customers.crec", region: str | None = "GB", chunk: int = 4) -> Path:
        path = tmp_path / name
        args = ["init", str(path), "--chunk-records", str(chunk)]
        if region:
            args += ["--region", region]
        result = cli(*args)
        assert result.exit_code == 0, result.stderr
        return path

    return make


@pytest.fixture
def store(make_store: MakeStore) -> Path:
    return make_store()


@pytest.fixture
def customers(cli: InvokeCli, store: Path, tmp_path: Path) -> Path:
    """The store holding BASE_ROWS (two chunks), collected with --source crm-2026."""
    path = write(tmp_path / "base.csv", csv_text(BASE_ROWS, COLUMNS))
    result = cli("collect", str(store), str(path), "--source", SOURCE, "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["inserted"] == len(BASE_ROWS)
    return store


# --- helpers ------------------------------------------------------------------------


def collect(cli: InvokeCli, store: Path, *args: str, input: str | bytes | None = None) -> Result:
    return cli("collect", str(store), *args, "--format", "json", input=input)


def report(result: Result) -> Row:
    document = json.loads(result.stdout)
    assert document["version"] == 1
    assert document["kind"] == "collect"
    return document


def get_json(cli: InvokeCli, store: Path, *ids: str) -> Row:
    result = cli("get", str(store), *ids, "--format", "json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def record(cli: InvokeCli, store: Path, record_id: str) -> Row:
    records = get_json(cli, store, record_id)["records"]
    assert len(records) == 1
    return records[0]


def absent(cli: InvokeCli, store: Path, record_id: str) -> bool:
    result = cli("get", str(store), record_id, "--format", "json")
    return result.exit_code == 6 and json.loads(result.stdout)["records"] == []


def count(cli: InvokeCli, store: Path) -> int:
    result = cli("verify", str(store), "--format", "json")
    assert result.exit_code == 0, result.stderr
    return int(json.loads(result.stdout)["records"])


def export_ndjson(cli: InvokeCli, store: Path, *args: str) -> list[Row]:
    result = cli("export", str(store), "--format", "ndjson", *args)
    assert result.exit_code == 0, result.stderr
    return ndjson_rows(result.stdout)


def found_ids(cli: InvokeCli, store: Path, *args: str) -> list[str] | None:
    """Ids found by ``find``; None when it exits 6 (nothing found)."""
    result = cli("find", str(store), *args, "--format", "json")
    if result.exit_code == 6:
        assert result.stderr == "Error: no record matches\n"
        assert json.loads(result.stdout)["records"] == []
        return None
    assert result.exit_code == 0, result.stderr
    return [r["id"] for r in json.loads(result.stdout)["records"]]


def problem(
    path: str, row: int | None, line: int | None, rule: str, field: str | None, message: str
) -> Row:
    return {
        "file": path,
        "row": row,
        "line": line,
        "rule": rule,
        "field": field,
        "message": message,
    }


# --- collect ------------------------------------------------------------------------


def test_new_store_takes_the_columns_of_its_first_input(
    cli: InvokeCli, store: Path, tmp_path: Path
) -> None:
    path = write(tmp_path / "base.csv", csv_text(BASE_ROWS, COLUMNS))
    result = collect(cli, store, str(path))
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    document = report(result)
    assert document["written"] is True
    assert document["files"] == [str(path)]
    assert document["rows_read"] == 6
    assert document["inserted"] == 6
    assert (document["updated"], document["skipped"], document["rejected"]) == (0, 0, 0)
    assert document["added_columns"] == COLUMNS[1:]
    assert document["problems_total"] == 0
    assert document["problems"] == []
    assert count(cli, store) == 6
    shown = get_json(cli, store, "C-005", "C-001")
    assert [r["fields"] for r in shown["records"]] == [BASE["C-005"], BASE["C-001"]]
    assert list(shown["records"][0]["fields"]) == COLUMNS
    assert all(r["version"] == 1 for r in shown["records"])


def test_collect_keeps_text_exactly_as_written(cli: InvokeCli, store: Path, tmp_path: Path) -> None:
    path = write(
        tmp_path / "codes.csv",
        "customer_id,code,phone,home_phone\nC-1,007,+44 7911 123456,07911 123456\n",
    )
    result = collect(cli, store, str(path))
    assert result.exit_code == 0, result.stderr
    expected = {
        "customer_id": "C-1",
        "code": "007",
        "phone": "+44 7911 123456",
        "home_phone": "07911 123456",
    }
    assert record(cli, store, "C-1")["fields"] == expected
    assert export_ndjson(cli, store) == [expected]


def test_map_reads_a_field_from_another_column(cli: InvokeCli, store: Path, tmp_path: Path) -> None:
    path = write(tmp_path / "crm.csv", "customer_id,Telephone\nC-1,+44 7911 123456\n")
    result = collect(cli, store, str(path), "--map", "phone=Telephone")
    assert result.exit_code == 0, result.stderr
    assert report(result)["added_columns"] == ["phone"]
    assert record(cli, store, "C-1")["fields"] == {
        "customer_id": "C-1",
        "phone": "+44 7911 123456",
    }
    # Mapped onto the match field, the number is indexed as a phone.
    assert found_ids(cli, store, "--phone", "07911 123456") == ["C-1"]


def test_map_naming_a_missing_column_is_bad_input(
    cli: InvokeCli, store: Path, tmp_path: Path
) -> None:
    path = write(tmp_path / "crm.csv", "customer_id,Tel\nC-1,+44 7911 123456\n")
    result = collect(cli, store, str(path), "--map", "phone=Telephone")
    assert result.exit_code == 3
    assert result.stdout == ""
    assert result.stderr == (
        f"Error: {path}:1: --map phone=Telephone: no column 'Telephone' in the input "
        "(columns: customer_id, Tel)\n"
    )
    assert count(cli, store) == 0


def test_unknown_column_is_refused_unless_add_columns(
    cli: InvokeCli, customers: Path, tmp_path: Path
) -> None:
    path = write(tmp_path / "more.csv", "customer_id,email,loyalty\nC-100,new@example.com,gold\n")
    refused = collect(cli, customers, str(path))
    assert refused.exit_code == 1
    assert ABORTED.fullmatch(refused.stderr), refused.stderr
    document = report(refused)
    assert document["written"] is False
    assert document["inserted"] == 0
    assert document["problems_total"] == 1
    assert document["problems"] == [
        problem(
            str(path),
            None,
            1,
            "unknown-column",
            "loyalty",
            "the store has no such field: map it with --map FIELD=COLUMN, or add it to the "
            "store with --add-columns",
        )
    ]
    assert count(cli, customers) == 6
    assert absent(cli, customers, "C-100")

    accepted = collect(cli, customers, str(path), "--add-columns")
    assert accepted.exit_code == 0, accepted.stderr
    document = report(accepted)
    assert document["written"] is True
    assert document["inserted"] == 1
    assert document["added_columns"] == ["loyalty"]
    assert count(cli, customers) == 7
    assert record(cli, customers, "C-100")["fields"] == {
        **dict.fromkeys(COLUMNS),
        "customer_id": "C-100",
        "email": "new@example.com",
        "loyalty": "gold",
    }
    assert record(cli, customers, "C-001")["fields"] == {**BASE["C-001"], "loyalty": None}


def test_a_new_store_takes_only_the_first_inputs_columns(
    cli: InvokeCli, store: Path, tmp_path: Path
) -> None:
    first = write(tmp_path / "first.csv", "customer_id,email\nC-1,a@example.com\n")
    second = write(tmp_path / "second.csv", "customer_id,email,emial\nC-2,b@example.com,x\n")
    result = collect(cli, store, str(first), str(second))
    assert result.exit_code == 1
    document = report(result)
    assert document["problems"][0]["rule"] == "unknown-column"
    assert document["problems"][0]["field"] == "emial"
    assert count(cli, store) == 0


def late_key_ndjson(path: Path) -> Path:
    """NDJSON whose key ``extra`` first appears after the first 65,536 rows (the size of
    one batch read from an input)."""
    lines = [f'{{"customer_id": "B-{n}"}}\n' for n in range(65_536)]
    lines.append('{"customer_id": "B-X", "extra": "late"}\n')
    return write(path, "".join(lines))


@pytest.mark.parametrize("add_columns", [False, True], ids=["refused", "added"])
def test_ndjson_key_first_seen_late_is_checked_and_kept(
    cli: InvokeCli, make_store: MakeStore, tmp_path: Path, add_columns: bool
) -> None:
    store = make_store("late.crec", chunk=65_536)
    first = write(tmp_path / "first.csv", "customer_id,email\nC-0,a@example.com\n")
    assert collect(cli, store, str(first)).exit_code == 0
    path = late_key_ndjson(tmp_path / "late.ndjson")
    if add_columns:
        result = collect(cli, store, str(path), "--add-columns")
        assert result.exit_code == 0, result.stderr
        assert report(result)["added_columns"] == ["extra"]
        assert record(cli, store, "B-X")["fields"] == {
            "customer_id": "B-X",
            "email": None,
            "extra": "late",
        }
    else:
        result = collect(cli, store, str(path))
        assert result.exit_code == 1
        assert [(p["rule"], p["field"]) for p in report(result)["problems"]] == [
            ("unknown-column", "extra")
        ]
        assert count(cli, store) == 1


# A quoted field spanning two lines before the bad row: row 3 starts on line 5.
MULTILINE = (
    "customer_id,name,notes\n"
    'C-100,Ann,"first line\nsecond line"\n'
    "C-101,Bob,x\n"
    ",Cid,y\n"
    "C-102,Dan,z\n"
)
ID_MISSING = "the id field 'customer_id' is empty"


@pytest.mark.parametrize("via", ["file", "stdin"])
def test_missing_id_aborts_and_names_row_and_line(
    cli: InvokeCli, customers: Path, tmp_path: Path, via: str
) -> None:
    if via == "file":
        path = write(tmp_path / "new.csv", MULTILINE)
        result = collect(cli, customers, str(path))
        name = str(path)
    else:
        result = collect(cli, customers, "-", input=MULTILINE)
        name = "<stdin>"
    assert result.exit_code == 1
    assert ABORTED.fullmatch(result.stderr), result.stderr
    document = report(result)
    assert document["written"] is False
    assert document["rows_read"] == 4
    assert document["inserted"] == 0
    assert document["rejected"] == 1
    assert document["problems_total"] == 1
    assert document["problems"] == [
        problem(name, 3, 5, "customer_id.required", "customer_id", ID_MISSING)
    ]
    assert count(cli, customers) == 6
    assert absent(cli, customers, "C-100")


def test_reject_writes_valid_rows_and_a_rejects_file_to_fix(
    cli: InvokeCli, customers: Path, tmp_path: Path
) -> None:
    path = write(tmp_path / "new.csv", MULTILINE)
    rejects = tmp_path / "r.csv"
    result = collect(cli, customers, str(path), "--on-invalid", "reject", "--rejects", str(rejects))
    assert result.exit_code == 0, result.stderr
    assert result.stderr == f"1 row(s) refused, written to {rejects}\n"
    document = report(result)
    assert document["written"] is True
    assert (document["inserted"], document["rejected"]) == (3, 1)
    assert document["rejects_file"] == str(rejects)
    assert document["problems"] == [
        problem(str(path), 3, 5, "customer_id.required", "customer_id", ID_MISSING)
    ]
    assert count(cli, customers) == 9
    assert record(cli, customers, "C-100")["fields"]["notes"] == "first line\nsecond line"

    assert mode_of(rejects) == 0o600
    text = rejects.read_text(encoding="utf-8")
    assert text.splitlines()[0] == "_file,_row,_line,_rules,_reasons,customer_id,name,notes"
    assert read_csv(text) == [
        {
            "_file": str(path),
            "_row": "3",
            "_line": "5",
            "_rules": "customer_id.required",
            "_reasons": ID_MISSING,
            "customer_id": "",
            "name": "Cid",
            "notes": "y",
        }
    ]

    # Fix the id and collect the rejects file again: its _ columns are ignored.
    fixed = text.replace(f"{ID_MISSING},,Cid", f"{ID_MISSING},C-103,Cid")
    assert fixed != text
    rejects.write_text(fixed, encoding="utf-8")
    again = collect(cli, customers, str(rejects))
    assert again.exit_code == 0, again.stderr
    document = report(again)
    assert document["inserted"] == 1
    assert document["ignored_columns"] == ["_file", "_row", "_line", "_rules", "_reasons"]
    assert document["added_columns"] == []
    shown = record(cli, customers, "C-103")
    assert shown["fields"] == {
        **dict.fromkeys(COLUMNS),
        "customer_id": "C-103",
        "name": "Cid",
        "notes": "y",
    }
    assert shown["source"] == str(rejects)
    assert count(cli, customers) == 10


def test_reject_without_rejects_file_is_a_usage_error(
    cli: InvokeCli, customers: Path, tmp_path: Path
) -> None:
    path = write(tmp_path / "new.csv", MULTILINE)
    result = collect(cli, customers, str(path), "--on-invalid", "reject")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == "Error: --on-invalid reject needs --rejects FILE for the refused rows\n"
    assert count(cli, customers) == 6


@dataclass(frozen=True)
class Duplicate:
    """Two rows; the second repeats a record (in the batch or the store)."""

    text: str
    rule: str
    field: str | None
    message: str  # {path} is the input file


DUPLICATES = {
    "same-id-in-batch": Duplicate(
        "customer_id,email,city\nC-100,new1@example.com,Bath\nC-100,new2@example.com,Hull\n",
        "customer_id.unique",
        "customer_id",
        "the same id as row 1 of {path}",
    ),
    "id-in-store": Duplicate(
        "customer_id,email,city\nC-100,new1@example.com,Bath\nC-002,bob@example.com,Manchester\n",
        "customer_id.unique",
        "customer_id",
        "a record with this id is already in the store",
    ),
    "email-in-store": Duplicate(
        "customer_id,email,city\nC-100,new1@example.com,Bath\nC-101,Bob@Example.com ,Hull\n",
        "email.unique",
        "email",
        "the same email as a record already in the store, under another id",
    ),
    "email-in-batch": Duplicate(
        "customer_id,email,city\nC-100,a@example.com,Bath\nC-101,A@Example.com ,Hull\n",
        "email.unique",
        "email",
        "the same email as row 1 of {path}, under another id",
    ),
    "phone-in-store": Duplicate(
        "customer_id,phone,city\nC-100,+44 20 7946 0018,Bath\nC-101,07911 123456,Hull\n",
        "phone.unique",
        "phone",
        "the same phone as a record already in the store, under another id",
    ),
    "phone-in-batch": Duplicate(
        "customer_id,phone,city\nC-100,+44 7911 000111,Bath\nC-101,07911 000111,Hull\n",
        "phone.unique",
        "phone",
        "the same phone as row 1 of {path}, under another id",
    ),
}


@pytest.mark.parametrize("kind", list(DUPLICATES))
@pytest.mark.parametrize("mode", ["reject", "skip", "update"])
def test_duplicates(cli: InvokeCli, customers: Path, tmp_path: Path, kind: str, mode: str) -> None:
    duplicate = DUPLICATES[kind]
    path = write(tmp_path / "dup.csv", duplicate.text)
    result = collect(cli, customers, str(path), "--on-duplicate", mode)
    document = report(result)
    first = read_csv(duplicate.text)[0]
    if mode == "skip":
        assert result.exit_code == 0, result.stderr
        assert result.stderr == ""
        assert document["written"] is True
        assert (document["inserted"], document["updated"], document["skipped"]) == (1, 0, 1)
        assert document["problems"] == []
        assert count(cli, customers) == 7
        assert record(cli, customers, "C-100")["fields"] == {
            **dict.fromkeys(COLUMNS),
            **first,
        }
        assert absent(cli, customers, "C-101")
        assert unchanged(cli, customers, "C-002")
    elif mode == "update" and kind == "id-in-store":
        assert result.exit_code == 0, result.stderr
        assert document["written"] is True
        assert (document["inserted"], document["updated"], document["skipped"]) == (1, 1, 0)
        assert count(cli, customers) == 7
        assert record(cli, customers, "C-100")["fields"] == {**dict.fromkeys(COLUMNS), **first}
        updated = record(cli, customers, "C-002")
        assert updated["version"] == 2
        assert updated["fields"] == {**BASE["C-002"], "city": "Manchester"}
        assert updated["source"] == str(path)
        assert TIMESTAMP.fullmatch(updated["collected_at"])
    else:  # reject; and update of anything but a record of the same id
        assert result.exit_code == 1
        assert ABORTED.fullmatch(result.stderr), result.stderr
        assert document["written"] is False
        assert (document["inserted"], document["updated"], document["skipped"]) == (0, 0, 0)
        assert document["rejected"] == 1
        assert document["problems"] == [
            problem(
                str(path),
                2,
                3,
                duplicate.rule,
                duplicate.field,
                duplicate.message.format(path=path),
            )
        ]
        assert count(cli, customers) == 6
        assert absent(cli, customers, "C-100")
        assert unchanged(cli, customers, "C-002")


def test_update_by_collect_reindexes_the_contact_details(
    cli: InvokeCli, customers: Path, tmp_path: Path
) -> None:
    path = write(tmp_path / "fix.csv", "customer_id,email\nC-002,robert@example.com\n")
    result = collect(cli, customers, str(path), "--on-duplicate", "update")
    assert result.exit_code == 0, result.stderr
    assert report(result)["updated"] == 1
    assert found_ids(cli, customers, "--email", "Robert@example.com") == ["C-002"]
    assert found_ids(cli, customers, "--email", "bob@example.com") is None
    assert record(cli, customers, "C-002")["fields"] == {
        **BASE["C-002"],
        "email": "robert@example.com",
    }


def test_update_by_collect_finds_a_phone_duplicate_in_the_records_country(
    cli: InvokeCli, store: Path, tmp_path: Path
) -> None:
    french = write(
        tmp_path / "fr.csv",
        "customer_id,phone,country\nC-1,06 12 34 56 78,FR\nC-5,01 23 45 67 89,FR\n",
    )
    assert collect(cli, store, str(french)).exit_code == 0
    fix = write(tmp_path / "fix.csv", "customer_id,phone\nC-1,01 23 45 67 89\n")
    result = collect(cli, store, str(fix), "--on-duplicate", "update")
    assert found_ids(cli, store, "--phone", "+33 1 23 45 67 89") == ["C-5"]
    assert result.exit_code == 1
    assert report(result)["problems"] == [
        problem(
            str(fix),
            1,
            2,
            "phone.unique",
            "phone",
            "the same phone as a record already in the store, under another id",
        )
    ]


def test_provenance_source_and_collection_time(cli: InvokeCli, customers: Path) -> None:
    shown = record(cli, customers, "C-003")
    assert shown["source"] == SOURCE
    assert TIMESTAMP.fullmatch(shown["collected_at"])
    collected = dt.datetime.strptime(shown["collected_at"], "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=dt.UTC
    )
    assert abs(dt.datetime.now(dt.UTC) - collected) < dt.timedelta(minutes=5)


def test_default_source_is_the_input_name(cli: InvokeCli, store: Path, tmp_path: Path) -> None:
    path = write(tmp_path / "feed.csv", "customer_id\nC-1\n")
    assert collect(cli, store, str(path)).exit_code == 0
    assert record(cli, store, "C-1")["source"] == str(path)


def parquet_bytes(rows: list[Row]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_pylist(rows), sink)
    return bytes(sink.getvalue().to_pybytes())


STDIN_INPUTS: dict[str, Callable[[list[Row]], str | bytes]] = {
    "csv": lambda rows: csv_text(rows, COLUMNS),
    "ndjson": lambda rows: "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
    "parquet": parquet_bytes,
}


@pytest.mark.parametrize("input_format", list(STDIN_INPUTS))
def test_collect_from_stdin(cli: InvokeCli, store: Path, input_format: str) -> None:
    """'-' reads standard input; its format is told by its first bytes."""
    data = STDIN_INPUTS[input_format](BASE_ROWS[:5])
    result = collect(cli, store, "-", input=data)
    assert result.exit_code == 0, result.stderr
    document = report(result)
    assert document["files"] == ["<stdin>"]
    assert document["inserted"] == 5
    shown = get_json(cli, store, "C-001", "C-005")["records"]
    assert [r["fields"] for r in shown] == [BASE["C-001"], BASE["C-005"]]
    assert [r["source"] for r in shown] == ["<stdin>", "<stdin>"]
    assert export_ndjson(cli, store) == BASE_ROWS[:5]


def test_collect_ndjson(cli: InvokeCli, store: Path, tmp_path: Path) -> None:
    path = write(
        tmp_path / "feed.ndjson",
        "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in BASE_ROWS),
    )
    result = collect(cli, store, str(path), "--source", "feed")
    assert result.exit_code == 0, result.stderr
    assert report(result)["inserted"] == 6
    assert export_ndjson(cli, store) == BASE_ROWS


def test_collect_parquet(cli: InvokeCli, store: Path, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "feed.parquet"
    pq.write_table(pa.Table.from_pylist(BASE_ROWS), path)
    result = collect(cli, store, str(path))
    assert result.exit_code == 0, result.stderr
    assert report(result)["inserted"] == 6
    assert export_ndjson(cli, store) == BASE_ROWS
    assert record(cli, store, "C-001")["fields"]["notes"] == "007"


def test_typed_column_from_ndjson_converts_csv_text(
    cli: InvokeCli, store: Path, tmp_path: Path
) -> None:
    first = write(tmp_path / "first.ndjson", '{"customer_id": "C-1", "visits": 3}\n')
    assert collect(cli, store, str(first)).exit_code == 0
    good = write(tmp_path / "good.csv", "customer_id,visits\nC-2,12\n")
    result = collect(cli, store, str(good))
    assert result.exit_code == 0, result.stderr
    visits = record(cli, store, "C-2")["fields"]["visits"]
    assert visits == 12
    assert type(visits) is int
    assert export_ndjson(cli, store) == [
        {"customer_id": "C-1", "visits": 3},
        {"customer_id": "C-2", "visits": 12},
    ]

    bad = write(tmp_path / "bad.csv", "customer_id,visits\nC-3,twelve\n")
    refused = collect(cli, store, str(bad))
    assert refused.exit_code == 1
    assert ABORTED.fullmatch(refused.stderr), refused.stderr
    assert report(refused)["problems"] == [
        problem(
            str(bad), 1, 2, "visits.type", "visits", "field 'visits': expected an integer (e.g. 42)"
        )
    ]
    assert count(cli, store) == 2


# --- get ----------------------------------------------------------------------------


def test_get_one_and_several_in_the_order_asked(cli: InvokeCli, customers: Path) -> None:
    one = get_json(cli, customers, "C-002")
    assert one["version"] == 1
    assert one["kind"] == "records"
    assert one["count"] == 1
    assert one["missing"] == []
    assert one["records"][0]["id"] == "C-002"
    assert one["records"][0]["version"] == 1
    assert one["records"][0]["fields"] == BASE["C-002"]
    several = get_json(cli, customers, "C-006", "C-001", "C-004")
    assert [r["id"] for r in several["records"]] == ["C-006", "C-001", "C-004"]
    assert [r["fields"] for r in several["records"]] == [
        BASE[i] for i in ("C-006", "C-001", "C-004")
    ]


def test_get_fields_shows_only_those_and_the_id(cli: InvokeCli, customers: Path) -> None:
    result = cli("get", str(customers), "C-001", "--fields", "email,phone", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["records"][0]["fields"] == {
        "customer_id": "C-001",
        "email": "lena@example.com",
        "phone": "+44 7911 123456",
    }
    as_csv = cli(
        "get", str(customers), "C-001", "--fields", "phone", "--fields", "email", "--format", "csv"
    )
    assert (
        as_csv.stdout
        == "customer_id,phone,email,_version\nC-001,+44 7911 123456,lena@example.com,1\n"
    )


def test_get_unknown_field_is_bad_input(cli: InvokeCli, customers: Path) -> None:
    result = cli("get", str(customers), "C-001", "--fields", "email,shoe_size")
    assert result.exit_code == 3
    assert result.stdout == ""
    assert result.stderr == (
        f"Error: {customers}: no field 'shoe_size' in this store "
        "(fields: customer_id, name, email, phone, city, country, notes)\n"
    )


def test_get_missing_id_shows_the_others_and_exits_6(cli: InvokeCli, customers: Path) -> None:
    result = cli("get", str(customers), "C-005", "C-404", "C-001", "--format", "json")
    assert result.exit_code == 6
    assert result.stderr == "Error: not found: C-404\n"
    document = json.loads(result.stdout)
    assert [r["id"] for r in document["records"]] == ["C-005", "C-001"]
    assert document["missing"] == ["C-404"]
    as_csv = cli("get", str(customers), "C-404", "C-002", "--format", "csv")
    assert as_csv.exit_code == 6
    assert as_csv.stderr == "Error: not found: C-404\n"
    assert read_csv(as_csv.stdout) == [{**csv_row(BASE["C-002"]), "_version": "1"}]


def csv_row(row: Row) -> dict[str, str]:
    return {k: "" if v is None else str(v) for k, v in row.items()}


def test_get_formats(cli: InvokeCli, customers: Path) -> None:
    store = str(customers)
    as_csv = cli("get", store, "C-002", "C-006", "--format", "csv")
    assert as_csv.exit_code == 0
    assert as_csv.stderr == ""
    assert as_csv.stdout == (
        "customer_id,name,email,phone,city,country,notes,_version\n"
        "C-002,Bob Smith,bob@example.com,07700 900123,Leeds,GB,,1\n"
        "C-006,Eve Ng,eve@example.com,07911 654321,,,-12.5,1\n"
    )
    as_ndjson = cli("get", store, "C-002", "C-006", "--format", "ndjson")
    assert as_ndjson.exit_code == 0
    lines = ndjson_rows(as_ndjson.stdout)
    assert lines == [{**BASE["C-002"], "_version": 1}, {**BASE["C-006"], "_version": 1}]
    assert [list(line)[-1] for line in lines] == ["_version", "_version"]
    as_table = cli("get", store, "C-002", "--fields", "email,city")
    assert as_table.exit_code == 0
    at = record(cli, customers, "C-002")["collected_at"]
    assert as_table.stdout == (
        "records: 1\n"
        "\n"
        f"customer_id C-002 (version 1, collected from {SOURCE} at {at})\n"
        "field        value\n"
        "-----------  ---------------\n"
        "customer_id  C-002\n"
        "email        bob@example.com\n"
        "city         Leeds\n"
    )


# --- find ---------------------------------------------------------------------------


def test_find_by_email_ignores_case_and_spaces(cli: InvokeCli, customers: Path) -> None:
    assert found_ids(cli, customers, "--email", "  LENA@Example.COM ") == ["C-001"]
    assert found_ids(cli, customers, "--email", "lena@example.org") is None


def test_find_by_phone_in_national_format(cli: InvokeCli, customers: Path) -> None:
    assert found_ids(cli, customers, "--phone", "07911 123456", "--region", "GB") == ["C-001"]
    assert found_ids(cli, customers, "--phone", "+447911123456") == ["C-001"]
    assert found_ids(cli, customers, "--phone", "07911 999999", "--region", "GB") is None


def test_find_phone_region_reads_the_number_asked(
    cli: InvokeCli, make_store: MakeStore, tmp_path: Path
) -> None:
    """In a store without a region, --region says how to read the number asked for."""
    store = make_store("world.crec", region=None)
    path = write(tmp_path / "one.csv", "customer_id,phone\nC-1,+44 7911 123456\n")
    assert collect(cli, store, str(path)).exit_code == 0
    assert found_ids(cli, store, "--phone", "07911 123456") is None
    assert found_ids(cli, store, "--phone", "07911 123456", "--region", "GB") == ["C-1"]
    assert found_ids(cli, store, "--phone", "07911 123456", "--region", "gb") == ["C-1"]


def test_find_by_name_ignores_accents_and_case(cli: InvokeCli, customers: Path) -> None:
    assert found_ids(cli, customers, "--name", "lena öz") == ["C-001"]
    assert found_ids(cli, customers, "--name", "LENA OZTURK") == ["C-001"]
    assert found_ids(cli, customers, "--name", "ena") is None  # words must begin with it


def test_find_nothing_exits_6(cli: InvokeCli, customers: Path) -> None:
    result = cli("find", str(customers), "--email", "nobody@example.com")
    assert result.exit_code == 6
    assert result.stderr == "Error: no record matches\n"
    assert result.stdout == "records: 0\n"


def test_find_json_gives_the_id(cli: InvokeCli, customers: Path) -> None:
    result = cli("find", str(customers), "--email", "dora@example.com", "--format", "json")
    assert result.exit_code == 0
    assert result.stderr == ""
    document = json.loads(result.stdout)
    assert document["version"] == 1
    assert document["kind"] == "records"
    assert document["count"] == 1
    assert document["records"][0]["id"] == "C-005"
    assert document["records"][0]["fields"] == BASE["C-005"]


# --- update -------------------------------------------------------------------------


def test_update_set_changes_one_field_and_bumps_the_version(
    cli: InvokeCli, customers: Path
) -> None:
    result = cli("update", str(customers), "C-002", "--set", "city=Bristol", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == "updated 1 record(s)\n"
    shown = json.loads(result.stdout)["records"]
    assert [(r["id"], r["version"]) for r in shown] == [("C-002", 2)]
    after = record(cli, customers, "C-002")
    assert after["version"] == 2
    assert after["fields"] == {**BASE["C-002"], "city": "Bristol"}
    assert record(cli, customers, "C-001")["version"] == 1


def test_update_unset_clears_a_field(cli: InvokeCli, customers: Path) -> None:
    result = cli("update", str(customers), "C-002", "--unset", "phone")
    assert result.exit_code == 0, result.stderr
    after = record(cli, customers, "C-002")
    assert after["version"] == 2
    assert after["fields"] == {**BASE["C-002"], "phone": None}
    assert found_ids(cli, customers, "--phone", "07700 900123") is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--set", "loyalty=gold"],
            "Error: field 'loyalty' is not a field of this store (rule known-columns; "
            "use --add-columns to add it)\n",
        ),
        (
            ["--unset", "loyalty"],
            "Error: field 'loyalty' is not a field of this store (rule known-columns)\n",
        ),
    ],
)
def test_update_unknown_field_is_refused(
    cli: InvokeCli, customers: Path, args: list[str], message: str
) -> None:
    result = cli("update", str(customers), "C-002", "--set", "city=Bristol", *args)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == message
    after = record(cli, customers, "C-002")
    assert (after["version"], after["fields"]) == (1, BASE["C-002"])


def test_update_add_columns_accepts_a_new_field(cli: InvokeCli, customers: Path) -> None:
    result = cli("update", str(customers), "C-002", "--set", "loyalty=gold", "--add-columns")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == "updated 1 record(s)\n"
    after = record(cli, customers, "C-002")
    assert (after["version"], after["fields"]) == (2, {**BASE["C-002"], "loyalty": "gold"})
    assert record(cli, customers, "C-001")["fields"] == {**BASE["C-001"], "loyalty": None}


def test_update_if_version_refuses_a_stale_change(cli: InvokeCli, customers: Path) -> None:
    assert cli("update", str(customers), "C-002", "--set", "city=Bristol").exit_code == 0
    stale = cli("update", str(customers), "C-002", "--set", "city=Hull", "--if-version", "1")
    assert stale.exit_code == 5
    assert stale.stdout == ""
    assert stale.stderr == (
        "Error: customer_id C-002 changed since version 1 was read (now version 2); "
        "read it again and retry\n"
    )
    after = record(cli, customers, "C-002")
    assert (after["version"], after["fields"]["city"]) == (2, "Bristol")
    fresh = cli("update", str(customers), "C-002", "--set", "city=Hull", "--if-version", "2")
    assert fresh.exit_code == 0, fresh.stderr
    assert record(cli, customers, "C-002")["version"] == 3


def test_update_missing_id_exits_6(cli: InvokeCli, customers: Path) -> None:
    result = cli("update", str(customers), "C-404", "--set", "city=Hull")
    assert result.exit_code == 6
    assert result.stdout == ""
    assert result.stderr == "Error: no record with customer_id C-404\n"


def test_update_from_file_applies_every_row(
    cli: InvokeCli, customers: Path, tmp_path: Path
) -> None:
    fixes = write(
        tmp_path / "fixes.csv", "customer_id,city,phone\nC-001,Bath,\nC-005,Hull,01632 960001\n"
    )
    result = cli(
        "update", str(customers), "--from", str(fixes), "--format", "json", "--show-records"
    )
    assert result.exit_code == 0, result.stderr
    assert result.stderr == "updated 2 record(s)\n"
    shown = json.loads(result.stdout)["records"]
    assert [(r["id"], r["version"]) for r in shown] == [("C-001", 2), ("C-005", 2)]
    assert record(cli, customers, "C-001")["fields"] == {
        **BASE["C-001"],
        "city": "Bath",
        "phone": None,
    }
    assert record(cli, customers, "C-005")["fields"] == {
        **BASE["C-005"],
        "city": "Hull",
        "phone": "01632 960001",
    }
    assert found_ids(cli, customers, "--phone", "+44 1632 960001") == ["C-005"]


def test_update_from_ndjson_leaves_fields_a_line_does_not_name(
    cli: InvokeCli, customers: Path, tmp_path: Path
) -> None:
    """A key an NDJSON line leaves out leaves its field as it is (another line naming
    that key does not make it a clearing null); ``null`` clears."""
    fixes = write(
        tmp_path / "fixes.ndjson",
        '{"customer_id": "C-001", "city": "Bath"}\n'
        '{"customer_id": "C-005", "phone": "01632 960001", "notes": null}\n',
    )
    result = cli("update", str(customers), "--from", str(fixes), "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert record(cli, customers, "C-001")["fields"] == {**BASE["C-001"], "city": "Bath"}
    assert record(cli, customers, "C-005")["fields"] == {
        **BASE["C-005"],
        "phone": "01632 960001",
        "notes": None,
    }


CARD = "4111 1111 1111 1111"
BIRTH = "1984-03-07"


@pytest.mark.parametrize("output_format", ["table", "json", "ndjson", "csv"])
def test_update_from_file_shows_a_summary_not_the_records(
    cli: InvokeCli, customers: Path, tmp_path: Path, output_format: str
) -> None:
    fixes = write(
        tmp_path / "fixes.csv",
        "customer_id,city,notes,phone\n"
        f"C-001,Bath,card {CARD} born {BIRTH},\n"
        f"C-002,Hull,,\n"
        f"C-005,Hull,card {CARD},01632 960001\n",
    )
    result = cli("update", str(customers), "--from", str(fixes), "--format", output_format)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == "updated 3 record(s)\n"
    # Neither the new values nor the records' other values are shown.
    for value in (CARD, BIRTH, "Bath", "Hull", "01632", "lena@example.com", "Lena"):
        assert value not in result.stdout
    assert record(cli, customers, "C-001")["fields"]["notes"] == f"card {CARD} born {BIRTH}"
    expected = {"city": (3, 0), "notes": (2, 1), "phone": (1, 2)}
    if output_format == "json":
        document = json.loads(result.stdout)
        assert document["version"] == 1
        assert document["kind"] == "update"
        assert "records" not in document
        assert (document["rows"], document["updated"]) == (3, 3)
        assert {f["field"]: (f["set"], f["cleared"]) for f in document["fields"]} == expected
    elif output_format == "ndjson":
        rows = ndjson_rows(result.stdout)
        assert {r["field"]: (r["set"], r["cleared"]) for r in rows} == expected
    elif output_format == "csv":
        assert result.stdout.splitlines() == [
            "field,set,cleared",
            "city,3,0",
            "notes,2,1",
            "phone,1,2",
        ]
    else:
        assert "updated: 3" in re.sub(r" +", " ", result.stdout)
        assert "Fields changed" in result.stdout


def test_update_from_file_summary_lists_at_most_20_fields(
    cli: InvokeCli, customers: Path, tmp_path: Path
) -> None:
    names = [f"extra_{n:02}" for n in range(25)]
    fixes = write(
        tmp_path / "fixes.csv",
        ",".join(["customer_id", *names]) + "\n" + ",".join(["C-001", *"x" * 25]) + "\n",
    )
    result = cli("update", str(customers), "--from", str(fixes), "--add-columns")
    assert result.exit_code == 0, result.stderr
    assert "extra_19" in result.stdout
    assert "extra_20" not in result.stdout
    assert result.stdout.rstrip().endswith("... 5 more (use --format json for all)")
    full = cli("update", str(customers), "--from", str(fixes), "--add-columns", "--format", "json")
    assert len(json.loads(full.stdout)["fields"]) == 25


def test_update_show_records_shows_them_in_table_format(
    cli: InvokeCli, customers: Path, tmp_path: Path
) -> None:
    fixes = write(tmp_path / "fixes.csv", f"customer_id,notes\nC-001,card {CARD}\n")
    result = cli("update", str(customers), "--from", str(fixes), "--show-records")
    assert result.exit_code == 0, result.stderr
    assert CARD in result.stdout
    assert "lena@example.com" in result.stdout


def unchanged(cli: InvokeCli, store: Path, *ids: str) -> bool:
    records = get_json(cli, store, *ids)["records"]
    return [(r["version"], r["fields"]) for r in records] == [(1, BASE[i]) for i in ids]


def test_update_from_file_is_all_or_nothing_on_a_missing_id(
    cli: InvokeCli, customers: Path, tmp_path: Path
) -> None:
    fixes = write(tmp_path / "fixes.csv", "customer_id,city\nC-001,Bath\nC-404,Hull\n")
    result = cli("update", str(customers), "--from", str(fixes))
    assert result.exit_code == 6
    assert result.stdout == ""
    assert result.stderr == f"Error: {fixes}:3: no record with customer_id C-404\n"
    assert unchanged(cli, customers, "C-001")


def test_update_from_file_with_a_stale_version_changes_nothing(
    cli: InvokeCli, customers: Path, tmp_path: Path
) -> None:
    assert cli("update", str(customers), "C-005", "--set", "city=Leeds").exit_code == 0
    fixes = write(tmp_path / "fixes.csv", "customer_id,_version,city\nC-001,1,Bath\nC-005,1,Hull\n")
    result = cli("update", str(customers), "--from", str(fixes))
    assert result.exit_code == 5
    assert result.stdout == ""
    assert result.stderr == (
        f"Error: {fixes}:3: customer_id C-005 changed since version 1 was read "
        "(now version 2); read it again and retry\n"
    )
    assert unchanged(cli, customers, "C-001")
    after = record(cli, customers, "C-005")
    assert (after["version"], after["fields"]["city"]) == (2, "Leeds")


def test_export_edit_update_pipeline(cli: InvokeCli, customers: Path) -> None:
    exported = cli("export", str(customers), "--format", "ndjson", "--with-meta")
    assert exported.exit_code == 0, exported.stderr
    rows = ndjson_rows(exported.stdout)
    assert [list(row)[-3:] for row in rows] == [["_version", "_source", "_collected_at"]] * 6
    assert {(row["_version"], row["_source"]) for row in rows} == {(1, SOURCE)}
    edited = [{**row, "city": row["city"].upper()} for row in rows if row["country"] == "GB"]
    stdin = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in edited)
    result = cli(
        "update",
        str(customers),
        "--from",
        "-",
        "--input-format",
        "ndjson",
        "--format",
        "json",
        "--show-records",
        input=stdin,
    )
    assert result.exit_code == 0, result.stderr
    assert result.stderr == "updated 3 record(s)\n"
    assert [r["id"] for r in json.loads(result.stdout)["records"]] == ["C-001", "C-002", "C-005"]
    after = {r["id"]: r for r in get_json(cli, customers, *BASE)["records"]}
    for record_id, row in BASE.items():
        if row["country"] == "GB":
            assert after[record_id]["version"] == 2
            assert after[record_id]["fields"] == {**row, "city": row["city"].upper()}
        else:
            assert after[record_id]["version"] == 1
            assert after[record_id]["fields"] == row
    # A stale pipeline (the same export, now out of date) changes nothing.
    again = cli("update", str(customers), "--from", "-", "--input-format", "ndjson", input=stdin)
    assert again.exit_code == 5
    assert record(cli, customers, "C-001")["version"] == 2


# --- export -------------------------------------------------------------------------


def neutralised(value: str | None) -> str:
    if value is None:
        return ""
    # a plain number and phone numbers ("+" and digits in groups) are kept
    kept = value == "-12.5" or re.fullmatch(r"\+[0-9][0-9 ]+", value)
    return "'" + value if value[0] in "=+-@" and not kept else value


def test_export_csv_to_stdout(cli: InvokeCli, customers: Path) -> None:
    result = cli("export", str(customers))
    assert result.exit_code == 0, result.stderr
    assert result.stderr == "exported 6 record(s) to <stdout>\n"
    assert result.stdout.splitlines()[0] == ",".join(COLUMNS)
    assert read_csv(result.stdout) == [
        {c: neutralised(row[c]) for c in COLUMNS} for row in BASE_ROWS
    ]


def test_export_csv_neutralises_formulas_unless_raw(cli: InvokeCli, customers: Path) -> None:
    notes = {r["customer_id"]: r["notes"] for r in read_csv(cli("export", str(customers)).stdout)}
    assert notes == {
        "C-001": "007",
        "C-002": "",
        "C-003": '\'=HYPERLINK("http://x")',
        "C-004": "+44 7911 123456",
        "C-005": "'@SUM(A1)",
        "C-006": "-12.5",
    }
    raw = cli("export", str(customers), "--raw")
    assert raw.exit_code == 0
    assert raw.stdout == csv_text(BASE_ROWS, COLUMNS)
    assert [row["notes"] for row in export_ndjson(cli, customers)] == [
        r["notes"] for r in BASE_ROWS
    ]


def test_export_to_file_is_private(cli: InvokeCli, customers: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    result = cli("export", str(customers), "-o", str(out))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr == f"exported 6 record(s) to {out}\n"
    assert mode_of(out) == 0o600
    assert out.read_text(encoding="utf-8") == cli("export", str(customers)).stdout


def test_export_ndjson(cli: InvokeCli, customers: Path) -> None:
    result = cli("export", str(customers), "--format", "ndjson")
    assert result.exit_code == 0
    assert result.stderr == "exported 6 record(s) to <stdout>\n"
    assert ndjson_rows(result.stdout) == BASE_ROWS
    assert [list(row) for row in ndjson_rows(result.stdout)] == [COLUMNS] * 6


def test_export_parquet(cli: InvokeCli, customers: Path, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    out = tmp_path / "x.parquet"
    result = cli("export", str(customers), "-o", str(out))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr == f"exported 6 record(s) to {out}\n"
    assert mode_of(out) == 0o600
    table = pq.read_table(out)
    assert table.column_names == COLUMNS
    assert table.to_pylist() == BASE_ROWS


def test_export_fields(cli: InvokeCli, customers: Path) -> None:
    result = cli("export", str(customers), "--fields", "email,city", "--format", "ndjson")
    assert result.exit_code == 0
    assert ndjson_rows(result.stdout) == [
        {"customer_id": r["customer_id"], "email": r["email"], "city": r["city"]} for r in BASE_ROWS
    ]


@pytest.mark.parametrize(
    ("where", "ids"),
    [
        ("country=GB", ["C-001", "C-002", "C-005"]),
        ("country!=GB", ["C-003", "C-004", "C-006"]),
        ("phone=", ["C-003", "C-005"]),
        ("phone!=", ["C-001", "C-002", "C-004", "C-006"]),
    ],
)
def test_export_where(cli: InvokeCli, customers: Path, where: str, ids: list[str]) -> None:
    result = cli("export", str(customers), "--where", where, "--format", "ndjson")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == f"exported {len(ids)} record(s) to <stdout>\n"
    assert ndjson_rows(result.stdout) == [BASE[i] for i in ids]


def test_export_where_all_must_hold(cli: InvokeCli, customers: Path) -> None:
    rows = export_ndjson(cli, customers, "--where", "country=GB", "--where", "city!=Leeds")
    assert [r["customer_id"] for r in rows] == ["C-001", "C-005"]


def test_export_where_value_may_contain_not_equal(
    cli: InvokeCli, store: Path, tmp_path: Path
) -> None:
    path = write(tmp_path / "f.csv", "customer_id,rule\nC-1,a!=b\nC-2,a\n")
    assert collect(cli, store, str(path)).exit_code == 0
    result = cli("export", str(store), "--where", "rule=a!=b", "--format", "ndjson")
    assert result.exit_code == 0, result.stderr
    assert ndjson_rows(result.stdout) == [{"customer_id": "C-1", "rule": "a!=b"}]


def test_export_where_checks_values_before_writing(
    cli: InvokeCli, store: Path, tmp_path: Path
) -> None:
    """Control for the test below: a bad --where field is refused before any output."""
    path = write(tmp_path / "v.ndjson", '{"customer_id": "C-1", "visits": 3}\n')
    assert collect(cli, store, str(path)).exit_code == 0
    result = cli("export", str(store), "--where", "visists=3")
    assert result.exit_code == 3
    assert result.stdout == ""
    assert result.stderr == f"Error: {store}: --where: no field 'visists' in this store\n"
    assert export_ndjson(cli, store, "--where", "visits=3") == [{"customer_id": "C-1", "visits": 3}]


def test_export_where_bad_value_is_refused_before_any_output(
    cli: InvokeCli, store: Path, tmp_path: Path
) -> None:
    path = write(tmp_path / "v.ndjson", '{"customer_id": "C-1", "visits": 3}\n')
    assert collect(cli, store, str(path)).exit_code == 0
    result = cli("export", str(store), "--where", "visits=three")
    assert result.exit_code == 2
    assert result.stderr == "Error: --where visits: expected an integer (e.g. 42)\n"
    assert result.stdout == ""


def test_export_is_audited_without_values(cli: InvokeCli, customers: Path) -> None:
    exported = cli("export", str(customers), "--fields", "email,phone", "--reason", "ticket 4711")
    assert exported.exit_code == 0
    result = cli("audit", "show", str(customers), "--format", "json")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    exports = [e for e in document["entries"] if e["action"] == "export"]
    assert len(exports) == 1
    entry = exports[0]
    assert entry["command"] == "custrec export"
    assert entry["actor"] == "tester"
    assert entry["reason"] == "ticket 4711"
    assert entry["outcome"] == "ok"
    assert entry["scope"] == "all"
    assert sorted(entry["fields"]) == ["customer_id", "email", "phone"]
    assert entry["counts"] == {"records": 6}
    values = {
        v
        for row in BASE_ROWS
        for k, v in row.items()
        if v is not None and k in ("name", "email", "phone", "city", "notes") and len(v) > 4
    }
    # Phone numbers also as bare digits (ten or more: a short digit run could occur by
    # chance in the entries' hex hashes and pseudonyms).
    values |= {re.sub(r"\D", "", v) for v in values if sum(c.isdigit() for c in v) >= 10}
    values |= {"example.com", "Öztürk"}
    leaked = sorted(v for v in values if v in result.stdout)
    assert leaked == []


# --- the light path -----------------------------------------------------------------

HEAVY = {"pandas", "pandera", "pyarrow", "numpy", "tabulate", "polars", "narwhals"}


def imported_modules(stderr: bytes) -> set[str]:
    """Top-level modules named by ``-X importtime`` (PYTHONPROFILEIMPORTTIME)."""
    names = set()
    for line in stderr.decode().splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            names.add(name.split(".")[0])
    return names


@pytest.mark.parametrize(
    "args",
    [
        ["get", "{store}", "C-001", "C-005", "--format", "json"],
        ["find", "{store}", "--email", "LENA@example.com", "--format", "json"],
        ["find", "{store}", "--phone", "07911 123456", "--format", "json"],
        ["find", "{store}", "--name", "lena öz", "--format", "json"],
        ["update", "{store}", "C-001", "--set", "city=Bath", "--format", "json"],
    ],
)
def test_point_commands_stay_light(customers: Path, args: list[str]) -> None:
    proc = run_custrec(
        [a.format(store=customers) for a in args], env={"PYTHONPROFILEIMPORTTIME": "1"}
    )
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    document = json.loads(proc.stdout)
    assert document["kind"] == "records"
    assert document["records"][0]["id"] == "C-001"
    modules = imported_modules(proc.stderr)
    assert "custrec" in modules  # the probe sees imports at all
    assert sorted(modules & HEAVY) == []


def test_import_probe_sees_heavy_modules(customers: Path) -> None:
    """Control: the probe above does notice pyarrow (export) and tabulate (table)."""
    export = run_custrec(["export", str(customers)], env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert export.returncode == 0
    assert "pyarrow" in imported_modules(export.stderr)
    table = run_custrec(["get", str(customers), "C-001"], env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert table.returncode == 0
    assert "tabulate" in imported_modules(table.stderr)


def test_update_from_an_empty_ndjson_stream_changes_nothing(
    cli: InvokeCli, customers: Path
) -> None:
    """A filter that matched nothing gives an empty stream: nothing to change, exit 0."""
    result = cli(
        "update", str(customers), "--from", "-", "--input-format", "ndjson", "--format", "json",
        input="",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["updated"] == 0
    assert unchanged(cli, customers, "C-001")
