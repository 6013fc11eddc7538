"""The hostile-input corpus: files made to break a reader, generated at test time.

Each :class:`Hostile` is one file: CSV, NDJSON and Parquet record files, YAML schemas,
retention and redaction policies, and plain text for ``scan``. ``heavy`` files (tens
of megabytes, tens of thousands of columns, alias bombs) are run as separate
processes under a memory limit and a timeout; the others in-process.

The values look like personal data on purpose (names, emails, phone numbers): no
message or traceback may quote them. :data:`SECRETS` lists them for the tests to look
for.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

SECRETS = ("Ozturk", "lena.secret@example.com", "+447911123456", "Hunter2Passw0rd")
"""Values in the corpus that must never appear in anything custrec prints."""

HEADER = "customer_id,first_name,last_name,email,phone,country,notes"
ROW = "C-{n:06d},Lena,Ozturk,lena.secret@example.com,+447911123456,GB,call after 6pm"
MB = 1 << 20


@dataclass(frozen=True)
class Hostile:
    """One corpus file: ``kind`` is csv, ndjson, parquet, schema, retention, redaction
    or text; ``make`` writes it at the path given."""

    name: str
    kind: str
    make: Callable[[Path], None]
    heavy: bool = False
    note: str = ""
    values_in_names: bool = False
    """The column names are data values: messages name columns (by design), so they
    may show these."""


def rows(count: int, start: int = 1) -> str:
    return "".join(ROW.format(n=n) + "\n" for n in range(start, start + count))


def _text(content: str | bytes) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_bytes(content.encode("utf-8", "surrogatepass"))

    return make


def _wide_csv(columns: int) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        names = ["customer_id", *(f"c{i}" for i in range(columns - 1))]
        with path.open("w", encoding="utf-8") as out:
            out.write(",".join(names) + "\n")
            for n in range(3):
                out.write(",".join([f"C-{n:06d}", *(["x"] * (columns - 1))]) + "\n")

    return make


def _padded(head: str, size: int, tail: str, unit: str = "Ozturk ") -> Callable[[Path], None]:
    """``head``, then ``unit`` repeated to ``size`` characters, then ``tail``: a file of
    tens of megabytes written a megabyte at a time."""

    def make(path: Path) -> None:
        block = unit * (MB // len(unit))
        with path.open("w", encoding="utf-8") as out:
            out.write(head)
            for _ in range(size // len(block) + 1):
                out.write(block)
            out.write(tail)

    return make


FIELD_START = HEADER + "\n" + ROW.format(n=1)[: -len("call after 6pm")]


def _deep_ndjson(depth: int) -> Callable[[Path], None]:
    return _text('{"customer_id": "C-000001", "x": ' + "[" * depth + "]" * depth + "}\n")


def _ndjson_lines(*records: object) -> Callable[[Path], None]:
    return _text("".join(json.dumps(r) + "\n" for r in records))


def _many_keys_ndjson(count: int) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        with path.open("w", encoding="utf-8") as out:
            for n in range(count):
                out.write(f'{{"customer_id": "C-{n:06d}", "k{n}": 1}}\n')

    return make


def _sparse_keys_ndjson(lines: int, keys: int) -> Callable[[Path], None]:
    """Each line one of ``keys`` keys: a table of lines times keys, nearly all empty."""

    def make(path: Path) -> None:
        with path.open("w", encoding="utf-8") as out:
            for n in range(lines):
                out.write(f'{{"customer_id": "C-{n:06d}", "k{n % keys}": "Ozturk"}}\n')

    return make


def _parquet(build: Callable[[], object]) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        import pyarrow.parquet as pq

        pq.write_table(build(), path)  # type: ignore[arg-type]

    return make


def _customers_with(**extra: Callable[[], object]) -> Callable[[], object]:
    """Two customer rows plus ``extra`` columns built lazily (pyarrow arrays)."""

    def build() -> object:
        import pyarrow as pa

        arrays: dict[str, object] = {
            "customer_id": pa.array(["C-000001", "C-000002"]),
            "last_name": pa.array(["Ozturk", "Ozturk"]),
            "email": pa.array(["lena.secret@example.com", None]),
        }
        for name, make in extra.items():
            arrays[name] = make()
        return pa.table(arrays)

    return build


def _parquet_with_id(make_id: Callable[[], object]) -> Callable[[], object]:
    def build() -> object:
        import pyarrow as pa

        return pa.table({"customer_id": make_id(), "last_name": pa.array(["Ozturk", "Ozturk"])})

    return build


def _duplicate_names() -> object:
    import pyarrow as pa

    return pa.Table.from_arrays(
        [pa.array(["C-000001"]), pa.array(["Ozturk"]), pa.array(["x"])],
        names=["customer_id", "last_name", "last_name"],
    )


def _empty_name() -> object:
    import pyarrow as pa

    return pa.Table.from_arrays(
        [pa.array(["C-000001"]), pa.array(["Ozturk"])], names=["customer_id", ""]
    )


def _pandas_int_names() -> object:
    import pandas as pd
    import pyarrow as pa

    frame = pd.DataFrame([["C-000001", "Ozturk"]], columns=[0, 1])
    return pa.Table.from_pandas(frame)


def _zero_rows() -> object:
    import pyarrow as pa

    return pa.table({"customer_id": pa.array([], pa.string()), "email": pa.array([], pa.string())})


def _wide_parquet(columns: int) -> Callable[[], object]:
    def build() -> object:
        import pyarrow as pa

        names = ["customer_id", *(f"c{i}" for i in range(columns - 1))]
        data = [pa.array(["C-000001"])] + [pa.array(["x"])] * (columns - 1)
        return pa.Table.from_arrays(data, names=names)

    return build


def _not_parquet(path: Path) -> None:
    path.write_bytes(b"PAR1" + b"\x00\xff" * 64 + b"PAR1")


def _truncated_parquet(path: Path) -> None:
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = io.BytesIO()
    pq.write_table(pa.table({"customer_id": ["C-000001"] * 100, "email": ["a@b.c"] * 100}), sink)
    data = sink.getvalue()
    path.write_bytes(data[: len(data) // 2] + data[-8:])


def _yaml_bomb(top: str) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 10):
        lines.append(f"a{level}: &a{level} [{', '.join([f'*a{level - 1}'] * 9)}]")
    return "version: 1\n" + "\n".join(lines) + f"\n{top}: *a9\n"


def _deep_yaml(top: str, depth: int) -> str:
    return f"version: 1\n{top}: " + "[" * depth + "]" * depth + "\n"


SCHEMA_OK = """version: 1
name: small
id: customer_id
fields:
  customer_id: {type: string, required: true}
  email: {type: string}
