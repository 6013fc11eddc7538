"""Validating records against a schema: accuracy, sufficiency and relevance.

:func:`validate_source` streams a file (CSV, NDJSON, Parquet) or an encrypted store in
chunks, converts each field to its declared type, and runs every rule of the schema
on every record (the rule definitions of :mod:`custrec.schema.rules`, run on polars by
:mod:`custrec.schema.batch`).
Counting is exact and never stops early; memory stays bounded (uniqueness keeps a set
of 8-byte hashes). A file's header is checked first (read through ``--map``; see
:mod:`custrec.mapping`). The report (:mod:`custrec.validation_report`) gives, per
rule, the number and share of failing records, its severity, and the first examples,
each with the physical line (files) or position (stores), the record's id, the field,
the value cut to 80 characters, the other fields the rule read and what was expected
(in words: :mod:`custrec.schema.expectations`). ``failures`` writes every failure,
one NDJSON line each, by record then rule, as the batches are checked.

Besides the rules written in the schema, every schema has built-in rules:
``<field>.type`` (a value that does not convert to the field's type; the other rules
still run on the other values), ``<field>.required``, ``<field>.unique``, and
``schema.unknown-columns`` (a strict schema refuses columns it does not declare).
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import re
import secrets
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from custrec.errors import UsageError
from custrec.progress import NO_PROGRESS, Progress
from custrec.schema.model import Field, Schema
from custrec.seen import SeenValues
from custrec.validation_report import (
    MESSAGE_CHARS,
    Example,
    RuleOutcome,
    ValidationReport,
    cut,
)

if TYPE_CHECKING:
    from custrec.store import Store

DEFAULT_EXAMPLES = 5
SPECIAL_WORDS = frozenset(
    {
        "health",
        "medical",
        "diagnosis",
        "disability",
        "religion",
        "religious",
        "faith",
        "belief",
        "ethnic",
        "ethnicity",
        "race",
        "racial",
        "biometric",
        "biometrics",
        "fingerprint",
        "genetic",
        "dna",
        "sexual",
        "sexuality",
        "orientation",
        "political",
        "politics",
    }
)
"""Words (whole words of a column name) that mark an undeclared column as a likely
special category of personal data (GDPR Art. 9); ``trade union`` too."""


def looks_special(column: str) -> bool:
    """``health_condition``, ``Religion``, ``tradeUnion`` yes; ``trace_id`` no."""
    import re

    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", column)
    words = [w for w in re.split(r"[^a-z]+", spaced.lower()) if w]
    pairs = {" ".join(pair) for pair in itertools.pairwise(words)}
    return bool(SPECIAL_WORDS.intersection(words)) or "trade union" in pairs


def _check_as_of(as_of: str | None) -> None:
    from custrec.schema.scalar import as_of_day

    try:
        as_of_day(as_of)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


# --- the engine ----------------------------------------------------------------------


@dataclass
class _Failure:
    outcome: RuleOutcome
    row: int
    record_id: str | None
    column: str | None
    value: object
    others: dict[str, object] = dataclasses.field(default_factory=dict)


class Validation:
    """State of one validation across batches: the rules run on each batch by
    :class:`custrec.schema.batch.BatchRules`; counts, examples, failures and the
    values seen (for uniqueness) are kept here."""

    def __init__(self, schema: Schema, examples: int, as_of: str | None) -> None:
        from custrec.schema.batch import BatchRules
        from custrec.schema.expectations import expectations, fields_read

        self.schema = schema
        self.examples = examples
        self.as_of = as_of
        self.outcomes: dict[str, RuleOutcome] = {}
        self.rows = 0
        self.failures: list[_Failure] = []
        self.keep_failures = False
        self.present: dict[str, int] = {}
        self.seen: dict[str, SeenValues] = {}
        self.seed = secrets.randbits(64)
        """The seed of the uniqueness hashes: drawn for each run (see :class:`SeenValues`)."""
        self.unknown: list[str] = []
        self.columns_seen: list[str] = []
        self._seen: set[str] = set()
        self.missing_columns: list[str] = []
        self.anonymised = 0
        """Records a purge anonymised (checked by their own rules)."""
        self._anonymised_rules: Any = None
        by_id = {rule.id: rule for rule in schema.all_rules()}
        for rule_id, expected in expectations(schema).items():
            rule = by_id.get(rule_id)
            if rule is None:  # a built-in rule: <field>.type, .required or .unique
                name, _, check = rule_id.rpartition(".")
                self._outcome(rule_id, check, name, expected)
                continue
            field = rule.reported_field
            read = fields_read(rule.check, rule.params, field)
            self.outcomes[rule.id] = RuleOutcome(
                id=rule.id,
                check=rule.check,
                field=field,
                severity=rule.severity,
                expected=cut(expected, MESSAGE_CHARS) or "",
                max_fail_pct=rule.max_fail_pct,
                reads=tuple(name for name in read if name != field),
            )
        if schema.strict:
            self._outcome(
                "schema.unknown-columns",
                "strict",
                None,
                "only the fields the schema declares",
            )
        self.engine = BatchRules(schema, as_of)
        # Failures are listed within a batch in the order of the rules (data-set rules
        # are counted at the end).
        self._order = list(expectations(schema, dataset=False))

    def _outcome(self, rule_id: str, check: str, column: str | None, expected: str) -> None:
        self.outcomes[rule_id] = RuleOutcome(
            id=rule_id, check=check, field=column, severity="error", expected=expected
        )

    def columns(self, names: Sequence[str]) -> None:
        """The input's columns (once, or again when an NDJSON key first appears)."""
        grew = False
        for name in names:
            if name in self._seen:  # sets: lists would make wide inputs quadratic
                continue
            grew = True
            self._seen.add(name)
            self.columns_seen.append(name)
            if name not in self.schema.fields:
                self.unknown.append(name)
        if self.schema.strict and self.unknown and grew:
            outcome = self.outcomes["schema.unknown-columns"]
            outcome.failed = len(self.unknown)
            outcome.out_of = len(self.columns_seen)
            outcome.detail = "undeclared columns: " + ", ".join(self.unknown)
            special = [c for c in self.unknown if looks_special(c)]
            if special:
                outcome.detail += (
                    "; these look like special categories of personal data, refused "
                    f"unless declared with a purpose and lawful basis: {', '.join(special)}"
                )
            outcome.detail = cut(outcome.detail, MESSAGE_CHARS)

    def chunk(self, batch: Any, ids: Sequence[str] | None) -> None:
        """Validate one Arrow batch of raw values (``ids``: the records' ids, when the
        batch is a store's)."""
        evaluated = self.engine.evaluate(batch, offset=self.rows)
        for name in evaluated.missing:
            if self.schema.fields[name].required and name not in self.missing_columns:
                self.missing_columns.append(name)
        for name, count in evaluated.present().items():
            self.present[name] = self.present.get(name, 0) + count
        for item in self.schema.fields.values():
            if item.unique:
                evaluated.add(f"{item.name}.unique", item.name, self._unique(item, evaluated))
        counts = evaluated.counts()
        for rule_id in self._order:
            if counts.get(rule_id):
                self._fail(rule_id, evaluated, counts[rule_id], ids)
        self.rows += evaluated.frame.height

    def _unique(self, item: Field, evaluated: Any) -> Any:
        """Where, in the batch, a value occurs again (earlier in it or in an earlier
        batch): a numpy mask. Match fields compare normal forms: email case and spaces,
        phone numbers in E.164 read in the record's country."""
        import numpy as np
        import polars as pl

        from custrec.schema import rules

        frame = evaluated.frame
        value = pl.col(rules.value_column(item.name))
        present = frame.select(value.is_not_null()).to_series()
        repeated = np.zeros(frame.height, dtype=bool)
        if not present.any():
            return repeated
        if item.name in self.schema.match_fields:
            hashes = match_keys(frame, item.name).filter(present).hash(seed=self.seed).to_numpy()
        else:
            hashes = frame.select(value.filter(value.is_not_null()).hash(seed=self.seed))
            hashes = hashes.to_series()
            hashes = hashes.to_numpy()
        earlier = self.seen.setdefault(item.name, SeenValues()).repeated(hashes)
        repeated[np.flatnonzero(present.to_numpy())[earlier]] = True
        return repeated

    def _fail(self, rule_id: str, evaluated: Any, count: int, ids: Sequence[str] | None) -> None:
        """Count ``count`` records failing ``rule_id`` and keep examples (every failure,
        for a failures file)."""
        outcome = self.outcomes[rule_id]
        outcome.failed += count
        limit = None if self.keep_failures else self.examples - len(outcome.examples)
        if limit is not None and limit <= 0:
            return
        rows = evaluated.failing_rows(rule_id, self._columns_of(outcome), limit)
        self._keep_rows(outcome, rows, ids)

    def _columns_of(self, outcome: RuleOutcome) -> list[str]:
        wanted = [self.schema.id_field]
        if outcome.field:
            wanted.append(outcome.field)
        return wanted + list(outcome.reads)

    def _keep_rows(self, outcome: RuleOutcome, rows: Any, ids: Sequence[str] | None) -> None:
        from custrec.schema.batch import ROW

        present = set(rows.columns)
        reads = [name for name in outcome.reads if name in present]
        column = outcome.field
        for record in rows.iter_rows(named=True):
            row = int(record[ROW])
            value = record.get(column) if column in present else None
            record_id: str | None
            if ids is not None:
                record_id = ids[row - self.rows]
            else:
                found = record.get(self.schema.id_field)
                record_id = None if found is None else str(found)
            self._keep(
                _Failure(
                    outcome,
                    row + 1,
                    record_id,
                    column,
                    value,
                    {name: record[name] for name in reads},
                )
            )

    def _keep(self, failure: _Failure) -> None:
        """A failure as an example while there are few, and in the failures file."""
        if len(failure.outcome.examples) < self.examples:
            failure.outcome.examples.append(_example(failure, None))
        if self.keep_failures:
            self.failures.append(failure)

    def anonymised_records(self, records: Sequence[Mapping[str, Any]], id_field: str) -> None:
        """Check records a purge anonymised against the anonymised-record rules
        (:mod:`custrec.anonymised`) instead of the schema's other rules."""
        from custrec.anonymised import RULES, AnonymisedRules

        if self._anonymised_rules is None:
            self._anonymised_rules = AnonymisedRules(self.schema, id_field)
            for rule_id, (check, expected) in RULES.items():
                self.outcomes[rule_id] = RuleOutcome(
                    id=rule_id, check=check, field=None, severity="error", expected=expected
                )
        for offset, record in enumerate(records):
            for problem in self._anonymised_rules.problems(record):
                outcome = self.outcomes[problem.rule]
                outcome.failed += 1
                self._keep(
                    _Failure(
                        outcome, self.rows + offset + 1, str(record.get(id_field)),
                        problem.field, problem.value,
                    )
                )  # fmt: skip
        self.rows += len(records)
        self.anonymised += len(records)

    def finish(self) -> None:
        for rule in self.schema.rules:
            if rule.check != "completeness":
                continue
            name = str(rule.params["field"])
            present = self.present.get(name, 0)
            outcome = self.outcomes[rule.id]
            minimum = float(rule.params["min_pct"])
            rows = self.rows - self.anonymised
            pct = 100.0 * present / rows if rows else 100.0
            outcome.detail = f"{pct:.2f}% of records have {name} (at least {minimum:g}% wanted)"
            # The records without a value fail; the rule holds while they are few enough.
            outcome.failed = rows - present
            outcome.out_of = rows if self.anonymised else None
            outcome.max_fail_pct = 100.0 - minimum
        for name in self.missing_columns:
            outcome = self.outcomes[f"{name}.required"]
            outcome.detail = f"the input has no column {name!r}"


