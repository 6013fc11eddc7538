"""Redacting a store or a record file into a file or a new encrypted store."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NamedTuple

from custrec.errors import InputError, UnknownColumnError, UsageError
from custrec.progress import NO_PROGRESS, Progress
from custrec.redaction.redact import (
    FieldPlan,
    Redactor,
    RedactResult,
    UnreadableValue,
    arrow_kinds,
    plan_fields,
    pseudonym_key,
)

if TYPE_CHECKING:
    from custrec.audit import AuditContext
    from custrec.redaction.detect import Detector
    from custrec.redaction.operators import Pseudonymiser
    from custrec.redaction.policy import RedactionPolicy
    from custrec.schema import Schema
    from custrec.store import Store


def pseudonymiser_for(key_file: str | None) -> Pseudonymiser | None:
    """The pseudonymiser keyed by ``key_file`` (else $CUSTREC_KEY_FILE); None without
    one (then a pseudonymise strategy is refused)."""
    from custrec.keyfile import KEY_FILE_ENV, read_key_file
    from custrec.redaction.operators import Pseudonymiser

    path = key_file or os.environ.get(KEY_FILE_ENV)
    if not path:
        return None
    return Pseudonymiser(pseudonym_key(read_key_file(path).key))


def _checked_fields(columns: Sequence[str], wanted: Sequence[str] | None, source: str) -> list[str]:
    if not wanted:
        return list(columns)
    unknown = [name for name in wanted if name not in columns]
    if unknown:
        raise UnknownColumnError(
            source, f"--fields: no field {unknown[0]!r} (fields: {', '.join(columns)})"
        )
    return list(dict.fromkeys(wanted))


def _redactor(
    columns: Sequence[str],
    kinds: Mapping[str, str],
    policy: RedactionPolicy,
    schema: Schema | None,
    key_file: str | None,
    detector: Detector,
) -> tuple[Redactor, list[FieldPlan]]:
    from custrec.redaction.detect import ENTITY_TYPES
    from custrec.redaction.scan import KnownFields

    plans = plan_fields(columns, policy, schema, kinds)
    strategies = {plan.strategy for plan in plans}
    needs_key = "pseudonymise" in strategies or (
        "scan" in strategies and "pseudonymise" in {policy.for_type(t) for t in ENTITY_TYPES}
    )
    pseudonymiser = pseudonymiser_for(key_file) if needs_key else None
    if needs_key and pseudonymiser is None:
        raise UsageError(
            "this redaction makes pseudonyms: give --key-file (or $CUSTREC_KEY_FILE) to key "
            "them (the same key gives the same pseudonyms across files and runs)"
        )
    redactor = Redactor(plans, policy, pseudonymiser, detector, KnownFields.of(schema))
    return redactor, plans


def _result(
    source: str, destination: str, output_format: str, redactor: Redactor, plans: list[FieldPlan]
) -> RedactResult:
    return RedactResult(
        source=source,
        destination=destination,
        output_format=output_format,
        fields=redactor.columns,
        strategies={plan.name: plan.strategy for plan in plans},
    )


@contextmanager
def _sink(
    output: str | None,
    into: str | None,
    output_format: str | None,
    redactor: Redactor,
    kinds: Mapping[str, str],
    *,
    id_field: str | None,
    source_label: str,
    key_file: str | None,
    lock_timeout: float,
    inputs: Sequence[str | None],
    context: AuditContext | None,
) -> Iterator[tuple[Any, str, str]]:
    """(writer with ``write_rows``, destination name, format); the output may not
    replace ``inputs`` (the files the command reads)."""
    from custrec.io import format_from_extension, open_row_writer, source_name

    types = redactor.output_types(kinds)
    if into is None:
        assert output is not None
        chosen = output_format or (format_from_extension(output) if output != "-" else None)
        chosen = chosen or "csv"
        with open_row_writer(
            output,
            chosen,
            redactor.columns,
            types=types,
            neutralise_formulas=chosen == "csv",
            mode=0o600,
            inputs=inputs,
        ) as writer:
            yield writer, source_name(output) if output != "-" else "<stdout>", chosen
        return
    buffer = _StoreBuffer()
    yield buffer, into, "store"
    _write_store(
        into, buffer.rows, redactor, types, id_field, source_label, key_file, lock_timeout, context
    )


class _StoreBuffer:
    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def write_rows(self, rows: Sequence[dict[str, Any]]) -> None:
        self.rows.extend(rows)


def _write_store(
    into: str,
    rows: list[dict[str, Any]],
    redactor: Redactor,
    types: Mapping[str, str],
    id_field: str | None,
    source_label: str,
    key_file: str | None,
    lock_timeout: float,
    context: AuditContext | None,
) -> None:
    from custrec.audit import AuditContext
    from custrec.store import StoreSettings, create_store, resolve_key_source

    if id_field is None or id_field not in redactor.columns:
        raise UsageError(
            f"--into needs the id field {id_field or 'customer_id'} in the copy "
            "(keep or pseudonymise it, do not drop it)"
        )
    columns = [(id_field, types[id_field])]
    columns += [(n, types[n]) for n in redactor.columns if n != id_field]
    settings = StoreSettings(id_field=id_field, match_fields=())
    with create_store(
        into,
        resolve_key_source(key_file, what=into),
        settings=settings,
        columns=columns,
        lock_timeout=lock_timeout,
        context=context or AuditContext(command="custrec redact", reason="redacted copy"),
    ) as target:
        target.put(rows, source=f"redact {source_label}")


class RedactOptions(NamedTuple):
    """What a redaction is asked for, whatever it reads: ``key_file`` keys the
    pseudonyms (default $CUSTREC_KEY_FILE) and opens a new store ``--into``;
    ``inputs`` are other files the caller reads (policy, schema), which the output
    may not replace (nor the source, nor the key file)."""

    policy: RedactionPolicy
    detector: Detector
    schema: Schema | None = None
    key_file: str | None = None
    output_format: str | None = None
    fields: Sequence[str] | None = None
    lock_timeout: float = 10.0
    strict: bool = False
    inputs: Sequence[str | None] = ()
    context: AuditContext | None = None
    """Who redacts and why, for the audit trail of a store made ``--into``."""
    progress: Progress = NO_PROGRESS
    """Counts the records redacted."""


def _copy(
    options: RedactOptions,
    output: str | None,
    into: str | None,
    source_label: str,
    kinds: Mapping[str, str],
    columns: Sequence[str],
    id_field: str | None,
    records: Iterable[list[dict[str, Any]]],
    refuse: Callable[[int, dict[str, Any], UnreadableValue], Exception],
    source: str,
) -> RedactResult:
    """Redact each batch of ``records`` to the output; ``refuse(row number, record,
    problem)`` builds the error for a value that cannot be redacted."""
    redactor, plans = _redactor(
        columns, kinds, options.policy, options.schema, options.key_file, options.detector
    )
    redactor.strict = options.strict
    with _sink(
        output,
        into,
        options.output_format,
        redactor,
        kinds,
        id_field=id_field,
        source_label=os.path.basename(source_label),
        key_file=options.key_file,
        lock_timeout=options.lock_timeout,
        inputs=(source, options.key_file, *options.inputs),
        context=options.context,
    ) as (writer, destination, chosen):
        result = _result(source_label, destination, chosen, redactor, plans)
        for batch in records:
            rows = []
            for record in batch:
                try:
                    rows.append(redactor.record(record))
                except UnreadableValue as exc:
                    raise refuse(result.records + len(rows) + 1, record, exc) from None
            writer.write_rows(rows)
            result.records += len(rows)
            options.progress.advance(len(rows))
        options.progress.close()
    result.findings = redactor.findings
    result.unreadable = redactor.unreadable
    return result


def redact_store(
    store: Store, output: str | None, into: str | None, options: RedactOptions
) -> RedactResult:
    """A redacted copy of ``store`` to ``output`` (a path or ``-``) or a new store
    ``into``; the read is audited as ``redact``."""
    from custrec.redaction.scan import KnownFields, known_field_names

    id_field = store.settings.id_field
    columns = _checked_fields([name for name, _ in store.columns], options.fields, str(store.path))
    needed = set(columns) | known_field_names(KnownFields.of(options.schema)) | {id_field}
    label = str(store.path)

    def batches() -> Iterator[list[dict[str, Any]]]:
        for batch in store.iter_batches(action="redact", fields=columns):
            yield batch.select([n for n in batch.schema.names if n in needed]).to_pylist()

    def refuse(row: int, record: dict[str, Any], problem: UnreadableValue) -> Exception:
        return InputError(label, f"record {record[id_field]}: {problem}")

    options.progress.start(store.count(), "records")
    return _copy(
        options,
        output,
        into,
        label,
        dict(store.columns),
        columns,
        id_field,
        batches(),
        refuse,
        source=label,
    )


def redact_file(
    source: str,
    output: str | None,
    into: str | None,
    options: RedactOptions,
    *,
    input_format: str | None = None,
    delimiter: str | None = None,
    encoding: str | None = None,
) -> RedactResult:
    """A redacted copy of a CSV, NDJSON or Parquet file (or ``-``)."""
    from custrec.io import open_table, source_name

    label = source_name(source)
    with open_table(
        source, input_format=input_format, delimiter=delimiter, encoding=encoding
    ) as reader:
        batches = iter(reader)
        first = next(batches, None)
        all_columns = reader.columns or (list(first.schema.names) if first is not None else [])
        kinds = arrow_kinds(first.schema) if first is not None else {}
        columns = _checked_fields(all_columns, options.fields, label)
        id_field = options.schema.id_field if options.schema is not None else None

        def records() -> Iterator[list[dict[str, Any]]]:
            if first is not None:
                yield first.to_pylist()
            for batch in batches:
                yield batch.to_pylist()

        def refuse(row: int, record: dict[str, Any], problem: UnreadableValue) -> Exception:
            line = reader.row_lines([row]).get(row)
            return InputError(label, str(problem), line=line, column=problem.field)

        options.progress.start(None, "rows")
        return _copy(
            options, output, into, label, kinds, columns, id_field, records(), refuse, source
        )
