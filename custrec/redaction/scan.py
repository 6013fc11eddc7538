"""Scanning plain text, tables and stores for personal data.

A scan reads documents (a line of plain text, a field of a CSV, NDJSON or Parquet row,
or a field of a stored record) and yields one :class:`ScanFinding` per piece of
personal data found by :class:`custrec.redaction.detect.Detector`. Findings carry
where the value is (record id, input line, field, string offsets) and never the value
itself, so a scan report can be kept and shared.

When the record's own fields are at hand (a store, or a table read with a schema), its
name, email, phone and address are looked for in its free text too
(:class:`~custrec.redaction.detect.KnownValues`): found with certainty, whatever the
way they are written.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from custrec.errors import UnknownColumnError
from custrec.progress import NO_PROGRESS, Progress

if TYPE_CHECKING:
    from custrec.io import TableReader
    from custrec.redaction.detect import Detector, KnownValues
    from custrec.schema import Schema
    from custrec.store import Store

SCAN_INPUT_FORMATS = ("text", "csv", "ndjson", "parquet")
"""What ``scan`` reads besides a store: plain text is one document per line."""

CATEGORY_TYPES = {
    "identity.name": "PERSON",
    "contact.email": "EMAIL_ADDRESS",
    "contact.phone": "PHONE_NUMBER",
    "contact.address": "LOCATION",
    "identity.birth": "DATE_OF_BIRTH",
}
"""Schema field category (its first two parts) -> the entity type its values are."""

ID_FIELDS = ("customer_id", "interaction_id", "id")
"""Columns taken as the record id of a table row, in order of preference."""


class ScanFinding(NamedTuple):
    """Where one piece of personal data is: ``id`` (record id, or None), ``line``
    (1-based input line where the document starts; for Parquet the row number; None in
    a store), ``field`` (None for plain text), ``start``/``end`` (Python string offsets
    into the field's value), ``type`` (Presidio-compatible entity name), ``score``,
    ``rule`` and ``explanation`` (why it was reported)."""

    id: str | None
    line: int | None
    field: str | None
    start: int
    end: int
    type: str
    score: float
    rule: str
    explanation: str

    def to_json(self, *, explain: bool = False) -> dict[str, object]:
        out: dict[str, object] = {
            "id": self.id,
            "line": self.line,
            "field": self.field,
            "start": self.start,
            "end": self.end,
            "type": self.type,
            "score": round(self.score, 4),
            "rule": self.rule,
        }
        if explain:
            out["explanation"] = self.explanation
        return out


class ScanSummary:
    """What a scan read and found: documents (non-empty values scanned) and findings
    per type."""

    def __init__(self) -> None:
        self.documents = 0
        self.counts: Counter[str] = Counter()

    @property
    def findings(self) -> int:
        return sum(self.counts.values())

    def to_json(self) -> dict[str, object]:
        return {
            "documents": self.documents,
            "findings": self.findings,
            "by_type": dict(sorted(self.counts.items())),
        }


class KnownFields(NamedTuple):
    """Which fields of a record hold its own personal data, by entity type, and the
    field giving the region its phone numbers are read in."""

    by_type: dict[str, list[str]]
    region_field: str | None

    @classmethod
    def of(cls, schema: Schema | None) -> KnownFields | None:
        """From the categories of ``schema``'s PII fields; None without a schema."""
        if schema is None:
            return None
        by_type: dict[str, list[str]] = {}
        for item in schema.fields.values():
            category = ".".join(str(item.category or "").split(".")[:2])
            entity = CATEGORY_TYPES.get(category)
            if entity and item.pii and entity != "DATE_OF_BIRTH":
                by_type.setdefault(entity, []).append(item.name)
        region = "country" if "country" in schema.fields else None
        return cls(by_type, region)

    def values(self, record: Mapping[str, Any]) -> KnownValues | None:
        """The record's own values, for finding them in its free text."""
        from custrec.redaction.detect import KnownValues

        found: dict[str, list[str]] = {}
        for entity, names in self.by_type.items():
            for name in names:
                value = record.get(name)
                if value is not None and str(value).strip():
                    found.setdefault(entity, []).append(str(value))
        if not found:
            return None
        region = record.get(self.region_field) if self.region_field else None
        return KnownValues(found, str(region).upper() if region else None)


def free_text_fields(schema: Schema | None) -> list[str]:
    """The fields ``schema`` marks as free text (``redaction: scan`` or category
    ``free_text``)."""
    if schema is None:
        return []
    return [
        item.name
        for item in schema.fields.values()
        if item.redaction == "scan" or str(item.category or "").split(".")[0] == "free_text"
    ]


def scan_lines(
    lines: Iterable[str], detector: Detector, summary: ScanSummary
) -> Iterator[ScanFinding]:
    """Each line of plain text as one document."""
    for number, line in enumerate(lines, start=1):
        text = line.rstrip("\r\n")
        if not text:
            continue
        summary.documents += 1
        for f in detector.find(text):
            summary.counts[f.type] += 1
            yield ScanFinding(
                None, number, None, f.start, f.end, f.type, f.score, f.rule, f.explanation
            )


def _scan_record(
    record: Mapping[str, Any],
    fields: Sequence[str],
    detector: Detector,
    known: KnownFields | None,
    summary: ScanSummary,
    id_field: str | None,
) -> list[ScanFinding]:
    """The findings in the text ``fields`` of ``record``, each carrying the record's id
    (its ``id_field``, when it has one)."""
    out: list[ScanFinding] = []
    value_of_id = record.get(id_field) if id_field else None
    record_id = None if value_of_id is None else str(value_of_id)
    values = None
    for name in fields:
        value = record.get(name)
        if value is None or not isinstance(value, str) or not value.strip():
            continue
        summary.documents += 1
        if known is not None and values is None:
            values = known.values(record)
        for f in detector.find(value, values):
            summary.counts[f.type] += 1
            out.append(
                ScanFinding(
                    record_id, None, name, f.start, f.end, f.type, f.score, f.rule, f.explanation
                )
            )
    return out


def table_fields(
    columns: Sequence[str], wanted: Sequence[str], schema: Schema | None, source: str
) -> list[str]:
    """The columns to scan: ``wanted`` (each must exist in ``source``), else the
    schema's free-text fields present, else every column."""
    if wanted:
        missing = [name for name in wanted if name not in columns]
        if missing:
            raise UnknownColumnError(
                source, f"--field {missing[0]}: no such column (columns: {', '.join(columns)})"
            )
        return list(wanted)
    free = [name for name in free_text_fields(schema) if name in columns]
    return free or list(columns)


def scan_table(
    reader: TableReader,
    detector: Detector,
    summary: ScanSummary,
    *,
    fields: Sequence[str] = (),
    schema: Schema | None = None,
    progress: Progress = NO_PROGRESS,
) -> Iterator[ScanFinding]:
    """The text values of ``fields`` in each row of ``reader``. Lines are those where
    each row starts (found once at the end for a CSV file read by Arrow, so findings
    come out after the whole file is read). ``progress`` counts the rows read."""
    known = KnownFields.of(schema)
    if reader.python_rows:
        yield from _scan_records(reader, detector, summary, fields, schema, known, progress)
        return
    chosen: list[str] | None = None
    id_field: str | None = None
    pending: list[tuple[int, ScanFinding]] = []
    row = 0
    progress.start(None, "rows")
    for batch in reader:
        if chosen is None:
            columns = reader.columns or list(batch.schema.names)
            chosen = table_fields(columns, fields, schema, reader.name)
            id_field = next((name for name in ID_FIELDS if name in columns), None)
        extra = known_field_names(known) | ({id_field} if id_field else set())
        for index, record, texts in _text_cells(batch, chosen, extra):
            found = _scan_record(record, texts, detector, known, summary, id_field)
            pending.extend((row + index + 1, f) for f in found)
        row += batch.num_rows
        progress.advance(batch.num_rows)
        if reader.format == "parquet" or reader.lines_recorded:
            yield from _with_lines(reader, pending)
            pending = []
    progress.close()
    if chosen is None and fields:
        table_fields(reader.columns, fields, schema, reader.name)  # unknown --field, no rows
    yield from _with_lines(reader, pending)


def _scan_records(
    reader: TableReader,
    detector: Detector,
    summary: ScanSummary,
    fields: Sequence[str],
    schema: Schema | None,
    known: KnownFields | None,
    progress: Progress,
) -> Iterator[ScanFinding]:
    """:func:`scan_table` over rows read by Python (NDJSON, CSV by the exact parser):
    no pyarrow is imported, and each finding comes out with its line at once."""
    chosen: list[str] = []
    order: dict[str, int] = {}
    progress.start(None, "rows")
    id_field: str | None = None
    seen = -1  # columns known when ``chosen`` was made (NDJSON finds more as it reads)
    row = 0
    for chunk in reader.records():
        if len(reader.columns) != seen:
            seen = len(reader.columns)
            chosen = table_fields(reader.columns, fields, schema, reader.name)
            order = {name: i for i, name in enumerate(chosen)}
            id_field = next((name for name in ID_FIELDS if name in reader.columns), None)
        found: list[tuple[int, ScanFinding]] = []
        for index, record in enumerate(chunk, start=row + 1):
            if len(record) < len(chosen):  # sparse NDJSON: look at the keys it has
                texts = sorted(
                    (n for n, v in record.items() if isinstance(v, str) and n in order),
                    key=order.__getitem__,
                )
            else:
                texts = [name for name in chosen if isinstance(record.get(name), str)]
            if not texts:
                continue
            found.extend(
                (index, f) for f in _scan_record(record, texts, detector, known, summary, id_field)
            )
        row += len(chunk)
        progress.advance(len(chunk))
        yield from _with_lines(reader, found)
    progress.close()
    if seen < 0 and fields:
        table_fields(reader.columns, fields, schema, reader.name)  # unknown --field, no rows


def _text_cells(
    batch: Any, fields: Sequence[str], extra: set[str]
) -> Iterator[tuple[int, dict[str, Any], list[str]]]:
    """The rows of ``batch`` holding text in ``fields``: (row index, the row's text
    cells and its ``extra`` columns, the names of its text cells in ``fields`` order).
    Built column by column from the values present: a wide or sparse table (thousands
    of columns, a few values a row) costs what its values cost, not rows times
    columns."""
    import pyarrow as pa
    import pyarrow.compute as pc

    names = set(batch.schema.names)
    cells: dict[int, dict[str, Any]] = {}
    for name in fields:
        if name not in names:
            continue
        column = batch.column(name)
        if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            continue
        if column.null_count == len(column):
            continue
        if column.null_count:
            rows = pc.indices_nonzero(pc.is_valid(column))
            values = column.take(rows).to_pylist()
            places = rows.to_pylist()
        else:
            values, places = column.to_pylist(), range(len(column))
        for place, value in zip(places, values, strict=True):
            if value.strip():
                cells.setdefault(place, {})[name] = value
    if not cells:
        return
    wanted = [name for name in extra if name in names]
    others = {name: batch.column(name).to_pylist() for name in wanted}
    for place in sorted(cells):
        texts = cells[place]
        record = {name: values[place] for name, values in others.items()}
        record.update(texts)
        yield place, record, list(texts)


def _with_lines(reader: TableReader, pending: list[tuple[int, ScanFinding]]) -> list[ScanFinding]:
    if not pending:
        return []
    if reader.format == "parquet":
        return [f._replace(line=row) for row, f in pending]
    lines = reader.row_lines(row for row, _ in pending)
    return [f._replace(line=lines.get(row)) for row, f in pending]


def scan_store(
    store: Store,
    detector: Detector,
    summary: ScanSummary,
    *,
    fields: Sequence[str] = (),
    schema: Schema | None = None,
    progress: Progress = NO_PROGRESS,
) -> Iterator[ScanFinding]:
    """The free-text fields of every stored record (or ``fields``); the read is
    audited as ``scan`` (fields and counts only). ``progress`` counts the records."""
    names = [name for name, _ in store.columns]
    text_names = [name for name, kind in store.columns if kind == "string"]
    chosen = table_fields(names, fields, schema, str(store.path)) if fields else None
    if chosen is None:
        chosen = [name for name in free_text_fields(schema) if name in names] or text_names
    known = KnownFields.of(schema)
    id_field = store.settings.id_field
    needed = sorted(set(chosen) | known_field_names(known) | {id_field})
    progress.start(store.count(), "records")
    for batch in store.iter_batches(action="scan", fields=chosen):
        for record in batch.select([n for n in needed if n in batch.schema.names]).to_pylist():
            yield from _scan_record(record, chosen, detector, known, summary, id_field)
        progress.advance(batch.num_rows)
    progress.close()


def known_field_names(known: KnownFields | None) -> set[str]:
    """The fields known-value detection reads."""
    if known is None:
        return set()
    names = {name for group in known.by_type.values() for name in group}
    return names | ({known.region_field} if known.region_field else set())
