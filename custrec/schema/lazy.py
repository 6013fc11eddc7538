"""A schema's rules as one query over the whole input, on a lazy engine (DuckDB,
PySpark; :mod:`custrec.engines`): the same Narwhals expressions
:class:`custrec.schema.batch.BatchRules` evaluates on polars batches.

The query converts every field, joins the results of the per-value library calls
(:class:`custrec.schema.rules.Lookup`: their distinct keys are fetched, computed here
once each, and sent back as a table), marks each record failing each rule, and marks
a value of a unique field that an earlier record (in file order) already holds. From
it, one aggregation counts the failures per rule and the values per field, and one
query fetches the first failing records of every rule (a union of one top-N per
rule), so the examples are the ones the local engine reports.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import narwhals as nw

from custrec.schema import rules
from custrec.schema.batch import ROW, BatchRules, Verdict, computed_many, fail_column

_KEY, _VALUE = "\x1fkey", "\x1fvalue"
_TYPES = {"Boolean": "bool", "Int64": "int64", "String": "string"}


@dataclass
class LazyResult:
    """What the query found: failing records per rule, records with a value per field,
    records in all, and the first failing records of each rule (polars rows of
    :data:`ROW`, the rule id and the raw columns asked for)."""

    counts: dict[str, int]
    present: dict[str, int]
    rows: int
    examples: Any
    verdicts: list[Verdict] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


KEY_CHUNK = 65_536
"""Distinct keys computed and sent back at a time: the driver holds one chunk, not all
the distinct values of a large input."""


def looked_up(frame: Any, lookups: Iterable[rules.Lookup], engine: Any, base: Any) -> Any:
    """``frame`` with a column per lookup: its function once per distinct key, the
    keys streamed from the engine in chunks and the results joined back. The keys
    are read from ``base`` (the kept records ``frame`` derives from), not from
    ``frame``: a lookup's key reads converted values, never another lookup's result,
    so the query of its keys need not run the joins of the lookups before it (a
    join of millions of keys each, held at once)."""
    for lookup in lookups:
        keyed = frame.with_columns(lookup.key.alias(_KEY))
        source = base.with_columns(lookup.key.alias(_KEY))
        wanted = source.filter(lookup.when.fill_null(False)).select(_KEY).unique()
        kind = _TYPES[lookup.dtype]
        dtype = getattr(nw, lookup.dtype)

        def results(keys: list[str], lookup: rules.Lookup = lookup) -> list[Any]:
            return computed_many(lookup, keys)

        found = engine.looked_up_table(
            wanted, _KEY, results, {_KEY: "string", _VALUE: kind}, KEY_CHUNK
        )
        if found is not None:
            keyed = keyed.join(found, on=_KEY, how="left")
            value = nw.col(_VALUE)
        else:
            value = nw.lit(None, dtype)
        chosen = (
            nw.when(lookup.when.fill_null(False))
            .then(value)
            .otherwise(nw.lit(lookup.default, dtype))
        )
        frame = keyed.with_columns(chosen.cast(dtype).alias(lookup.name))
        frame = frame.drop(*[c for c in (_KEY, _VALUE) if c in frame.collect_schema().names()])
        if found is not None:
            frame = engine.after_join(frame)
    return frame


def evaluate(
    engine_rules: BatchRules,
    frame: Any,
    engine: Any,
    *,
    unique: Sequence[tuple[str, Any, Sequence[rules.Lookup]]] = (),
    keep: Sequence[str] | None = None,
) -> tuple[Any, list[Verdict], list[str]]:
    """``frame`` (a Narwhals LazyFrame with :data:`ROW`) with a fail column per
    verdict; ``unique`` adds, per (rule id, key expression, the lookups it reads), a
    verdict failing the records whose non-null key an earlier record holds. With
    ``keep`` (the columns the caller reads besides :data:`ROW` and the fail columns;
    those the records have) and no lookup, the result holds only those."""
    plan = engine_rules.expressions(dict(frame.collect_schema()), engine.name)
    for stage in plan.stages:
        frame = frame.with_columns(*stage)
    verdicts = list(plan.verdicts)
    keys = {_unique_column(rule_id): key for rule_id, key, _ in unique}
    lookups = list(engine_rules.context.lookups.values())
    if keep is not None and not lookups and not any(used for _, _, used in unique):
        # Only what the caller and the unique checks read is kept: the conversions'
        # intermediate columns (five to ten per field: ~170 columns for an
        # interaction log, 80 kept) would be written to the engine's table and
        # carried through every query after it.
        frame = frame.with_columns(*plan.masks).with_columns(
            *[key.alias(name) for name, key in keys.items()]
        )
        have = set(frame.collect_schema().names())
        fails = [fail_column(v.rule_id) for v in verdicts]
        wanted = [c for c in dict.fromkeys(keep) if c in have and c != ROW]
        base = frame = engine.materialise(frame.select(ROW, *wanted, *fails, *keys))
        keyed = True
    else:
        # Each lookup reads its keys from the converted records, then the verdicts:
        # one pass over the input, kept, instead of one per lookup.
        base = frame = engine.materialise(frame)
        frame = looked_up(frame, lookups, engine, base)
        frame = frame.with_columns(*plan.masks)
        keyed = False
    for rule_id, key, used in unique:
        name = _unique_column(rule_id)
        first_name, count = name + ":first", name + ":n"
        if not keyed:
            frame = looked_up(frame, used, engine, base).with_columns(key.alias(name))
        # The records whose key an earlier record holds: the keys held more than once
        # (a grouping, which spills), their records, all but the first of each. Kept:
        # usually a few, and then the engine knows it. Joined to the records by their
        # number, the records stream past that small table; joined by key, as a whole
        # table of first records, they were spilled in full (100M records: 40 GB).
        keyed_rows = frame.filter(~nw.col(name).is_null()).select(ROW, name)
        shared = (
            keyed_rows.group_by(name)
            .agg(nw.col(ROW).min().alias(first_name), nw.len().alias(count))
            .filter(nw.col(count) > 1)
            .select(name, first_name)
        )
        fail = fail_column(rule_id)
        repeated = engine.materialise(
            keyed_rows.join(shared, on=name, how="inner")
            .filter(nw.col(ROW) != nw.col(first_name))
            .select(ROW, nw.lit(True).alias(fail))
        )
        frame = (
            frame.join(repeated, on=ROW, how="left")
            .with_columns(nw.col(fail).fill_null(False))
            .drop(name)
        )
        verdicts.append(Verdict(rule_id, rule_id.rpartition(".")[0]))
    return frame, verdicts, plan.missing


def _unique_column(rule_id: str) -> str:
    return "\x1fu:" + rule_id.replace(".", "\x1d")


def kept(
    frame: Any,
    engine: Any,
    verdicts: Sequence[Verdict],
    fields: Sequence[str],
    columns: Sequence[str],
) -> Any:
    """The verdicts of ``frame`` (from :func:`evaluate`), the emptiness of ``fields``
    and the raw ``columns`` (as text, those the input has) computed once and kept by
    ``engine``: what :func:`summarise` and a failures file read."""
    have = set(frame.collect_schema().names())
    shown = [c for c in dict.fromkeys(columns) if c in have]
    return engine.materialise(
        frame.select(
            nw.col(ROW),
            *[nw.col(fail_column(v.rule_id)) for v in verdicts],
            *[nw.col(rules.empty_column(n)) for n in fields],
            *[nw.col(c).cast(nw.String) for c in shown],
        )
    )


def summarise(
    frame: Any,
    verdicts: Sequence[Verdict],
    fields: Sequence[str],
    columns: Sequence[str],
    limit: int,
) -> tuple[dict[str, int], dict[str, int], int, Any]:
    """The failure counts per rule, the values per field of ``fields``, the records,
    and (a polars frame) the first ``limit`` failing records of each failing rule:
    :data:`ROW`, ``rule`` and the raw ``columns`` of those it has. ``frame`` is
    :func:`kept`'s."""
    import polars as pl

    have = set(frame.collect_schema().names())
    shown = [c for c in dict.fromkeys(columns) if c in have]
    sums = [nw.col(fail_column(v.rule_id)).cast(nw.Int64).sum().alias(v.rule_id) for v in verdicts]
    sums += [
        (~nw.col(rules.empty_column(n))).cast(nw.Int64).sum().alias(f"\x1fp:{n}") for n in fields
    ]
    sums.append(nw.len().alias("\x1frows"))
    totals = frame.select(*sums).collect().to_polars().row(0, named=True)
    counts = {v.rule_id: int(totals[v.rule_id] or 0) for v in verdicts}
    present = {n: int(totals[f"\x1fp:{n}"] or 0) for n in fields}
    rows = int(totals["\x1frows"] or 0)
    failing = [v for v in verdicts if counts[v.rule_id]]
    if not failing or limit <= 0:
        return counts, present, rows, pl.DataFrame()
    # One query for all rules: a union of each failing rule's first records in file
    # order (a top-N per rule, which needs no more memory than N rows per rule).
    names = {fail_column(v.rule_id): v.rule_id for v in failing}
    long = nw.concat(
        [
            frame.filter(nw.col(name))
            .select(ROW, nw.lit(name).alias("rule"), *shown)
            .sort(ROW)
            .head(limit)
            for name in names
        ],
        how="vertical",
    )
    picked = long.collect()
    examples = picked.to_polars().with_columns(
        pl.col("rule").replace_strict(names, return_dtype=pl.String)
    )
    return counts, present, rows, examples
