"""A schema as a pandera ``DataFrameSchema`` on pandera's polars backend.

The checks are the rule definitions of :mod:`custrec.schema.rules`, run by the batch
engine (:class:`custrec.schema.batch.BatchRules`): one pandera check per rule (the
built-in ``<field>.type``, ``<field>.required`` and ``<field>.unique`` rules too),
each reading its column of one evaluation of the frame. ``custrec validate`` runs the
same engine itself, batch by batch, to count exactly over all records and to name
lines and ids; this compiled form is for code that wants a pandera schema::

    import polars as pl
    from custrec.schema import load_schema
    from custrec.schema.compile import to_pandera

    frame = pl.read_csv("customers.csv", infer_schema=False)
    to_pandera(load_schema("schemas/customer.yaml")).validate(frame, lazy=True)

Columns are read as text (the conversion to each field's type is the ``type`` rule);
uniqueness compares the match fields' normal forms, as ``validate`` does. Data-set
rules (completeness) have no per-record form and are left out.
"""

from __future__ import annotations

from typing import Any

from custrec.schema.model import Schema


def to_pandera(schema: Schema, *, as_of: str | None = None) -> Any:
    """The ``pandera.polars.DataFrameSchema`` of ``schema`` (a polars ``DataFrame``
    of text columns validates; a ``LazyFrame`` checks its columns only, as pandera
    does for lazy frames)."""
    import pandera.polars as pa
    import polars as pl

    from custrec.schema.batch import ROW, BatchRules, fail_column
    from custrec.schema.expectations import expectations

    engine = BatchRules(schema, as_of)
    memo: dict[str, Any] = {}

    def evaluated(data: Any) -> pl.DataFrame:
        """One evaluation per validated frame, shared by its checks (pandera hands
        every check of one validation the same immutable lazy frame)."""
        held = memo.get("frame")
        if held is None or held[0] is not data.lazyframe:
            frame = data.lazyframe.collect()
            memo["frame"] = (data.lazyframe, _with_unique(schema, engine.evaluate(frame).frame))
        result: pl.DataFrame = memo["frame"][1]
        return result

    def check(rule_id: str, message: str) -> Any:
        def passes(data: Any) -> pl.LazyFrame:
            frame = evaluated(data)
            if fail_column(rule_id) not in frame.columns:  # a field without a column
                return frame.lazy().select(pl.col(ROW).is_not_null())
            return frame.lazy().select(~pl.col(fail_column(rule_id)))

        return pa.Check(passes, name=rule_id, error=f"{rule_id}: {message}")

    checks = [
        check(rule_id, words) for rule_id, words in expectations(schema, dataset=False).items()
    ]
    columns = {
        item.name: pa.Column(pl.String, nullable=True, required=item.required)
        for item in schema.fields.values()
    }
    return pa.DataFrameSchema(
        columns,
        checks=checks,
        strict=schema.strict,
        name=schema.name,
        description=schema.description,
    )


def _with_unique(schema: Schema, frame: Any) -> Any:
    """``frame`` with a fail column per unique field: later records with a value an
    earlier one has (match fields compared in their normal forms)."""
    from custrec.schema import rules
    from custrec.schema.batch import fail_column
    from custrec.validate import match_keys

    added = []
    for item in schema.fields.values():
        if not item.unique:
            continue
        value = frame.get_column(rules.value_column(item.name))
        if item.name in schema.match_fields:
            value = match_keys(frame, item.name)
        repeated = value.is_not_null() & ~value.is_first_distinct()
        added.append(repeated.alias(fail_column(f"{item.name}.unique")))
    return frame.with_columns(added) if added else frame
