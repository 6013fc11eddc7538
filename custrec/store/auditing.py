"""Auditing an open store: every change and every read leaves entries in the store's
audit trail (:mod:`custrec.audit`), in the same transactions as what they record.

A change writes an ``intent`` entry first, then makes the change and writes its
``outcome`` entry in one transaction; a read writes one ``access`` entry after reading
and before returning anything. Each append also moves the audit head that the header
MAC covers (header revision 2), so the trail cannot be wiped, truncated or re-chained
without the master key; ``custrec audit head`` prints the head for an external
witness, which catches a rollback of the whole file too.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

from custrec import audit
from custrec.errors import CustrecError, ExitCode
from custrec.store import packed
from custrec.store.session import StoreSession

if TYPE_CHECKING:
    from custrec.audit_read import AuditEntries, AuditQuery, AuditVerification


class Operation:
    """One audited operation: entries of one operation share its ``id``."""

    __slots__ = ("action", "counts", "fields", "id", "subjects_recorded")

    def __init__(
        self,
        action: str,
        fields: Iterable[str] = (),
        counts: dict[str, int] | None = None,
    ) -> None:
        self.id = os.urandom(8).hex()
        self.action = action
        self.fields = set(fields)
        self.counts = counts if counts is not None else {}
        self.subjects_recorded = False


def exit_code_of(exc: BaseException) -> int:
    if isinstance(exc, CustrecError):
        return int(exc.exit_code)
    if isinstance(exc, KeyboardInterrupt):
        return int(ExitCode.INTERRUPTED)
    return 70


class Auditor:
    """The audit trail of one open store."""

    def __init__(self, session: StoreSession, context: audit.AuditContext) -> None:
        self.session = session
        self.context = context
        self._keys_cache: tuple[tuple[bytes, bytes], audit.AuditKeys] | None = None
        self._last_pseudonyms: dict[str, str] = {}
        """The pseudonyms last worked out for many ids (a purge's plan), reused when
        the change's audit entry names the same records."""

    def pseudonyms_of(self, record_ids: Iterable[str]) -> list[str]:
        ids = list(record_ids)
        made = self.keys.pseudonyms_of(ids)
        self._last_pseudonyms = dict(zip(ids, made, strict=True))
        return made

    @property
    def keys(self) -> audit.AuditKeys:
        """The audit keys, derived once per index key (HKDF costs a few microseconds,
        and a purge names a pseudonym per record)."""
        source = (self.session.index_key, self.session.require_header().store_id)
        cached = self._keys_cache
        if cached is None or cached[0] != source:
            cached = self._keys_cache = (source, audit.AuditKeys.derive(*source))
        return cached[1]

    def record_subjects(self, db: sqlite3.Connection, op: Operation, ids: Sequence[str]) -> None:
        """Record some of the subjects of ``op`` (a change over a stream of records,
        whose intent could not name them), staged (the caller created the staging
        tables: :meth:`packed.Staged.create`); its outcome entry binds them all."""
        audit.record_subjects(db, self.keys, op.id, ids, packed.Staged.SUBJECTS)
        op.subjects_recorded = True

    def append(
        self,
        db: sqlite3.Connection,
        op: Operation,
        phase: str,
        outcome: str,
        exit_code: int | None = None,
        subjects: Sequence[str] | None = None,
        scope: str | None = None,
    ) -> None:
        """One entry, in the caller's transaction (which read and checked the header),
        and the header's authenticated copy of the new head."""
        audit.append(
            db,
            self.keys,
            self.context,
            op=op.id,
            phase=phase,
            action=op.action,
            outcome=outcome,
            exit_code=exit_code,
            subjects=subjects,
            scope=scope,
            fields=op.fields,
            counts=op.counts,
            subjects_recorded=op.subjects_recorded and phase == "outcome",
            known=self._last_pseudonyms if subjects else None,
        )
        header = self.session.require_header()
        header.audit_head = audit.read_head_row(db)
        self.session.write_header(db, header)

    @contextlib.contextmanager
    def change(
        self,
        action: str,
        *,
        subjects: Sequence[str] | None = None,
        scope: str | None = None,
        fields: Iterable[str] = (),
        single_transaction: bool = True,
    ) -> Iterator[Operation]:
        """A change, audited: an intent entry committed first, then the change and its
        outcome entry in one transaction (or, for a change made of many transactions,
        the outcome after the last); a failure leaves a failed outcome entry."""
        if action != "migrate":  # a format-1 store is changed by migrate only
            self.session.require_current_format()
        op = Operation(action, fields)
        # The intent needs no sync of its own: the WAL is written in order, so the
        # change's synced commit makes the intent durable too, and an intent lost with a
        # power failure before the change commits concerned a change that never happened.
        with self.session.relaxed_sync(), self.session.transaction(write=True) as db:
            self.append(db, op, "intent", "started", subjects=subjects, scope=scope)
        try:
            if single_transaction:
                with self.session.transaction(write=True) as db:
                    yield op
                    if op.subjects_recorded:
                        packed.Staged.move_subjects(db)
                    self.append(db, op, "outcome", "ok", scope=scope)
            else:  # the caller runs its own transactions
                yield op
                with self.session.transaction(write=True) as db:
                    self.append(db, op, "outcome", "ok", scope=scope)
        except BaseException as exc:
            self.failure(op, exc, scope=scope)
            raise

    def access(
        self,
        action: str,
        *,
        subjects: Sequence[str] | None = None,
        scope: str | None = None,
        fields: Iterable[str] = (),
        counts: dict[str, int] | None = None,
        failure: BaseException | None = None,
    ) -> None:
        """Record a read, before its result is returned (one entry: a read that never
        completes discloses nothing). Synchronous=NORMAL: kept across a process crash,
        not necessarily across a power loss. The header is checked, the manifest not:
        a failed read of a store with altered chunks is recorded too."""
        op = Operation(action, fields, dict(counts or {}))
        with self.session.relaxed_sync():
            if failure is None:
                with self.session.transaction(write=True, manifest=False) as db:
                    self.append(db, op, "access", "ok", subjects=subjects, scope=scope)
            else:  # best effort: the failure itself is what the caller reports
                with (
                    contextlib.suppress(CustrecError, sqlite3.Error),
                    self.session.transaction(write=True, manifest=False) as db,
                ):
                    code = exit_code_of(failure)
                    self.append(db, op, "access", "failed", code, subjects, scope)

    def failure(self, op: Operation, exc: BaseException, *, scope: str | None) -> None:
        """Best effort: a store too damaged or too busy to write to keeps its intent
        entry, which then shows the operation as never completed."""
        op.subjects_recorded = False  # recorded in the transaction that was rolled back
        with (
            contextlib.suppress(CustrecError, sqlite3.Error),
            self.session.transaction(write=True) as db,
        ):
            self.append(db, op, "outcome", "failed", exit_code_of(exc), scope=scope)

    def verify(self, *, expect_head: str | None = None) -> AuditVerification:
        """Check the whole audit trail (see :func:`custrec.audit_read.verify`)."""
        from custrec import audit_read

        with self.session.transaction(write=False) as db:
            return audit_read.verify(db, self.keys, expect_head=expect_head)

    def query(self, wanted: AuditQuery) -> AuditEntries:
        from custrec import audit_read

        with self.session.transaction(write=False) as db:
            return audit_read.query(db, self.keys, wanted)

    def head(self) -> tuple[int, str]:
        """The audit head: the last entry's sequence number and hash (hex)."""
        with self.session.transaction(write=False) as db:
            head = audit.read_head(db)
        if head is None:
            return 0, self.keys.genesis().hex()
        return head[0], head[1].hex()
