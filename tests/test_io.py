"""Reading and writing tabular files: exact error positions, streaming, round trips."""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custrec.errors import InputError, UsageError
from custrec.io import (
    atomic_file,
    detect_input_format,
    neutralise_formula,
    open_row_writer,
    open_table,
)

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
    with open_row_writer(
        str(path), "parquet", ["n", "ok"], types={"n": "int64", "ok": "bool"}
    ) as w:
        w.write_rows([{"n": 1, "ok": True}, {"n": None, "ok": None}])
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    assert schema.field("n").type == pa.int64()
    assert schema.field("ok").type == pa.bool_()


# --- delimiter ---------------------------------------------------------------------


@pytest.mark.parametrize("delimiter", [";", "\t", "|", "§"])
@pytest.mark.parametrize("via_stdin", [False, True])
def test_csv_delimiter_is_used_for_header_and_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, delimiter: str, via_stdin: bool
) -> None:
    d = delimiter
    data = f'id{d}name{d}note\n1{d}"Smith, John"{d}"a{d}b\nc"\n2{d}Ann, B{d}\n'
    expected = (
        ["id", "name", "note"],
        [
            {"id": "1", "name": "Smith, John", "note": f"a{d}b\nc"},
            {"id": "2", "name": "Ann, B", "note": None},
        ],
    )
    if via_stdin:
        assert read_stdin(monkeypatch, data.encode(), delimiter=d) == expected
    else:
        assert read_all(str(write(tmp_path / "c.csv", data)), delimiter=d) == expected


@pytest.mark.parametrize("via_stdin", [False, True])
def test_csv_delimiter_errors_name_the_physical_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, via_stdin: bool
) -> None:
    # From a file, Arrow fails and the exact parser must rescan with the same delimiter.
    data = 'id;note\n1;"x\ny, z"\n2;3;4\n'
    with pytest.raises(InputError) as caught:
        if via_stdin:
            read_stdin(monkeypatch, data.encode(), delimiter=";")
        else:
            read_all(str(write(tmp_path / "c.csv", data)), delimiter=";")
    assert (caught.value.line, caught.value.column) == (4, 3)
    assert "expected 2 fields (id, note), found 3" in str(caught.value)


@pytest.mark.parametrize("via_stdin", [False, True])
def test_one_column_header_with_semicolons_needs_a_delimiter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, via_stdin: bool
) -> None:
    data = "id;name\n1;Ann\n"

    def read(**kwargs: object) -> tuple[list[str], list[dict[str, object]]]:
        if via_stdin:
            return read_stdin(monkeypatch, data.encode(), **kwargs)
        return read_all(str(write(tmp_path / "c.csv", data)), **kwargs)

    with pytest.raises(InputError, match="give --delimiter ';'") as caught:
        read()
    assert (caught.value.line, caught.value.column) == (1, None)
    # An explicit comma reads the same file as one column holding whole lines.
    assert read(delimiter=",") == (["id;name"], [{"id;name": "1;Ann"}])


@pytest.mark.parametrize("delimiter", ["", ";;", '"', "\n", "\r"])
def test_bad_delimiters_are_usage_errors(tmp_path: Path, delimiter: str) -> None:
    path = write(tmp_path / "c.csv", "a,b\n1,2\n")
    with pytest.raises(UsageError, match="delimiter"):
        read_all(str(path), delimiter=delimiter)


@pytest.mark.parametrize("option", ["delimiter", "encoding"])
@pytest.mark.parametrize("fmt", ["ndjson", "parquet"])
def test_csv_options_for_other_formats_are_usage_errors(
    tmp_path: Path, option: str, fmt: str
) -> None:
    path = tmp_path / f"x.{fmt}"
    with open_row_writer(str(path), fmt, ["a"]) as writer:
        writer.write_rows([{"a": "1"}])
    value = "," if option == "delimiter" else "utf-8"
    with pytest.raises(UsageError, match=f"--{option} applies to CSV input only"):
        read_all(str(path), **{option: value})


# --- encoding ----------------------------------------------------------------------


