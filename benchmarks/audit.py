"""Audit-trail benchmarks: what auditing costs a point read, and verifying a long log.

- ``get`` with its audit entry, against the same read without one (the store's read
  path alone) and against a bare SQLite lookup of the same record in plaintext: the
  share of a read that the audit entry costs;
- ``audit verify`` of a log of ``entries`` entries (target: a few seconds for 100,000).

Called by ``benchmarks/run.py``; also runs alone::

    python benchmarks/audit.py --entries 100000
"""

from __future__ import annotations

import argparse
import contextlib
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

if TYPE_CHECKING:
    from custrec.store import KeySource
    from custrec.store.parts import StoreParts

Row = tuple[str, float, str]
RECORDS = 10_000
READS = 300


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


@contextlib.contextmanager
def opened_parts(path: Path, source: KeySource) -> Iterator[StoreParts]:
    """The store at ``path`` opened as :func:`custrec.store.open_store` opens it, as the
    parts a :class:`~custrec.store.Store` works through (one connection, one session):
    the benchmark reads without an audit entry and appends entries in batches, which
    the ``Store`` front does not offer. Nothing is pending in a new store, so the
    scrub and tombstone checks ``open_store`` also makes are left out."""
    from custrec import audit
    from custrec.locking import DEFAULT_LOCK_TIMEOUT
    from custrec.store.auditing import Auditor
    from custrec.store.fileformat import connect
    from custrec.store.guard import RecordGuard
    from custrec.store.index import BlindIndex
    from custrec.store.parts import StoreParts
    from custrec.store.session import StoreSession
    from custrec.store.vault import ChunkVault

    session = StoreSession(path, connect(path, DEFAULT_LOCK_TIMEOUT), DEFAULT_LOCK_TIMEOUT)
    try:
        session.unlock(source)
        session.open_keystore()
        session.settle_if_needed()
        index = BlindIndex(session)
        yield StoreParts(
            session,
            ChunkVault(session),
            index,
            RecordGuard(session, index),
            Auditor(session, audit.AuditContext()),
        )
    finally:
        if session.keystore is not None:
            session.keystore.close()
        session.db.close()


def bench_audit(entries: int) -> list[Row]:
    from custrec import audit
    from custrec.generate import generate_customers
    from custrec.keyfile import new_key_file
    from custrec.store import KeySource, create_store
    from custrec.store.auditing import Operation
    from custrec.store.reads import RecordReader

    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory)
        source = KeySource.from_key_file(new_key_file(folder / "k.key").path)
        records = [r for c in generate_customers(RECORDS, bad_share=0.0, seed=5) for r in c.rows]
        plain = sqlite3.connect(folder / "plain.db")
        plain.execute("CREATE TABLE customers (customer_id TEXT PRIMARY KEY, row TEXT)")
        plain.executemany(
            "INSERT INTO customers VALUES (?, ?)", [(r["customer_id"], repr(r)) for r in records]
        )
        plain.commit()
        ids = [str(r["customer_id"]) for r in random.Random(1).sample(records, READS)]
        with create_store(folder / "s.crec", source) as store:
            store.put(records)
        with opened_parts(folder / "s.crec", source) as parts:
            session, auditor = parts.session, parts.auditor
            reader = RecordReader(parts)  # what Store.get reads through
            id_field = session.require_header().settings.id_field
            audited, unaudited, bare = [], [], []
            for record_id in ids:
                started = time.perf_counter()
                found = reader.get_many([record_id], include_restricted=False, action="get")
                audited.append(time.perf_counter() - started)
                if record_id not in found:
                    raise RuntimeError(f"record {record_id} not found")
                started = time.perf_counter()
                with session.transaction(write=False) as db:  # the read path, no entry
                    chunks, _ = parts.index.chunks_of(db, [record_id])
                    for chunk_id, wanted in chunks.items():
                        parts.vault.rows_with_ids(db, chunk_id, id_field, wanted)
                unaudited.append(time.perf_counter() - started)
                started = time.perf_counter()
                plain.execute(
                    "SELECT row FROM customers WHERE customer_id = ?", (record_id,)
                ).fetchone()
                bare.append(time.perf_counter() - started)
            reference = _median_ms(bare)
            rows += [
                (
                    f"get with its audit entry, median of {READS} ({RECORDS:,} records)",
                    _median_ms(audited) / 1000,
                    f"{_median_ms(audited):.2f} ms; audit entry "
                    f"{_median_ms(audited) - _median_ms(unaudited):.2f} ms of it",
                ),
                (
                    "the same read without an audit entry",
                    _median_ms(unaudited) / 1000,
                    f"{_median_ms(unaudited):.2f} ms",
                ),
                (
                    "bare SQLite lookup of the plaintext row (reference)",
                    reference / 1000,
                    f"{reference:.3f} ms; get is {_median_ms(audited) / reference:.0f}x",
                ),
            ]
            # A long log: entries appended directly, in batches, like many operations;
            # the header's authenticated copy of the head is moved once per batch.
            keys = auditor.keys
            started = time.perf_counter()
            written = auditor.verify().entries
            while written < entries:
                batch = min(10_000, entries - written)
                with session.transaction(write=True) as db:
                    for _ in range(batch):
                        op = Operation("get", counts={"asked": 1})
                        audit.append(
                            db,
                            keys,
                            auditor.context,
                            op=op.id,
                            phase="access",
                            action=op.action,
                            outcome="ok",
                            subjects=[random.choice(ids)],
                            counts=op.counts,
                        )
                    header = session.require_header()
                    header.audit_head = audit.read_head_row(db)
                    session.write_header(db, header)
                written += batch
            filled = time.perf_counter() - started
            started = time.perf_counter()
            result = auditor.verify()  # what Store.audit_verify runs
            seconds = time.perf_counter() - started
            if not result.ok or result.entries < entries:
                raise RuntimeError(f"audit verify failed: {result}")
            rows += [
                (
                    f"append {entries:,} audit entries (batches of 10,000)",
                    filled,
                    f"{entries / filled:,.0f} entries/s",
                ),
                (
                    f"audit verify, {result.entries:,} entries",
                    seconds,
                    f"{result.entries / seconds:,.0f} entries/s",
                ),
            ]
        plain.close()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    args = parser.parse_args()
    for what, seconds, note in bench_audit(args.entries):
        print(f"{what}: {seconds:.3f} s ({note})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
