"""A schema's rules on a batch of records, on polars: the local engine of the rule
definitions in :mod:`custrec.schema.rules`.

:class:`BatchRules` takes an Arrow record batch (or a polars frame), converts each
field to its type and evaluates every field and row rule in one pass. The result
(:class:`Evaluated`) is the batch with, for each built-in and written rule, a boolean
column that is true where the record fails; ``validate`` counts those and picks its
examples from them, ``collect`` and the KPI logs refuse the records they mark.

Per-value library calls (:class:`custrec.schema.rules.Lookup`) are made once per
distinct value of the batch, and only where the rule's vectorized pre-check leaves
the answer open.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import narwhals as nw
import polars as pl

from custrec.schema import rules
from custrec.schema import workers as workers_module
from custrec.schema.model import Rule, Schema

_FAIL = "\x1ff:"
ROW = "\x1frow"
"""The column of each record's 0-based position (from the ``offset`` evaluated at)."""


def fail_column(rule_id: str) -> str:
    """The column that is true where a record fails ``rule_id`` (without the rule id's
    dots, which Spark reads in a column name as a struct's fields)."""
    return f"{_FAIL}{rule_id.replace('.', chr(0x1D))}"


@dataclass(frozen=True)
class Verdict:
    """A rule of the evaluation (a written rule, or a built-in ``<field>.type`` or
    ``<field>.required``): its id and the field it reports (None for a row rule
    without one)."""

    rule_id: str
    field: str | None


@dataclass
class Evaluated:
    """A batch after :meth:`BatchRules.evaluate`: ``frame`` holds the raw columns, the
    converted values (:func:`rules.value_column`), the empty masks and a fail column
    per verdict (:func:`fail_column`), in ``verdicts`` order."""

    frame: pl.DataFrame
    verdicts: list[Verdict]
    missing: list[str]
    """Fields the batch has no column for."""
    empty_names: Sequence[str] = ()
    """The fields whose values are counted by :meth:`present`."""

    def counts(self) -> dict[str, int]:
        """Failing records per rule."""
        if not self.verdicts:
            return {}
        sums = self.frame.select(
            pl.col(fail_column(v.rule_id)).sum().alias(v.rule_id) for v in self.verdicts
        )
        return {k: int(v or 0) for k, v in sums.row(0, named=True).items()}

    def present(self) -> dict[str, int]:
        """Records with a value, per field."""
        names = list(self.empty_names)
        if not names:
            return {}
        sums = self.frame.select(
            (~pl.col(rules.empty_column(n))).sum().alias(n) for n in names
        ).row(0, named=True)
        return {k: int(v or 0) for k, v in sums.items()}

    def add(self, rule_id: str, field: str | None, failing: Any) -> None:
        """A verdict worked out outside the engine (``failing``: a boolean mask of the
        batch's records), counted and listed like the others."""
        self.verdicts.append(Verdict(rule_id, field))
        self.frame = self.frame.with_columns(pl.Series(fail_column(rule_id), failing))

    def failing_rows(self, rule_id: str, columns: Sequence[str], limit: int | None) -> pl.DataFrame:
        """The 0-based positions (``row``) and ``columns`` of the records failing
        ``rule_id``, at most ``limit`` of them (all when None)."""
        chosen = self.frame.filter(pl.col(fail_column(rule_id)))
        if limit is not None:
            chosen = chosen.head(limit)
        return chosen.select(self.row_columns(columns))

    def row_columns(self, columns: Sequence[str]) -> list[str]:
        """:data:`ROW` and those of ``columns`` the batch has, once each."""
        return [ROW, *dict.fromkeys(c for c in columns if c in self.frame.columns)]


