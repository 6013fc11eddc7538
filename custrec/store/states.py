"""Record states that data-subject rights need: legal hold, restriction of processing,
and the tombstones of erased records.

The states are kept in the store's header, sealed (AES-256-GCM under the store's
wrap key, see :mod:`custrec.store.keyschedule`) and covered by the header MAC, so
that they can be neither read nor altered without the key: the fact that a customer
is under legal hold is itself confidential. Records are named by their id token (the
keyed HMAC of the id the id index uses), never by their id.

A tombstone holds the tokens of an erased record's id and of its match fields (email,
phone) so that ``collect`` refuses to bring the customer back, and so that
``reapply-erasures`` can erase them again from a store restored from a backup. The
tombstones are also written beside the store, in ``STORE.erasures``
(:mod:`custrec.store.tombstones`), which a restored store file does not roll back.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from custrec.errors import CheckFailedError


class LegalHoldError(CheckFailedError):
    """A record under legal hold cannot be erased or purged (exit 1)."""


class RecordRestrictedError(CheckFailedError):
    """A restricted record is refused by processing commands (exit 1)."""


class PlanMismatchError(CheckFailedError):
    """The store no longer matches a saved purge plan (exit 1): nothing was purged."""


class ErasedRecordError(CheckFailedError):
    """A record that was erased cannot be collected again without saying so (exit 1)."""


class RecordStates:
    """``hold`` and ``restricted``: id token (hex) -> when the state was set;
    ``erased``: id token (hex) -> {"at": when, "tokens": contact tokens (hex, under
    the index key), "kept": fields, "ground": text}; ``purged``: id token (hex) ->
    {"at": when, "until": the day its grace period ends, "rule": rule id, "action":
    delete or anonymise} for
    records a purge made invisible and that ``restore`` can bring back until then."""

    __slots__ = ("erased", "hold", "purged", "restricted")

    def __init__(
        self,
        hold: dict[str, str] | None = None,
        restricted: dict[str, str] | None = None,
        erased: dict[str, dict[str, object]] | None = None,
        purged: dict[str, dict[str, str]] | None = None,
    ) -> None:
        self.hold = dict(hold or {})
        self.restricted = dict(restricted or {})
        self.erased = dict(erased or {})
        self.purged = dict(purged or {})

    def to_bytes(self) -> bytes:
        document = {
            "hold": self.hold,
            "restricted": self.restricted,
            "erased": self.erased,
            "purged": self.purged,
        }
        return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> RecordStates:
        document = json.loads(data)
        return cls(
            document["hold"], document["restricted"], document["erased"], document.get("purged")
        )

    @property
    def guarded(self) -> bool:
        """Whether any record is held, restricted or in a purge's grace period (writes
        must then check)."""
        return bool(self.hold or self.restricted or self.purged)

    def erased_tokens(self) -> set[str]:
        """Every token (ids and match values, hex) of every tombstone still in force:
        not those of customers readmitted since (see :func:`in_force`)."""
        return set(tombstone_tokens(self.erased))


def in_force(entry: dict[str, object]) -> bool:
    """Whether a tombstone still keeps its customer out: it does until the customer is
    collected again on purpose (``collect --readmit-erased`` marks it ``readmitted``).
    Data collected before the erasure stays erased either way."""
    return "readmitted" not in entry


def tombstone_tokens(erased: dict[str, dict[str, object]]) -> dict[str, str]:
    """Token (hex) -> the tombstone it belongs to, for every tombstone in force: its
    id token and the tokens of its contact details."""
    out: dict[str, str] = {}
    for key, entry in erased.items():
        if not in_force(entry):
            continue
        out[key] = key
        for token in entry.get("tokens", []):  # type: ignore[attr-defined]
            out.setdefault(str(token), key)
    return out


def hex_tokens(tokens: Iterable[bytes]) -> list[str]:
    return sorted({token.hex() for token in tokens})
