"""Reading and writing tabular files: exact error positions, streaming, round trips."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custrec.errors import InputError, UsageError
from custrec.io import atomic_file, detect_input_format, open_row_writer, open_table

from .conftest import write


def read_all(source: str, **kwargs: object) -> tuple[list[str], list[dict[str, object]]]:
    with open_table(source, **kwargs) as reader:  # type: ignore[arg-type]
        rows = [row for batch in reader for row in batch.to_pylist()]
        return reader.columns, rows


def read_stdin(
    monkeypatch: pytest.MonkeyPatch, data: bytes, **kwargs: object
) -> tuple[list[str], list[dict[str, object]]]:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    return read_all("-", **kwargs)


# --- CSV ---------------------------------------------------------------------------


def test_csv_reads_text_columns_with_nulls_bom_and_multiline_fields(tmp_path: Path) -> None:
    path = write(tmp_path / "c.csv", '\ufeffid,note,n\n1,"two\nlines, and ""quotes""",7\n2,,\n')
    columns, rows = read_all(str(path))
    assert columns == ["id", "note", "n"]
    assert rows == [
        {"id": "1", "note": 'two\nlines, and "quotes"', "n": "7"},
        {"id": "2", "note": None, "n": None},
    ]


def test_csv_from_stdin_matches_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = 'id,note\n1,"a\nb"\n2,Zoë\n'
    from_file = read_all(str(write(tmp_path / "c.csv", data)))
    assert read_stdin(monkeypatch, data.encode()) == from_file


@pytest.mark.parametrize("via_stdin", [False, True])
def test_csv_wrong_field_count_names_the_physical_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, via_stdin: bool
) -> None:
    # The multi-line field on line 2-3 must not shift the reported line of the bad row.
    data = 'id,note,n\n1,"multi\nline",3\n2,x,3\n3,y\n'
    with pytest.raises(InputError) as caught:
        if via_stdin:
            read_stdin(monkeypatch, data.encode())
        else:
            read_all(str(write(tmp_path / "c.csv", data)))
    assert caught.value.line == 5
    assert caught.value.column == 3
    assert "expected 3 fields (id, note, n), found 2" in str(caught.value)


def test_csv_too_many_fields_points_at_the_first_extra_one(tmp_path: Path) -> None:
    path = write(tmp_path / "c.csv", "a,b\n1,2\n1,2,3,4\n")
    with pytest.raises(InputError, match=r"c\.csv:3:3: expected 2 fields \(a, b\), found 4"):
        read_all(str(path))


def test_csv_invalid_utf8_gives_line_and_byte_column(tmp_path: Path) -> None:
    path = write(tmp_path / "c.csv", b"a,b\n1,ok\n2,M\xfcller\n")
    with pytest.raises(InputError) as caught:
        read_all(str(path))
    assert (caught.value.line, caught.value.column) == (3, 4)
    assert "UTF-8" in str(caught.value)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty file; expected a header line"),
        ("a,,b\n", "empty column name in the header"),
        ("a,b,a\n", "column 'a' appears twice in the header"),
    ],
)
def test_csv_header_problems(tmp_path: Path, content: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        read_all(str(write(tmp_path / "c.csv", content)))


def test_csv_error_messages_never_quote_values(tmp_path: Path) -> None:
    canary = "zz-canary-4711@example.org"
    path = write(tmp_path / "c.csv", f"id,email\n1,{canary},extra\n")
    with pytest.raises(InputError) as caught:
        read_all(str(path))
    assert canary not in str(caught.value)


def test_csv_streams_in_bounded_batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = "id\n" + "".join(f"{i}\n" for i in range(2500))
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data.encode())))
    with open_table("-", chunk_rows=1000) as reader:
        sizes = [batch.num_rows for batch in reader]
    assert sizes == [1000, 1000, 500]


# --- NDJSON ------------------------------------------------------------------------


def test_ndjson_columns_in_first_seen_order_and_late_keys(tmp_path: Path) -> None:
    path = write(tmp_path / "x.ndjson", '{"a": 1, "b": "x"}\n\n{"b": null, "c": true}\n')
    columns, rows = read_all(str(path))
    assert columns == ["a", "b", "c"]
    assert rows == [{"a": 1, "b": "x", "c": None}, {"a": None, "b": None, "c": True}]


