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

Verifying and querying the trail live in :mod:`custrec.audit_read`, so that commands
which only append entries do not load them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

from custrec import crypto

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
_FEW_SUBJECTS = 64
"""Up to this many subjects, pseudonyms are made one by one (see ``crypto.tokens``)."""


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


class _AuditContextFields(NamedTuple):
    command: str
    actor: str
    reason: str | None


class AuditContext(_AuditContextFields):
    """Who does what and why: given once per command, copied into every entry.
    ``actor`` defaults to :func:`default_actor`, looked up when the context is made."""

    __slots__ = ()

    def __new__(
        cls, command: str = "library", actor: str | None = None, reason: str | None = None
    ) -> AuditContext:
        return super().__new__(cls, command, default_actor() if actor is None else actor, reason)


class AuditKeys(NamedTuple):
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
        """:meth:`pseudonym_of` for many ids at once (batched when there are many)."""
        ids = list(record_ids)
        if len(ids) <= _FEW_SUBJECTS:  # a point read or change: not worth loading hashlib
            return [self.pseudonym_of(i) for i in ids]
        made = crypto.tokens(self.pseudonym, [b"subject"], (i.encode("utf-8") for i in ids))
        return [token.hex() for token in made]

    def genesis(self) -> bytes:
        return crypto.sha256(b"custrec audit v1" + self.store_id)

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
    return crypto.sha256(b"".join(p.encode("ascii") + b"\n" for p in sorted(pseudonyms))).hex()


def record_subjects(
    db: sqlite3.Connection,
    keys: AuditKeys,
    op: str,
    subjects: Iterable[str],
    table: str = "audit_subjects",
    known: Mapping[str, str] | None = None,
) -> list[str]:
    """Record ``subjects`` (record ids) as subjects of operation ``op``, as pseudonyms
    (once each); returns them, sorted. An operation over a stream of records calls this
    for each part (into a staging ``table`` moved into ``audit_subjects`` at the end),
    then appends its entry with ``subjects_recorded``. ``known`` saves working out
    again the pseudonyms of ids it holds (a purge's plan names its records by them)."""
    from custrec.store.packed import insert_subjects

    unique = list(dict.fromkeys(subjects))
    if known is not None and all(i in known for i in unique):
        pseudonyms = sorted({known[i] for i in unique})
    else:
        pseudonyms = sorted(set(keys.pseudonyms_of(unique)))
    insert_subjects(db, op, pseudonyms, table)
    return pseudonyms


def recorded_subjects(db: sqlite3.Connection, op: str) -> tuple[int, str]:
    """How many subjects operation ``op`` has recorded, and their digest (see
    :func:`subjects_digest`), read in order without holding them all."""
    digest = hashlib.sha256()
    count = 0
    for (pseudonym,) in db.execute(
        "SELECT pseudonym FROM audit_subjects WHERE op = ? ORDER BY pseudonym", (op,)
    ):
        digest.update(str(pseudonym).encode("ascii") + b"\n")
        count += 1
    return count, digest.hexdigest()


def chain_hash(previous: bytes, entry: bytes) -> bytes:
    """An entry's hash in the chain: SHA-256 of the previous entry's hash and the entry."""
    return crypto.sha256(previous + entry)


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
    subjects_recorded: bool = False,
    known: Mapping[str, str] | None = None,
) -> int:
    """Append one entry inside the caller's transaction and move the head. ``subjects``
    are record ids (stored as pseudonyms, once per operation); ``subjects_recorded``:
    the operation's subjects were recorded before, in parts (:func:`record_subjects`),
    and the entry binds them all. ``scope`` is ``"all"`` for operations on every
    record. ``known``: pseudonyms of some ids worked out already (id -> pseudonym).
    Returns the entry's sequence number."""
    pseudonyms: list[str] = []
    subject_count: int | None = None
    digest: str | None = None
    if subjects is not None:
        pseudonyms = record_subjects(db, keys, op, subjects, known=known)
        subject_count, digest = len(pseudonyms), subjects_digest(pseudonyms)
    elif subjects_recorded:
        subject_count, digest = recorded_subjects(db, op)
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
        "subjects": subject_count,
        "subjects_digest": digest,
    }
    data = canonical(entry)
    entry_hash = chain_hash(previous, data)
    db.execute(
        "INSERT INTO audit (seq, entry, hash, mac) VALUES (?, ?, ?, ?)",
        (seq, data, entry_hash, keys.entry_mac(seq, entry_hash)),
    )
    db.execute(
        "INSERT OR REPLACE INTO header (name, value) VALUES (?, ?)",
        (HEAD_NAME, _int8(seq) + entry_hash + keys.head_mac(seq, entry_hash)),
    )
    return seq


def read_head_row(db: sqlite3.Connection) -> bytes | None:
    """The header row holding the head, as stored (``int8(seq) || hash || mac``)."""
    row = db.execute("SELECT value FROM header WHERE name = ?", (HEAD_NAME,)).fetchone()
    return None if row is None else bytes(row[0])


def read_head(db: sqlite3.Connection) -> tuple[int, bytes, bytes] | None:
    value = read_head_row(db)
    if value is None:
        return None
    if len(value) != 8 + 32 + 32:
        return (-1, b"", b"")
    return int.from_bytes(value[:8], "big", signed=True), value[8:40], value[40:]
