"""Outputs are valid JSON: NaN and infinities are written as null (NDJSON writer,
JSON renderers)."""

from __future__ import annotations

import json
from pathlib import Path

from custrec.io import open_row_writer
from custrec.render import Summary, Table, json_text, render

from .conftest import InvokeCli

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
    source = tmp_path / "scores.ndjson"
    source.write_text(
        '{"customer_id":"C-1","score":NaN}\n{"customer_id":"C-2","score":1e400}\n'
        '{"customer_id":"C-3","score":-Infinity}\n{"customer_id":"C-4","score":2.5}\n'
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