"""

RETENTION_OK = """version: 1
rules:
  - id: old
    trigger: created_at
    period: 6y
"""


def csv_files() -> list[Hostile]:
    header = HEADER + "\n"
    return [
        Hostile("ragged-more.csv", "csv", _text(header + rows(3) + ROW.format(n=4) + ",x,y\n")),
        Hostile(
            "ragged-fewer.csv", "csv", _text(header + rows(3) + "C-000004,Lena,Ozturk\n" + rows(1))
        ),
        Hostile(
            "ragged-deep.csv",
            "csv",
            _text(header + rows(3000) + ROW.format(n=9) + ",extra\n" + rows(10)),
            note="the ragged row is far into the file: Arrow's reader, then the exact one",
        ),
        Hostile("wide-5000.csv", "csv", _wide_csv(5_000)),
        Hostile("wide-100k.csv", "csv", _wide_csv(100_000), heavy=True),
        Hostile(
            "huge-field-50mb.csv",
            "csv",
            _padded(FIELD_START, 50 * MB, "\n" + rows(2, start=2)),
            heavy=True,
        ),
        Hostile("no-newline-20mb.csv", "csv", _padded("", 20 * MB, "", "customer_id"), heavy=True),
        Hostile("nul-bytes.csv", "csv", _text(header + "C-000001,Le\x00na,Ozturk,a@b.c,,GB,x\n")),
        Hostile("nul-header.csv", "csv", _text("customer_id,\x00email\nC-000001,a@b.c\n")),
        Hostile(
            "invalid-utf8.csv", "csv", _text(header.encode() + b"C-000001,L\xffna,Ozturk,,,GB,x\n")
        ),
        Hostile("invalid-utf8-header.csv", "csv", _text(b"customer_id,em\xc3\n" + b"C-1,x\n")),
        Hostile("bom-only.csv", "csv", _text(b"\xef\xbb\xbf")),
        Hostile("bom-twice.csv", "csv", _text("\ufeff\ufeff" + header + rows(2))),
        Hostile("bom-in-first-row.csv", "csv", _text(header + "\ufeff" + rows(2))),
        Hostile(
            "utf16-bom.csv", "csv", _text("\ufeff".encode("utf-16-le") + header.encode("utf-16-le"))
        ),
        Hostile("cr-only.csv", "csv", _text((header + rows(3)).replace("\n", "\r"))),
        Hostile(
            "crlf-mixed.csv",
            "csv",
            _text(header + "\r\n" + rows(2).replace("\n", "\r\n") + rows(2)),
        ),
        Hostile(
            "unbalanced-quote-end.csv", "csv", _text(header + rows(2) + 'C-000009,"Lena,Ozturk\n')
        ),
        Hostile(
            "unbalanced-quote-mid.csv",
            "csv",
            _text(header + 'C-000001,Le"na,Oz"turk,,,GB,"x\n' + rows(50)),
        ),
        Hostile("quote-then-text.csv", "csv", _text(header + 'C-000001,"Lena"Ozturk,,,,GB,x\n')),
        Hostile("header-only.csv", "csv", _text(header)),
        Hostile("empty.csv", "csv", _text(b"")),
        Hostile("blank-lines-only.csv", "csv", _text("\n\n\r\n  \n")),
        Hostile(
            "duplicate-header.csv", "csv", _text("customer_id,email,email\nC-000001,a@b.c,d@e.f\n")
        ),
        Hostile("empty-header-name.csv", "csv", _text("customer_id,,email\nC-000001,x,a@b.c\n")),
        Hostile("trailing-comma-header.csv", "csv", _text("customer_id,email,\nC-000001,a@b.c,\n")),
        Hostile("whitespace-header.csv", "csv", _text(" customer_id , email \nC-000001,a@b.c\n")),
        Hostile(
            "formula-cells.csv",
            "csv",
            _text(
                header
                + 'C-000001,=HYPERLINK("http://x"),@SUM(A1),+cmd|\' /C calc\'!A0,-2+3,GB,"=1+2"\n'
            ),
        ),
        Hostile("semicolons.csv", "csv", _text("customer_id;email\nC-000001;a@b.c\n")),
        Hostile(
            "control-chars.csv",
            "csv",
            _text(header + "C-000001,\x1b[31mLena,\x0cOz\x7fturk,,,GB,\x08\n"),
        ),
        Hostile(
            "quoted-newlines.csv",
            "csv",
            _text(header + 'C-000001,"Le\nna","Oz\r\nturk",,,GB,"a\n\n\nb"\n'),
        ),
        Hostile("repeated-ids.csv", "csv", _text(header + rows(2) + rows(2))),
        Hostile("numeric-header.csv", "csv", _text("1,2,3\n4,5,6\n")),
        Hostile(
            "header-is-data.csv",
            "csv",
            _text(ROW.format(n=1) + "\n" + rows(2)),
            values_in_names=True,
        ),
    ]


def ndjson_files() -> list[Hostile]:
    rec = {"customer_id": "C-000001", "last_name": "Ozturk", "email": "lena.secret@example.com"}
    return [
        Hostile("deep-2000.ndjson", "ndjson", _deep_ndjson(2_000)),
        Hostile("deep-200k.ndjson", "ndjson", _deep_ndjson(200_000)),
        Hostile(
            "deep-objects.ndjson",
            "ndjson",
            _text('{"customer_id": ' + '{"a": ' * 3000 + "1" + "}" * 3001 + "\n"),
        ),
        Hostile(
            "duplicate-keys.ndjson",
            "ndjson",
            _text(
                '{"customer_id": "C-000001", "email": "a@b.c", '
                '"email": "lena.secret@example.com"}\n'
            ),
        ),
        Hostile(
            "duplicate-id-key.ndjson",
            "ndjson",
            _text('{"customer_id": "C-000001", "customer_id": "C-000002"}\n'),
        ),
        Hostile("nan.ndjson", "ndjson", _text('{"customer_id": "C-000001", "score": NaN}\n')),
        Hostile(
            "infinity.ndjson", "ndjson", _text('{"customer_id": "C-000001", "score": -Infinity}\n')
        ),
        Hostile(
            "float-1e400.ndjson", "ndjson", _text('{"customer_id": "C-000001", "score": 1e400}\n')
        ),
        Hostile(
            "int-2pow70.ndjson",
            "ndjson",
            _text('{"customer_id": "C-000001", "score": 1180591620717411303424}\n'),
        ),
        Hostile(
            "int-5000-digits.ndjson",
            "ndjson",
            _text('{"customer_id": "C-000001", "score": ' + "9" * 5000 + "}\n"),
        ),
        Hostile("int-id.ndjson", "ndjson", _ndjson_lines({"customer_id": 1}, {"customer_id": 2})),
        Hostile("mixed-types.ndjson", "ndjson", _ndjson_lines(rec, {**rec, "email": 5})),
        Hostile(
            "mixed-int-float.ndjson",
            "ndjson",
            _ndjson_lines({"customer_id": "C-1", "n": 1}, {"customer_id": "C-2", "n": 1.5}),
        ),
        Hostile("array-line.ndjson", "ndjson", _text('["C-000001", "Ozturk"]\n')),
        Hostile("scalar-line.ndjson", "ndjson", _text('"lena.secret@example.com"\n')),
        Hostile("list-value.ndjson", "ndjson", _ndjson_lines({**rec, "phones": ["+447911123456"]})),
        Hostile(
            "object-value.ndjson", "ndjson", _ndjson_lines({**rec, "address": {"city": "Leeds"}})
        ),
        Hostile("list-id.ndjson", "ndjson", _ndjson_lines({"customer_id": ["C-000001"]})),
        Hostile(
            "invalid-utf8.ndjson",
            "ndjson",
            _text(b'{"customer_id": "C-1", "last_name": "Oz\xffturk"}\n'),
        ),
        Hostile(
            "lone-surrogate.ndjson",
            "ndjson",
            _text('{"customer_id": "C-000001", "last_name": "Oz\\ud800turk"}\n'),
        ),
        Hostile(
            "lone-surrogate-key.ndjson",
            "ndjson",
            _text('{"customer_id": "C-000001", "\\udfff": "x"}\n'),
        ),
        Hostile(
            "truncated.ndjson", "ndjson", _text('{"customer_id": "C-000001", "last_name": "Ozt')
        ),
        Hostile("empty.ndjson", "ndjson", _text(b"")),
        Hostile("blank-lines.ndjson", "ndjson", _text("\n \n\t\n")),
        Hostile("bom.ndjson", "ndjson", _text("\ufeff" + json.dumps(rec) + "\n")),
        Hostile("null-id.ndjson", "ndjson", _ndjson_lines({"customer_id": None, "email": "a@b.c"})),
        Hostile(
            "nul-escape.ndjson",
            "ndjson",
            _ndjson_lines({"customer_id": "C-\u0000", "email": "a\u0000b"}),
        ),
        Hostile("empty-key.ndjson", "ndjson", _ndjson_lines({"customer_id": "C-1", "": "x"})),
        Hostile("many-keys-10k.ndjson", "ndjson", _many_keys_ndjson(10_000)),
        Hostile(
            "sparse-4000-keys.ndjson", "ndjson", _sparse_keys_ndjson(10_000, 4_000), heavy=True
        ),
        Hostile(
            "huge-line-50mb.ndjson",
            "ndjson",
            _padded('{"customer_id": "C-000001", "notes": "', 50 * MB, '"}\n'),
            heavy=True,
        ),
        Hostile(
            "trailing-garbage.ndjson", "ndjson", _text('{"customer_id": "C-000001"} {"x": 1}\n')
        ),
    ]


def _interaction_log(**changed: Callable[[], object]) -> Callable[[], object]:
    """A two-contact interaction log (what ``report kpi`` reads) with ``changed``
    columns replaced or added."""

    def build() -> object:
        import pyarrow as pa

        columns: dict[str, object] = {
            "interaction_id": pa.array(["I-1", "I-2"]),
            "case_id": pa.array(["K-1", "K-1"]),
            "customer_id": pa.array(["C-000001", "C-000002"]),
            "channel": pa.array(["phone", "email"]),
            "created_at": pa.array(["2026-01-02T10:00:00Z", "2026-01-03T10:00:00Z"]),
            "talk_seconds": pa.array([60, 120], pa.int64()),
            "csat": pa.array([5, None], pa.int64()),
        }
        for name, make in changed.items():
            columns[name] = make()
        return pa.table(columns)

    return build


def _log_column(kind: str) -> Callable[[], object]:
    def make() -> object:
        import pyarrow as pa

        if kind == "uint64":
            return pa.array([2**64 - 1, 1], pa.uint64())
        if kind == "list":
            return pa.array([["phone"], ["email"]], pa.list_(pa.string()))
        if kind == "far-timestamp":
            return pa.array([253402300799, 0], pa.timestamp("s", "Pacific/Kiritimati"))
        if kind == "dictionary":
            return pa.array(["phone", "phone"]).dictionary_encode()
        return pa.array([{"x": 1}, {"x": 2}], pa.struct([("x", pa.int64())]))

    return make


def parquet_files() -> list[Hostile]:
    def pa_array(values: object, type_name: str, *args: object) -> Callable[[], object]:
        def make() -> object:
            import pyarrow as pa

            return pa.array(values, getattr(pa, type_name)(*args))

        return make

    def timestamps(unit: str, tz: str | None, values: list[int]) -> Callable[[], object]:
        def make() -> object:
            import pyarrow as pa

            return pa.array(values, pa.timestamp(unit, tz))

        return make

    def nested(kind: str) -> Callable[[], object]:
        def make() -> object:
            import pyarrow as pa

            if kind == "list":
                return pa.array([["+447911123456"], []], pa.list_(pa.string()))
            if kind == "struct":
                return pa.array([{"city": "Leeds"}, None], pa.struct([("city", pa.string())]))
            return pa.array([[("k", "Ozturk")], None], pa.map_(pa.string(), pa.string()))

        return make

    def dictionary() -> object:
        import pyarrow as pa

        return pa.array(["Ozturk", "Ozturk"]).dictionary_encode()

    def decimal() -> object:
        import decimal as dec

        import pyarrow as pa

        return pa.array([dec.Decimal("12345678901234567890.123456789"), None], pa.decimal128(38, 9))

    return [
        Hostile(
            "uint64-max.parquet",
            "parquet",
            _parquet(_customers_with(score=pa_array([2**64 - 1, 0], "uint64"))),
        ),
        Hostile(
            "uint64-id.parquet",
            "parquet",
            _parquet(_parquet_with_id(pa_array([2**64 - 1, 1], "uint64"))),
        ),
        Hostile("list-column.parquet", "parquet", _parquet(_customers_with(phones=nested("list")))),
        Hostile(
            "struct-column.parquet", "parquet", _parquet(_customers_with(address=nested("struct")))
        ),
        Hostile("map-column.parquet", "parquet", _parquet(_customers_with(tags=nested("map")))),
        Hostile("list-id.parquet", "parquet", _parquet(_parquet_with_id(lambda: _list_ids()))),
        Hostile("struct-id.parquet", "parquet", _parquet(_parquet_with_id(lambda: _struct_ids()))),
        Hostile("int-id.parquet", "parquet", _parquet(_parquet_with_id(pa_array([1, 2], "int64")))),
        Hostile("decimal.parquet", "parquet", _parquet(_customers_with(balance=decimal))),
        Hostile(
            "timestamp-s-tz.parquet",
            "parquet",
            _parquet(
                _customers_with(created_at=timestamps("s", "Asia/Kolkata", [0, 253402300799]))
            ),
        ),
        Hostile(
            "timestamp-ns.parquet",
            "parquet",
            _parquet(_customers_with(created_at=timestamps("ns", None, [-(2**62), 2**62]))),
        ),
        Hostile(
            "timestamp-ms-far.parquet",
            "parquet",
            _parquet(_customers_with(created_at=timestamps("ms", "UTC", [-(2**60), 2**60]))),
        ),
        Hostile(
            "date-time-duration.parquet",
            "parquet",
            _parquet(
                _customers_with(
                    date_of_birth=pa_array([0, 2_932_896], "date32"),
                    wake=lambda: _time64(),
                    wait=lambda: _duration(),
                )
            ),
        ),
        Hostile("dictionary.parquet", "parquet", _parquet(_customers_with(last_name=dictionary))),
        Hostile("zero-rows.parquet", "parquet", _parquet(_zero_rows)),
        Hostile("int-column-names.parquet", "parquet", _parquet(_pandas_int_names)),
        Hostile("duplicate-names.parquet", "parquet", _parquet(_duplicate_names)),
        Hostile("empty-name.parquet", "parquet", _parquet(_empty_name)),
        Hostile(
            "binary-column.parquet",
            "parquet",
            _parquet(_customers_with(blob=pa_array([b"\xff\xfe", b"Ozturk"], "binary"))),
        ),
        Hostile(
            "float-nan-inf.parquet",
            "parquet",
            _parquet(_customers_with(score=pa_array([float("nan"), float("inf")], "float64"))),
        ),
        Hostile("float16.parquet", "parquet", _parquet(_customers_with(score=lambda: _float16()))),
        Hostile(
            "null-column.parquet",
            "parquet",
            _parquet(_customers_with(nothing=pa_array([None, None], "null"))),
        ),
        Hostile(
            "large-string.parquet",
            "parquet",
            _parquet(_customers_with(notes=pa_array(["Ozturk", "x"], "large_string"))),
        ),
        Hostile("wide-5000.parquet", "parquet", _parquet(_wide_parquet(5_000))),
        Hostile("not-parquet.parquet", "parquet", _not_parquet),
        Hostile(
            "log-uint64-talk.parquet",
            "parquet",
            _parquet(_interaction_log(talk_seconds=_log_column("uint64"))),
        ),
        Hostile(
            "log-list-channel.parquet",
            "parquet",
            _parquet(_interaction_log(channel=_log_column("list"))),
        ),
        Hostile(
            "log-far-created.parquet",
            "parquet",
            _parquet(_interaction_log(created_at=_log_column("far-timestamp"))),
        ),
        Hostile(
            "log-dictionary-channel.parquet",
            "parquet",
            _parquet(_interaction_log(channel=_log_column("dictionary"))),
        ),
        Hostile(
            "log-unread-struct.parquet",
            "parquet",
            _parquet(_interaction_log(extra=_log_column("struct"))),
            note="a column report kpi does not read may be of any type",
        ),
        Hostile("truncated.parquet", "parquet", _truncated_parquet),
    ]


def _list_ids() -> object:
    import pyarrow as pa

    return pa.array([["C-000001"], ["C-000002"]], pa.list_(pa.string()))


def _struct_ids() -> object:
    import pyarrow as pa

    return pa.array([{"a": "C-000001"}, {"a": "C-000002"}], pa.struct([("a", pa.string())]))


def _time64() -> object:
    import pyarrow as pa

    return pa.array([3_600_000_000, None], pa.time64("us"))


def _duration() -> object:
    import pyarrow as pa

    return pa.array([5, None], pa.duration("s"))


def _float16() -> object:
    import numpy as np
    import pyarrow as pa

    return pa.array(np.array([1.5, 65504], dtype=np.float16))


def schema_files() -> list[Hostile]:
    return [
        Hostile("schema-alias-bomb.yaml", "schema", _text(_yaml_bomb("fields")), heavy=True),
        Hostile(
            "schema-self-alias.yaml",
            "schema",
            _text("version: 1\nname: x\nid: a\nfields: &f\n  a: *f\n"),
        ),
        Hostile(
            "schema-anchor.yaml",
            "schema",
            _text("version: 1\nname: x\nid: a\nfields:\n  a: &t {type: string}\n  b: *t\n"),
        ),
        Hostile("schema-deep.yaml", "schema", _text(_deep_yaml("fields", 100_000))),
        Hostile(
            "schema-deep-block.yaml",
            "schema",
            _text("version: 1\nfields:\n" + "".join(" " * n + f"k{n}:\n" for n in range(1, 200))),
        ),
        Hostile(
            "schema-huge-scalar.yaml",
            "schema",
            _padded("version: 1\ndescription: '", 50 * MB, "'\n"),
            heavy=True,
        ),
        Hostile(
            "schema-fields-list.yaml",
            "schema",
            _text("version: 1\nname: x\nid: a\nfields: [a, b]\n"),
        ),
        Hostile(
            "schema-wrong-types.yaml",
            "schema",
            _text(
                "version: [1]\nname: {a: 1}\nid: [a]\nmatch: 5\nstrict: maybe\nfields:\n"
                "  a: {type: [string], required: yes-please, checks: {x: 1}, purpose: 7}\n"
            ),
        ),
        Hostile(
            "schema-check-wrong.yaml",
            "schema",
            _text(
                "version: 1\nname: x\nid: a\nfields:\n  a:\n    type: string\n    checks:\n"
                "      - {check: [length], min: x}\n      - {check: length, min: [1], max: {}}\n"
                "      - {check: matches, pattern: '(a+)+$('}\n      - 7\n"
            ),
        ),
        Hostile(
            "schema-version-huge.yaml",
            "schema",
            _text("version: " + "9" * 5000 + "\nname: x\nid: a\nfields: {a: {type: string}}\n"),
        ),
        Hostile("schema-unknown-keys.yaml", "schema", _text(SCHEMA_OK + "extra: 1\n")),
        Hostile("schema-duplicate-keys.yaml", "schema", _text(SCHEMA_OK + "id: email\n")),
        Hostile("schema-tabs.yaml", "schema", _text("version: 1\nfields:\n\ta: {type: string}\n")),
        Hostile(
            "schema-non-utf8.yaml", "schema", _text(SCHEMA_OK.encode() + b"description: caf\xe9\n")
        ),
        Hostile("schema-utf16.yaml", "schema", _text(SCHEMA_OK.encode("utf-16"))),
        Hostile("schema-empty.yaml", "schema", _text("")),
        Hostile(
            "schema-python-tag.yaml",
            "schema",
            _text("!!python/object/apply:os.system ['echo pwned']\n"),
        ),
        Hostile(
            "schema-complex-key.yaml",
            "schema",
            _text("version: 1\nfields:\n  ? [a, b]\n  : {type: string}\n"),
        ),
        Hostile("schema-multi-doc.yaml", "schema", _text(SCHEMA_OK + "---\n" + SCHEMA_OK)),
        Hostile("schema-null-bytes.yaml", "schema", _text(SCHEMA_OK + "description: a\x00b\n")),
    ]


def retention_files() -> list[Hostile]:
    rule = "rules:\n  - id: x\n    trigger: created_at\n"
    return [
        Hostile("retention-alias-bomb.yaml", "retention", _text(_yaml_bomb("rules")), heavy=True),
        Hostile(
            "retention-self-alias.yaml",
            "retention",
            _text(
                "version: 1\nrules: &a\n  - id: x\n    trigger: created_at\n    period: 1y\n"
                "    where: *a\n"
            ),
        ),
        Hostile(
            "retention-period-huge.yaml",
            "retention",
            _text("version: 1\n" + rule + "    period: 99999999y\n"),
        ),
        Hostile(
            "retention-period-digits.yaml",
            "retention",
            _text("version: 1\n" + rule + "    period: " + "9" * 5000 + "d\n"),
        ),
        Hostile(
            "retention-grace-huge.yaml",
            "retention",
            _text("version: 1\ngrace: 99999999y\n" + rule + "    period: 1y\n"),
        ),
        Hostile(
            "retention-id-list.yaml",
            "retention",
            _text("version: 1\nrules:\n  - id: [1]\n    trigger: created_at\n    period: 1y\n"),
        ),
        Hostile(
            "retention-wrong-types.yaml",
            "retention",
            _text(
                "version: 1\nrules:\n  - id: x\n    trigger: [created_at]\n    period: {a: 1}\n"
                "    action: [delete]\n    class: [customer]\n    description: 5\n"
            ),
        ),
        Hostile(
            "retention-where-text-bool.yaml",
            "retention",
            _text("version: 1\n" + rule + "    period: 1y\n    where: notes == true\n"),
        ),
        Hostile(
            "retention-where-unknown.yaml",
            "retention",
            _text("version: 1\n" + rule + "    period: 1y\n    where: shoe_size > 3\n"),
        ),
        Hostile(
            "retention-where-list.yaml",
            "retention",
            _text("version: 1\n" + rule + "    period: 1y\n    where: [1, 2]\n"),
        ),
        Hostile("retention-rules-map.yaml", "retention", _text("version: 1\nrules: {a: 1}\n")),
        Hostile("retention-deep.yaml", "retention", _text(_deep_yaml("rules", 100_000))),
        Hostile("retention-duplicate-keys.yaml", "retention", _text(RETENTION_OK + "rules: []\n")),
        Hostile(
            "retention-version-float.yaml",
            "retention",
            _text("version: .nan\n" + RETENTION_OK[11:]),
        ),
    ]


def redaction_files() -> list[Hostile]:
    return [
        Hostile("redaction-alias-bomb.yaml", "redaction", _text(_yaml_bomb("fields")), heavy=True),
        Hostile(
            "redaction-self-alias.yaml", "redaction", _text("version: 1\nfields: &f\n  email: *f\n")
        ),
        Hostile(
            "redaction-wrong-types.yaml",
            "redaction",
            _text(
                "version: 1\nfields:\n  email: [mask]\n"
                "  phone: {strategy: {a: 1}, kind: [x], to: [year]}\n"
                "types: [1]\ndefault: 5\n"
            ),
        ),
        Hostile(
            "redaction-kind-list.yaml",
            "redaction",
            _text("version: 1\nfields:\n  email: {strategy: mask, kind: [EMAIL_ADDRESS]}\n"),
        ),
        Hostile(
            "redaction-to-map.yaml",
            "redaction",
            _text("version: 1\nfields:\n  date_of_birth: {strategy: generalise, to: {y: 1}}\n"),
        ),
        Hostile(
            "redaction-int-field-names.yaml",
            "redaction",
            _text("version: 1\nfields:\n  1: mask\n  null: drop\n"),
        ),
        Hostile(
            "redaction-types-keys.yaml", "redaction", _text("version: 1\ntypes:\n  [1]: mask\n")
        ),
    ]


def text_files() -> list[Hostile]:
    return [
        Hostile("binary-junk.txt", "text", _text(bytes(range(256)) * 64)),
        Hostile(
            "invalid-utf8.txt", "text", _text(b"call Lena Ozturk on +44 7911 123456\n\xff\xfe\n")
        ),
        Hostile("digits-2mb.txt", "text", _text("4" * (2 * MB) + "\n")),
        Hostile("huge-line-50mb.txt", "text", _padded(FIELD_START, 50 * MB, ""), heavy=True),
        Hostile("emails-dense.txt", "text", _text(("a@b.cc " * 20_000) + "\n")),
        Hostile("nul-bytes.txt", "text", _text("lena.secret@example.com\x00+447911123456\n")),
        Hostile("lone-surrogates.txt", "text", _text(b"\xed\xa0\x80 Ozturk\n")),
    ]


def corpus() -> list[Hostile]:
    """Every file of the corpus."""
    return [
        *csv_files(),
        *ndjson_files(),
        *parquet_files(),
        *schema_files(),
        *retention_files(),
        *redaction_files(),
        *text_files(),
    ]
