"""The chunk layout: pure-Python and Arrow views of the same bytes agree."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custrec.errors import IntegrityError
from custrec.store.chunkcodec import Chunk, encode

from .conftest import REPO

COLUMNS = [("id", "string"), ("n", "int64"), ("x", "float64"), ("ok", "bool"), ("t", "string")]
SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("n", pa.int64()),
        ("x", pa.float64()),
        ("ok", pa.bool_()),
        ("t", pa.string()),
    ]
)

rows_strategy = st.lists(
    st.fixed_dictionaries(
        {
            "id": st.text(min_size=1, max_size=8),
            "n": st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1)),
            "x": st.one_of(st.none(), st.floats(allow_nan=False)),
            "ok": st.one_of(st.none(), st.booleans()),
            "t": st.one_of(st.none(), st.text(max_size=40)),
        }
    ),
    max_size=70,
)


@settings(max_examples=60, deadline=None)
@given(rows=rows_strategy)
def test_python_and_arrow_read_back_the_rows(rows: list[dict[str, object]]) -> None:
    chunk = Chunk(encode(rows, COLUMNS))  # type: ignore[arg-type]
    names = [name for name, _ in COLUMNS]
    assert chunk.rows == len(rows)
    assert chunk.records(names) == rows
    assert chunk.to_arrow(SCHEMA).to_pylist() == rows
    if rows:
        wanted = {str(rows[-1]["id"])}
        assert chunk.records_where(names, "id", wanted) == [r for r in rows if r["id"] in wanted]


def test_columns_missing_from_an_older_chunk_read_as_null() -> None:
    chunk = Chunk(encode([{"id": "a"}], [("id", "string")]))
    assert chunk.records(["id", "later"]) == [{"id": "a", "later": None}]
    assert chunk.to_arrow(pa.schema([("id", pa.string()), ("later", pa.int64())])).to_pylist() == [
        {"id": "a", "later": None}
    ]


@pytest.mark.parametrize("cut", [0, 3, 11, 40])
def test_a_damaged_layout_is_an_integrity_error(cut: int) -> None:
    payload = encode([{"id": "a", "n": 1}], [("id", "string"), ("n", "int64")])
    with pytest.raises(IntegrityError, match="layout is damaged"):
        Chunk(payload[:cut])


POINT_PATH = """
import sys
from custrec.store import KeySource, open_store
with open_store(sys.argv[1], KeySource.from_key_file(sys.argv[2])) as store:
    store.get("C-1")
    store.find("email", "A@example.com")
    store.update("C-1", set_fields={"email": "b@example.com"})
    store.count()
heavy = sorted(m for m in ("pyarrow", "numpy", "pandas", "pandera") if m in sys.modules)
print(",".join(heavy))
"""


def test_point_access_imports_no_dataframe_library(tmp_path: Path) -> None:
    from custrec.keyfile import new_key_file
    from custrec.store import KeySource, create_store

    key = new_key_file(tmp_path / "k.key").path
    with create_store(tmp_path / "s.crec", KeySource.from_key_file(key)) as store:
        store.put([{"customer_id": "C-1", "email": "a@example.com"}])
    proc = subprocess.run(
        [sys.executable, "-c", POINT_PATH, str(tmp_path / "s.crec"), str(key)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.stdout.strip() == ""


@settings(max_examples=40, deadline=None)
@given(rows=rows_strategy)
def test_single_values_match_whole_columns(rows: list[dict[str, object]]) -> None:
    chunk = Chunk(encode(rows, COLUMNS))  # type: ignore[arg-type]
    for name, _ in COLUMNS:
        assert [chunk.value(name, i) for i in range(len(rows))] == chunk.values(name)
