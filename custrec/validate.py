"""Validating records against a schema: accuracy, sufficiency and relevance.

:func:`validate_source` streams a file (CSV, NDJSON, Parquet) or an encrypted store in
chunks, converts each field to its declared type, and runs every rule of the schema
on every record (the checks are pandera checks, see :mod:`custrec.schema.checks`).
Counting is exact and never stops early; memory stays bounded (uniqueness keeps a set
of 8-byte hashes). A file's header is checked first (read through ``--map``; see
:mod:`custrec.mapping`). The report (:mod:`custrec.validation_report`) gives, per
rule, the number and share of failing records, its severity, and the first examples,
each with the physical line (files) or position (stores), the record's id, the field,
the value cut to 80 characters, the other fields the rule read and what was expected
(in words: :mod:`custrec.schema.expectations`). ``failures`` writes every failure,
one NDJSON line each.

Besides the rules written in the schema, every schema has built-in rules:
``<field>.type`` (a value that does not convert to the field's type; the other rules
still run on the other values), ``<field>.required``, ``<field>.unique``, and
``schema.unknown-columns`` (a strict schema refuses columns it does not declare).
"""

from __future__ import annotations

import dataclasses
import itertools
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from custrec.errors import UsageError
from custrec.progress import NO_PROGRESS, Progress
from custrec.schema.model import Field, Rule, Schema
from custrec.schema.registry import CHECKS
from custrec.validation_report import (
    MESSAGE_CHARS,
    Example,
    RuleOutcome,
    ValidationReport,
    cut,
)

if TYPE_CHECKING:
    import pandas as pd

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


class SeenValues:
    """The values seen so far, as sorted 8-byte hashes: memory stays at 8 bytes per
    distinct value however many are checked (a collision is about 1 in 10^11 for a
    million values)."""

    def __init__(self) -> None:
        self._hashes: Any = None

    def repeated(self, values: pd.Series) -> Any:
        """For each of ``values`` (text, no missing ones): whether it was seen before,
        earlier in ``values`` or in an earlier call; the others are remembered."""
        import numpy as np
        import pandas as pd

        hashes = pd.util.hash_pandas_object(values, index=False).to_numpy()
        earlier = pd.Series(hashes).duplicated().to_numpy().copy()
        seen = self._hashes
        if seen is not None and len(seen):
            places = np.searchsorted(seen, hashes).clip(max=len(seen) - 1)
            earlier |= seen[places] == hashes  # a binary search per value
        # Insert only the values not seen before, in order: one copy of the set at a time.
        new = np.sort(hashes[~earlier])
        self._hashes = new if seen is None else np.insert(seen, np.searchsorted(seen, new), new)
        return earlier


