"""Writes tests/vectors/store-v3.crec, its key store store-v3.crec.keys, its tombstone
file and its key store-v3.key: a tiny store in format 3 (each field group of its schema
sealed apart), holding the same records as the format-2 vector, one of them erased.

Run once when format 3 was defined; never again for format 3 (test_store_vectors.py
reads the committed files, so a change that breaks format-3 stores fails CI).
"""

from __future__ import annotations

import sys
from pathlib import Path

from make_store_v1 import RECORDS  # type: ignore[import-not-found]
from make_store_v2 import ERASED  # type: ignore[import-not-found]

from custrec.keyfile import new_key_file
from custrec.schema import dump_schema, parse_schema
from custrec.store import KeySource, StoreSettings, create_store

SCHEMA = """\
version: 1
name: vector
id: customer_id
match: [email, phone]
strict: false
fields:
  customer_id: {required: true}
  name: {}
  email: {}
  phone: {}
  visits: {type: integer}
  vip: {type: boolean}
  note: {}
groups:
  identity: {fields: [customer_id, name]}
  contact: {fields: [email, phone]}
  service: {fields: [visits, vip, note]}
  pseudonymous:
    derived:
      customer_ref: {from: customer_id, redaction: pseudonymise}
"""


def main(directory: Path) -> None:
    key = new_key_file(directory / "store-v3.key")
    source = KeySource.from_key_file(key.path)
    schema = parse_schema(SCHEMA)
    settings = StoreSettings(chunk_records=2, region="GB", schema=dump_schema(schema))
    path = directory / "store-v3.crec"
    with create_store(path, source, settings=settings, columns=schema.store_columns()) as store:
        store.put(RECORDS)
        store.update("C-000002", set_fields={"visits": 1, "note": "moved to Kraków"})
        store.put([ERASED])
        store.erase("C-000004")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent)
