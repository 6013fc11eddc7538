"""The key schedule: every key of a store, and everything sealed, wrapped or MAC'd
under its master key, listed once.

A store's master key (MK) is wrapped to each key holder. Under it are:

- values sealed under the *wrap key* (``hkdf(MK, "custrec key wrap v1")``): the index
  key, the record states and the key store keys (header rows,
  :data:`WRAPPED_HEADER_ROWS`); under the key store keys, one data key per chunk
  version in the key store beside the data file (:mod:`custrec.store.keystore`;
  format 1 kept them in the data file's ``data_keys`` table);
- MACs under the *header key* (the header MAC) and the *manifest key* (chunk group
  MACs and the manifest MAC).

Replacing the master key (``key rotate``, ``key remove``) re-seals every one of them
through :func:`reseal_under`, which walks this list, so nothing sealed under the old
key is left behind. :data:`SCHEDULE` classifies every header row and every column of
every table of the data file and of the key store (``keys:``); a test fails when a
part is added to either file without an entry here, so a new sealed part cannot be
forgotten by rotation or verification. Replacing the master key also replaces the key
store key; the data keys are sealed again under the new one right after
(:meth:`custrec.store.session.StoreSession.replace_keystore_key`).

What lives under the *index key* (independent of MK, so that MK can be replaced
without rebuilding indexes) is listed too: the blind-index tokens, the audit trail's
MACs and pseudonyms, and the MAC of the tombstone file beside the store.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from enum import Enum

from custrec import crypto
from custrec.errors import IntegrityError
from custrec.store.fileformat import Header, int8
from custrec.store.holders import holder_aad, read_holders


class MasterKeys:
    """Keys derived from the master key of one store."""

    __slots__ = ("header", "manifest", "master", "wrap")

    def __init__(self, master: bytes, store_id: bytes) -> None:
        self.master = master
        self.header = crypto.hkdf(master, "custrec header mac v1", salt=store_id)
        self.manifest = crypto.hkdf(master, "custrec manifest mac v1", salt=store_id)
        self.wrap = crypto.hkdf(master, "custrec key wrap v1", salt=store_id)


class Protection(Enum):
    """How a part of the store file is protected."""

    SEALED_WRAP = "sealed under the wrap key (MK)"
    MAC_HEADER = "covered by the header MAC (MK)"
    MAC_MANIFEST = "covered by the manifest MACs (MK)"
    WRAPPED_TO_HOLDER = "MK wrapped to a holder's public key"
    SEALED_DATA_KEY = "sealed under a chunk version's data key"
    INDEX_KEY = "keyed by the index key (survives MK replacement)"
    MATCH_KEY = "keyed by a field group's match key (survives MK replacement)"
    IN_PART_AAD = "bound by a chunk part's AAD to its chunk's manifest entry"
    AUDIT_KEY = "MAC'd or digested under the audit key (from the index key)"
    HINT = "unauthenticated hint; its loss or change only repeats work"
    KEYSTORE_MAC = "covered by the key store's MAC (from the index key)"
    SEALED_KSK = "sealed under a key store key (in the data file, under the wrap key)"


FORMAT_1_SCHEDULE: dict[str, Protection] = {
    "data_keys.key_no": Protection.MAC_MANIFEST,
    "data_keys.sealed": Protection.SEALED_WRAP,
}
"""Format 1 kept the data keys in the data file (read by ``migrate``, ``get``, ``export``)."""

FORMAT_2_SCHEDULE: dict[str, Protection] = {
    "chunk_payloads.chunk_id": Protection.MAC_MANIFEST,
    "chunk_payloads.payload": Protection.SEALED_DATA_KEY,
}
"""Formats 1 and 2 sealed each chunk whole (format 3: one part per field group)."""


WRAPPED_HEADER_ROWS: dict[str, bytes] = {
    "index_key": b"index key",
    "states": b"record states",
    "keystore_keys": b"key store keys",
    "match_keys": b"match index keys",
}
"""Header rows sealed under the wrap key, and the label their AAD starts with (the
AAD is ``label || store_id``)."""

SCHEDULE: dict[str, Protection] = {
    # header rows
    "header:magic": Protection.MAC_HEADER,
    "header:format": Protection.MAC_HEADER,
    "header:store_id": Protection.MAC_HEADER,
    "header:created_at": Protection.MAC_HEADER,
    "header:settings": Protection.MAC_HEADER,
    "header:columns": Protection.MAC_HEADER,
    "header:epoch": Protection.MAC_HEADER,
    "header:revision": Protection.MAC_HEADER,
    "header:index_key": Protection.SEALED_WRAP,
    "header:keystore_keys": Protection.SEALED_WRAP,
    "header:match_keys": Protection.SEALED_WRAP,
    "header:groups": Protection.MAC_HEADER,
    "header:generation": Protection.MAC_HEADER,
    "header:states": Protection.SEALED_WRAP,
    "header:header_mac": Protection.MAC_HEADER,
    "header:manifest_mac": Protection.MAC_HEADER,
    "header:audit_head": Protection.MAC_HEADER,
    "header:scrub_pending": Protection.HINT,
    # tables
    "holders.key_id": Protection.MAC_HEADER,
    "holders.kind": Protection.MAC_HEADER,
    "holders.public_key": Protection.MAC_HEADER,
    "holders.kdf": Protection.MAC_HEADER,
    "holders.salt": Protection.MAC_HEADER,
    "holders.ephemeral": Protection.WRAPPED_TO_HOLDER,
    "holders.sealed": Protection.WRAPPED_TO_HOLDER,
    "holders.added_at": Protection.MAC_HEADER,
    "pending_destroy.key_no": Protection.HINT,
    "chunks.chunk_id": Protection.MAC_MANIFEST,
    "chunks.generation": Protection.MAC_MANIFEST,
    "chunks.key_no": Protection.MAC_MANIFEST,
    "chunks.epoch": Protection.MAC_MANIFEST,
    "chunks.records": Protection.MAC_MANIFEST,
    "chunk_parts.chunk_id": Protection.IN_PART_AAD,
    "chunk_parts.part": Protection.IN_PART_AAD,
    "chunk_parts.key_no": Protection.IN_PART_AAD,
    "chunk_parts.payload": Protection.SEALED_DATA_KEY,
    "chunk_groups.group_id": Protection.MAC_MANIFEST,
    "chunk_groups.mac": Protection.MAC_MANIFEST,
    "id_index.token": Protection.INDEX_KEY,
    "id_index.chunk_id": Protection.INDEX_KEY,
    "match_index.field": Protection.INDEX_KEY,
    "match_index.token": Protection.MATCH_KEY,
    "match_index.record": Protection.INDEX_KEY,
    "audit.seq": Protection.AUDIT_KEY,
    "audit.entry": Protection.AUDIT_KEY,
    "audit.hash": Protection.AUDIT_KEY,
    "audit.mac": Protection.AUDIT_KEY,
    "audit_subjects.op": Protection.AUDIT_KEY,
    "audit_subjects.pseudonym": Protection.AUDIT_KEY,
    # beside the store
    "file:STORE.erasures": Protection.INDEX_KEY,
    "keys:header:magic": Protection.KEYSTORE_MAC,
    "keys:header:format": Protection.KEYSTORE_MAC,
    "keys:header:store_id": Protection.KEYSTORE_MAC,
    "keys:header:generation": Protection.KEYSTORE_MAC,
    "keys:header:pending": Protection.KEYSTORE_MAC,
    "keys:header:mac": Protection.KEYSTORE_MAC,
    "keys:data_keys.key_no": Protection.SEALED_KSK,
    "keys:data_keys.ksk_no": Protection.SEALED_KSK,
    "keys:data_keys.sealed": Protection.SEALED_KSK,
}
"""Every header row and table column of a store file, and how it is protected."""


def value_aad(name: str, store_id: bytes) -> bytes:
    return WRAPPED_HEADER_ROWS[name] + store_id


def data_key_aad(store_id: bytes, key_no: int) -> bytes:
    return b"data key" + store_id + int8(key_no)


def seal_value(keys: MasterKeys, header: Header, name: str, plain: bytes) -> None:
    """Seal ``plain`` as the header row ``name`` (one of :data:`WRAPPED_HEADER_ROWS`)."""
    header.sealed[name] = crypto.seal(keys.wrap, plain, value_aad(name, header.store_id))


def open_value(keys: MasterKeys, header: Header, name: str, what: str) -> bytes | None:
    """The plaintext of the sealed header row ``name``; None when the store has none."""
    sealed = header.sealed.get(name)
    if sealed is None:
        return None
    return crypto.open_sealed(keys.wrap, sealed, value_aad(name, header.store_id), what)


class KeystoreKeys:
    """The key store keys (KSK) that seal the data keys in the key store: by number,
    each key and the chunk part (field group) whose data keys it seals; the highest
    number of a part is its current key. Format 2 has one part (0) and seals
    ``int8(number) || key`` each in the header; format 3 one or more keys per part,
    ``int8(number) || int8(part) || key`` each."""

    def __init__(self, keys: dict[int, tuple[int, bytes]]) -> None:
        self.keys = keys

    @classmethod
    def unpack(cls, packed: bytes, file_format: int) -> KeystoreKeys:
        width = 48 if file_format >= 3 else 40
        if len(packed) % width or not packed:
            raise IntegrityError("the store's key store keys are damaged")
        keys = {}
        for i in range(0, len(packed), width):
            number = int.from_bytes(packed[i : i + 8], "big", signed=True)
            part = int.from_bytes(packed[i + 8 : i + 16], "big", signed=True) if width == 48 else 0
            keys[number] = (part, packed[i + width - 32 : i + width])
        return cls(keys)

    def pack(self, file_format: int) -> bytes:
        return b"".join(
            int8(no) + (int8(part) if file_format >= 3 else b"") + key
            for no, (part, key) in sorted(self.keys.items())
        )

    def key(self, number: int) -> bytes | None:
        found = self.keys.get(number)
        return None if found is None else found[1]

    def current(self, part: int) -> int:
        """The number of the key that seals new data keys of ``part``."""
        numbers = [no for no, (p, _) in self.keys.items() if p == part]
        if not numbers:
            raise IntegrityError(f"the store has no key store key for chunk part {part}")
        return max(numbers)

    def currents(self) -> set[int]:
        return {self.current(part) for part, _ in self.keys.values()}

    def part_of(self, number: int) -> int:
        return self.keys[number][0]

    def add(self, parts: Iterable[int]) -> None:
        """A new key for each of ``parts``, numbered after every key so far, so each is
        its part's current key (older ones are kept until their data keys are re-sealed
        or destroyed)."""
        top = max(self.keys, default=0)
        for offset, part in enumerate(sorted(set(parts)), 1):
            self.keys[top + offset] = (part, crypto.random_bytes())

    def replace_all(self) -> None:
        """A new current key for every part."""
        self.add(p for p, _ in self.keys.values())

    def keep_current(self) -> None:
        self.keys = {no: self.keys[no] for no in self.currents()}


def seal_match_keys(keys: MasterKeys, header: Header, match_keys: dict[int, bytes]) -> None:
    """Format 3: the blind-index key of each part's match fields, sealed in the header
    as ``int8(part) || key`` each."""
    packed = b"".join(int8(part) + key for part, key in sorted(match_keys.items()))
    seal_value(keys, header, "match_keys", packed)


def open_match_keys(keys: MasterKeys, header: Header) -> dict[int, bytes]:
    packed = open_value(keys, header, "match_keys", "the match index keys") or b""
    if len(packed) % 40 or not packed:
        raise IntegrityError("the store's match index keys are damaged")
    return {
        int.from_bytes(packed[i : i + 8], "big", signed=True): packed[i + 8 : i + 40]
        for i in range(0, len(packed), 40)
    }


def seal_data_key(keys: MasterKeys, store_id: bytes, key_no: int, data_key: bytes) -> bytes:
    return crypto.seal(keys.wrap, data_key, data_key_aad(store_id, key_no))


def open_data_key(keys: MasterKeys, store_id: bytes, key_no: int, sealed: bytes) -> bytes:
    return crypto.open_sealed(
        keys.wrap, sealed, data_key_aad(store_id, key_no), f"data key {key_no}"
    )


def reseal_under(db: sqlite3.Connection, header: Header, old: MasterKeys, new: MasterKeys) -> None:
    """Move everything sealed or wrapped under ``old`` to ``new``: every sealed header
    row, every data key, and the master key wrapped to every holder. The MACs (header,
    manifest) are the caller's to recompute under ``new`` in the same transaction."""
    for name in WRAPPED_HEADER_ROWS:
        plain = open_value(old, header, name, name.replace("_", " "))
        if plain is not None:
            seal_value(new, header, name, plain)
    if header.format == 1:  # format 2 keeps its data keys in the key store
        resealed = []
        for key_no, sealed in db.execute("SELECT key_no, sealed FROM data_keys").fetchall():
            plain = open_data_key(old, header.store_id, int(key_no), bytes(sealed))
            resealed.append((seal_data_key(new, header.store_id, int(key_no), plain), int(key_no)))
        db.executemany("UPDATE data_keys SET sealed = ? WHERE key_no = ?", resealed)
    for holder in read_holders(db):
        wrapped = crypto.wrap_to_holder(
            new.master,
            bytes(holder["public_key"]),
            holder_aad(header.store_id, str(holder["key_id"])),
        )
        db.execute(
            "UPDATE holders SET ephemeral = ?, sealed = ? WHERE key_id = ?",
            (wrapped.ephemeral, wrapped.sealed, holder["key_id"]),
        )
    header.holders = read_holders(db)