@pytest.mark.parametrize("via_stdin", [False, True])
@pytest.mark.parametrize(
    ("encoding", "bom"),
    [
        ("cp1252", ""),
        ("latin-1", ""),
        ("utf-16", ""),
        ("utf-16-le", ""),
        ("utf-16-be", "\ufeff"),
        ("utf-8-sig", ""),
        ("UTF8", "\ufeff"),
    ],
)
def test_csv_encoding_gives_exact_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, encoding: str, bom: str, via_stdin: bool
) -> None:
    # A byte-order mark that the codec keeps (utf-16-be, UTF-8) is ignored as well.
    text = bom + 'id,name\r\n1,Zoë Müller\r\n2,"Øre\r\nÅse"\r\n'
    data = text.encode(encoding)
    expected = (
        ["id", "name"],
        [{"id": "1", "name": "Zoë Müller"}, {"id": "2", "name": "Øre\r\nÅse"}],
    )
    if via_stdin:
        assert read_stdin(monkeypatch, data, encoding=encoding) == expected
    else:
        assert read_all(str(write(tmp_path / "c.csv", data)), encoding=encoding) == expected


@pytest.mark.parametrize("via_stdin", [False, True])
def test_utf16_errors_name_the_physical_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, via_stdin: bool
) -> None:
    data = 'id,note\n1,"a\nb"\n\n2,ok\n3\n'.encode("utf-16")
    with pytest.raises(InputError) as caught:
        if via_stdin:
            read_stdin(monkeypatch, data, encoding="utf-16")
        else:
            read_all(str(write(tmp_path / "c.csv", data)), encoding="utf-16")
    assert (caught.value.line, caught.value.column) == (6, 2)


def test_undecodable_bytes_far_into_a_file_are_located_exactly(tmp_path: Path) -> None:
    # Far beyond the first block the decoder reads, and after a multi-line field.
    body = "".join(f"{i},Zoë\n" for i in range(20_000))
    good = ('id,name\n1,"a\nb"\n' + body).encode("utf-16-le")
    bad = "99,xy".encode("utf-16-le") + b"\x00\xd8" + "z\n".encode("utf-16-le")
    path = write(tmp_path / "c.csv", good + bad)
    with pytest.raises(InputError, match="not valid utf-16-le text") as caught:
        read_all(str(path), encoding="utf-16-le")
    assert (caught.value.line, caught.value.column) == (20_004, 6)


def test_truncated_multibyte_text_is_located_at_the_end(tmp_path: Path) -> None:
    path = write(tmp_path / "c.csv", "id\n1\n2".encode("utf-16") + b"\x00")
    with pytest.raises(InputError) as caught:
        read_all(str(path), encoding="utf-16")
    assert (caught.value.line, caught.value.column) == (3, 2)


@pytest.mark.parametrize(
    ("data", "line", "column"),
    [(b"id,na\xefme\n1,2\n", 1, 6), (b"id,name\n1,ok\n2,M\xfcller\n", 3, 4)],
)
def test_invalid_utf8_suggests_the_encoding_option(
    tmp_path: Path, data: bytes, line: int, column: int
) -> None:
    with pytest.raises(InputError) as caught:
        read_all(str(write(tmp_path / "c.csv", data)))
    assert (caught.value.line, caught.value.column) == (line, column)
    assert (
        "invalid UTF-8 byte; expected UTF-8 text (if the file is in another encoding, "
        "give --encoding, e.g. --encoding cp1252)"
    ) in caught.value.message


@pytest.mark.parametrize("encoding", ["no-such-codec", "hex", "rot13"])
def test_unknown_or_non_text_encodings_are_usage_errors(tmp_path: Path, encoding: str) -> None:
    path = write(tmp_path / "c.csv", "a\n1\n")
    with pytest.raises(UsageError, match="encoding"):
        read_all(str(path), encoding=encoding)


def test_ndjson_byte_order_mark_is_ignored(tmp_path: Path) -> None:
    path = write(tmp_path / "x.ndjson", b'\xef\xbb\xbf{"a": 1}\n')
    assert read_all(str(path)) == (["a"], [{"a": 1}])


# --- row_lines ---------------------------------------------------------------------

# Rows 1-4 start on lines 2, 4, 8 and 9: row 2 spans three lines (one with CRLF),
# line 7 is blank, and the last row has no final line break.
MULTILINE_CSV = 'id,note\n1,"a\nb"\n2,"x\r\ny\nz"\n\n3,plain\n4,"last\nrow"'
MULTILINE_LINES = {1: 2, 2: 4, 3: 8, 4: 9}