def match_keys(frame: Any, name: str) -> Any:
    """The normal forms of match field ``name`` in an evaluated batch (a polars
    Series; null where there is no value), each computed once per distinct value
    (:func:`custrec.schema.batch.looked_up`): see :func:`match_key_expression`."""
    import narwhals as nw

    from custrec.schema.batch import looked_up

    lookups, key = match_key_expression(name, frame.columns)
    keyed = nw.from_native(looked_up(frame, lookups), eager_only=True)
    return nw.to_native(keyed.select(key.alias("\x1fmatch")).get_column("\x1fmatch"))


def match_key_expression(name: str, columns: Sequence[str]) -> tuple[list[Any], Any]:
    """The lookups (:class:`custrec.schema.rules.Lookup`) and the Narwhals expression
    of match field ``name``'s normal form on a frame of converted values with
    ``columns``: emails without case and surrounding spaces (vectorized for ASCII
    text, where lower case is the case folding), phone numbers in E.164 read in the
    record's country, other text as :func:`custrec.store.normalise.normalise_text`
    gives it."""
    import narwhals as nw

    from custrec.schema import rules
    from custrec.store.normalise import (
        COUNTRY_FIELD,
        is_email_field,
        is_phone_field,
        normalise_email,
        normalise_text,
    )

    column = f"\x1fmatch:{name}"
    value = nw.col(rules.value_column(name)).cast(nw.String)
    present = ~value.is_null()
    if is_phone_field(name):
        country = nw.lit("")
        if COUNTRY_FIELD in columns:
            given = nw.col(COUNTRY_FIELD).cast(nw.String).fill_null("")
            # A country holding U+0000 is no region (and would cut the key wrongly).
            unusable = given.str.contains("\x00", literal=True)
            country = nw.when(unusable).then(nw.lit("")).otherwise(given)
        lookup = rules.Lookup(
            column,
            nw.concat_str([country, nw.lit("\x00"), value]),
            rules.phone_match_key,
            present,
            None,
            "String",
            rules.phone_match_keys_many,
        )
        return [lookup], nw.col(column)
    if not is_email_field(name):
        return [rules.Lookup(column, value, normalise_text, present, None, "String")], nw.col(
            column
        )
    ascii_only = value.str.contains(r"^[\x00-\x7f]*$").fill_null(True)
    lookup = rules.Lookup(column, value, normalise_email, present & ~ascii_only, None, "String")
    simple = value.str.strip_chars(rules.PYTHON_WHITESPACE).str.to_lowercase()
    return [lookup], nw.when(ascii_only).then(simple).otherwise(nw.col(column))


