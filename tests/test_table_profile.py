"""``inspect``: counts, inferred types, ids — and never a value from the file."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custrec.cli.inspect import inspect_command
from custrec.errors import UnknownColumnError
from custrec.io import open_row_writer
from custrec.table_profile import inspect_table

from .conftest import InvokeCli, write

CSV = (
    "customer_id,email,age,score,joined,seen_at,vip,note\n"
    "C-1,a@example.com,31,1.5,2024-01-02,2024-01-02T10:00:00Z,true,hello\n"
    "C-2,,40,2,2024-02-03,2024-02-03 11:00,false,\n"
    "C-2,b@example.com,,-3e2,2024-03-04,2024-03-04T12:00:00+01:00,TRUE,  \n"
    ",c@example.com,7,0.5,2024-04-05,2024-04-05T13:00:00Z,False,x\n"
)


def test_profile_counts_and_types(tmp_path: Path) -> None:
    profile = inspect_table(str(write(tmp_path / "c.csv", CSV)))
    assert profile.rows == 4
    by_name = {c.name: c for c in profile.columns}
    assert [c.name for c in profile.columns] == CSV.splitlines()[0].split(",")
    assert {n: c.inferred_type for n, c in by_name.items()} == {
        "customer_id": "text",
        "email": "text",
        "age": "integer",
        "score": "number",
        "joined": "date",
        "seen_at": "datetime",
        "vip": "boolean",
        "note": "text",
    }
    assert (by_name["email"].present, by_name["email"].missing) == (3, 1)
    assert (by_name["note"].present, by_name["note"].missing) == (2, 2)  # blank is missing
    assert profile.id_column == "customer_id"
    assert (profile.missing_ids, profile.duplicate_ids, profile.duplicate_rows) == (1, 1, 1)


def test_id_lookup_reports_rows(tmp_path: Path) -> None:
    profile = inspect_table(str(write(tmp_path / "c.csv", CSV)), find_ids=["C-2", "C-9"])
    assert [(x.record_id, x.rows) for x in profile.lookups] == [("C-2", [2, 3]), ("C-9", [])]


def test_lookup_rows_are_correct_across_batches(tmp_path: Path) -> None:
    path = write(tmp_path / "c.csv", "id\n" + "".join(f"R{i}\n" for i in range(1, 2001)))
    profile = inspect_table(str(path), find_ids=["R1", "R999", "R1000", "R2000"], chunk_rows=999)
    assert [x.rows for x in profile.lookups] == [[1], [999], [1000], [2000]]


def test_unknown_id_column(tmp_path: Path) -> None:
    with pytest.raises(UnknownColumnError, match="no column 'nope'"):
        inspect_table(str(write(tmp_path / "c.csv", CSV)), id_column="nope")


def test_header_only_file_still_checks_the_id_column(tmp_path: Path) -> None:
    path = write(tmp_path / "c.csv", "customer_id,email\n")
    profile = inspect_table(str(path))
    assert profile.rows == 0
    assert [c.inferred_type for c in profile.columns] == ["empty", "empty"]
    with pytest.raises(UnknownColumnError):
        inspect_table(str(path), id_column="id")


def test_ndjson_and_parquet_use_stored_types(tmp_path: Path) -> None:
    rows = [
        {"id": "a", "n": 1, "ok": True, "x": 1.5},
        {"id": "b", "n": None, "ok": False, "x": 2.0},
    ]
    for suffix in ("ndjson", "parquet"):
        path = tmp_path / f"t.{suffix}"
        with open_row_writer(
            str(path),
            suffix,
            ["id", "n", "ok", "x"],
            types={"n": "int64", "ok": "bool", "x": "float64"},
        ) as writer:
            writer.write_rows(rows)
        profile = inspect_table(str(path))
        assert [c.inferred_type for c in profile.columns] == [
            "text",
            "integer",
            "boolean",
            "number",
        ]
        assert [c.missing for c in profile.columns] == [0, 1, 0, 0]


def test_ndjson_key_first_seen_late_counts_earlier_rows_as_missing(tmp_path: Path) -> None:
    lines = [json.dumps({"id": str(i)}) for i in range(5)] + [json.dumps({"id": "5", "late": "x"})]
    path = write(tmp_path / "x.ndjson", "\n".join(lines) + "\n")
    profile = inspect_table(str(path), chunk_rows=2)
    late = next(c for c in profile.columns if c.name == "late")
    assert (late.present, late.missing) == (1, 5)


values = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters='\r\n,"'), min_size=1, max_size=12
)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ids=st.lists(st.one_of(st.none(), values), max_size=40))
def test_counts_match_a_direct_computation(tmp_path: Path, ids: list[str | None]) -> None:
    path = tmp_path / "c.csv"
    with open_row_writer(str(path), "csv", ["id"]) as writer:
        writer.write_rows([{"id": v} for v in ids])
    profile = inspect_table(str(path), chunk_rows=7)
    present = [v.strip() for v in ids if v is not None and v.strip()]
    assert profile.rows == len(ids)
    assert profile.missing_ids == len(ids) - len(present)
    assert profile.duplicate_ids == len({v for v in present if present.count(v) > 1})
    assert profile.duplicate_rows == len(present) - len(set(present))


def test_report_never_holds_a_value(cli: InvokeCli, tmp_path: Path) -> None:
    canaries = ["zz-canary-1@example.org", "+44 7700 900999", "Ødegaard-canary"]
    path = write(
        tmp_path / "c.csv",
        "customer_id,email,phone,name\n" + f"C-1,{canaries[0]},{canaries[1]},{canaries[2]}\n",
    )
    for fmt in ("table", "json", "ndjson", "csv"):
        result = cli("inspect", str(path), "--format", fmt)
        assert result.exit_code == 0
        for canary in canaries:
            assert canary not in result.stdout + result.stderr


# --- CSV options and the suggestions inspect prints ---------------------------------

SUGGESTION = re.compile(r"(--[a-z][a-z-]*)((?: (?:'[^']*'|[\w-]+))?)")


def _suggested(stderr: str) -> list[list[str]]:
    """Each ``--option [value]`` a message suggests, as arguments."""
    return [[option, *shlex.split(value)] for option, value in SUGGESTION.findall(stderr)]


@pytest.mark.parametrize(
    ("name", "content", "args"),
    [
        ("semi.csv", "customer_id;email\nC-1;a@example.com\nC-2;b@example.com\n", []),
        ("pipe.csv", "customer_id|email\nC-1|a@example.com\nC-2|b@example.com\n", []),
        ("tab.csv", "customer_id\temail\nC-1\ta@example.com\nC-2\tb@example.com\n", []),
        ("latin.csv", "customer_id,name\nC-1,Jos\xe9\nC-2,Ren\xe9e\n".encode("cp1252"), []),
        ("export.txt", "customer_id,email\nC-1,a@example.com\nC-2,b@example.com\n", []),
        ("ids.csv", "ref,email\nC-1,a@example.com\nC-2,b@example.com\n", ["--id", "C-1"]),
    ],
)
def test_every_suggestion_names_an_option_of_inspect_and_works(
    cli: InvokeCli, tmp_path: Path, name: str, content: str | bytes, args: list[str]
) -> None:
    path = str(write(tmp_path / name, content))
    first = cli("inspect", path, *args, "--format", "json")
    assert first.exit_code != 0
    suggestions = _suggested(first.stderr)
    assert suggestions, first.stderr
    options = {o for p in inspect_command.params for o in p.opts}
    for suggestion in suggestions:
        assert suggestion[0] in options, (suggestion, first.stderr)
    # the suggestion that comes with a value reads the file; one without a value takes
    # the value the file needs (--input-format csv, --id-column ref)
    needs = {"--input-format": "csv", "--id-column": "ref"}
    fix = next((s for s in suggestions if len(s) > 1), None) or [
        suggestions[0][0],
        needs[suggestions[0][0]],
    ]
    second = cli("inspect", path, *args, *fix, "--format", "json")
    assert second.exit_code == 0, (fix, second.stderr)
    document = json.loads(second.stdout)
    assert document["rows"] == 2
    assert len(document["columns"]) == 2


def test_delimiter_and_encoding_are_used_when_reading(tmp_path: Path) -> None:
    path = write(tmp_path / "c.csv", "customer_id;name\nC-1;Jos\xe9\n".encode("cp1252"))
    profile = inspect_table(str(path), delimiter=";", encoding="cp1252")
    assert [c.name for c in profile.columns] == ["customer_id", "name"]
    assert profile.rows == 1
    assert profile.id_column == "customer_id"