class BatchRules:
    """The field and row rules of ``schema`` (``chosen``: those of them to run; all
    when None) with the built-in type and required rules, on batches."""

    def __init__(
        self,
        schema: Schema,
        as_of: str | None = None,
        *,
        chosen: Sequence[Rule] | None = None,
    ) -> None:
        self.schema = schema
        self.context = rules.Context(schema, as_of, ns=nw)
        picked = chosen if chosen is not None else schema.all_rules()
        self.rules = [r for r in picked if r.spec.scope in ("field", "row")]
        self._passes = [(r, rules.rule_expression(self.context, r)) for r in self.rules]
        self._plans: dict[tuple[tuple[str, str], ...], RulePlan] = {}

    def evaluate(self, batch: Any, *, offset: int = 0) -> Evaluated:
        """The verdicts on ``batch`` (an Arrow record batch or table, or a polars
        frame); ``row`` numbers its records from ``offset``."""
        names = batch.schema.names if not isinstance(batch, pl.DataFrame) else batch.columns
        wanted = [n for n in names if n in self.schema.fields]  # not the undeclared ones
        if isinstance(batch, pl.DataFrame):
            native = batch.select(wanted)
        else:
            converted = pl.from_arrow(batch.select(wanted))
            assert isinstance(converted, pl.DataFrame)
            native = converted
        rows = batch.height if isinstance(batch, pl.DataFrame) else batch.num_rows
        if wanted:
            native = native.with_row_index(ROW)
        else:  # no declared column: the rows still count
            native = pl.DataFrame({ROW: pl.int_range(0, rows, eager=True, dtype=pl.UInt32)})
        if offset:
            native = native.with_columns(pl.col(ROW) + offset)
        plan = self._plan(native.schema)
        lazy = native.lazy()  # the stages as one query: polars plans them together
        for stage in plan.stages:
            lazy = _with_columns(lazy, stage)
        if self.context.lookups:  # computed on the converted values, then the verdicts
            frame = nw.from_native(lazy.collect(), eager_only=True)
            frame = _looked_up(frame, self.context.lookups.values())
            lazy = nw.to_native(frame).lazy()
        return Evaluated(
            _with_columns(lazy, plan.masks).collect(),
            list(plan.verdicts),
            plan.missing,
            empty_names=list(self.schema.fields),
        )

    def _plan(self, schema: pl.Schema) -> RulePlan:
        """The conversion stages and the verdicts for a batch of column types ``schema``
        (made once per set of column types)."""
        key = tuple((name, str(dtype)) for name, dtype in schema.items())
        made = self._plans.get(key)
        if made is not None:
            return made
        frame = nw.from_native(pl.DataFrame(schema=schema), eager_only=True)
        planned = self.expressions(frame.schema)
        made = self._plans[key] = RulePlan(
            stages=[_native(frame, stage) for stage in planned.stages],
            masks=_native(frame, planned.masks),
            verdicts=planned.verdicts,
            missing=planned.missing,
        )
        return made

    def expressions(self, schema: Mapping[str, Any], dialect: str = "polars") -> RulePlan:
        """The conversion stages and the verdict masks, as Narwhals expressions, for
        columns of the Narwhals types ``schema``: what every engine evaluates
        (``dialect``: the engine, for the one format whose spelling differs)."""
        missing = [n for n in self.schema.fields if n not in schema]
        stages = rules.Stages(nw, dialect)
        for item in self.schema.fields.values():
            dtype: Any = schema.get(item.name, nw.String)
            raw = nw.col(item.name) if item.name in schema else nw.lit(None, nw.String)
            rules.conversion(stages, item.name, item.type, raw, dtype)
        verdicts: list[Verdict] = []
        masks: list[nw.Expr] = []
        for item in self.schema.fields.values():
            if item.type != "string" and item.name not in missing:
                bad = nw.col(rules.bad_column(item.name))
                verdicts.append(Verdict(f"{item.name}.type", item.name))
                masks.append(bad.alias(fail_column(f"{item.name}.type")))
            if item.required:
                empty = nw.col(rules.empty_column(item.name))
                verdicts.append(Verdict(f"{item.name}.required", item.name))
                masks.append(empty.alias(fail_column(f"{item.name}.required")))
        for rule, passes in self._passes:
            verdicts.append(Verdict(rule.id, rule.reported_field))
            masks.append((~passes).alias(fail_column(rule.id)))
        return RulePlan(
            stages=[list(stage.values()) for stage in stages.stages if stage],
            masks=masks,
            verdicts=tuple(verdicts),
            missing=missing,
        )


@dataclass(frozen=True)
class RulePlan:
    """A batch's conversion stages and verdict masks: Narwhals expressions, or their
    native polars translations (see :func:`_native`)."""

    stages: list[list[Any]]
    masks: list[Any]
    verdicts: tuple[Verdict, ...]
    missing: list[str]


_TRANSLATION = "_to_compliant_expr"
"""Narwhals' (unpublished) method that translates an expression for a backend."""


