"""The tombstone file beside a store: erasures that must survive a restored backup.

The store keeps its tombstones inside, in the sealed record states, written in the
erasing transaction itself. ``STORE.erasures`` is derived from them after every
erasure, so that a store file put back from an older backup still learns which
customers were erased since (``custrec reapply-erasures``). It holds id and contact
tokens only, never an id or value, and is authenticated by a MAC under a key derived
from the store's *index key*, which no key rotation replaces: a tombstone file written
after a rotation verifies against a backup taken before it.

The file is always the merge of every tombstone it and the store have held (of two
for one customer, the more recent): when the store has tombstones the file lacks (a
process killed between the commit and the file's rewrite, or the file deleted), the
next open rewrites it and says so; when the file has tombstones the store lacks (a
restored backup), those records count as erased for every read until
``reapply-erasures`` erases them again. A tombstone whose customer was collected again
on purpose is marked ``readmitted``: it no longer keeps them out, but what was
collected before the erasure is still erased again after a restore.

Format (version 2)::

    custrec-erasures v2
    store: <store id, hex>
    count: <number of tombstones>
    mac: <hex of mac(erasures key, "custrec-erasures v2", store_id, body)>
    <body: canonical JSON of {id token: tombstone}>

with ``erasures key = hkdf(index key, "custrec erasures mac v1", store_id)``. Version
1 files (MAC under the master key's header key) are still read.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from pathlib import Path

from custrec import crypto
from custrec.errors import IntegrityError
from custrec.store.fileformat import os_error
from custrec.store.states import in_force

MAGIC_V1 = "custrec-erasures v1"
MAGIC = "custrec-erasures v2"
Tombstones = dict[str, dict[str, object]]


def path_of(store: str | Path) -> Path:
    """Where the tombstones of ``store`` are kept beside it."""
    path = Path(store)
    return path.with_name(path.name + ".erasures")


def erasures_key(index_key: bytes, store_id: bytes) -> bytes:
    return crypto.hkdf(index_key, "custrec erasures mac v1", salt=store_id)


def _body(erased: Tombstones) -> str:
    return json.dumps(erased, sort_keys=True, separators=(",", ":"))


def write(store: str | Path, index_key: bytes, store_id: bytes, erased: Tombstones) -> Path:
    """Write the tombstones beside the store: complete or not at all, mode 0600, never
    through a symbolic link, nothing left behind by a process killed meanwhile."""
    target = path_of(store)
    body = _body(erased)
    mac = crypto.mac(erasures_key(index_key, store_id), MAGIC.encode(), store_id, body.encode())
    text = f"{MAGIC}\nstore: {store_id.hex()}\ncount: {len(erased)}\nmac: {mac.hex()}\n{body}\n"
    from custrec.atomic import atomic_file  # only when writing: opening stays light

    try:
        with atomic_file(target, mode=0o600, companion=True) as handle:
            handle.write(text.encode("utf-8"))
    except OSError as exc:
        raise os_error(exc, target) from None
    return target


def peek_count(store: str | Path) -> int | None:
    """The number of tombstones the file says it holds, unverified (None: no file, or
    not a readable one). For a cheap check at every open; :func:`read` verifies."""
    try:
        with open(path_of(store), "rb") as handle:
            head = handle.read(256).split(b"\n")
    except OSError:
        return None
    if len(head) > 3 and head[0] == MAGIC.encode() and head[2].startswith(b"count: "):
        with contextlib.suppress(ValueError):
            return int(head[2][7:])
    return None


def read(
    store: str | Path, index_key: bytes, store_id: bytes, legacy_key: bytes
) -> Tombstones | None:
    """The tombstones kept beside the store, verified; None when there is no file.
    ``legacy_key`` (the master key's header key) checks a version-1 file."""
    target = path_of(store)
    try:
        lines = target.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise _damaged(target, exc) from None
    try:
        if lines[:1] == [MAGIC_V1]:
            _, store_line, mac_line, body = lines[:4]
            key, magic = legacy_key, MAGIC_V1
        else:
            magic, store_line, count_line, mac_line, body = lines[:5]
            key = erasures_key(index_key, store_id)
            if magic != MAGIC:
                raise ValueError("not a tombstone file")
        if store_line != f"store: {store_id.hex()}":
            raise ValueError("another store's tombstones")
        expected = crypto.mac(key, magic.encode(), store_id, body.encode())
        if not crypto.equal(expected, bytes.fromhex(mac_line.removeprefix("mac: "))):
            raise ValueError("MAC")
        erased = json.loads(body)
        if not isinstance(erased, dict) or not all(isinstance(v, dict) for v in erased.values()):
            raise ValueError("not a mapping")
        if magic == MAGIC and count_line != f"count: {len(erased)}":
            raise ValueError("count")
        return erased
    except (ValueError, IndexError) as exc:
        raise _damaged(target, exc) from None


def _damaged(target: Path, exc: BaseException) -> IntegrityError:
    return IntegrityError(
        f"{target}: the tombstones of erased records are damaged, altered or belong to "
        f"another store ({exc})"
    )


class Reconciled:
    """What :func:`reconcile` found: ``pending`` tombstones of the file that the store
    lacks (a restored backup: erase them again), and messages for the user."""

    __slots__ = ("notes", "pending")

    def __init__(self) -> None:
        self.pending: Tombstones = {}
        self.notes: list[str] = []


def _when(text: object) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(str(text))
    except ValueError:
        return dt.datetime.min.replace(tzinfo=dt.UTC)


def _stamp(entry: dict[str, object]) -> tuple[dt.datetime, dt.datetime]:
    """How recent a tombstone is: its erasure, then its readmission if any."""
    readmitted = entry.get("readmitted")
    return _when(entry.get("at")), _when(readmitted) if readmitted else dt.datetime.min.replace(
        tzinfo=dt.UTC
    )


def merge(*maps: Tombstones) -> Tombstones:
    """Every tombstone of ``maps``; of two for one customer, the more recent (a later
    erasure, or the same erasure with the customer's readmission)."""
    out: Tombstones = {}
    for erased in maps:
        for key, entry in erased.items():
            known = out.get(key)
            if known is None or _stamp(entry) > _stamp(known):
                out[key] = entry
    return out


def reconcile(
    store: str | Path,
    in_store: Tombstones,
    index_key: bytes,
    store_id: bytes,
    legacy_key: bytes,
    *,
    full: bool = False,
) -> Reconciled:
    """Bring the tombstone file up to the merge of its and the store's tombstones and
    report what the store lacks. Without ``full``, a file whose count matches the
    store's is taken as in step (a cheap check for every open; verify passes ``full``)."""
    found = Reconciled()
    target = path_of(store)
    if not full:
        count = peek_count(store)
        if count is not None and count == len(in_store):
            return found
        if count is None and not in_store and not target.exists():
            return found
    kept = read(store, index_key, store_id, legacy_key)
    if kept is None:
        if in_store:
            write(store, index_key, store_id, in_store)
            found.notes.append(
                f"{target} was missing: it was written again from the store's "
                f"{len(in_store)} tombstone(s); keep it, and back it up apart from the store"
            )
        return found
    merged = merge(kept, in_store)
    found.pending = {key: entry for key, entry in merged.items() if in_store.get(key) != entry}
    behind = [key for key, entry in merged.items() if kept.get(key) != entry]
    if behind:
        write(store, index_key, store_id, merged)
        found.notes.append(
            f"{target} lacked {len(behind)} tombstone change(s) the store holds (a process "
            "was stopped before writing it): it was brought up to date"
        )
    if any(in_force(entry) for entry in found.pending.values()):
        found.notes.append(
            f"{len(found.pending)} erasure(s) recorded in {target} are not applied to this "
            "store (was it restored from a backup?): those records are left out of every "
            "read; run `custrec reapply-erasures` now to erase them again"
        )
    return found
