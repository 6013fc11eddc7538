"""Writes tests/vectors/store-v1.crec and store-v1.key: a tiny store in format 1.

Run once when format 1 was defined; never again for format 1 (test_store_vectors.py
reads the committed files, so a change that breaks old stores fails CI). A new format
gets a new vector beside this one.
"""

from __future__ import annotations

import sys
from pathlib import Path

from custrec.keyfile import new_key_file
from custrec.store import KeySource, StoreSettings, create_store

RECORDS = [
    {
        "customer_id": "C-000001",
        "name": "Zoë Ødegaard",
        "email": "zoe@example.com",
        "phone": "+44 7700 900001",
        "visits": 3,
        "vip": True,
    },
    {
        "customer_id": "C-000002",
        "name": "Łukasz Dvořák",
        "email": "lukasz@example.org",
        "phone": "07700 900002",
        "visits": 0,
        "vip": False,
    },
    {
        "customer_id": "C-000003",
        "name": "María Núñez",
        "email": None,
        "phone": "07700 900003",
        "visits": None,
        "vip": None,
    },
]


def main(directory: Path) -> None:
    key = new_key_file(directory / "store-v1.key")
    source = KeySource.from_key_file(key.path)
    settings = StoreSettings(chunk_records=2, region="GB")
    with create_store(directory / "store-v1.crec", source, settings=settings) as store:
        store.put(RECORDS)
        store.update("C-000002", set_fields={"visits": 1, "note": "moved to Kraków"})


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent)