def row_lines_of(source: str, rows: object, **kwargs: object) -> dict[int, int]:
    with open_table(source, **kwargs) as reader:  # type: ignore[arg-type]
        for _ in reader:
            pass
        return reader.row_lines(rows)  # type: ignore[arg-type]


@pytest.mark.parametrize("chunk_rows", [1, 3, 100])
def test_row_lines_for_a_csv_file(tmp_path: Path, chunk_rows: int) -> None:
    path = str(write(tmp_path / "c.csv", MULTILINE_CSV))
    assert row_lines_of(path, [4, 1, 2, 3, 2], chunk_rows=chunk_rows) == MULTILINE_LINES
    assert row_lines_of(path, [0, 3, 5, -1]) == {3: 8}


@pytest.mark.parametrize("encoding", [None, "utf-16"])
def test_row_lines_for_csv_from_stdin(
    monkeypatch: pytest.MonkeyPatch, encoding: str | None
) -> None:
    data = MULTILINE_CSV.encode(encoding or "utf-8")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    assert row_lines_of("-", range(1, 10), chunk_rows=2, encoding=encoding) == MULTILINE_LINES


def test_row_lines_count_only_rows_yielded(tmp_path: Path) -> None:
    path = str(write(tmp_path / "c.csv", MULTILINE_CSV))
    with open_table(path) as reader:
        assert reader.row_lines([1]) == {}
        list(reader)
        assert reader.row_lines([1, 4]) == {1: 2, 4: 9}


@pytest.mark.parametrize(
    ("text", "lines"),
    [
        ("id,n\n1,a\n2,b\n3,c\n", {1: 2, 2: 3, 3: 4}),  # one line a row: counted
        ("id,n\r\n1,a\r\n2,b\r\n3,c", {1: 2, 2: 3, 3: 4}),  # CRLF, no final break
        ("id,n\n1,a\n\n2,b\n3,c\n", {1: 2, 2: 4, 3: 5}),  # a blank line: parsed
        ('id,n\n1,"a\nb"\n2,b\n\n', {1: 2, 2: 4}),  # a row of two lines and a blank one
        ('id,n\n1,"a\nb"\n2,b\n3,c', {1: 2, 2: 4, 3: 5}),  # as many lines as rows + 1 + 1
    ],
)
def test_row_lines_of_a_file_of_one_line_per_row_are_counted_not_parsed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, lines: dict[int, int]
) -> None:
    from custrec.io import TableReader

    path = str(write(tmp_path / "c.csv", text))
    parsed = []
    exact = TableReader._rescan_row_lines

    def rescan(self: TableReader, wanted: list[int]) -> dict[int, int]:
        parsed.append(self._one_line_per_row())
        return exact(self, wanted)

    monkeypatch.setattr(TableReader, "_rescan_row_lines", rescan)
    assert row_lines_of(path, range(1, 10)) == lines
    assert parsed == [list(lines.values()) == [r + 1 for r in lines]]


@pytest.mark.parametrize("via_stdin", [False, True])
def test_row_lines_over_many_rows_match_a_direct_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, via_stdin: bool
) -> None:
    parts, expected, line = ["id,note\n"], {}, 2
    for row in range(1, 3001):
        expected[row] = line
        if row % 7 == 0:
            parts.append(f'{row},"two\nlines"\n')
            line += 2
        else:
            parts.append(f"{row},one\n")
            line += 1
        if row % 11 == 0:
            parts.append("\n")
            line += 1
    data = "".join(parts)
    if via_stdin:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data.encode())))
        source = "-"
    else:
        source = str(write(tmp_path / "c.csv", data))
    assert row_lines_of(source, range(1, 3001), chunk_rows=500) == expected


@pytest.mark.parametrize("via_stdin", [False, True])
def test_row_lines_for_ndjson_skip_blank_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, via_stdin: bool
) -> None:
    data = '{"a": 1}\n\n\n{"a": 2}\n  \n{"a": 3}\n'
    if via_stdin:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data.encode())))
        source = "-"
    else:
        source = str(write(tmp_path / "x.ndjson", data))
    assert row_lines_of(source, [1, 2, 3, 4], chunk_rows=1) == {1: 1, 2: 4, 3: 6}


