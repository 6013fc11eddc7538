"""Bulk writes: many records at once, in one transaction, from Arrow tables.

:meth:`Store.prepare_ingest` computes the blind-index tokens of incoming rows (the
costly part: normalising phone numbers and keyed hashes) without holding the store's
lock. :meth:`Store.ingest` then takes the lock, finds which rows repeat an id or a
contact detail (in the batch or in the store), asks the caller what to do with each
row, and writes: whole chunks are laid out straight from Arrow buffers, so a large
collect does not convert values one by one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

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
class IngestRows:
    """Incoming rows prepared for :meth:`Store.ingest` (see
    :meth:`Store.prepare_ingest`): the table in the store's column types, and the
    tokens of each row's id and contact details."""

    table: pa.Table
    segments: list[Segment]
    id_tokens: list[bytes]
    match_tokens: dict[str, list[bytes | None]]

    @property
    def rows(self) -> int:
        return int(self.table.num_rows)


@dataclass
class RowMatches:
    """Which incoming rows repeat a record, per row (0-based positions):

    - ``in_store``: the id is already in the store;
    - ``contact_in_store``: the match field (e.g. ``email``) whose normalised value
      belongs to another record already in the store, or None;
    - ``repeat_of``: an earlier row of the batch with the same id, or None;
    - ``contact_repeat_of``: (match field, earlier row) with the same normalised
      contact detail and another id, or None;
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


def batch_matches(rows: IngestRows) -> tuple[list[int | None], list[tuple[str, int] | None]]:
    """Repeats within the batch: of ids, and of contact details under another id."""
    first_of_id: dict[bytes, int] = {}
    repeat_of: list[int | None] = []
    for position, token in enumerate(rows.id_tokens):
        earlier = first_of_id.setdefault(token, position)
        repeat_of.append(earlier if earlier != position else None)
    contact_repeat: list[tuple[str, int] | None] = [None] * rows.rows
    for name, tokens in rows.match_tokens.items():
        first: dict[bytes, int] = {}
        for position, match in enumerate(tokens):
            if match is None or repeat_of[position] is not None:
                continue
            earlier = first.setdefault(match, position)
            if (
                earlier != position
                and contact_repeat[position] is None
                and rows.id_tokens[earlier] != rows.id_tokens[position]
            ):
                contact_repeat[position] = (name, earlier)
    return repeat_of, contact_repeat


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
