"""Records as the store takes and gives them: cleaning, type checks, and results."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from custrec.errors import CheckFailedError

Value = str | int | float | bool | None
VERSION_COLUMN = "_version"
SOURCE_COLUMN = "_source"
COLLECTED_COLUMN = "_collected_at"
SYSTEM_COLUMNS: tuple[tuple[str, str], ...] = (
    (VERSION_COLUMN, "int64"),
    (SOURCE_COLUMN, "string"),
    (COLLECTED_COLUMN, "string"),
)
"""Columns the store keeps beside each record's fields: its version and its
provenance (where it was collected from, and when). Field names starting with ``_``
are reserved for them."""


INTEGER_TEXT = r"[+-]?[0-9]+"
DECIMAL_TEXT = r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?"
TRUE_TEXTS, FALSE_TEXTS = ("true", "1"), ("false", "0")
"""How typed values are written as text (case-insensitive for true/false): what
``collect``, ``update`` and the schema checks accept, and nothing else."""
EXPECTED = {
    "int64": "an integer (e.g. 42)",
    "float64": "a number (e.g. 4.5)",
    "bool": "true or false (or 1/0)",
    "string": "text",
}
"""What a value of each column type looks like, for messages."""


def convert_text(value: str, kind: str) -> Value:
    """A text value in a column of type ``kind``; ``ValueError`` says what was expected."""
    if kind == "string":
        return value
    if kind == "bool":
        lowered = value.lower()
        if lowered in TRUE_TEXTS:
            return True
        if lowered in FALSE_TEXTS:
            return False
    elif kind == "int64" and re.fullmatch(INTEGER_TEXT, value) and -(2**63) <= int(value) < 2**63:
        return int(value)
    elif kind == "float64" and re.fullmatch(DECIMAL_TEXT, value):
        return float(value)
    raise ValueError(EXPECTED[kind])


class Record(NamedTuple):
    """One customer record: its id, its version (1 on creation, +1 per change), its
    fields, and its provenance: the source it was collected from and when."""

    id: str
    version: int
    data: dict[str, Value]
    source: str | None = None
    collected_at: str | None = None


def infer_type(value: Value) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    return "string"


_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "int64": (int,),
    "float64": (float, int),
    "bool": (bool,),
}
_INT64 = range(-(2**63), 2**63)


def check_types(rows: Sequence[Mapping[str, Value]], columns: Sequence[tuple[str, str]]) -> None:
    """Refuse a value that does not fit its column's type (no silent conversion)."""
    id_field = columns[0][0]
    for name, kind in columns:
        allowed = _PYTHON_TYPES[kind]
        for row in rows:
            value = row.get(name)
            if value is None:
                continue
            wrong = (isinstance(value, bool) and kind != "bool") or not isinstance(value, allowed)
            if not wrong and kind == "int64" and value not in _INT64:
                wrong = True
            if wrong:
                raise CheckFailedError(
                    f"record {row.get(id_field)}: field {name!r} must be {kind}, "
                    f"got {type(value).__name__}"
                )


def clean_record(record: Mapping[str, Value], id_field: str, position: int) -> dict[str, Value]:
    clean: dict[str, Value] = {}
    for name, value in record.items():
        if not isinstance(name, str) or not name or name.startswith("_"):
            raise CheckFailedError(
                f"record {position}: field name {name!r} is not allowed (names starting "
                "with '_' are reserved)"
            )
        if value is not None and not isinstance(value, str | int | float | bool):
            raise CheckFailedError(
                f"record {position}: field {name!r} must be text, a number, true/false or "
                f"empty, not {type(value).__name__}"
            )
        clean[name] = value
    record_id = clean.get(id_field)
    if record_id is None or not str(record_id).strip():
        raise CheckFailedError(f"record {position}: the id field {id_field!r} is missing")
    clean[id_field] = str(record_id)
    return clean


def by_id(
    rows: Sequence[Mapping[str, Value]], id_field: str
) -> dict[str, Mapping[str, Value] | None]:
    return {str(row[id_field]): row for row in rows}


def to_record(row: Mapping[str, Value], id_field: str) -> Record:
    data = {k: v for k, v in row.items() if not k.startswith("_")}
    source, collected = row.get(SOURCE_COLUMN), row.get(COLLECTED_COLUMN)
    return Record(
        id=str(row[id_field]),
        version=int(row.get(VERSION_COLUMN) or 0),
        data=data,
        source=str(source) if source is not None else None,
        collected_at=str(collected) if collected is not None else None,
    )
