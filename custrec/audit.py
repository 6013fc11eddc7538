"""The audit trail: a tamper-evident record of every access to and change of a store,
without personal data.

Entries live in the store file itself (tables ``audit`` and ``audit_subjects``), so an
entry for a change is committed in the same SQLite transaction as the change: it can
never be lost while the change is kept. Each entry is canonical JSON naming the actor,
the command, the reason, the phase (``intent`` before a change, ``outcome`` after it,
``access`` for a read), field names (never values), counts, and the outcome. The
records concerned are listed, per operation, as keyed pseudonyms
(HMAC-SHA256 under a key held with the store's keys), never as ids, names or hashes of
emails.

Tamper evidence: ``hash = SHA-256(previous hash || entry)`` chains the entries;
``mac = HMAC(audit key, store id || seq || hash)`` authenticates each one, and the
header's ``audit_head`` authenticates the last, so an edited, deleted, reordered,
inserted or truncated entry, or a whole log re-chained without the key, is found and
named by its sequence number. The format is specified in ``docs/format.md``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from custrec import crypto
from custrec.errors import CheckFailedError
from custrec.render import Summary, Table

ACTOR_ENV = "CUSTREC_ACTOR"
SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY, entry BLOB NOT NULL, hash BLOB NOT NULL, mac BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_subjects (
    op TEXT NOT NULL, pseudonym TEXT NOT NULL, PRIMARY KEY (op, pseudonym)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS audit_subjects_pseudonym ON audit_subjects (pseudonym);
"""
HEAD_NAME = "audit_head"


def default_actor() -> str:
    """``$CUSTREC_ACTOR``, else the operating-system user."""
    actor = os.environ.get(ACTOR_ENV)
    if actor:
        return actor
    # What getpass.getuser() does, without loading the terminal modules it brings.
    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        if os.environ.get(name):
            return os.environ[name]
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (KeyError, OSError):
        return f"uid:{os.getuid()}"


@dataclass(frozen=True)
class AuditContext:
    """Who does what and why: given once per command, copied into every entry."""

    command: str = "library"
    actor: str = field(default_factory=default_actor)
    reason: str | None = None


@dataclass(frozen=True)
class AuditKeys:
    """Keys for the audit trail, derived from the store's index key (which survives
    master-key replacement, so old entries stay verifiable)."""

    store_id: bytes
    mac: bytes
    pseudonym: bytes

    @classmethod
    def derive(cls, index_key: bytes, store_id: bytes) -> AuditKeys:
        return cls(
            store_id=store_id,
            mac=crypto.hkdf(index_key, "custrec audit mac v1", salt=store_id),
            pseudonym=crypto.hkdf(index_key, "custrec audit pseudonym v1", salt=store_id),
        )

    def pseudonym_of(self, record_id: str) -> str:
        """The keyed pseudonym of a record id: 32 hex digits."""
        return crypto.token(self.pseudonym, b"subject", record_id.encode("utf-8")).hex()

    def pseudonyms_of(self, record_ids: Iterable[str]) -> list[str]:
        """:meth:`pseudonym_of` for many ids at once (faster)."""
        made = crypto.tokens(self.pseudonym, [b"subject"], (i.encode("utf-8") for i in record_ids))
        return [token.hex() for token in made]

    def genesis(self) -> bytes:
        return hashlib.sha256(b"custrec audit v1" + self.store_id).digest()

    def entry_mac(self, seq: int, entry_hash: bytes) -> bytes:
        return crypto.mac(self.mac, self.store_id, b"entry", _int8(seq), entry_hash)

    def head_mac(self, seq: int, entry_hash: bytes) -> bytes:
        return crypto.mac(self.mac, self.store_id, b"head", _int8(seq), entry_hash)


