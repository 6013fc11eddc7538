"""Bulk writes: many records at once, in one transaction, from a stream of Arrow tables.

:meth:`Store.ingest` takes the lock and, for each incoming batch, computes the
blind-index tokens of its rows (normalised phone numbers and keyed hashes), finds which
rows repeat an id or a contact detail (of an earlier row of the stream, or of a record
in the store), asks the caller what to do with each row, and writes: whole chunks are
laid out straight from Arrow buffers, so a large collect does not convert values one by
one, and only one batch is held at a time (what must be remembered across batches is
kept as sorted tokens: :class:`RunRepeats`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

from custrec.store.records import Value

if TYPE_CHECKING:
    import pyarrow as pa


class RowAction(Enum):
    """What :meth:`Store.ingest` does with one incoming row."""

    INSERT = "insert"
    UPDATE = "update"
    SKIP = "skip"


@dataclass(frozen=True)
class Segment:
    """Rows ``start`` to ``stop`` (0-based, exclusive) of an ingest table came from one
    input, with these ``columns`` (an update sets only those, leaving other fields), and
    are recorded as collected from ``source``."""

    start: int
    stop: int
    columns: frozenset[str]
    source: str | None = None


@dataclass
class IngestBatch:
    """Incoming rows for :meth:`Store.ingest`: ``table`` holds store fields in the
    store's column types (the id field required, non-null); ``segments`` say which
    columns each range of its rows came with (default: all); ``labels`` name each row
    to the caller (int64, e.g. input and row number; default: its position in the
    stream), and are what :class:`RowMatches` reports an earlier row by."""

    table: pa.Table
    segments: list[Segment] | None = None
    labels: Sequence[int] | None = None


@dataclass
class IngestRows:
    """A batch prepared for writing: the table, the tokens of each row's id and contact
    details, and the rows' labels."""

    table: pa.Table
    segments: list[Segment]
    id_tokens: list[bytes]
    match_tokens: dict[str, list[bytes | None]]
    labels: Any
    match_normals: dict[str, list[bytes | None]] = dataclasses.field(default_factory=dict)
    """The normal form (UTF-8) of each row's match fields, for tokens under other keys."""

    @property
    def rows(self) -> int:
        return int(self.table.num_rows)


@dataclass
class RowMatches:
    """Which rows of an incoming batch repeat a record, per row (0-based positions in
    the batch; an earlier row is named by its label, see :class:`IngestBatch`):

    - ``in_store``: the id is already in the store;
    - ``contact_in_store``: the match field (e.g. ``email``) whose normalised value
      belongs to another record already in the store, or None;
    - ``repeat_of``: the label of an earlier row of the stream with the same id, or
      None;
    - ``contact_repeat_of``: (match field, label of an earlier row) with the same
      normalised contact detail and another id, or None;
    - ``refused``: see below.
    """

    in_store: list[bool]
    contact_in_store: list[str | None]
    repeat_of: list[int | None]
    contact_repeat_of: list[tuple[str, int] | None]
    refused: dict[int, str] = field(default_factory=dict)
    """Rows the store refuses whatever the caller decides (they are skipped): position
    -> ``erased`` (an erased customer's id, email or phone, unless readmitted) or
    ``in_grace`` (a record in a purge's grace period)."""


Decide = Callable[[RowMatches], Sequence[RowAction]]


@dataclass
class IngestResult:
    inserted: int = 0
    updated: int = 0
    skipped: int = 0
    chunks_written: int = 0
    fields: set[str] = field(default_factory=set)


class RunRepeats:
    """The rows of one ingest seen so far, by id token and by contact token, each with
    the label of its first row: held as sorted 16-byte tokens
    (:class:`custrec.seen.SeenValues`), so memory does not grow with the stream."""

    def __init__(self, match_fields: Sequence[str]) -> None:
        from custrec.crypto import TOKEN_BYTES
        from custrec.seen import SeenValues

        self._dtype = f"S{TOKEN_BYTES}"
        self._ids = SeenValues(dtype=self._dtype, labelled=True)
        self._contacts = {
            name: SeenValues(dtype=self._dtype, labelled=True) for name in match_fields
        }

    def find(self, rows: IngestRows) -> tuple[list[int | None], list[tuple[str, int] | None]]:
        """Rows of ``rows`` repeating an earlier row of the stream: by id (its label),
        and by a contact detail under another id ((field, label)); remembers the rest."""
        import numpy as np

        keys = np.array(rows.id_tokens, dtype=self._dtype)
        repeated, first = self._ids.first_labels(keys, rows.labels)
        repeat_of: list[int | None] = [
            int(label) if seen else None
            for seen, label in zip(repeated.tolist(), first.tolist(), strict=True)
        ]
        contact_repeat: list[tuple[str, int] | None] = [None] * rows.rows
        for name, tokens in rows.match_tokens.items():
            # A row repeating an id is refused whatever its contact details are.
            eligible = [p for p, t in enumerate(tokens) if t is not None and repeat_of[p] is None]
            if not eligible:
                continue
            wanted = np.array(eligible, dtype=np.int64)
            keys = np.array([tokens[p] for p in eligible], dtype=self._dtype)
            seen, earlier = self._contacts[name].first_labels(keys, rows.labels[wanted])
            for position, label in zip(wanted[seen].tolist(), earlier[seen].tolist(), strict=True):
                if contact_repeat[position] is None:  # the first field that repeats
                    contact_repeat[position] = (name, int(label))
        return repeat_of, contact_repeat

    def close(self) -> None:
        for seen in (self._ids, *self._contacts.values()):
            seen.close()


def merge_update(
    old: dict[str, Value], new: dict[str, Value], columns: frozenset[str]
) -> dict[str, Value]:
    """``old`` with the fields of ``columns`` taken from ``new`` (a null clears)."""
    merged = dict(old)
    for name in columns:
        merged[name] = new.get(name)
    return merged


def sources_of(segments: Sequence[Segment], positions: Sequence[int]) -> list[str | None]:
    """The source of each row at ``positions`` (ascending)."""
    out: list[str | None] = []
    index = 0
    for position in positions:
        while segments[index].stop <= position:
            index += 1
        out.append(segments[index].source)
    return out
