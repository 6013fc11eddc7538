"""Reading fields from differently named input columns (``--map FIELD=COLUMN``).

A CRM export heads its columns ``Customer ID``, ``E-mail``...; a schema or a store
names its fields ``customer_id``, ``email``. :func:`parse_mapping` reads the pairs,
:func:`check_mapping` checks them against an input's columns, and
:func:`header_problems` diagnoses a header before any record is judged: a field
whose column is missing, and the column that looks like it under another spelling,
with the ``--map`` that reads it. Used by ``collect``, ``validate`` and
``report kpi``; nothing heavy is imported.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping, Sequence

from custrec.errors import InputError, UsageError

SHOWN_COLUMNS = 8
"""At most this many of an input's columns are named in a message."""


MAP_FILE_BYTES = 1 << 20
"""The largest --map-file read (a few lines per column are expected)."""


def read_map_file(path: str) -> list[str]:
    """The ``FIELD=COLUMN`` lines of a map file (blank lines and ``#`` comments
    left out); an unreadable, too large or non-UTF-8 file is a usage error naming it."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAP_FILE_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"--map-file {path}: cannot read ({exc.strerror})") from None
    if len(raw) > MAP_FILE_BYTES:
        raise UsageError(f"--map-file {path}: larger than 1 MiB; expected FIELD=COLUMN lines")
    lines = []
    for number, line in enumerate(raw.split(b"\n"), start=1):
        try:
            text = line.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise UsageError(f"--map-file {path}:{number}: expected UTF-8 text") from None
        if text and not text.startswith("#"):
            lines.append(text)
    return lines


def parse_mapping(pairs: Iterable[str]) -> dict[str, str]:
    """``["phone=Telephone", ...]`` -> ``{"phone": "Telephone"}``."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        target, sep, column = pair.partition("=")
        if not sep or not target.strip() or not column:
            raise UsageError(f"--map {pair!r}: expected FIELD=COLUMN, e.g. phone=Telephone")
        if target in mapping:
            raise UsageError(f"--map names field {target!r} twice")
        mapping[target.strip()] = column
    return mapping


def check_mapping(
    name: str, columns: Sequence[str], mapping: Mapping[str, str], *, final: bool
) -> None:
    """``--map FIELD=COLUMN``: the input may not hold both names; once all its columns
    are known (``final``), it must hold one of them."""
    for target, column in mapping.items():
        if column in columns and target in columns and target != column:
            raise InputError(
                name,
                f"--map {target}={column}: the input has both columns; drop or rename one of them",
                line=1,
            )
        if final and column not in columns and target not in columns:
            raise InputError(
                name,
                f"--map {target}={column}: no column {column!r} in the input "
                f"(columns: {shown_columns(columns)})",
                line=1,
            )


def shown_columns(columns: Sequence[str]) -> str:
    """The first few of ``columns``, for a message."""
    more = ", ..." if len(columns) > SHOWN_COLUMNS else ""
    return ", ".join(columns[:SHOWN_COLUMNS]) + more


def spelling_key(name: str) -> str:
    """A column name without case, spaces and punctuation: ``Customer ID``,
    ``customer-id`` and ``CustomerId`` all give ``customerid``."""
    return re.sub(r"[^0-9a-z]+", "", name.casefold())


def header_problems(
    fields: Iterable[str], required: Iterable[str], columns: Sequence[str]
) -> str | None:
    """Why the header ``columns`` cannot be judged against ``fields``, or None when it
    is usable: fields missing while a column of another spelling looks like them
    (``column customer_id missing; found 'Customer ID' — map it with --map
    customer_id='Customer ID'``), else ``required`` fields without a column."""
    present = set(columns)
    spelled: dict[str, list[str]] = {}
    for column in columns:
        spelled.setdefault(spelling_key(column), []).append(column)
    wanted = list(fields)
    alike: list[tuple[str, str]] = []
    absent: list[str] = []
    for field in wanted:
        if field in present:
            continue
        found = [c for c in spelled.get(spelling_key(field), []) if c not in wanted]
        if found:
            alike.append((field, found[0]))
        elif field in required:
            absent.append(field)
    if alike:
        field, column = alike[0]
        message = (
            f"column {field} missing; found {column!r} — map it with "
            f"--map {field}={shlex.quote(column)}"
        )
        if len(alike) > 1:
            more = [f"{f}={shlex.quote(c)}" for f, c in alike[1 : 1 + SHOWN_COLUMNS]]
            rest = len(alike) - 1 - len(more)
            message += (
                f"; {len(alike) - 1} more fields are spelled differently: {', '.join(more)}"
                + (f" and {rest} more" if rest else "")
                + " (FIELD=COLUMN lines in a --map-file map them all)"
            )
        return message
    if absent:
        return (
            f"no column for required field{'s' if len(absent) > 1 else ''} "
            f"{', '.join(absent)} (columns: {shown_columns(columns)}); "
            f"map one with --map {absent[0]}=COLUMN"
        )
    return None
