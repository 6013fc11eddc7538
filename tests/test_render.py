"""One renderer for every command: exact output per format."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass

import pytest

from custrec.render import OUTPUT_VERSION, Summary, Table, render


@dataclass
class Sample:
    kind: str = "sample"

    def to_json(self) -> dict[str, object]:
        return {"total": 2}

    def tables(self) -> list[Table]:
        return [
            Table(
                columns=("name", "share", "ok", "note"),
                rows=[("Zoë", 12.345, True, None), ("a,b", 1.0, False, "x\ry")],
            ),
            Table(columns=("k",), rows=[("v",)], title="second"),
        ]

    def summary(self) -> Summary:
        return Summary((("rows", 2), ("source", "s.csv")))


def rendered(fmt: str) -> str:
    out = io.StringIO()
    render(Sample(), fmt, out)
    return out.getvalue()


def test_json_is_an_envelope_with_version_and_kind() -> None:
    assert json.loads(rendered("json")) == {"version": OUTPUT_VERSION, "kind": "sample", "total": 2}


def test_ndjson_is_the_primary_table_one_object_per_line() -> None:
    lines = rendered("ndjson").splitlines()
    assert [json.loads(x) for x in lines] == [
        {"name": "Zoë", "share": 12.345, "ok": True, "note": None},
        {"name": "a,b", "share": 1.0, "ok": False, "note": "x\ry"},
    ]


def test_csv_quotes_what_needs_quoting() -> None:
    # A row holding a bare carriage return is quoted whole, so the \r survives reading.
    assert rendered("csv") == 'name,share,ok,note\nZoë,12.345,true,\n"a,b","1.0","false","x\ry"\n'


def test_table_has_summary_then_titled_tables() -> None:
    text = rendered("table")
    assert text.startswith("rows:   2\nsource: s.csv\n\n")
    assert "Zoë" in text
    assert "12.3" in text
    assert "\nsecond\nk\n---\nv\n" in text


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown output format 'xml'"):
        render(Sample(), "xml", io.StringIO())


def test_fields_result_uses_keys_for_json_and_labels_for_people() -> None:
    from custrec.render import Fields

    result = Fields(
        "init",
        [
            ("store_id", "store id", "ab12"),
            ("match_fields", "match", ["a", "b"]),
            ("region", "region", None),
            ("ok", "ok", True),
        ],
    )
    out = io.StringIO()
    render(result, "json", out)
    assert json.loads(out.getvalue()) == {
        "version": OUTPUT_VERSION,
        "kind": "init",
        "store_id": "ab12",
        "match_fields": ["a", "b"],
        "region": None,
        "ok": True,
    }
    out = io.StringIO()
    render(result, "table", out)
    assert out.getvalue() == "store id: ab12\nmatch:    a, b\nregion:   -\nok:       yes\n"


def test_table_rows_must_fit_the_columns() -> None:
    with pytest.raises(ValueError, match="2 cells for 3 columns"):
        Table(columns=("a", "b", "c"), rows=[("x", "y")])
