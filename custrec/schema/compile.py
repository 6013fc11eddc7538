"""A schema as a plain pandera ``DataFrameSchema``, for use with pandera alone.

``custrec validate`` runs the same registered checks itself, chunk by chunk, to count
exactly and to name lines and ids; this compiled form is for code that wants a pandera
schema (``schema.validate(df, lazy=True)``), and is the reference the validation
benchmark compares against.
"""

from __future__ import annotations

from typing import Any

from custrec.schema.checks import pandera_check
from custrec.schema.model import Schema
from custrec.types import PANDAS_DTYPES


def to_pandera(schema: Schema, *, as_of: str | None = None) -> Any:
    """The pandera ``DataFrameSchema`` of ``schema``: a column per field (type coerced,
    nullable unless required, unique when unique), the field checks on their columns'
    frame, the row rules as frame checks, and strictness. Data-set rules
    (completeness) have no pandera form and are left out."""
    import pandera.pandas as pa

    columns = {}
    checks = []
    for item in schema.fields.values():
        columns[item.name] = pa.Column(
            PANDAS_DTYPES[item.type],
            nullable=not item.required,
            unique=item.unique,
            coerce=item.type != "string",
            required=item.required,
        )
    for rule in schema.all_rules():
        if rule.spec.scope == "dataset":
            continue
        params: dict[str, Any] = dict(rule.params)
        if rule.field is not None:
            params["field"] = rule.field
        if rule.check in ("date_range", "freshness"):
            params["as_of"] = as_of
        checks.append(pandera_check(rule.check, params))
    return pa.DataFrameSchema(
        columns,
        checks=checks,
        strict=schema.strict,
        name=schema.name,
        description=schema.description,
    )
