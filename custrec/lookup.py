"""Looking up and changing single records: what ``get``, ``find`` and ``update`` do.

This module stays light (standard library only, and the store's point paths), so a
lookup from a shell answers at once: no pandas, pandera or pyarrow is imported here.
Reading a file of changes (:func:`read_changes`) imports the file readers lazily.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from custrec.errors import CheckFailedError, InputError, UnknownColumnError, UsageError
from custrec.render import Summary, Table, capped
from custrec.store.records import EXPECTED, convert_text

if TYPE_CHECKING:
    from custrec.store import Record, Store
    from custrec.store.records import Value
    from custrec.store.writes import RecordChange

NAME_FIELDS = ("name", "full_name", "first_name", "middle_name", "last_name", "company")
"""Fields ``find --name`` searches, those of them the store has."""


class RecordsResult:
    """Records as shown by ``get``, ``find`` and ``update``: ``fields`` selects and
    orders the fields shown (default: all of the store's).

    A plain class rather than a dataclass, which takes several times longer to build
    at import, on the start-up path of every lookup."""

    __slots__ = ("fields", "id_field", "kind", "missing", "records")

    def __init__(
        self,
        id_field: str,
        fields: list[str],
        records: list[Record],
        missing: list[str] | None = None,
        kind: str = "records",
    ) -> None:
        self.id_field = id_field
        self.fields = fields
        self.records = records
        self.missing = missing if missing is not None else []
        self.kind = kind

    def _state(self) -> tuple[str, list[str], list[Record], list[str], str]:
        return (self.id_field, self.fields, self.records, self.missing, self.kind)

    def __repr__(self) -> str:
        return (
            f"RecordsResult(id_field={self.id_field!r}, fields={self.fields!r}, "
            f"records={self.records!r}, missing={self.missing!r}, kind={self.kind!r})"
        )

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RecordsResult) and other.__class__ is self.__class__:
            return self._state() == other._state()
        return NotImplemented

    def _values(self, record: Record) -> list[Value]:
        return [record.data.get(name) for name in self.fields]

    def to_json(self) -> dict[str, object]:
        return {
            "count": len(self.records),
            "records": [
                {
                    "id": r.id,
                    "version": r.version,
                    "source": r.source,
                    "collected_at": r.collected_at,
                    "fields": dict(zip(self.fields, self._values(r), strict=True)),
                }
                for r in self.records
            ],
            "missing": self.missing,
        }

    def tables(self) -> list[Table]:
        """One row per record: the id field, the fields, and ``_version`` (which
        ``update --from`` uses to refuse a change to a record changed meanwhile)."""
        columns = [self.id_field, *(f for f in self.fields if f != self.id_field), "_version"]
        rows = [[r.id, *(r.data.get(f) for f in columns[1:-1]), r.version] for r in self.records]
        return [Table(columns, rows)]

    def display_tables(self) -> list[Table]:
        """For people: each record as a list of field and value."""
        shown = []
        for r in self.records:
            origin = f", collected from {r.source}" if r.source else ""
            when = f" at {r.collected_at}" if r.collected_at else ""
            title = f"{self.id_field} {r.id} (version {r.version}{origin}{when})"
            rows = [[name, value] for name, value in zip(self.fields, self._values(r), strict=True)]
            shown.append(Table(("field", "value"), rows, title=title))
        return shown

    def summary(self) -> Summary:
        items: list[tuple[str, str | int | None]] = [("records", len(self.records))]
        if self.missing:
            items.append(("not found", ", ".join(self.missing)))
        return Summary(tuple(items))


class UpdateSummary:
    """What a bulk update (``update --from``) did, without any value: how many rows
    the file had and records were updated, and per field how many records had it set
    or cleared. The records themselves are shown only when asked for
    (:class:`RecordsResult`): they hold personal data, such as notes.

    The update is all or nothing: a row the store refuses (an unknown id, a stale
    ``_version``, an invalid value) stops it with an error naming that row, so a
    summary has no refused rows."""

    __slots__ = ("cleared", "kind", "rows", "set_fields", "source", "updated")

    def __init__(self, source: str, changes: Sequence[RecordChange], updated: int) -> None:
        self.source = source
        self.rows = len(changes)
        self.updated = updated
        self.set_fields: dict[str, int] = {}
        self.cleared: dict[str, int] = {}
        for change in changes:
            for name in change.set_fields:
                self.set_fields[name] = self.set_fields.get(name, 0) + 1
            for name in change.unset:
                self.cleared[name] = self.cleared.get(name, 0) + 1
        self.kind = "update"

    def _rows(self) -> list[tuple[str, int, int]]:
        return [
            (name, self.set_fields.get(name, 0), self.cleared.get(name, 0))
            for name in sorted({*self.set_fields, *self.cleared})
        ]

    def to_json(self) -> dict[str, object]:
        return {
            "source": self.source,
            "rows": self.rows,
            "updated": self.updated,
            "fields": [
                {"field": name, "set": set_in, "cleared": cleared_in}
                for name, set_in, cleared_in in self._rows()
            ],
        }

    def tables(self) -> list[Table]:
        """One row per field changed: in how many records it was set, and cleared."""
        return [Table(("field", "set", "cleared"), self._rows(), title="Fields changed")]

    def display_tables(self) -> list[Table]:
        return [capped(table) for table in self.tables()]

    def summary(self) -> Summary:
        return Summary(
            (
                ("source", self.source),
                ("rows", self.rows),
                ("updated", self.updated),
            )
        )


def selected_fields(store: Store, fields: Sequence[str] | None) -> list[str]:
    """The fields to show: ``fields`` (checked against the store) or all of them."""
    known = [name for name, _ in store.columns]
    if not fields:
        return known
    unknown = [name for name in fields if name not in known]
    if unknown:
        raise UnknownColumnError(
            str(store.path), f"no field {unknown[0]!r} in this store (fields: {', '.join(known)})"
        )
    id_field = store.settings.id_field
    return [id_field, *(name for name in dict.fromkeys(fields) if name != id_field)]


def get_records(
    store: Store, record_ids: Sequence[str], fields: Sequence[str] | None = None
) -> RecordsResult:
    """The records with these ids, in the order asked; ids not found are listed in
    ``missing`` (the caller decides whether that is an error)."""
    shown = selected_fields(store, fields)
    found = store.get_many(record_ids)
    wanted = list(dict.fromkeys(record_ids))
    return RecordsResult(
        id_field=store.settings.id_field,
        fields=shown,
        records=[found[i] for i in wanted if i in found],
        missing=[i for i in wanted if i not in found],
    )


def find_records(
    store: Store,
    *,
    email: str | None = None,
    phone: str | None = None,
    name: str | None = None,
    region: str | None = None,
    fields: Sequence[str] | None = None,
) -> RecordsResult:
    """Records matching every criterion given: ``email`` and ``phone`` normalised
    (case, spacing, phone formats; ``region`` for numbers without +code), ``name``
    as words beginning the name fields' words (ignoring case and accents)."""
    criteria = [c for c in (email, phone, name) if c is not None]
    if not criteria:
        raise UsageError("give --email, --phone or --name to find records by")
    shown = selected_fields(store, fields)
    candidates: list[list[Record]] = []
    if email is not None:
        candidates.append(store.find(_match_field(store, "email"), email))
    if phone is not None:
        candidates.append(store.find(_match_field(store, "phone"), phone, region=region))
    if name is not None:
        names = [n for n in NAME_FIELDS if n in dict(store.columns)]
        if not names:
            raise UsageError(f"this store has no name fields to search ({', '.join(NAME_FIELDS)})")
        candidates.append(store.find_text(names, name))
    common = set.intersection(*({r.id for r in group} for group in candidates))
    records = [r for r in candidates[0] if r.id in common]
    return RecordsResult(
        id_field=store.settings.id_field,
        fields=shown,
        records=sorted({r.id: r for r in records}.values(), key=lambda r: r.id),
    )


def _match_field(store: Store, kind: str) -> str:
    fields = store.settings.match_fields
    for name in fields:
        if name == kind or name.endswith("_" + kind):
            return name
    raise UsageError(
        f"this store does not index {kind} (match fields: {', '.join(fields) or 'none'})"
    )


def parse_assignments(pairs: Iterable[str]) -> dict[str, str | None]:
    """``--set field=value`` options: ``{"field": "value"}``; ``field=`` gives None."""
    out: dict[str, str | None] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--set {name!r}: expected FIELD=VALUE, e.g. --set city=Leeds")
        if name in out:
            raise UsageError(f"--set names field {name!r} twice")
        out[name.strip()] = value if value != "" else None
    return out


def typed_fields(
    store: Store, values: Mapping[str, Value], where: str, *, add_columns: bool = False
) -> dict[str, Value]:
    """``values`` in the store's field types: text is converted to numbers or true/false
    where the field is typed; an unknown field is refused unless ``add_columns``.
    A refusal names the field and the rule (``known-columns``, ``type``)."""
    types = dict(store.columns)
    out: dict[str, Value] = {}
    for name, value in values.items():
        kind = types.get(name)
        if kind is None:
            if not add_columns:
                raise CheckFailedError(
                    f"{where}field {name!r} is not a field of this store (rule known-columns; "
                    "use --add-columns to add it)"
                )
            out[name] = value
            continue
        if value is None or (kind == "string" and isinstance(value, str)):
            out[name] = value
            continue
        if isinstance(value, str):
            try:
                out[name] = convert_text(value, kind)
            except ValueError as exc:
                raise CheckFailedError(
                    f"{where}field {name!r}: expected {exc} (rule type)"
                ) from None
            continue
        fits = (
            (kind == "bool" and isinstance(value, bool))
            or (kind == "int64" and isinstance(value, int) and not isinstance(value, bool))
            or (
                kind == "float64" and isinstance(value, int | float) and not isinstance(value, bool)
            )
        )
        if not fits:
            raise CheckFailedError(f"{where}field {name!r}: expected {EXPECTED[kind]} (rule type)")
        out[name] = float(value) if kind == "float64" else value
    return out


def update_record(
    store: Store,
    record_id: str,
    *,
    set_fields: Mapping[str, Value] | None = None,
    unset: Sequence[str] = (),
    if_version: int | None = None,
    add_columns: bool = False,
) -> Record:
    """Change one record: values are checked against the store's fields and types
    before anything is written; refused changes leave the record as it was."""
    known = dict(store.columns)
    for name in unset:
        if name not in known:
            raise CheckFailedError(
                f"field {name!r} is not a field of this store (rule known-columns)"
            )
    typed = typed_fields(store, set_fields or {}, "", add_columns=add_columns)
    gate = schema_gate(store)
    check = None if gate is None else (lambda record: gate(record, ""))
    return store.update(
        record_id, set_fields=typed, unset=unset, if_version=if_version, check=check
    )


def schema_gate(store: Store) -> Callable[[Record, str], None] | None:
    """For a store created with a schema: a check that refuses a changed record that
    fails one of the schema's record rules (naming the field and the rule)."""
    text = store.settings.schema
    if text is None:
        return None
    from custrec.schema import parse_schema
    from custrec.schema.record import RecordRules

    gate = RecordRules(parse_schema(text, f"{store.path} (its schema)"))

    def check(record: Record, where: str) -> None:
        failures = gate.failures(record.data)
        if failures:
            rule, field_name, message = failures[0]
            more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
            raise CheckFailedError(
                f"{where}{record.id}: field {field_name!r} fails rule {rule}: "
                f"{message.removeprefix(f'rule {rule}: ')}{more}; the record is unchanged"
            )

    return check


def read_changes(
    store: Store,
    source: str,
    *,
    input_format: str | None = None,
    delimiter: str | None = None,
    encoding: str | None = None,
    add_columns: bool = False,
) -> list[RecordChange]:
    """The changes in a CSV/NDJSON/Parquet file keyed by the store's id field: each
    other column sets that field (an empty cell, or an NDJSON ``null``, clears it; a
    key an NDJSON line leaves out leaves its field as it is); a ``_version`` column
    refuses a change to a record changed since that version; other columns whose
    names start with ``_`` (e.g. ``_source`` from an export) are ignored."""
    from custrec.io import open_table
    from custrec.store.writes import RecordChange

    id_field = store.settings.id_field
    changes: list[RecordChange] = []
    with open_table(
        source, input_format=input_format, delimiter=delimiter, encoding=encoding
    ) as reader:
        rows: Iterable[dict[str, Any]]
        if reader.format == "ndjson":
            # Each line's own keys: a key a line leaves out is not a null that clears.
            rows = [row for chunk in reader.records() for row in chunk]
        else:
            batches = list(reader)  # kept as columns: rows of a wide input as dicts
            rows = (row for batch in batches for row in batch.to_pylist())  # one at a time
        if not reader.columns and reader.format == "ndjson":
            return []  # a stream of no records (a filter matched none): nothing to change
        if id_field not in reader.columns:
            raise InputError(
                reader.name, f"no {id_field!r} column: each change names its record", line=1
            )
        lines = reader.row_lines(range(1, reader.rows_read + 1))
    for number, row in enumerate(rows, start=1):
        line = lines.get(number)
        where = f"{reader.name}:{line}: " if line else f"{reader.name} row {number}: "
        record_id = row.pop(id_field, None)
        if record_id is None or not str(record_id).strip():
            raise CheckFailedError(f"{where}the id field {id_field!r} is empty")
        version = row.pop("_version", None)
        if version is not None and not isinstance(version, int):
            try:
                version = int(str(version))
            except ValueError:
                raise CheckFailedError(f"{where}_version: expected an integer") from None
        values = {k: v for k, v in row.items() if not k.startswith("_")}
        typed = typed_fields(store, values, where, add_columns=add_columns)
        changes.append(
            RecordChange(
                record_id=str(record_id),
                set_fields={k: v for k, v in typed.items() if v is not None},
                unset=tuple(k for k, v in typed.items() if v is None),
                if_version=version,
                origin=where.rstrip(": "),
            )
        )
    return changes
