"""The messy-file corpus (``tests/data/messy/cases.json``): every case is read by
``open_table`` from its path (Arrow's fast path for UTF-8 files) and from standard
input (the exact Python parser), and both must give the exact rows or the exact error.
"""

from __future__ import annotations

import io
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from custrec.errors import InputError
from custrec.io import open_table

CORPUS = Path(__file__).parent / "data" / "messy"
CASES: list[dict[str, Any]] = json.loads((CORPUS / "cases.json").read_text(encoding="utf-8"))


def case_id(case: dict[str, Any]) -> str:
    args = ",".join(f"{key}={value!r}" for key, value in sorted(case["args"].items()))
    return f"{case['file']}[{args or 'defaults'}]"


def read_table(source: str, args: dict[str, str]) -> list[list[Any]]:
    """The table as ``[header, *rows]``, values in column order."""
    with open_table(source, **args) as reader:
        rows = [
            [row[column] for column in reader.columns]
            for batch in reader
            for row in batch.to_pylist()
        ]
        return [reader.columns, *rows]


def read_row_lines(source: str, args: dict[str, str]) -> dict[int, int]:
    with open_table(source, **args) as reader:
        count = sum(batch.num_rows for batch in reader)
        return reader.row_lines(range(1, count + 1))


def open_source(case: dict[str, Any], via: str, monkeypatch: pytest.MonkeyPatch) -> str:
    path = CORPUS / case["file"]
    if via == "stdin":
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(path.read_bytes())))
        return "-"
    return str(path)


def test_cases_are_well_formed() -> None:
    listed = {case["file"] for case in CASES}
    present = {p.name for p in CORPUS.iterdir() if p.name not in ("cases.json", ".gitattributes")}
    assert listed == present
    for case in CASES:
        assert set(case["args"]) <= {"delimiter", "encoding"}, case_id(case)
        assert case["why"].strip(), case_id(case)
        if case["outcome"] == "ok":
            assert {"line", "column", "message"}.isdisjoint(case), case_id(case)
            assert all(len(row) == len(case["rows"][0]) for row in case["rows"]), case_id(case)
        else:
            assert case["outcome"] == "error", case_id(case)
            assert "rows" not in case, case_id(case)
            assert isinstance(case["line"], int), case_id(case)
            assert case["message"], case_id(case)


@pytest.mark.parametrize("via", ["path", "stdin"])
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_case(case: dict[str, Any], via: str, monkeypatch: pytest.MonkeyPatch) -> None:
    source = open_source(case, via, monkeypatch)
    if case["outcome"] == "ok":
        assert read_table(source, case["args"]) == case["rows"]
        return
    with pytest.raises(InputError) as caught:
        read_table(source, case["args"])
    error = caught.value
    assert error.source == ("<stdin>" if via == "stdin" else source)
    assert (error.line, error.column) == (case["line"], case["column"])
    assert case["message"] in error.message


@pytest.mark.parametrize("case", [c for c in CASES if c["outcome"] == "ok"], ids=case_id)
def test_row_lines_agree_between_file_and_stdin(
    case: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # From a UTF-8 path the lines come from a second scan; from stdin they are
    # recorded while reading. Both must agree, start after the header and increase.
    from_path = read_row_lines(open_source(case, "path", monkeypatch), case["args"])
    from_stdin = read_row_lines(open_source(case, "stdin", monkeypatch), case["args"])
    assert from_path == from_stdin
    assert list(from_path) == list(range(1, len(case["rows"])))
    lines = list(from_path.values())
    assert lines == sorted(set(lines))
    assert not lines or lines[0] >= 2


@pytest.mark.parametrize("case", [c for c in CASES if c["outcome"] == "error"], ids=case_id)
def test_errors_do_not_quote_data_values(case: dict[str, Any]) -> None:
    raw = (CORPUS / case["file"]).read_bytes()
    text = raw.decode(case["args"].get("encoding", "utf-8"), errors="replace")
    header, _, body = text.partition("\n")
    values = {v for v in re.split(r"[,;|\t\"\r\n]+", body) if len(v) >= 3}
    values -= set(re.split(r"[,;|\t\"\r\n]+", header))
    with pytest.raises(InputError) as caught:
        read_table(str(CORPUS / case["file"]), case["args"])
    assert not [v for v in values if v in str(caught.value)]