def _native(frame: nw.DataFrame[Any], exprs: list[nw.Expr]) -> list[Any]:
    """The polars expressions of Narwhals ``exprs`` on a polars ``frame``.

    Narwhals translates an expression each time a frame method is given it (about
    60 ms for the stages of one batch of a 20-field schema, as much as evaluating
    131,072 records); translated once, the stages of every batch reuse them. There is
    no public call for the translation: this is what ``DataFrame.with_columns`` does
    (narwhals 2.x), and a test holds the result to Narwhals' own evaluation. A Narwhals
    without that call gets the expressions back as they are, and each batch is then
    evaluated by Narwhals itself (:func:`_with_columns`): slower, never wrong."""
    namespace = frame.__narwhals_namespace__()
    try:
        # Polars broadcasts a scalar itself (Narwhals' broadcast() is the identity there).
        translated: list[Any] = [getattr(expr, _TRANSLATION)(namespace) for expr in exprs]
        natives = [compliant.native for compliant in translated]
    except (AttributeError, TypeError):
        return list(exprs)
    if not all(isinstance(native, pl.Expr) for native in natives):
        return list(exprs)
    return natives


def _with_columns(lazy: pl.LazyFrame, exprs: list[Any]) -> pl.LazyFrame:
    """``lazy`` with the columns of ``exprs``: polars expressions, or Narwhals ones
    (see :func:`_native`)."""
    if any(isinstance(expr, nw.Expr) for expr in exprs):
        return nw.to_native(nw.from_native(lazy).with_columns(*exprs))
    return lazy.with_columns(exprs)


PARALLEL_KEYS = 5_000
"""Distinct keys from which a lookup's calls are shared among worker processes."""


def computed(function: Callable[[str], Any], keys: Sequence[str]) -> list[Any]:
    """``function(key)`` for each of ``keys``; many keys are shared among worker
    processes (:mod:`custrec.schema.workers`) when ``function`` is a module-level
    function of custrec (sent by name)."""
    count = workers_module.workers()
    name = getattr(function, "__qualname__", "<lambda>")
    module = getattr(function, "__module__", "") or ""
    if count < 2 or len(keys) < PARALLEL_KEYS or "<" in name or "." in name:
        return [function(key) for key in keys]
    if not module.startswith("custrec."):
        return [function(key) for key in keys]
    # In sorted order, a key goes to the same worker each time it is asked for (a
    # number's validity, then its match form): that worker's parse cache holds it.
    order = sorted(range(len(keys)), key=keys.__getitem__)
    found = _pool(count).map(function, [keys[i] for i in order])
    results: list[Any] = [None] * len(keys)
    for place, value in zip(order, found, strict=True):
        results[place] = value
    return results


def computed_many(lookup: rules.Lookup, keys: Sequence[str]) -> list[Any]:
    """``lookup.function(key)`` for each of ``keys``: by its column form
    (``lookup.many``) where it has one, by the function for the keys that form
    leaves open."""
    if lookup.many is None or not keys:
        return computed(lookup.function, keys)
    results = list(lookup.many(keys))
    open_places = [place for place, result in enumerate(results) if result is None]
    if open_places:
        rest = computed(lookup.function, [keys[place] for place in open_places])
        for place, result in zip(open_places, rest, strict=True):
            results[place] = result
    return results


_POOLS: dict[int, workers_module.Pool] = {}


def _pool(count: int) -> workers_module.Pool:
    """The worker processes of this run (stopped when the interpreter exits)."""
    pool = _POOLS.get(count)
    if pool is None:
        import atexit

        pool = _POOLS[count] = workers_module.Pool(count)
        atexit.register(pool.close)
    return pool


def looked_up(frame: pl.DataFrame, lookups: Sequence[rules.Lookup]) -> pl.DataFrame:
    """A polars ``frame`` with a column per lookup (:class:`custrec.schema.rules.Lookup`),
    each computed once per distinct key."""
    native: pl.DataFrame = nw.to_native(_looked_up(nw.from_native(frame, eager_only=True), lookups))
    return native


def _looked_up(frame: nw.DataFrame[Any], lookups: Any) -> nw.DataFrame[Any]:
    """``frame`` with a column per lookup: its function once per distinct key."""
    for lookup in lookups:
        keys = frame.select(lookup.key.alias("k"), lookup.when.alias("w"))
        distinct = keys.filter(nw.col("w")).get_column("k").unique().drop_nulls().to_list()
        results = computed_many(lookup, distinct)
        dtype = getattr(nw, lookup.dtype)
        found = (
            lookup.key.replace_strict(distinct, results, default=None, return_dtype=dtype)
            if distinct
            else nw.lit(None, dtype)
        )
        value = (
            nw.when(lookup.when.fill_null(False))
            .then(found)
            .otherwise(nw.lit(lookup.default, dtype))
        )
        frame = frame.with_columns(value.alias(lookup.name))
    return frame
