"""Writes tests/vectors/store-v2.crec, its key store store-v2.crec.keys and its key
store-v2.key: a tiny store in format 2 (data keys in the key store beside the data
file), holding the same records as the format-1 vector, one of them erased.

Run once when format 2 was defined; never again for format 2 (test_store_vectors.py
reads the committed files, so a change that breaks format-2 stores fails CI).
"""

from __future__ import annotations

import sys
from pathlib import Path

from make_store_v1 import RECORDS  # type: ignore[import-not-found]

from custrec.keyfile import new_key_file
from custrec.store import KeySource, StoreSettings, create_store

ERASED = {"customer_id": "C-000004", "name": "Erased Person", "email": "gone@example.com"}


def main(directory: Path) -> None:
    key = new_key_file(directory / "store-v2.key")
    source = KeySource.from_key_file(key.path)
    settings = StoreSettings(chunk_records=2, region="GB")
    with create_store(directory / "store-v2.crec", source, settings=settings) as store:
        store.put(RECORDS)
        store.update("C-000002", set_fields={"visits": 1, "note": "moved to Kraków"})
        store.put([ERASED])
        store.erase("C-000004")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent)
