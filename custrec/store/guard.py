"""Record states and the data-subject guard: what a legal hold, a restriction of
processing, an erasure and a purge's grace period forbid.

The states live sealed in the header (``states``, see :mod:`custrec.store.states`
and the key schedule); records are named by their id token, never by their id. Every
write passes its changes through :meth:`RecordGuard.check`, inside its transaction,
saying what it is doing (:class:`Purpose`), so a hold set by another process after a
plan was made still stops a deletion. Reads leave out what must not be shown.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from enum import Enum
from typing import TYPE_CHECKING

from custrec.errors import NotFoundError
from custrec.store import keyschedule
from custrec.store import tombstones as tombstone_file
from custrec.store.holders import utc_now_precise
from custrec.store.index import BlindIndex
from custrec.store.records import Value
from custrec.store.session import StoreSession
from custrec.store.states import (
    LegalHoldError,
    RecordRestrictedError,
    RecordStates,
    in_force,
    tombstone_tokens,
)

if TYPE_CHECKING:
    import pyarrow as pa


class Purpose(Enum):
    """Why records are being written: what the guard lets through."""

    CHANGE = "change"
    """Collect, update, delete, rotation: a held record is not deleted, a restricted
    one is not changed, one in a purge's grace period is not touched."""
    ERASE = "erase"
    """The right to erasure: may change or remove a restricted record."""
    PURGE = "purge"
    """A purge whose grace period ended: may remove records in their grace period."""