def _example(failure: _Failure, line: int | None) -> Example:
    return Example(
        row=failure.row,
        line=line,
        record_id=failure.record_id,
        column=failure.column,
        value=cut(failure.value),
        expected=failure.outcome.expected,
        other_fields={k: cut(v) for k, v in failure.others.items()},
    )


# --- the gate of collect --------------------------------------------------------------


class SchemaGate:
    """The rules every record must pass on its own (types, required fields, field
    and cross-field checks of severity error without a tolerance; not uniqueness or
    dataset-wide rules), for ``collect`` and the KPI logs: the same rule definitions
    ``validate`` runs (:class:`custrec.schema.batch.BatchRules`)."""

    def __init__(self, schema: Schema, as_of: str | None = None) -> None:
        from custrec.schema.batch import BatchRules
        from custrec.schema.expectations import expectations

        _check_as_of(as_of)
        self.schema = schema
        self.engine = BatchRules(schema, as_of, chosen=schema.record_rules())
        self._messages = {
            rule_id: cut(f"rule {rule_id}: expected {words}", MESSAGE_CHARS) or ""
            for rule_id, words in expectations(schema).items()
        }

    def failures(self, batch: Any) -> dict[int, list[tuple[str, str | None, str]]]:
        """Position (0-based) -> (rule id, field, message) of the records that fail;
        ``batch`` is an Arrow batch or table, or a polars frame."""
        evaluated = self.engine.evaluate(batch)
        counts = evaluated.counts()
        out: dict[int, list[tuple[str, str | None, str]]] = {}
        for verdict in evaluated.verdicts:
            if not counts.get(verdict.rule_id):
                continue
            rows = evaluated.failing_rows(verdict.rule_id, (), None)
            message = self._messages[verdict.rule_id]
            for (row,) in rows.iter_rows():
                out.setdefault(int(row), []).append((verdict.rule_id, verdict.field, message))
        return {row: out[row] for row in sorted(out)}


