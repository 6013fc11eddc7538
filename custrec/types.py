"""The one vocabulary of value types: the column types the store keeps and the
writers write, the field types a schema declares, and how each maps to Arrow and to
pandas.

A column holds ``string``, ``int64``, ``float64`` or ``bool`` (:data:`COLUMN_TYPES`):
the store's columns, the typed columns of Parquet output, and the types readers
convert to. A schema's fields are ``string``, ``integer``, ``number``, ``boolean``,
``date`` or ``datetime`` (:data:`FIELD_TYPES`, the words of the schema format); each is
kept in the column type :func:`column_type` gives (dates and times as ISO 8601 text).

pyarrow is imported only by the functions that return Arrow types: the light
commands import this module without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "ARROW_NAMES", "BOOL", "COLUMN_TYPES", "FIELD_TYPES", "FLOAT64", "INT64", "PANDAS_DTYPES",
    "STRING",
    "arrow_type", "column_type", "column_type_of_arrow",
]  # fmt: skip

STRING: Final = "string"
INT64: Final = "int64"
FLOAT64: Final = "float64"
BOOL: Final = "bool"
COLUMN_TYPES: Final = (STRING, INT64, FLOAT64, BOOL)
"""The types of a column: in the store, in typed output (Parquet), after reading."""

ARROW_NAMES: Final = {"string": STRING, "int64": INT64, "double": FLOAT64, "bool": BOOL}
"""Arrow's names (``str(data_type)``) of the exact Arrow types a column type is kept in:
what the store accepts without converting."""

FIELD_TYPES: Final = ("string", "integer", "number", "boolean", "date", "datetime")
"""The types a schema's field declares (the words of the schema format)."""

_COLUMN_OF_FIELD = {"integer": INT64, "number": FLOAT64, "boolean": BOOL}

PANDAS_DTYPES: Final = {
    "string": "str",
    "integer": "Int64",
    "number": "Float64",
    "boolean": "boolean",
    "date": "datetime64[ns, UTC]",
    "datetime": "datetime64[ns, UTC]",
}
"""The pandas dtype of each field type (the pandera schema's columns)."""


def column_type(field_type: str) -> str:
    """The column type a field of ``field_type`` is kept in: integers, numbers and
    true/false typed; text, dates and times as text."""
    return _COLUMN_OF_FIELD.get(field_type, STRING)


def arrow_type(kind: str) -> pa.DataType:
    """The Arrow type of column type ``kind``."""
    import pyarrow as pa

    types = {STRING: pa.string(), INT64: pa.int64(), FLOAT64: pa.float64(), BOOL: pa.bool_()}
    try:
        return types[kind]
    except KeyError:
        raise ValueError(f"unknown column type {kind!r}; expected one of {COLUMN_TYPES}") from None


def column_type_of_arrow(data_type: pa.DataType) -> str:
    """The column type that holds values of Arrow type ``data_type``: integers as
    ``int64``, floating point as ``float64``, true/false as ``bool``, anything else as
    text."""
    import pyarrow as pa

    if pa.types.is_boolean(data_type):
        return BOOL
    if pa.types.is_integer(data_type):
        return INT64
    if pa.types.is_floating(data_type):
        return FLOAT64
    return STRING