class RecordGuard:
    """The record states of one open store and the rules they impose."""

    def __init__(self, session: StoreSession, index: BlindIndex) -> None:
        self.session = session
        self.index = index
        self._cache: tuple[bytes, RecordStates] | None = None
        self.pending_erasures: dict[str, dict[str, object]] = {}
        """Id tokens (hex) that the tombstone file says were erased and that the store
        still holds (a restored backup): left out of reads, refused by collect."""

    # -- the states -----------------------------------------------------------------------

    def states(self) -> RecordStates:
        """The record states of the header read by the current transaction."""
        header = self.session.require_header()
        sealed = header.sealed.get("states")
        if sealed is None:
            return RecordStates()
        cached = self._cache
        if cached is None or cached[0] != sealed:
            plain = keyschedule.open_value(
                self.session.require_keys(), header, "states", "the record states"
            )
            assert plain is not None
            cached = self._cache = (sealed, RecordStates.from_bytes(plain))
        return cached[1]

    def save(self, db: sqlite3.Connection, changed: RecordStates) -> None:
        header = self.session.require_header()
        keyschedule.seal_value(self.session.require_keys(), header, "states", changed.to_bytes())
        self.session.write_header(db, header)

    def of(self, record_id: str) -> dict[str, bool]:
        token = self.index.token_hex(record_id)
        current = self.states()
        return {
            "hold": token in current.hold,
            "restricted": token in current.restricted,
            "erased": token in current.erased or token in self.pending_erasures,
        }

    # -- checks inside writes ---------------------------------------------------------------

    def check(self, changes: Mapping[str, Mapping[str, Value] | None], purpose: Purpose) -> None:
        """Refuse to delete a held record, to change a restricted one (unless erasing),
        or to touch one in a purge's grace period (unless purging or erasing)."""
        current = self.states()
        if not current.guarded:
            return
        for record_id, change in changes.items():
            token = self.index.token_hex(record_id)
            if change is None and token in current.hold:
                raise self.held_error(record_id)
            if token in current.purged and purpose is Purpose.CHANGE:
                raise NotFoundError(
                    f"no record with {self.session.require_header().settings.id_field} {record_id}"
                )
            if change is not None and token in current.restricted and purpose is Purpose.CHANGE:
                raise RecordRestrictedError(
                    f"record {record_id} is restricted (processing limited, GDPR Art. 18): "
                    "only access and erase may use it until it is unrestricted"
                )

    def refuse_if_held(self, record_id: str) -> None:
        hold = self.states().hold
        if hold and self.index.token_hex(record_id) in hold:
            raise self.held_error(record_id)

    @staticmethod
    def held_error(record_id: str) -> LegalHoldError:
        return LegalHoldError(
            f"record {record_id} is under legal hold: it cannot be erased or purged until "
            "it is released (custrec release)"
        )

    # -- what reads leave out ---------------------------------------------------------------

    def hidden(self, record_ids: Iterable[str]) -> set[str]:
        """Those of ``record_ids`` that reads leave out whatever they ask: in a purge's
        grace period, or erased according to the tombstone file."""
        unseen = self.states().purged.keys() | self._pending_in_force()
        if not unseen:
            return set()
        return {i for i in record_ids if self.index.token_hex(i) in unseen}

    def _pending_in_force(self) -> set[str]:
        return {key for key, entry in self.pending_erasures.items() if in_force(entry)}

    def refuse_restricted(self, record_ids: Iterable[str]) -> None:
        current = self.states()
        if not current.restricted:
            return
        for record_id in record_ids:
            if self.index.token_hex(record_id) in current.restricted:
                raise RecordRestrictedError(
                    f"record {record_id} is restricted (processing limited, GDPR Art. 18): "
                    "use custrec access to export it for its subject"
                )

    def hidden_tokens(
        self, include_restricted: bool, include_purged: bool
    ) -> tuple[set[str], set[str]]:
        """Id tokens (hex) a read leaves out: (restricted ones, the others)."""
        current = self.states()
        restricted = set() if include_restricted else set(current.restricted)
        others = self._pending_in_force()
        if not include_purged:
            others |= current.purged.keys()
        return restricted, others

    def visible(
        self, batch: pa.RecordBatch, include_restricted: bool, include_purged: bool
    ) -> tuple[pa.RecordBatch, int]:
        """``batch`` without what a read leaves out, and how many restricted records
        were left out."""
        restricted, others = self.hidden_tokens(include_restricted, include_purged)
        if not restricted and not others:
            return batch, 0
        import pyarrow as pa

        id_field = self.session.require_header().settings.id_field
        tokens = [t.hex() for t in self.index.id_tokens(batch.column(id_field).to_pylist())]
        skipped = sum(1 for t in tokens if t in restricted)
        keep = [t not in restricted and t not in others for t in tokens]
        return (batch.filter(pa.array(keep)) if not all(keep) else batch), skipped

    # -- what collect may not bring back ----------------------------------------------------

    def refused_rows(
        self,
        id_tokens: Sequence[bytes],
        contact_tokens: Callable[[], Mapping[str, Sequence[bytes | None]]],
    ) -> tuple[dict[int, str], dict[int, set[str]]]:
        """Rows (0-based) the store refuses: position -> ``erased`` (the id or a contact
        detail of an erased customer) or ``in_grace`` (a record in a purge's grace
        period); and, for the erased ones, the tombstones (id tokens, hex) they match.
        ``contact_tokens`` gives the rows' contact tokens as tombstones keep them
        (:meth:`~custrec.store.index.BlindIndex.contact_tokens`), asked only when a
        tombstone is in force."""
        current = self.states()
        gone = tombstone_tokens({**self.pending_erasures, **current.erased})
        out: dict[int, str] = {}
        matched: dict[int, set[str]] = {}
        if gone:
            match_tokens = contact_tokens()
            for position, token in enumerate(id_tokens):
                hits = {gone[t] for t in [token.hex()] if t in gone}
                for tokens in match_tokens.values():
                    contact = tokens[position]
                    if contact is not None and contact.hex() in gone:
                        hits.add(gone[contact.hex()])
                if hits:
                    out[position] = "erased"
                    matched[position] = hits
        if current.purged:
            for position, token in enumerate(id_tokens):
                if position not in out and token.hex() in current.purged:
                    out[position] = "in_grace"
        return out, matched

    def readmit(self, db: sqlite3.Connection, tombstones: Iterable[str]) -> int:
        """Mark these tombstones as lifted: their customers were collected again on
        purpose. The erasure still applies to what was collected before it."""
        current = self.states()
        wanted = set(tombstones)
        for key in wanted:
            entry = current.erased.get(key) or self.pending_erasures.get(key)
            if entry is not None:
                current.erased[key] = {**entry, "readmitted": utc_now_precise()}
                self.pending_erasures.pop(key, None)
        if wanted:
            self.save(db, current)
        return len(wanted)

    def write_tombstone_file(self) -> None:
        """Write ``STORE.erasures`` as the merge of the store's tombstones and those only
        the file had (a restored backup's pending ones)."""
        header = self.session.require_header()
        merged = tombstone_file.merge(self.pending_erasures, self.states().erased)
        tombstone_file.write(self.session.path, self.session.index_key, header.store_id, merged)
