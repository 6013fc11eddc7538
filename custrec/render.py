"""Rendering of command results as ``table``, ``json``, ``ndjson`` or ``csv``.

Library functions return *result objects*; they never print. A result object has a
``kind`` (a short name such as ``"inspect"``), a JSON form and one or more tables.
This module is the single place that turns a result into text, so every command
renders each format the same way:

- ``json``: one object, ``{"version": OUTPUT_VERSION, "kind": ..., ...}``; NaN and
  infinite numbers are written as ``null`` (see :func:`json_text`), in ``ndjson`` too;
- ``ndjson``: the rows of the result's first (primary) table, one object per line;
- ``csv``: the primary table with a header line;
- ``table``: a few summary lines, then every table, for a person at a terminal (a
  result may offer ``display_tables()`` to show other tables there, e.g. one record
  per table, or at most :data:`DISPLAY_ROWS` rows of a long one: see :func:`capped`).

It imports only the standard library and tabulate, so light commands stay fast.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Sequence
from typing import Any, NamedTuple, Protocol, TextIO

OUTPUT_VERSION = 1
"""Version of the shape of JSON output. Raised only when a key is removed or its
meaning changes; adding keys does not raise it."""

FORMATS = ("table", "json", "ndjson", "csv")

DISPLAY_ROWS = 20
"""At most this many rows of a list of problems, failures or findings are shown in
``table`` format (see :func:`capped`); the other formats hold them all."""

Cell = str | int | float | bool | None


# Named tuples rather than dataclasses: this module is on every command's start-up
# path, and a dataclass takes several times longer to build at import.


class _TableFields(NamedTuple):
    columns: Sequence[str]
    rows: Sequence[Sequence[Cell]]
    title: str | None
    note: str | None


class Table(_TableFields):
    """Rows with named columns, and an optional title (above) and note (below) shown
    in ``table`` format."""

    __slots__ = ()

    def __new__(
        cls,
        columns: Sequence[str],
        rows: Sequence[Sequence[Cell]],
        title: str | None = None,
        note: str | None = None,
    ) -> Table:
        for row in rows:
            if len(row) != len(columns):
                raise ValueError(f"a row has {len(row)} cells for {len(columns)} columns")
        return super().__new__(cls, columns, rows, title, note)

    def records(self) -> list[dict[str, Cell]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


def capped(
    table: Table,
    *,
    total: int | None = None,
    rest: str = "(use --format json for all)",
    limit: int = DISPLAY_ROWS,
) -> Table:
    """``table`` cut to its first ``limit`` rows for a person at a terminal, with a note
    saying how many more there are (of ``total``, when the table itself holds only
    some) and where they are (``rest``, e.g. ``"in rejects.csv"``)."""
    count = len(table.rows) if total is None else max(total, len(table.rows))
    if count <= limit:
        return table
    note = f"... {count - limit:,} more {rest}"
    return Table(table.columns, table.rows[:limit], table.title, note)


class Summary(NamedTuple):
    """Ordered ``label: value`` lines printed above the tables in ``table`` format."""

    items: Sequence[tuple[str, Cell]] = ()


class Fields(NamedTuple):
    """A result that is a few named values, e.g. what a command created.

    ``items`` are ``(json key, label for people, value)``; JSON gets the keys, the
    table format the labels."""

    kind: str
    items: Sequence[tuple[str, str, object]]

    def to_json(self) -> dict[str, object]:
        return {key: value for key, _, value in self.items}

    def tables(self) -> list[Table]:
        return []

    def summary(self) -> Summary:
        return Summary(tuple((label, _summary_cell(value)) for _, label, value in self.items))


def _summary_cell(value: object) -> Cell:
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value)) or None
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


class Result(Protocol):
    """What every library result offers for rendering."""

    @property
    def kind(self) -> str:
        """A short name of the result type, e.g. ``"inspect"`` (JSON's ``kind``)."""
        ...

    def to_json(self) -> dict[str, object]:
        """The result as JSON-compatible data (without the ``version`` key)."""
        ...

    def tables(self) -> list[Table]:
        """The result's tables; the first one is the primary data (ndjson, csv)."""
        ...

    def summary(self) -> Summary:
        """Lines shown above the tables in ``table`` format."""
        ...


def _json_default(value: object) -> object:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def json_text(value: object, **options: Any) -> str:
    """``json.dumps(value, **options)``, with NaN and infinite numbers written as
    ``null``: JSON has no such numbers, and ``NaN`` or ``Infinity`` would make the
    output invalid for every strict reader. ``default`` is ours unless given."""
    options.setdefault("default", _json_default)
    try:
        return json.dumps(value, allow_nan=False, **options)
    except ValueError:  # a number JSON cannot write (checked before any other cause)
        return json.dumps(_finite(value), allow_nan=False, **options)


def _finite(value: object) -> object:
    """``value`` with every NaN or infinite float (in lists and objects) as None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def to_json_document(result: Result) -> dict[str, object]:
    """The JSON envelope of a result: ``version`` and ``kind`` first, then its data."""
    return {"version": OUTPUT_VERSION, "kind": result.kind, **result.to_json()}


def render(result: Result, fmt: str, stream: TextIO) -> None:
    """Write ``result`` to ``stream`` in format ``fmt`` (one of :data:`FORMATS`)."""
    if fmt == "json":  # one write: json.dump writes each token on its own
        document = to_json_document(result)
        stream.write(json_text(document, indent=2, ensure_ascii=False))
        stream.write("\n")
    elif fmt == "ndjson":
        for record in _primary(result).records():
            stream.write(json_text(record, ensure_ascii=False))
            stream.write("\n")
    elif fmt == "csv":
        from custrec.io import CsvLineWriter

        table = _primary(result)
        writer = CsvLineWriter(stream)
        writer.writerow(table.columns)
        writer.writerows([_csv_cell(c) for c in row] for row in table.rows)
    elif fmt == "table":
        stream.write(render_text(result))
    else:
        raise ValueError(f"unknown output format {fmt!r}; expected one of {', '.join(FORMATS)}")


def render_text(result: Result) -> str:
    """The ``table`` format: summary lines, then each table under its title."""
    from tabulate import tabulate

    parts: list[str] = []
    items = result.summary().items
    if items:
        width = max(len(label) for label, _ in items)
        parts.append("\n".join(f"{label + ':':<{width + 1}} {_text_cell(v)}" for label, v in items))
    shown = getattr(result, "display_tables", result.tables)
    for table in shown():
        block = tabulate(
            [[_text_cell(c) for c in row] for row in table.rows],
            headers=list(table.columns),
            tablefmt="simple",
            disable_numparse=True,
        )
        if table.note:
            block = f"{block}\n{table.note}"
        parts.append(f"{table.title}\n{block}" if table.title else block)
    return "\n\n".join(parts) + "\n" if parts else ""


def _primary(result: Result) -> Table:
    tables = result.tables()
    return tables[0] if tables else Table(columns=(), rows=())


def _text_cell(value: Cell) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def _csv_cell(value: Cell) -> str | int | float:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value