class _Run:
    """State of one validation across chunks."""

    def __init__(
        self, schema: Schema, examples: int, as_of: str | None, *, gate: bool = False
    ) -> None:
        from custrec.schema.checks import pandera_check
        from custrec.schema.expectations import describe_rule, describe_type, fields_read

        self.gate = gate
        self.schema = schema
        self.examples = examples
        self.as_of = as_of
        self.outcomes: dict[str, RuleOutcome] = {}
        self.rows = 0
        self.failures: list[_Failure] = []
        self.keep_failures = False
        self.present: dict[str, int] = {}
        self.seen: dict[str, SeenValues] = {}
        self.unknown: list[str] = []
        self.columns_seen: list[str] = []
        self._seen: set[str] = set()
        self.missing_columns: list[str] = []
        self.anonymised = 0
        """Records a purge anonymised (checked by their own rules)."""
        self._anonymised_rules: Any = None
        for item in schema.fields.values():
            if item.type != "string":
                self._outcome(f"{item.name}.type", "type", item.name, describe_type(item.type))
            if item.required:
                self._outcome(f"{item.name}.required", "required", item.name, "a value")
            if item.unique:
                self._outcome(
                    f"{item.name}.unique", "unique", item.name, "a value no other record has"
                )
        self.checks: list[tuple[Rule, Any]] = []
        types = {name: item.type for name, item in schema.fields.items()}
        for rule in schema.all_rules():
            spec = CHECKS[rule.check]
            field = rule.field or rule.params.get("field") or rule.params.get("left")
            read = fields_read(rule.check, rule.params, field)
            self.outcomes[rule.id] = RuleOutcome(
                id=rule.id,
                check=rule.check,
                field=field,
                severity=rule.severity,
                expected=cut(describe_rule(rule.check, rule.params, types), MESSAGE_CHARS) or "",
                max_fail_pct=rule.max_fail_pct,
                reads=tuple(name for name in read if name != field),
            )
            if spec.scope == "dataset":
                continue
            params = dict(rule.params)
            if rule.field is not None:
                params["field"] = rule.field
            if rule.check in ("date_range", "freshness"):
                params["as_of"] = as_of
            self.checks.append((rule, pandera_check(rule.check, params)))
        if schema.strict:
            self._outcome(
                "schema.unknown-columns",
                "strict",
                None,
                "only the fields the schema declares",
            )

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

    def chunk(self, frame: pd.DataFrame, ids: Sequence[str] | None) -> None:
        """Validate one chunk: ``frame`` holds the raw values, index = 0-based row."""
        import pandas as pd

        raw = frame
        converted = pd.DataFrame(index=frame.index)
        for item in self.schema.fields.values():
            if item.name not in raw.columns:
                if item.required and item.name not in self.missing_columns:
                    self.missing_columns.append(item.name)
                original = pd.Series(pd.NA, index=frame.index, dtype="object")
                column = converted[item.name] = original
                empty = pd.Series(True, index=frame.index)
            else:
                original = raw[item.name]
                empty = empty_values(original)
                column, bad = convert_values(original, item.type, ~empty)
                converted[item.name] = column
                if bad is not None and bad.any():
                    self._fail(f"{item.name}.type", bad, original, item.name, ids, raw)
            self.present[item.name] = self.present.get(item.name, 0) + int((~empty).sum())
            if item.required and empty.any():
                self._fail(f"{item.name}.required", empty, original, item.name, ids, raw)
            if item.unique and not self.gate:
                self._unique(item, column, ~empty & column.notna(), raw, ids)
        for rule, check in self.checks:
            result = check(converted)
            passed = result.check_output.reindex(frame.index, fill_value=True)
            bad = ~passed.astype(bool)
            if bad.any():
                column = self.outcomes[rule.id].field
                values = raw[column] if column in raw.columns else None
                self._fail(rule.id, bad, values, column, ids, raw)
        self.rows += len(frame)

    def _unique(
        self,
        item: Field,
        column: pd.Series,
        present: pd.Series,
        raw: pd.DataFrame,
        ids: Sequence[str] | None,
    ) -> None:
        """Later occurrences of a value fail (match fields compare normal forms: email
        case and spaces, phone numbers in E.164 read in the record's country)."""
        import pandas as pd

        from custrec.schema.scalar import per_distinct, phone_key
        from custrec.store.normalise import (
            COUNTRY_FIELD,
            is_phone_field,
            normalise_match_value,
            record_region,
        )

        if not present.any():
            return
        values = column[present].astype(str)
        if item.name in self.schema.match_fields:
            countries = (
                raw[COUNTRY_FIELD][present]
                if COUNTRY_FIELD in raw.columns
                else pd.Series(None, index=values.index, dtype="object")
            )
            if is_phone_field(item.name):
                keys = per_distinct(
                    phone_key,
                    ((v, record_region(c)) for v, c in zip(values, countries, strict=True)),
                )
            else:
                keys = per_distinct(normalise_match_value, ((item.name, v, None) for v in values))
            values = pd.Series(keys, index=values.index, dtype="object")
        earlier = self.seen.setdefault(item.name, SeenValues()).repeated(values)
        repeated = pd.Series(False, index=column.index)
        repeated[values.index[earlier]] = True
        if repeated.any():
            self._fail(f"{item.name}.unique", repeated, column, item.name, ids, raw)

    def _fail(
        self,
        rule_id: str,
        mask: pd.Series,
        values: pd.Series | None,
        column: str | None,
        ids: Sequence[str] | None,
        raw: pd.DataFrame,
    ) -> None:
        """Count the records of ``mask`` as failing ``rule_id``; keep examples (and
        every failure for a failures file) with the record's id (``ids``, else the
        schema's id field) and the values of the other fields the rule read."""
        outcome = self.outcomes[rule_id]
        labels = mask[mask].index
        outcome.failed += len(labels)
        wanted = self.examples - len(outcome.examples)
        id_field = self.schema.id_field
        id_values = raw[id_field] if ids is None and id_field in raw.columns else None
        reads = [name for name in outcome.reads if name in raw.columns]
        for label in labels[: max(wanted, 0)] if not self.keep_failures else labels:
            value = values[label] if values is not None else None
            record_id: str | None
            if ids is not None:
                record_id = ids[int(label) - self.rows]
            else:
                found = id_values[label] if id_values is not None else None
                record_id = None if _is_missing(found) else str(found)
            others = {name: raw.at[label, name] for name in reads}
            self._keep(
                _Failure(
                    outcome,
                    int(label) + 1,
                    record_id,
                    column,
                    None if _is_missing(value) else value,
                    {k: None if _is_missing(v) else v for k, v in others.items()},
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


def _is_missing(value: object) -> bool:
    import pandas as pd

    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


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


def empty_values(values: pd.Series) -> pd.Series:
    missing = values.isna()
    if values.dtype == object or str(values.dtype) in ("string", "str"):
        missing |= values.astype("string").str.strip().eq("").fillna(True)
    return missing.astype(bool)


def convert_values(
    values: pd.Series, kind: str, present: pd.Series | None = None
) -> tuple[pd.Series, pd.Series | None]:
    """``values`` in the field's type (blank text is missing), and where a value did
    not convert. ``present`` (not :func:`empty_values`) is computed when not given. The
    accepted shapes are those of :func:`custrec.schema.scalar.convert`, which checks
    single records the same way."""
    import pandas as pd

    from custrec.schema import scalar

    is_text = values.dtype == object or str(values.dtype) in ("string", "str")
    if present is None:
        present = ~empty_values(values)
    if kind == "string":
        return (values.where(present, None) if is_text else values), None
    if kind in ("integer", "number"):
        if not is_text and pd.api.types.is_bool_dtype(values.dtype):
            return pd.Series(pd.NA, index=values.index, dtype="Float64"), present
        if not is_text and pd.api.types.is_numeric_dtype(values.dtype):
            numbers = values.astype("Float64")
        else:
            text = values.astype("string").str.strip()
            shaped = text.str.fullmatch(scalar.NUMBER).fillna(False).astype(bool)
            numbers = pd.to_numeric(text.where(shaped), errors="coerce").astype("Float64")
        finite = numbers.notna() & (numbers.abs() != float("inf")).fillna(False)
        numbers = numbers.where(finite)
        if kind == "integer":
            low, high = scalar.INT64
            fits = ((numbers % 1 == 0) & (numbers >= low) & (numbers < high)).fillna(False)
            numbers = numbers.where(fits.astype(bool))
        bad = present & numbers.isna()
        return (numbers.astype("Int64") if kind == "integer" else numbers), bad
    if kind == "boolean":
        if not is_text and pd.api.types.is_bool_dtype(values.dtype):
            return values.astype("boolean"), None
        lowered = values.astype("string").str.strip().str.lower()
        mapped = lowered.map(
            {**dict.fromkeys(scalar.TRUE, True), **dict.fromkeys(scalar.FALSE, False)}
        )
        converted = mapped.astype("boolean")
        return converted, present & converted.isna()
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values, None
    text = values.astype("string").str.strip()
    shape = scalar.DATE if kind == "date" else scalar.DATETIME
    shaped = text.str.fullmatch(shape).fillna(False).astype(bool)
    text = text.where(shaped)
    if kind == "date":
        times = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce", utc=True)
    else:
        times = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=True)
    return times, present & times.isna()


# --- the gate of collect --------------------------------------------------------------


class SchemaGate:
    """The rules every record must pass on its own (types, required fields, field
    and cross-field checks of severity error without a tolerance; not uniqueness or
    dataset-wide rules), for ``collect``: the same checks ``validate`` runs."""

    def __init__(self, schema: Schema, as_of: str | None = None) -> None:
        _check_as_of(as_of)
        self.schema = schema
        self._as_of = as_of

    def failures(self, frame: pd.DataFrame) -> dict[int, list[tuple[str, str | None, str]]]:
        """Position (0-based) -> (rule id, field, message) of the records that fail."""
        import pandas as pd

        run = _Run(self.schema, 0, self._as_of, gate=True)
        run.keep_failures = True
        frame = frame.reset_index(drop=True)
        frame.index = pd.RangeIndex(0, len(frame))
        run.chunk(frame, None)
        out: dict[int, list[tuple[str, str | None, str]]] = {}
        for failure in run.failures:
            outcome = failure.outcome
            if outcome.severity != "error" or outcome.max_fail_pct is not None:
                continue  # warnings and tolerated rules judge the data set, not a record
            message = f"rule {outcome.id}: expected {outcome.expected}"
            out.setdefault(failure.row - 1, []).append(
                (outcome.id, failure.column, cut(message, MESSAGE_CHARS) or "")
            )
        return out


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
    run = _Run(schema, examples, as_of)
    run.keep_failures = failures is not None
    report = ValidationReport(
        source=source if store is None else str(store.path),
        source_kind="file" if store is None else "store",
        schema=schema.name,
        fail_on=fail_on,
        failures_file=failures,
        as_of=as_of,
    )
    reader = None
    if store is None:
        from custrec.io import open_table, source_name

        report.source = source_name(source)
        header = _Header(report.source, schema, mapping or {})
        with open_table(
            source, input_format=input_format, delimiter=delimiter, encoding=encoding
        ) as reader:
            headed = bool(reader.columns)  # CSV and Parquet: known before any row
            if headed:
                line = 1 if reader.format == "csv" else None  # Parquet has no lines
                run.columns(header.check(reader.columns, final=True, line=line))
            progress.start(None, "rows")
            for batch in reader:
                batch = header.renamed(batch)
                run.columns(batch.schema.names)
                _chunk(run, batch, None)
                progress.advance(batch.num_rows)
            if not headed:  # NDJSON: every key is known only now
                header.check(header.seen, final=True, line=None)
    else:
        run.columns([name for name, _ in store.columns])
        id_field = store.settings.id_field
        progress.start(store.count(), "records")
        for batch in regrouped(store.iter_batches(action="validate", system=True)):
            progress.advance(batch.num_rows)
            batch = _anonymised_apart(run, batch, id_field)
            ids = [str(v) for v in batch.column(id_field).to_pylist()]
            _chunk(run, batch, ids)
    progress.close()
    run.finish()
    lines: dict[int, int] = {}
    if reader is not None:
        wanted = {e.row for o in run.outcomes.values() for e in o.examples if e.row}
        wanted |= {f.row for f in run.failures}
        lines = reader.row_lines(sorted(wanted)) if wanted else {}
    for outcome in run.outcomes.values():
        outcome.examples = [
            dataclasses.replace(e, line=lines.get(e.row) if e.row else None)
            for e in outcome.examples
        ]
    report.rows = run.rows
    report.outcomes = list(run.outcomes.values())
    if failures is not None:
        _write_failures(failures, run.failures, lines, read)
    return report


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


def regrouped(batches: Iterator[Any], rows: int = 65_536) -> Iterator[Any]:
    """Store chunks (about a thousand records) joined into batches of about ``rows``:
    each batch costs a fixed overhead of conversions and check calls."""
    import pyarrow as pa

    pending: list[Any] = []
    count = 0
    for batch in batches:
        pending.append(batch)
        count += batch.num_rows
        if count >= rows:
            yield pa.Table.from_batches(pending).combine_chunks().to_batches()[0]
            pending, count = [], 0
    if pending and count:
        yield pa.Table.from_batches(pending).combine_chunks().to_batches()[0]


def _anonymised_apart(run: _Run, batch: Any, id_field: str) -> Any:
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


def _chunk(run: _Run, batch: Any, ids: list[str] | None) -> None:
    import pandas as pd

    frame = batch.to_pandas()
    frame.index = pd.RangeIndex(run.rows, run.rows + len(frame))
    run.chunk(frame, ids)


def _write_failures(
    path: str, failures: Sequence[_Failure], lines: dict[int, int], read: Sequence[str | None]
) -> None:
    """Every failure, one JSON object per line (mode 0600: values are personal data)."""
    from custrec.atomic import atomic_file
    from custrec.errors import reporting_no_space
    from custrec.render import json_text

    def rows() -> Iterator[str]:
        for failure in failures:
            yield (
                json_text(
                    {
                        "line": lines.get(failure.row),
                        "row": failure.row,
                        "id": failure.record_id,
                        "column": failure.column,
                        "rule": failure.outcome.id,
                        "severity": failure.outcome.severity,
                        "value": _json_value(failure.value),
                        "other_fields": {k: _json_value(v) for k, v in failure.others.items()},
                    },
                    ensure_ascii=False,
                )
                + "\n"
            )

    if path == "-":
        with reporting_no_space("<stdout>", stream=True):
            sys.stdout.writelines(rows())
            sys.stdout.flush()
        return
    with atomic_file(path, mode=0o600, inputs=read) as handle:
        for text in rows():
            handle.write(text.encode("utf-8"))


def _json_value(value: object) -> object:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)
