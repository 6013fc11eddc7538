"""The encrypted record store (see :mod:`custrec.store.container` and ``docs/format.md``)."""

from custrec.protected import is_store_file
from custrec.store.container import Store, open_store
from custrec.store.creation import create_store, read_holders_unverified
from custrec.store.fileformat import FORMAT_VERSION, StoreSettings
from custrec.store.holders import Holder
from custrec.store.keys import KeySource, resolve_key_source
from custrec.store.records import Record
from custrec.store.writes import RecordChange, WriteResult

__all__ = [
    "FORMAT_VERSION",
    "Holder",
    "KeySource",
    "Record",
    "RecordChange",
    "Store",
    "StoreSettings",
    "WriteResult",
    "create_store",
    "is_store_file",
    "open_store",
    "read_holders_unverified",
    "resolve_key_source",
]
