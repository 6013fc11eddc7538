"""The encrypted record store (see :mod:`custrec.store.container` and ``docs/format.md``)."""

from custrec.store.container import (
    FORMAT_VERSION,
    Holder,
    Record,
    Store,
    StoreSettings,
    WriteResult,
    create_store,
    open_store,
    read_holders_unverified,
)
from custrec.store.keys import KeySource, resolve_key_source

__all__ = [
    "FORMAT_VERSION",
    "Holder",
    "KeySource",
    "Record",
    "Store",
    "StoreSettings",
    "WriteResult",
    "create_store",
    "open_store",
    "read_holders_unverified",
    "resolve_key_source",
]