def _int8(value: int) -> bytes:
    return value.to_bytes(8, "big", signed=True)


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(entry: dict[str, object]) -> bytes:
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def subjects_digest(pseudonyms: Iterable[str]) -> str:
    """SHA-256 over the sorted pseudonyms of an operation (binds them to its entry)."""
    digest = hashlib.sha256()
    for pseudonym in sorted(pseudonyms):
        digest.update(pseudonym.encode("ascii") + b"\n")
    return digest.hexdigest()


def append(
    db: sqlite3.Connection,
    keys: AuditKeys,
    context: AuditContext,
    *,
    op: str,
    phase: str,
    action: str,
    outcome: str,
    exit_code: int | None = None,
    subjects: Sequence[str] | None = None,
    scope: str | None = None,
    fields: Iterable[str] = (),
    counts: dict[str, int] | None = None,
) -> int:
    """Append one entry inside the caller's transaction and move the head. ``subjects``
    are record ids (stored as pseudonyms, once per operation); ``scope`` is ``"all"``
    for operations on every record. Returns the entry's sequence number."""
    pseudonyms: list[str] = []
    if subjects is not None:
        pseudonyms = sorted(set(keys.pseudonyms_of(dict.fromkeys(subjects))))
        db.executemany(
            "INSERT OR IGNORE INTO audit_subjects (op, pseudonym) VALUES (?, ?)",
            [(op, p) for p in pseudonyms],
        )
    head = read_head(db)
    seq = head[0] + 1 if head else 1
    previous = head[1] if head else keys.genesis()
    entry: dict[str, object] = {
        "seq": seq,
        "at": _now(),
        "actor": context.actor,
        "command": context.command,
        "reason": context.reason,
        "op": op,
        "phase": phase,
        "action": action,
        "outcome": outcome,
        "exit_code": exit_code,
        "fields": sorted(set(fields)),
        "counts": dict(sorted((counts or {}).items())),
        "scope": scope,
        "subjects": len(pseudonyms) if subjects is not None else None,
        "subjects_digest": subjects_digest(pseudonyms) if subjects is not None else None,
    }
    data = canonical(entry)
    entry_hash = hashlib.sha256(previous + data).digest()
    db.execute(
        "INSERT INTO audit (seq, entry, hash, mac) VALUES (?, ?, ?, ?)",
        (seq, data, entry_hash, keys.entry_mac(seq, entry_hash)),
    )
    db.execute(
        "INSERT OR REPLACE INTO header (name, value) VALUES (?, ?)",
        (HEAD_NAME, _int8(seq) + entry_hash + keys.head_mac(seq, entry_hash)),
    )
    return seq


def read_head(db: sqlite3.Connection) -> tuple[int, bytes, bytes] | None:
    row = db.execute("SELECT value FROM header WHERE name = ?", (HEAD_NAME,)).fetchone()
    if row is None:
        return None
    value = bytes(row[0])
    if len(value) != 8 + 32 + 32:
        return (-1, b"", b"")
    return int.from_bytes(value[:8], "big", signed=True), value[8:40], value[40:]


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
            entry_hash = hashlib.sha256(previous + data).digest()
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
    from custrec.errors import UsageError

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

    def to_json(self) -> dict[str, object]:
        return {"customer_pseudonym": self.customer_pseudonym, "entries": self.entries}

    def tables(self) -> list[Table]:
        rows = []
        for entry in self.entries:
            row = []
            for column in self.COLUMNS:
                value = entry.get(column)
                if isinstance(value, list):
                    value = ",".join(map(str, value))
                elif isinstance(value, dict):
                    value = ",".join(f"{k}={v}" for k, v in value.items())
                row.append(value)
            rows.append(tuple(row))
        return [Table(columns=self.COLUMNS, rows=rows)]  # type: ignore[arg-type]

    def summary(self) -> Summary:
        items: list[tuple[str, str | int | None]] = [("entries", len(self.entries))]
        if self.customer_pseudonym:
            items.append(("customer pseudonym", self.customer_pseudonym))
        return Summary(items)


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
