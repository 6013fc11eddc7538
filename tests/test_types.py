"""custrec.types: the one vocabulary of value types, and its maps to Arrow and pandas."""

from __future__ import annotations

import subprocess
import sys

import pyarrow as pa
import pytest

from custrec import types
from custrec.schema import FIELD_TYPES

from .conftest import REPO


@pytest.mark.parametrize("kind", types.COLUMN_TYPES)
def test_a_column_type_goes_to_arrow_and_back(kind: str) -> None:
    arrow = types.arrow_type(kind)
    assert types.column_type_of_arrow(arrow) == kind
    assert types.ARROW_NAMES[str(arrow)] == kind  # the store's exact-type check agrees


def test_arrow_types_of_other_widths_are_kept_in_the_wide_column_types() -> None:
    assert types.column_type_of_arrow(pa.int32()) == types.INT64
    assert types.column_type_of_arrow(pa.float32()) == types.FLOAT64
    assert types.column_type_of_arrow(pa.large_string()) == types.STRING
    assert types.column_type_of_arrow(pa.date32()) == types.STRING
    assert str(pa.int32()) not in types.ARROW_NAMES  # the store converts those first


def test_each_field_type_has_a_column_type_and_a_pandas_dtype() -> None:
    assert FIELD_TYPES == types.FIELD_TYPES
    assert set(types.PANDAS_DTYPES) == set(types.FIELD_TYPES)
    assert {f: types.column_type(f) for f in types.FIELD_TYPES} == {
        "string": "string",
        "integer": "int64",
        "number": "float64",
        "boolean": "bool",
        "date": "string",
        "datetime": "string",
    }


def test_an_unknown_column_type_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="unknown column type 'int'"):
        types.arrow_type("int")


def test_the_vocabulary_loads_without_pyarrow() -> None:
    probe = "import sys, custrec.types; print('pyarrow' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert out.stdout.strip() == "False"
