"""Key holders of a store: who can open it, and how their slot wraps the master key.

A holder's slot stores the public half of an X25519 key pair derived from the holder's
secret (a key file's key, or a stretched passphrase) and the master key wrapped to it
(see ``docs/format.md``). The public key doubles as the key commitment: it is compared
before anything is decrypted, so a wrong key is reported as such.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from custrec import crypto
from custrec.errors import IntegrityError, WrongKeyError
from custrec.keyfile import key_id as derive_key_id
from custrec.store.keys import KeySource

if TYPE_CHECKING:
    from custrec.store.fileformat import Header


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def utc_now_precise() -> str:
    """UTC now with microseconds, for events that may follow each other within a second."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Holder(NamedTuple):
    """A key holder of the store (no secret in it)."""

    key_id: str
    kind: str
    added_at: str


def read_holders(db: sqlite3.Connection) -> list[dict[str, Any]]:
    columns = ("key_id", "kind", "public_key", "kdf", "salt", "ephemeral", "sealed", "added_at")
    rows = db.execute(f"SELECT {', '.join(columns)} FROM holders ORDER BY key_id").fetchall()
    return [dict(zip(columns, row, strict=True)) for row in rows]


def holder_aad(store_id: bytes, key_id: str) -> bytes:
    return b"custrec holder v1" + store_id + key_id.encode()


def holder_secret(source: KeySource, salt: bytes, kdf: Mapping[str, int]) -> bytes:
    if source.kind == "keyfile":
        assert source.key is not None
        return source.key
    assert source.passphrase is not None
    return crypto.stretch_passphrase(source.passphrase, salt, dict(kdf))


def new_slot(source: KeySource, store_id: bytes, master: bytes) -> dict[str, Any]:
    salt = crypto.random_bytes(16) if source.kind == "passphrase" else b""
    kdf = dict(crypto.ARGON2_DEFAULT) if source.kind == "passphrase" else {}
    secret = holder_secret(source, salt, kdf)
    key_id = derive_key_id(secret)
    public = crypto.holder_public_key(secret)
    wrapped = crypto.wrap_to_holder(master, public, holder_aad(store_id, key_id))
    return {
        "key_id": key_id,
        "kind": source.kind,
        "public_key": public,
        "kdf": json.dumps({"argon2id": kdf}) if kdf else "",
        "salt": salt,
        "ephemeral": wrapped.ephemeral,
        "sealed": wrapped.sealed,
        "added_at": utc_now(),
    }


def insert_slot(db: sqlite3.Connection, slot: Mapping[str, Any]) -> None:
    db.execute(
        "INSERT INTO holders (key_id, kind, public_key, kdf, salt, ephemeral, sealed, added_at)"
        " VALUES (:key_id, :kind, :public_key, :kdf, :salt, :ephemeral, :sealed, :added_at)",
        dict(slot),
    )


def find_holder(header: Header, source: KeySource) -> tuple[dict[str, Any], bytes]:
    """The slot this key opens, checked by key commitment (the holder's public key)
    before anything is decrypted."""
    candidates = [h for h in header.holders if h["kind"] == source.kind]
    for slot in candidates:
        kdf: dict[str, int] = {}
        if slot["kdf"]:
            try:
                kdf = dict(json.loads(slot["kdf"])["argon2id"])
            except (ValueError, KeyError, TypeError):
                raise IntegrityError("a key slot's parameters are damaged or altered") from None
        if source.kind == "keyfile":
            assert source.key is not None
            if derive_key_id(source.key) != slot["key_id"]:
                continue
        secret = holder_secret(source, bytes(slot["salt"]), kdf)
        if crypto.equal(crypto.holder_public_key(secret), bytes(slot["public_key"])):
            return slot, secret
        if source.kind == "keyfile":
            raise IntegrityError(
                f"the key slot {slot['key_id']} was altered: it does not match its key"
            )
    ids = ", ".join(str(h["key_id"]) for h in header.holders)
    if source.kind == "keyfile":
        assert source.key is not None
        raise WrongKeyError(
            f"wrong key: {source.label} (key id {derive_key_id(source.key)}) is not a key "
            f"of this store; its keys are: {ids}"
        )
    raise WrongKeyError(f"wrong passphrase for this store (its keys are: {ids})")