# --- entry points --------------------------------------------------------------------


def validate_source(
    source: str,
    schema: Schema,
    *,
    store: Store | None = None,
    input_format: str | None = None,
    delimiter: str | None = None,
    encoding: str | None = None,
    examples: int = DEFAULT_EXAMPLES,
    failures: str | None = None,
    fail_on: str = "error",
    as_of: str | None = None,
    progress: Progress = NO_PROGRESS,
    inputs: Sequence[str | None] = (),
    mapping: Mapping[str, str] | None = None,
) -> ValidationReport:
    """Validate a file (``source``), or ``store`` when given, against ``schema``.

    ``failures`` (a path, or ``-`` for stdout) may not be the source, a key file, a
    store or one of ``inputs`` (other files the caller reads: its schema, key file).
    ``mapping`` (field -> column) reads a file's differently named columns. A file's
    header is checked first: a field whose column is missing while another spelling
    of it is there, or a required field without a column, is an :class:`InputError`
    naming the ``--map`` that reads it. ``progress`` counts the rows (records)
    checked."""
    if mapping and store is not None:
        raise UsageError("--map reads a file's columns; a store's fields have their names")
    if fail_on not in ("error", "warn"):
        raise UsageError("fail_on must be error or warn")
    _check_as_of(as_of)
    read = (source if store is None else str(store.path), *inputs)
    if failures is not None and failures != "-":
        from custrec.protected import refuse_protected

        refuse_protected(failures, read)  # now, not after the whole run
    run = Validation(schema, examples, as_of)
    run.keep_failures = failures is not None
    report = ValidationReport(
        source=source if store is None else str(store.path),
        source_kind="file" if store is None else "store",
        schema=schema.name,
        fail_on=fail_on,
        failures_file=failures,
        as_of=as_of,
    )
    from custrec.io import regrouped

    reader = None
    if store is None:
        from custrec.io import open_table, source_name

        report.source = source_name(source)
        header = _Header(report.source, schema, mapping or {})
        with (
            open_table(
                source, input_format=input_format, delimiter=delimiter, encoding=encoding
            ) as reader,
            _failures_out(failures, read, reader) as written,
        ):
            headed = bool(reader.columns)  # CSV and Parquet: known before any row
            if headed:
                line = 1 if reader.format == "csv" else None  # Parquet has no lines
                run.columns(header.check(reader.columns, final=True, line=line))
            progress.start(None, "rows")
            for batch in regrouped(header.renamed(part) for part in reader):
                run.columns(batch.schema.names)
                _chunk(run, batch, None)
                written(run.failures)
                progress.advance(batch.num_rows)
            if not headed:  # NDJSON: every key is known only now
                header.check(header.seen, final=True, line=None)
    else:
        run.columns([name for name, _ in store.columns])
        id_field = store.settings.id_field
        progress.start(store.count(), "records")
        with _failures_out(failures, read, None) as written:
            for batch in regrouped(store.iter_batches(action="validate", system=True)):
                progress.advance(batch.num_rows)
                batch = _anonymised_apart(run, batch, id_field)
                ids = [str(v) for v in batch.column(id_field).to_pylist()]
                _chunk(run, batch, ids)
                written(run.failures)
    progress.close()
    run.finish()
    lines: dict[int, int] = {}
    if reader is not None:
        wanted = {e.row for o in run.outcomes.values() for e in o.examples if e.row}
        lines = reader.row_lines(sorted(wanted)) if wanted else {}
    _reported(run, report, lines)
    return report