@pytest.mark.parametrize(
    ("content", "line", "column", "message"),
    [
        ('{"a": 1}\n{"a": 2,}\n', 2, 9, "invalid JSON"),
        ('{"a": 1}\n[1, 2]\n', 2, 1, "expected one JSON object per line, found array"),
        ('{"a": 1}\n{"a": {"x": 1}}\n', 2, "a", "found object"),
        ('{"a": 1}\n{"a": "1"}\n', 2, "a", "expected number as on earlier lines, found string"),
    ],
)
def test_ndjson_errors_are_located(
    tmp_path: Path, content: str, line: int, column: int | str, message: str
) -> None:
    with pytest.raises(InputError, match=message) as caught:
        read_all(str(write(tmp_path / "x.jsonl", content)))
    assert (caught.value.line, caught.value.column) == (line, column)


# --- Parquet and format detection --------------------------------------------------


def test_not_a_parquet_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a readable Parquet file"):
        read_all(str(write(tmp_path / "x.parquet", "id\n1\n")))


def test_unknown_extension_asks_for_input_format(tmp_path: Path) -> None:
    path = write(tmp_path / "x.txt", "id\n1\n")
    with pytest.raises(InputError, match="--input-format"):
        read_all(str(path))
    assert read_all(str(path), input_format="csv")[1] == [{"id": "1"}]


@pytest.mark.parametrize(
    ("head", "expected"),
    [(b"PAR1", "parquet"), (b'{"a"', "ndjson"), (b"\xef\xbb\xbf{", "ndjson"), (b"id,n", "csv")],
)
def test_stdin_format_is_sniffed(head: bytes, expected: str) -> None:
    assert detect_input_format("-", None, head) == expected


def test_unknown_explicit_format_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        detect_input_format("x.csv", "xlsx")


# --- writing -----------------------------------------------------------------------

cells = st.one_of(st.none(), st.text(min_size=1, max_size=20).filter(lambda s: s.strip() != ""))
tables = st.lists(st.tuples(cells, cells), min_size=0, max_size=30)


@pytest.mark.parametrize("fmt", ["csv", "ndjson", "parquet"])
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=tables)
def test_write_then_read_round_trips(
    tmp_path: Path, fmt: str, rows: list[tuple[str | None, str | None]]
) -> None:
    path = tmp_path / f"t.{fmt}"
    data = [{"a": a, "b": b} for a, b in rows]
    with open_row_writer(str(path), fmt, ["a", "b"]) as writer:
        writer.write_rows(data)
    columns, back = read_all(str(path))
    # NDJSON has no header: an empty file has no columns.
    assert columns == ([] if fmt == "ndjson" and not data else ["a", "b"])
    assert back == data


def test_atomic_file_leaves_nothing_on_error(tmp_path: Path) -> None:
    target = write(tmp_path / "out.csv", "old\n")
    with pytest.raises(RuntimeError), atomic_file(str(target)) as handle:
        handle.write(b"new, half written")
        raise RuntimeError("boom")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_atomic_file_replaces_on_success(tmp_path: Path) -> None:
    target = write(tmp_path / "out.csv", "old\n")
    with atomic_file(str(target)) as handle:
        handle.write(b"new\n")
    assert target.read_text() == "new\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_writer_to_missing_directory_is_bad_input(tmp_path: Path) -> None:
    with (
        pytest.raises(InputError, match="does not exist"),
        open_row_writer(str(tmp_path / "nope" / "x.csv"), "csv", ["a"]),
    ):
        pass


def test_ndjson_writer_keeps_unicode_and_column_order(tmp_path: Path) -> None:
    path = tmp_path / "x.ndjson"
    with open_row_writer(str(path), "ndjson", ["b", "a"]) as writer:
        writer.write_rows([{"a": "Zoë", "b": 1}])
    line = path.read_text(encoding="utf-8")
    assert line == '{"b": 1, "a": "Zoë"}\n'
    assert json.loads(line) == {"b": 1, "a": "Zoë"}


def test_parquet_types_are_applied(tmp_path: Path) -> None:
    path = tmp_path / "x.parquet"
    with open_row_writer(str(path), "parquet", ["n", "ok"], types={"n": "int", "ok": "bool"}) as w:
        w.write_rows([{"n": 1, "ok": True}, {"n": None, "ok": None}])
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    assert schema.field("n").type == pa.int64()
    assert schema.field("ok").type == pa.bool_()
