"""Exporting records out of the store in plaintext: CSV, NDJSON or Parquet.

An export takes personal data out of encryption, so it is always audited (the fields
and the number of records, never the values), the file it writes is readable by its
owner only, and CSV cells that a spreadsheet would run as a formula (starting with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return, and not a plain number or a
phone number in international format) are written with a leading ``'`` unless
``raw`` is asked for (see :func:`custrec.io.neutralise_formula`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from custrec.errors import UnknownColumnError, UsageError
from custrec.io import format_from_extension, open_row_writer, source_name
from custrec.lookup import selected_fields
from custrec.progress import NO_PROGRESS, Progress
from custrec.render import Summary, Table
from custrec.store.records import (
    COLLECTED_COLUMN,
    SOURCE_COLUMN,
    VERSION_COLUMN,
    convert_text,
)
from custrec.types import INT64

if TYPE_CHECKING:
    import pyarrow as pa

    from custrec.store import Store

META_COLUMNS = (VERSION_COLUMN, SOURCE_COLUMN, COLLECTED_COLUMN)


@dataclass(frozen=True)
class Condition:
    """``field=value`` or ``field!=value`` (``field=`` means empty)."""

    field: str
    value: str | None
    negate: bool = False

    @classmethod
    def parse(cls, text: str) -> Condition:
        """The first ``=`` ends the field name (a value may hold ``=`` or ``!=``)."""
        name, sep, value = text.partition("=")
        negate = name.endswith("!")
        name = name[:-1] if negate else name
        if not sep or not name.strip():
            raise UsageError(f"--where {text!r}: expected FIELD=VALUE or FIELD!=VALUE")
        return cls(name.strip(), value if value != "" else None, negate)

    def typed_value(self, kind: str) -> object:
        """The value in the field's type; a value that cannot be is a usage error."""
        if self.value is None:
            return None
        try:
            return convert_text(self.value, kind)
        except ValueError as exc:
            raise UsageError(f"--where {self.field}: expected {exc}") from None


@dataclass
class ExportResult:
    store: str
    destination: str
    output_format: str
    records: int
    fields: list[str]
    neutralised: bool
    kind: str = "export"

    def to_json(self) -> dict[str, object]:
        return {
            "store": self.store,
            "destination": self.destination,
            "output_format": self.output_format,
            "records": self.records,
            "fields": self.fields,
            "formulas_neutralised": self.neutralised,
        }

    def tables(self) -> list[Table]:
        return []

    def summary(self) -> Summary:
        return Summary(
            (
                ("exported", self.records),
                ("to", self.destination),
                ("format", self.output_format),
                ("fields", ", ".join(self.fields)),
            )
        )


def export_records(
    store: Store,
    destination: str = "-",
    *,
    output_format: str | None = None,
    fields: Sequence[str] | None = None,
    where: Iterable[Condition] = (),
    raw: bool = False,
    with_meta: bool = False,
    inputs: Iterable[str | None] = (),
    progress: Progress = NO_PROGRESS,
) -> ExportResult:
    """Write the store's records (``where`` all hold) to ``destination`` (a path, or
    ``-`` for stdout). ``with_meta`` adds ``_version``, ``_source`` and
    ``_collected_at``; the file is complete or absent (written beside, then renamed).
    ``destination`` may not be the store, a key file or one of ``inputs`` (other files
    the caller reads, such as its key file). ``progress`` counts the records read."""
    chosen = output_format or (format_from_extension(destination) if destination != "-" else None)
    chosen = chosen or "csv"
    columns = selected_fields(store, fields)
    types = dict(store.columns)
    conditions = list(where)
    for condition in conditions:
        if condition.field not in types:
            raise UnknownColumnError(
                str(store.path), f"--where: no field {condition.field!r} in this store"
            )
        condition.typed_value(types[condition.field])  # refused before any output
    out_columns = [*columns, *(META_COLUMNS if with_meta else ())]
    out_types = {name: types[name] for name in columns}
    if with_meta:
        out_types[VERSION_COLUMN] = INT64
    count = 0
    with open_row_writer(
        destination,
        chosen,
        out_columns,
        types=out_types,
        neutralise_formulas=chosen == "csv" and not raw,
        mode=0o600,
        inputs=(str(store.path), *inputs),
    ) as writer:
        progress.start(store.count(), "records")
        for batch in store.iter_batches(system=True, action="export", fields=columns):
            picked = _filter(batch, conditions, types)
            if picked.num_rows:
                writer.write_rows(picked.select(out_columns).to_pylist())
                count += picked.num_rows
            progress.advance(batch.num_rows)
    return ExportResult(
        store=str(store.path),
        destination=source_name(destination) if destination != "-" else "<stdout>",
        output_format=chosen,
        records=count,
        fields=out_columns,
        neutralised=chosen == "csv" and not raw,
    )


def _filter(batch: pa.RecordBatch, conditions: Sequence[Condition], types: Any) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    if not conditions:
        return batch
    mask = pa.array([True] * batch.num_rows)
    for condition in conditions:
        column = batch.column(condition.field)
        if condition.value is None:
            hit = pc.is_null(column)
        else:
            wanted = condition.typed_value(types[condition.field])
            hit = pc.fill_null(pc.equal(column, pa.scalar(wanted, column.type)), False)
        mask = pc.and_(mask, pc.invert(hit) if condition.negate else hit)
    return batch.filter(mask)