@contextmanager
def _failures_out(
    path: str | None, read: Sequence[str | None], reader: Any
) -> Iterator[Callable[[list[_Failure]], None]]:
    """Write the failures file ``path`` (or stdout for ``-``) as the batches are
    checked: the function yielded takes a batch's failures (and empties the list),
    so memory holds one batch's, not every failure of the input; each batch's are
    written by record, then rule, as the engines order the whole file. ``reader``,
    the file's, gives the lines. A CSV file read by Arrow has its lines only once read
    whole: its failures go first to a private file (mode 0600 in a 0700 directory,
    removed at the end) and get their lines on the way out, in one pass. The file
    appears whole at ``path`` when the block completes, and not at all otherwise."""
    if path is None:
        yield lambda failures: None
        return
    later = reader is not None and reader.format == "csv" and not reader.lines_recorded
    if not later:
        with _sink(path, read) as write:

            def now(failures: list[_Failure]) -> None:
                ordered = _ordered(failures)
                lines = reader.row_lines([f.row for f in ordered]) if reader else {}
                for failure in ordered:
                    write(_failure_text(failure, lines))

            yield now
        return
    import shutil

    from custrec.engines import private_directory

    place = private_directory()
    try:
        name = os.path.join(place, "failures.ndjson")
        with open(os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as pending:

            def first(failures: list[_Failure]) -> None:
                pending.writelines(f"{f.row} {_failure_text(f, {})}" for f in _ordered(failures))

            yield first
        with open(name, encoding="utf-8") as pending, _sink(path, read) as write:
            held = [""]

            def rows() -> Iterator[int]:
                for entry in pending:
                    row, held[0] = entry.split(" ", 1)
                    yield int(row)

            for line in reader.lines_in_order(rows()):
                text = held[0]
                if line is not None:
                    text = text.replace('{"line": null', f'{{"line": {line}', 1)
                write(text)
    finally:
        shutil.rmtree(place, ignore_errors=True)


def _ordered(failures: list[_Failure]) -> list[_Failure]:
    """``failures`` by record, then rule; the list is emptied."""
    ordered = sorted(failures, key=lambda f: (f.row, f.outcome.id))
    failures.clear()
    return ordered


@contextmanager
def _sink(path: str, read: Sequence[str | None]) -> Iterator[Callable[[str], object]]:
    """A function writing text to ``path`` (put in place whole when the block
    completes, mode 0600: values are personal data) or to stdout (``-``)."""
    from custrec.atomic import atomic_file
    from custrec.errors import reporting_no_space

    if path == "-":
        with reporting_no_space("<stdout>", stream=True):
            yield sys.stdout.write
            sys.stdout.flush()
        return
    with atomic_file(path, mode=0o600, inputs=read) as handle:
        yield lambda text: handle.write(text.encode("utf-8"))


def validate_on_engine(
    paths: Sequence[str],
    schema: Schema,
    engine: Any,
    *,
    store: Store | None = None,
    input_format: str | None = None,
    delimiter: str | None = None,
    encoding: str | None = None,
    examples: int = DEFAULT_EXAMPLES,
    fail_on: str = "error",
    as_of: str | None = None,
    mapping: Mapping[str, str] | None = None,
    failures: str | None = None,
    inputs: Sequence[str | None] = (),
    progress: Progress = NO_PROGRESS,
) -> ValidationReport:
    """Validate the files ``paths`` (CSV or Parquet, read as ``engine`` reads them:
    paths, directories, globs) on a lazy ``engine`` (:mod:`custrec.engines`): the
    same rules as :func:`validate_source`, as one query over all the records
    (:mod:`custrec.schema.lazy`), with the same counts and examples. Examples name
    the line where the input is one local CSV file.

    What only custrec reads, ``store`` when given (decrypted batch by batch; its
    records a purge anonymised are checked here by the anonymised-record rules, as
    :func:`validate_source` does), standard input (``-``, read with ``delimiter``
    and ``encoding``) and NDJSON files, is streamed into the engine
    (:meth:`custrec.engines.Engine.read_batches`): examples and failures then name
    the same positions and lines as :func:`validate_source`'s. ``progress`` counts
    the records streamed.

    ``failures`` writes every failure as :func:`validate_source` does (a local path,
    or ``-`` for stdout), written by the engine in one query and put in place
    whole; on Spark it may also be a URI of the cluster's storage (``scheme://``),
    where Spark's workers write it as a directory of part files (not for a store,
    whose anonymised records are checked here)."""
    import narwhals as nw

    from custrec.engines import read_here
    from custrec.schema import lazy
    from custrec.schema.batch import ROW

    if fail_on not in ("error", "warn"):
        raise UsageError("fail_on must be error or warn")
    if mapping and store is not None:
        raise UsageError("--map reads a file's columns; a store's fields have their names")
    _check_as_of(as_of)
    if store is not None:
        paths = [str(store.path)]
    read = (*paths, *inputs)
    if failures is not None and failures != "-" and not _is_uri(failures):
        from custrec.protected import refuse_protected

        refuse_protected(failures, read)  # now, not after the whole run
    elif failures is not None and _is_uri(failures) and not hasattr(engine, "ndjson_directory"):
        raise UsageError(f"--engine {engine.name} writes --failures to a local file or -")
    elif failures is not None and _is_uri(failures) and store is not None:
        raise UsageError("a store's failures are written to a local file or -, not a URI")
    run = Validation(schema, examples, as_of)
    source = ", ".join(paths)
    report = ValidationReport(
        source=source,
        source_kind="file" if store is None else "store",
        schema=schema.name,
        fail_on=fail_on,
        failures_file=failures,
        as_of=as_of,
    )
    # The rules compare instants in UTC and read --as-of as a UTC day: a session left
    # in a reporting zone by an earlier report (one engine, several runs) is set back.
    engine.set_zone("UTC")
    streamed: _Streamed | None = None
    if store is not None or any(read_here(path, input_format) for path in paths):
        streamed = _Streamed(run, paths, store, input_format, delimiter, encoding, progress)
        frame = streamed.frame(engine)
        source = ", ".join(streamed.names)
        report.source = source
    else:
        frame = engine.read(paths, input_format, ROW)
    columns = [c for c in frame.collect_schema().names() if c != ROW]
    header = _Header(source, schema, mapping or {})
    named = header.check(columns, final=True, line=None)
    if mapping:
        frame = frame.rename(dict(zip(columns, named, strict=True)))
    run.columns(named)
    unique = []
    for item in schema.fields.values():
        if not item.unique or item.name not in named:
            continue
        if item.name in schema.match_fields:
            lookups, key = match_key_expression(item.name, named)
        else:
            lookups, key = [], nw.col(_value_column(item.name))
        unique.append((f"{item.name}.unique", key, lookups))
    with engine.reading(source):  # a malformed record is met when the query runs
        evaluated, verdicts, missing = lazy.evaluate(run.engine, frame, engine, unique=unique)
    for name in missing:
        if schema.fields[name].required:
            run.missing_columns.append(name)
    shown = [schema.id_field]
    for outcome in run.outcomes.values():
        shown += run._columns_of(outcome)
    with engine.reading(source):
        kept = lazy.kept(evaluated, engine, verdicts, list(schema.fields), shown)
        counts, present, rows, found = lazy.summarise(
            kept, verdicts, list(schema.fields), shown, examples
        )
    run.present = present
    anonymised, run.rows = run.anonymised, 0
    numbers = (
        engine.record_numbers(evaluated, ROW, found.get_column(ROW).to_list()) if len(found) else {}
    )
    if streamed is not None:
        numbers = {row: streamed.position(number) for row, number in numbers.items()}
    for rule_id in run._order:
        if not counts.get(rule_id):
            continue
        outcome = run.outcomes[rule_id]
        outcome.failed += counts[rule_id]
        mine = found.filter(found.get_column("rule") == rule_id).sort(ROW)
        mine = mine.with_columns(
            mine.get_column(ROW).replace_strict(numbers, return_dtype=mine.get_column(ROW).dtype)
            - 1
        )
        run._keep_rows(outcome, mine, None)
    run.rows = rows + anonymised
    run.finish()
    lines: dict[int, int] = {}
    local = len(paths) == 1 and os.path.isfile(paths[0])
    wanted = sorted({e.row for o in run.outcomes.values() for e in o.examples if e.row})
    lined = (
        streamed is None
        and local
        and (input_format or "csv") == "csv"
        and not _is_parquet(paths[0])
    )
    if lined and wanted:
        lines = _csv_lines(paths[0], wanted)
    elif streamed is not None and wanted:
        lines = streamed.lines(wanted)
    _reported(run, report, lines)
    if failures is not None:
        with engine.reading(source):
            _engine_failures(
                kept,
                engine,
                run,
                counts,
                rows,
                failures,
                read,
                paths[0] if lined else None,
                streamed,
            )
    return report


class _Streamed:
    """Records custrec reads itself for an engine (standard input, NDJSON files, a
    store decrypted batch by batch), streamed into it, and what is needed to name
    them as :func:`validate_source` does: the lines of one input that has them, and
    a store record's position. The records a purge anonymised are checked here (by
    :meth:`Validation.anonymised_records`) and not sent; :func:`validate_source`
    numbers them first within each batch of :func:`custrec.io.regrouped`, so a
    record's position is its number among those sent plus the anonymised records of
    its batch and the batches before."""

    def __init__(
        self,
        run: Validation,
        paths: Sequence[str],
        store: Store | None,
        input_format: str | None,
        delimiter: str | None,
        encoding: str | None,
        progress: Progress,
    ) -> None:
        self.run = run
        self.paths = paths
        self.store = store
        self.input_format = input_format
        self.delimiter = delimiter
        self.encoding = encoding
        self.progress = progress
        self.names: list[str] = list(paths)
        self.columns: list[str] = []
        self.current = paths[0] if paths else "<stdin>"
        self.reader: Any = None  # the last file's reader: its lines, when it is the only one
        self.starts: list[int] = [1]  # number (1-based, among those sent) of each batch's first
        self.before: list[int] = [0]  # the anonymised records up to that batch, inclusive
        self.sent = 0
        self.anonymised: list[_Failure] = []
        """The anonymised records' failures, by record then rule (the file's order)."""

    def frame(self, engine: Any) -> Any:
        from custrec.engines import read_streamed
        from custrec.schema.batch import ROW

        try:
            return read_streamed(engine, self._batches(), self.columns, ROW, lambda: self.current)
        finally:
            self.progress.close()

    def _batches(self) -> Iterator[Any]:
        from custrec.io import open_table, regrouped, source_name

        self.progress.start(None if self.store is None else self.store.count(), "records")
        if self.store is not None:
            self.columns[:] = [name for name, _ in self.store.columns]
            id_field = self.store.settings.id_field
            kept = self.run.keep_failures
            self.run.keep_failures = True  # the anonymised records' failures, for the file
            try:
                for batch in regrouped(self.store.iter_batches(action="validate", system=True)):
                    self.progress.advance(batch.num_rows)
                    failed = len(self.run.failures)
                    self.run.rows = self.sent + self.run.anonymised  # the positions so far
                    batch = _anonymised_apart(self.run, batch, id_field)
                    self.anonymised += _ordered(self.run.failures[failed:])
                    del self.run.failures[failed:]
                    yield from self._sent(batch)
            finally:
                self.run.keep_failures = kept
            return
        for index, path in enumerate(self.paths):
            self.current = source_name(path)
            self.names[index] = self.current
            with open_table(
                path,
                input_format=self.input_format,
                delimiter=self.delimiter,
                encoding=self.encoding,
            ) as reader:
                self.reader = reader
                self.columns[:] = list(reader.columns)
                for batch in reader:
                    self.progress.advance(batch.num_rows)
                    yield from self._sent(batch)

    def _sent(self, batch: Any) -> Iterator[Any]:
        if self.run.anonymised != self.before[-1]:
            self.starts.append(self.sent + 1)
            self.before.append(self.run.anonymised)
        self.sent += batch.num_rows
        if batch.num_rows:
            yield batch

    def position(self, number: int) -> int:
        """The position (1-based) :func:`validate_source` gives the record sent as
        ``number``."""
        import bisect

        return number + self.before[bisect.bisect_right(self.starts, number) - 1]

    def positions(self, first: int, count: int) -> list[int]:
        return [self.position(number) for number in range(first, first + count)]

    @property
    def renumbered(self) -> bool:
        """Whether a position differs from its number (anonymised records were met)."""
        return self.before[-1] > 0

    def line_chunks(self, rows: int, size: int) -> Iterator[tuple[int, list[int]]]:
        """(index of the first, their lines) of the ``rows`` records sent, ``size``
        at a time (see :meth:`lines`)."""
        for first in range(0, rows, size):
            wanted = range(first + 1, min(first + size, rows) + 1)
            found = self.lines(wanted)
            yield first, [found[row] for row in wanted]

    @property
    def lined(self) -> bool:
        """Whether the input was one file custrec recorded the lines of (NDJSON,
        standard input)."""
        reader = self.reader
        return len(self.paths) == 1 and reader is not None and bool(reader.lines_recorded)

    def lines(self, rows: Sequence[int]) -> dict[int, int]:
        """The lines of ``rows`` (1-based), when :attr:`lined`."""
        if not self.lined:
            return {}
        found: dict[int, int] = self.reader.row_lines(rows)
        return found


_NUMBER, _LINE, _POSITION = "\x1fnumber", "\x1fline", "\x1fposition"
LINE_CHUNK = 262_144
"""Record lines sent to an engine at a time, for a CSV file whose records span lines."""


def _engine_failures(
    kept: Any,
    engine: Any,
    run: Validation,
    counts: Mapping[str, int],
    rows: int,
    failures: str,
    read: Sequence[str | None],
    csv_path: str | None,
    streamed: _Streamed | None = None,
) -> None:
    """The failures file of :func:`validate_on_engine`, with the fields of
    :func:`_write_failures` (sorted by record, then rule): the records of ``kept``
    (:func:`custrec.schema.lazy.kept`) failing each rule, numbered and (``csv_path``:
    one local CSV file; or the lines ``streamed`` recorded) given their lines in the
    query. A store's records are given their positions, and the failures of its
    anonymised records (checked while ``streamed``) are merged in by position."""
    import shutil

    import narwhals as nw

    from custrec.engines import Column, Part, private_directory
    from custrec.io import count_lines, csv_record_lines
    from custrec.schema.batch import ROW, fail_column

    have = set(kept.collect_schema().names())
    frame = engine.numbered(kept, ROW, _NUMBER)
    line: Column | None = None
    by_number: Iterable[tuple[int, list[int]]] | None = None
    if csv_path is not None:
        line = Column(_LINE)
        if count_lines(csv_path) == rows + 1:  # one line per record: record r on line r + 1
            frame = frame.with_columns((nw.col(_NUMBER) + 1).alias(_LINE))
        else:
            by_number = _chunks(csv_record_lines(csv_path), LINE_CHUNK)
    elif streamed is not None and streamed.lined:
        line = Column(_LINE)
        by_number = streamed.line_chunks(rows, LINE_CHUNK)
    if by_number is not None:
        parts = (
            {_NUMBER: list(range(first + 1, first + 1 + len(chunk))), _LINE: chunk}
            for first, chunk in by_number
        )
        table = engine.loaded_table(parts, {_NUMBER: "int64", _LINE: "int64"})
        if table is None:
            line = None
        else:
            frame = frame.join(table, on=_NUMBER, how="left")
    number = Column(_NUMBER)
    if streamed is not None and streamed.renumbered:
        number = Column(_POSITION)
        parts = (
            {_NUMBER: list(range(first, first + size)), _POSITION: streamed.positions(first, size)}
            for first in range(1, rows + 1, LINE_CHUNK)
            for size in [min(LINE_CHUNK, rows + 1 - first)]
        )
        table = engine.loaded_table(parts, {_NUMBER: "int64", _POSITION: "int64"})
        if table is not None:
            frame = frame.join(table, on=_NUMBER, how="left")
    id_field = run.schema.id_field
    picked: list[tuple[str, Part]] = []
    for rule_id in run._order:
        outcome = run.outcomes[rule_id]
        if fail_column(rule_id) not in have:
            continue
        column = outcome.field
        picked.append(
            (
                rule_id,
                Part(
                    fail_column(rule_id),
                    {
                        "line": line,
                        "row": number,
                        "id": Column(id_field) if id_field in have else None,
                        "column": column,
                        "rule": rule_id,
                        "severity": outcome.severity,
                        "value": Column(column) if column is not None and column in have else None,
                    },
                    {"other_fields": {n: Column(n) for n in outcome.reads if n in have}},
                ),
            )
        )
    order = ["row", "rule"]
    failing = [part for rule_id, part in picked if counts.get(rule_id)]
    if _is_uri(failures):  # nothing failed: a directory without records
        engine.ndjson_directory(frame, failing or [part for _, part in picked[:1]], order, failures)
        return
    extra = [] if streamed is None else streamed.anonymised
    if not failing:  # nothing failed: an empty file, as the polars engine writes
        _write_failures(failures, extra, {}, read)
        return
    place = private_directory()
    try:
        into = os.path.join(place, "failures.ndjson")
        engine.ndjson(frame, failing, order, into)
        if extra:
            into = _merged(into, extra, os.path.join(place, "merged.ndjson"))
        _copy_out(into, failures, read)
    finally:
        shutil.rmtree(place, ignore_errors=True)


def _merged(path: str, extra: Sequence[_Failure], into: str) -> str:
    """The failures file ``path`` (one JSON object per line, sorted by row) with the
    failures ``extra`` (in the file's order, none on a row of ``path``) merged in by
    row, written to the new file ``into``."""
    import heapq
    import json

    with open(path, encoding="utf-8") as given, open(into, "w", encoding="utf-8") as out:
        theirs = ((int(json.loads(text)["row"]), text) for text in given)
        ours = ((failure.row, _failure_text(failure, {})) for failure in extra)
        out.writelines(text for _, text in heapq.merge(theirs, ours, key=lambda x: x[0]))
    return into


def _chunks(values: Iterable[int], size: int) -> Iterator[tuple[int, list[int]]]:
    """(index of the first, the values) of ``values``, ``size`` at a time."""
    first = 0
    iterator = iter(values)
    while chunk := list(itertools.islice(iterator, size)):
        yield first, chunk
        first += len(chunk)


def _copy_out(made: str, failures: str, read: Sequence[str | None]) -> None:
    """The file ``made`` to ``failures`` (a path, put in place whole; or - for stdout)."""
    import shutil

    from custrec.atomic import atomic_file
    from custrec.errors import reporting_no_space

    with open(made, "rb") as source:
        if failures == "-":
            with reporting_no_space("<stdout>", stream=True):
                sys.stdout.flush()
                shutil.copyfileobj(source, sys.stdout.buffer)
                sys.stdout.buffer.flush()
            return
        with atomic_file(failures, mode=0o600, inputs=read) as handle:
            shutil.copyfileobj(source, handle)


def _is_uri(path: str) -> bool:
    """Whether ``path`` names a place on an engine's storage (``scheme://...``)."""
    return re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", path) is not None


def _reported(run: Validation, report: ValidationReport, lines: Mapping[int, int]) -> None:
    """The outcomes of ``run`` into ``report``, their examples naming their ``lines``
    (record number -> line)."""
    for outcome in run.outcomes.values():
        outcome.examples = [
            dataclasses.replace(e, line=lines.get(e.row) if e.row else None)
            for e in outcome.examples
        ]
    report.rows = run.rows
    report.outcomes = list(run.outcomes.values())


def _value_column(name: str) -> str:
    from custrec.schema import rules

    return rules.value_column(name)


def _is_parquet(path: str) -> bool:
    return path.lower().endswith((".parquet", ".pq"))


def _csv_lines(path: str, rows: Sequence[int]) -> dict[int, int]:
    """The line of each of ``rows`` (1-based records) of a CSV file, read by custrec's
    own reader as far as the last of them (quoted fields may span lines)."""
    from custrec.io import open_table

    last = max(rows)
    with open_table(path, input_format="csv") as reader:
        for _ in reader:
            if reader.rows_read >= last:
                break
        return reader.row_lines(rows)


class _Header:
    """A file's columns against the schema, read through ``mapping`` (field -> column):
    judged once all are known, before any record's result is reported."""

    def __init__(self, source: str, schema: Schema, mapping: Mapping[str, str]) -> None:
        self.source = source
        self.schema = schema
        self.mapping = mapping
        self.renames = {column: field for field, column in mapping.items()}
        self.seen: list[str] = []
        self._seen: set[str] = set()

    def check(self, columns: Sequence[str], *, final: bool, line: int | None = 1) -> list[str]:
        """The columns under their field names; an :class:`InputError` (at ``line``,
        the header's) when the mapping or the header cannot be used."""
        from custrec.errors import InputError
        from custrec.mapping import check_mapping, header_problems

        check_mapping(self.source, columns, self.mapping, final=final)
        named = [self.renames.get(c, c) for c in columns]
        if final:
            required = [f.name for f in self.schema.fields.values() if f.required]
            problem = header_problems(self.schema.fields, required, named)
            if problem:
                raise InputError(self.source, problem, line=line)
        return named

    def renamed(self, batch: Any) -> Any:
        """``batch`` with its columns under their field names."""
        names = batch.schema.names
        for name in names:
            if name not in self._seen:  # a set: NDJSON keys may first appear on any line
                self._seen.add(name)
                self.seen.append(name)
        if not self.mapping:
            return batch
        return batch.rename_columns(self.check(names, final=False))


def _anonymised_apart(run: Validation, batch: Any, id_field: str) -> Any:
    """A store batch (with its system columns) without the records a purge anonymised,
    which are checked by the anonymised-record rules first; the system columns go."""
    import pyarrow.compute as pc

    from custrec.anonymised import ANONYMISED_SOURCE

    fields = [n for n in batch.schema.names if not n.startswith("_")]
    if "_source" in batch.schema.names:
        marked = pc.fill_null(pc.starts_with(batch.column("_source"), ANONYMISED_SOURCE), False)
        if pc.any(marked).as_py():
            run.anonymised_records(batch.filter(marked).select(fields).to_pylist(), id_field)
            batch = batch.filter(pc.invert(marked))
    return batch.select(fields)


def _chunk(run: Validation, batch: Any, ids: list[str] | None) -> None:
    run.chunk(batch, ids)


def _write_failures(
    path: str, failures: Sequence[_Failure], lines: dict[int, int], read: Sequence[str | None]
) -> None:
    """Every failure, one JSON object per line (mode 0600: values are personal data)."""
    with _sink(path, read) as write:
        for failure in failures:
            write(_failure_text(failure, lines))


def _failure_text(failure: _Failure, lines: Mapping[int, int]) -> str:
    """One line of a failures file."""
    from custrec.render import json_text

    record = {
        "line": lines.get(failure.row),
        "row": failure.row,
        "id": failure.record_id,
        "column": failure.column,
        "rule": failure.outcome.id,
        "severity": failure.outcome.severity,
        "value": _json_value(failure.value),
        "other_fields": {k: _json_value(v) for k, v in failure.others.items()},
    }
    return json_text(record, ensure_ascii=False) + "\n"


def _json_value(value: object) -> object:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)
