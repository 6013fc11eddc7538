"""Reading the audit trail back: verifying its chain (:func:`verify`) and querying its
entries (:func:`query`, :func:`resolve`).

Writing entries is in :mod:`custrec.audit`, which every command that opens a store
loads; this part is needed only by ``custrec audit`` (and the demo), so it is kept
apart. The names remain available from :mod:`custrec.audit` as well.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from custrec import crypto
from custrec.audit import AuditKeys, chain_hash, read_head, subjects_digest
from custrec.errors import CheckFailedError, UsageError
from custrec.render import Summary, Table

# --- verification --------------------------------------------------------------------


@dataclass
class AuditVerification:
    """The result of :func:`verify`: ``first_bad`` is None when the log is intact."""

    entries: int
    head_seq: int
    head_hash: str
    first_bad: int | None = None
    problem: str | None = None
    expected_head_found: bool | None = None
    kind: str = "audit-verify"

    @property
    def ok(self) -> bool:
        return self.first_bad is None and self.expected_head_found is not False

    def to_json(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "first_bad_seq": self.first_bad,
            "problem": self.problem,
            "expected_head_found": self.expected_head_found,
        }

    def tables(self) -> list[Table]:
        return []

    def summary(self) -> Summary:
        items: list[tuple[str, str | int | None]] = [
            ("audit log", "intact" if self.first_bad is None else "TAMPERED"),
            ("entries", self.entries),
            ("head", f"{self.head_seq} {self.head_hash}"),
        ]
        if self.first_bad is not None:
            items += [("first bad entry", self.first_bad), ("problem", self.problem)]
        if self.expected_head_found is not None:
            items.append(
                ("expected head", "present" if self.expected_head_found else "NOT in the log")
            )
        return Summary(items)

    def raise_if_bad(self) -> None:
        if self.first_bad is not None:
            raise CheckFailedError(
                f"audit log tampered: first bad entry is {self.first_bad} ({self.problem})"
            )
        if self.expected_head_found is False:
            raise CheckFailedError(
                "audit log rewritten: the expected head hash is no longer in the log"
            )


def verify(
    db: sqlite3.Connection, keys: AuditKeys, *, expect_head: str | None = None
) -> AuditVerification:
    """Walk the whole chain and report the first entry that is not as written."""
    previous = keys.genesis()
    expected_seq = 1
    seen_expected = None if expect_head is None else False
    subject_ops = _subject_digests(db)
    for seq, data, stored_hash, stored_mac in db.execute(
        "SELECT seq, entry, hash, mac FROM audit ORDER BY seq"
    ):
        problem = None
        if type(seq) is not int or seq != expected_seq:
            problem = f"entry {expected_seq} is missing (found {seq!r} next)"
            bad = expected_seq
        else:
            bad = seq
            data, stored_hash, stored_mac = bytes(data), bytes(stored_hash), bytes(stored_mac)
            entry_hash = chain_hash(previous, data)
            if entry_hash != stored_hash:
                problem = "its content or its place in the chain was changed"
            elif not crypto.equal(keys.entry_mac(seq, entry_hash), stored_mac):
                problem = "its authentication code is wrong (rewritten without the key)"
            else:
                problem = _check_entry(data, seq, subject_ops)
        if problem is not None:
            return _bad(db, keys, expected_seq - 1, bad, problem)
        if seen_expected is False and stored_hash.hex() == expect_head:
            seen_expected = True
        previous = stored_hash
        expected_seq += 1
    count = expected_seq - 1
    head = read_head(db)
    if head is None:
        if count:
            return _bad(db, keys, count, count, "the authenticated head is missing")
        return AuditVerification(0, 0, keys.genesis().hex(), expected_head_found=seen_expected)
    head_seq, head_hash, head_mac = head
    if not crypto.equal(keys.head_mac(head_seq, head_hash), head_mac):
        return _bad(db, keys, count, head_seq, "the authenticated head was altered")
    if head_seq > count:
        return _bad(db, keys, count, count + 1, f"entries {count + 1}..{head_seq} were removed")
    if head_seq < count or head_hash != previous:
        return _bad(db, keys, count, head_seq + 1, "entries were added after the head")
    return AuditVerification(count, head_seq, head_hash.hex(), expected_head_found=seen_expected)


def _bad(
    db: sqlite3.Connection, keys: AuditKeys, entries: int, seq: int, problem: str
) -> AuditVerification:
    head = read_head(db)
    head_seq, head_hash = (head[0], head[1].hex()) if head else (0, keys.genesis().hex())
    return AuditVerification(entries, head_seq, head_hash, first_bad=seq, problem=problem)


def _subject_digests(db: sqlite3.Connection) -> dict[str, list[str]]:
    ops: dict[str, list[str]] = {}
    for op, pseudonym in db.execute("SELECT op, pseudonym FROM audit_subjects"):
        ops.setdefault(str(op), []).append(str(pseudonym))
    return ops


def _check_entry(data: bytes, seq: int, subject_ops: dict[str, list[str]]) -> str | None:
    try:
        entry = json.loads(data)
    except ValueError:
        return "it is not valid JSON"
    if not isinstance(entry, dict) or entry.get("seq") != seq:
        return "its sequence number does not match its place"
    digest = entry.get("subjects_digest")
    if digest is not None and digest != subjects_digest(subject_ops.get(str(entry["op"]), [])):
        return "the list of records it concerns was changed"
    return None


# --- querying --------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditQuery:
    """Filters of :func:`query`. ``since`` and ``until`` are ISO 8601 dates or times
    (UTC unless they carry an offset); a date alone as ``until`` includes that day."""

    since: str | None = None
    until: str | None = None
    actor: str | None = None
    command: str | None = None
    customer: str | None = None


def moment(text: str, *, end: bool = False) -> str:
    """An ISO 8601 date or time as the UTC text entries use, for comparing. With
    ``end``, a date alone means the end of that day."""
    try:
        parsed = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"{text!r} is not a date or time; expected e.g. 2026-11-22 or 2026-11-22T09:30Z"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    if end and len(text.strip()) == 10:
        parsed += dt.timedelta(days=1) - dt.timedelta(microseconds=1)
    return parsed.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class AuditEntries:
    """Entries matching a query (the result of :func:`query`)."""

    entries: list[dict[str, object]]
    customer_pseudonym: str | None = None
    kind: str = "audit-show"
    shown: tuple[str, ...] | None = None
    """The columns the ``table`` format shows (:meth:`display_tables`), in
    :data:`COLUMNS` order; None for all of them. CSV and JSON always have all."""

    COLUMNS = (
        "seq",
        "at",
        "actor",
        "command",
        "action",
        "phase",
        "outcome",
        "exit_code",
        "reason",
        "subjects",
        "scope",
        "fields",
        "counts",
        "op",
    )

    PRIORITY = (
        "seq",
        "at",
        "actor",
        "command",
        "action",
        "outcome",
        "subjects",
        "reason",
        "counts",
        "exit_code",
        "scope",
        "phase",
        "fields",
        "op",
    )
    """The columns in the order they are given room when not all fit."""

    def to_json(self) -> dict[str, object]:
        return {"customer_pseudonym": self.customer_pseudonym, "entries": self.entries}

    def _cells(self, columns: Sequence[str]) -> list[tuple[object, ...]]:
        rows = []
        for entry in self.entries:
            row = []
            for column in columns:
                value = entry.get(column)
                if isinstance(value, list):
                    value = ",".join(map(str, value))
                elif isinstance(value, dict):
                    value = ",".join(f"{k}={v}" for k, v in value.items())
                row.append(value)
            rows.append(tuple(row))
        return rows

    def tables(self) -> list[Table]:
        return [Table(columns=self.COLUMNS, rows=self._cells(self.COLUMNS))]  # type: ignore[arg-type]

    def display_tables(self) -> list[Table]:
        columns = self.shown or self.COLUMNS
        return [Table(columns=columns, rows=self._cells(columns))]  # type: ignore[arg-type]

    def fitting_columns(self, width: int) -> tuple[str, ...]:
        """The columns that fit in ``width`` characters as a ``table`` (two spaces
        between columns), given room in :data:`PRIORITY` order; ``seq`` always."""
        # tabulate's "simple" format gives a header two characters more than its name
        needed = {column: len(column) + 2 for column in self.COLUMNS}
        for row in self._cells(self.COLUMNS):
            for column, value in zip(self.COLUMNS, row, strict=True):
                needed[column] = max(needed[column], len(_shown(value)))
        chosen: set[str] = set()
        used = -2
        for column in self.PRIORITY:
            if not chosen or used + 2 + needed[column] <= width:
                chosen.add(column)
                used += 2 + needed[column]
        return tuple(column for column in self.COLUMNS if column in chosen)

    def summary(self) -> Summary:
        items: list[tuple[str, str | int | None]] = [("entries", len(self.entries))]
        if self.customer_pseudonym:
            items.append(("customer pseudonym", self.customer_pseudonym))
        return Summary(items)


def _shown(value: object) -> str:
    """A cell as the ``table`` format shows it."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def query(db: sqlite3.Connection, keys: AuditKeys, wanted: AuditQuery) -> AuditEntries:
    """Entries matching every given filter. ``customer`` (a record id) matches the
    operations that listed that record, and those on every record (scope ``all``)."""
    pseudonym = keys.pseudonym_of(wanted.customer) if wanted.customer else None
    ops: set[str] | None = None
    if pseudonym is not None:
        ops = {
            str(r[0])
            for r in db.execute("SELECT op FROM audit_subjects WHERE pseudonym = ?", (pseudonym,))
        }
    since = moment(wanted.since) if wanted.since else None
    until = moment(wanted.until, end=True) if wanted.until else None
    found = []
    for (data,) in db.execute("SELECT entry FROM audit ORDER BY seq"):
        entry = json.loads(bytes(data))
        at = str(entry["at"])
        if since and at < since:
            continue
        if until and at > until:
            continue
        if wanted.actor and entry["actor"] != wanted.actor:
            continue
        if wanted.command and not str(entry["command"]).endswith(wanted.command):
            continue
        if ops is not None and entry["op"] not in ops and entry.get("scope") != "all":
            continue
        found.append(entry)
    subjects = _subjects_of(db, {str(e["op"]) for e in found if e.get("subjects")})
    for entry in found:
        if entry.get("subjects") is not None:
            entry["pseudonyms"] = subjects.get(str(entry["op"]), [])
    return AuditEntries(entries=found, customer_pseudonym=pseudonym)


def _subjects_of(db: sqlite3.Connection, ops: set[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for op in sorted(ops):
        found[op] = [
            str(r[0])
            for r in db.execute(
                "SELECT pseudonym FROM audit_subjects WHERE op = ? ORDER BY pseudonym", (op,)
            )
        ]
    return found


def resolve(entries: AuditEntries, ids: Iterable[str], keys: AuditKeys) -> None:
    """Add ``ids`` to each entry: the record ids behind its pseudonyms, for ids given
    (e.g. every id in the store). Pseudonyms of erased records stay unresolved."""
    wanted = {p for e in entries.entries for p in e.get("pseudonyms", [])}  # type: ignore[attr-defined]
    by_pseudonym = {}
    for record_id in ids:
        pseudonym = keys.pseudonym_of(record_id)
        if pseudonym in wanted:
            by_pseudonym[pseudonym] = record_id
    for entry in entries.entries:
        if "pseudonyms" in entry:
            entry["ids"] = [
                by_pseudonym.get(p)
                for p in entry["pseudonyms"]  # type: ignore[attr-defined]
            ]