def test_row_lines_for_parquet_are_empty(tmp_path: Path) -> None:
    path = tmp_path / "x.parquet"
    with open_row_writer(str(path), "parquet", ["a"]) as writer:
        writer.write_rows([{"a": "1"}, {"a": "2"}])
    assert row_lines_of(str(path), [1, 2]) == {}


# --- neutralising formulas ---------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "=1+2",
        '=HYPERLINK("http://x")',
        "+A1",
        "-A1",
        "@SUM(A1:A2)",
        "\t=1",
        "\r=1",
        "+44 7911 123456\n",
        "+44 7911 123456 ext 2",
        "+44 7911 123456+cmd|' /C calc'!A0",
        "+1 (555) =1",
        "+1 (A1) 555 0100",
        "+1--555",
        "+12 34",
        "-44 7911 123456",
        "-1\n",
        "- 5",
        "+",
        "-",
        "-١٢",
        "+1e",
    ],
)
def test_neutralise_formula_prefixes_risky_text(value: str) -> None:
    assert neutralise_formula(value) == "'" + value


@pytest.mark.parametrize(
    "value",
    [
        *["-12.5", "+44", "-0", "+.5", "-1.", "-1.5E-3", "+2e+10", "", "plain", "a=1", "'=1"],
        " =1",
        # phone numbers in international format
        "+44 7911 123456",
        "+4917990297922",
        "+1 (555) 010-0199",
        "+49-179-9029-7922",
        "+33 1 23 45 67 89",
        "+44 (0)20 7946 0958",
        "+41.44.668.18.00",
        "+49 30/1234567",
        "+** **** **3456",  # masked by redact
    ],
)
def test_neutralise_formula_keeps_numbers_and_safe_text(value: str) -> None:
    assert neutralise_formula(value) == value


def test_csv_writer_neutralises_formulas_when_asked(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    rows = [{"=h": "=1+2", "n": "-12.5", "p": "+44 7911 123456", "i": -3, "b": False}]
    with open_row_writer(
        str(path), "csv", ["=h", "n", "p", "i", "b"], neutralise_formulas=True
    ) as w:
        w.write_rows(rows)
    assert path.read_text(encoding="utf-8") == (
        "'=h,n,p,i,b\n'=1+2,-12.5,+44 7911 123456,-3,false\n"
    )
    with open_row_writer(str(path), "csv", ["=h", "n", "p", "i", "b"]) as w:
        w.write_rows(rows)
    assert path.read_text(encoding="utf-8") == "=h,n,p,i,b\n=1+2,-12.5,+44 7911 123456,-3,false\n"


def test_csv_writer_neutralises_formulas_on_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    with open_row_writer("-", "csv", ["a"], neutralise_formulas=True) as writer:
        writer.write_rows([{"a": "@cmd"}])
    assert capsys.readouterr().out == "a\n'@cmd\n"


@pytest.mark.parametrize("fmt", ["ndjson", "parquet"])
def test_other_formats_are_never_neutralised(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"x.{fmt}"
    with open_row_writer(str(path), fmt, ["=a"], neutralise_formulas=True) as writer:
        writer.write_rows([{"=a": "=1+2"}, {"=a": "-x"}])
    assert read_all(str(path)) == (["=a"], [{"=a": "=1+2"}, {"=a": "-x"}])


# --- file mode ---------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "ndjson", "parquet"])
def test_writer_creates_the_file_with_the_mode_given(tmp_path: Path, fmt: str) -> None:
    path = write(tmp_path / f"x.{fmt}", "old\n")
    os.chmod(path, 0o644)
    with open_row_writer(str(path), fmt, ["a"], mode=0o600) as writer:
        writer.write_rows([{"a": "1"}])
    assert path.stat().st_mode & 0o777 == 0o600
    with open_row_writer(str(tmp_path / f"y.{fmt}"), fmt, ["a"]) as writer:
        writer.write_rows([{"a": "1"}])
    assert (tmp_path / f"y.{fmt}").stat().st_mode & 0o777 == 0o644
