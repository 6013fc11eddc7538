"""Retention benchmarks: a purge of 10% of a store against one full streaming read of
it, and the erasure of one record in a big store against the same in a small one.

In a temporary directory removed at the end, generates customers CSVs of
``retention_rows`` and 1,000 rows (``custrec generate customers --bad-share 0``) and
collects each into a store (``init --region GB``; both timed apart, for information).
Then, in this process (the store opened once; opening is not timed):

- (a) one full streaming read of the big store (``Store.iter_batches``, every batch
  touched), the reference, against (b) a purge by a policy whose one rule makes 10% of
  the records due (``where: customer_id < 'C-100001'`` for 1M, trigger ``created_at``, period
  ``0d``): planning (a streaming read) and applying (one transaction, secure deletion,
  journal emptied) on a fresh copy of the store each time; target (b) ≤ 3x (a); the
  plan and its application are also reported apart;
- (c) references nobody here wrote: SQLite alone deleting the same records' index
  entries from tables of the store's index layout, and of the leanest layout a lookup by
  token allows (8-byte tokens, no secondary index), filled with random tokens: the
  floor under the purge's index work;
- the erasure of one random record (``Store.erase``: the chunk rewritten under a new
  key, tombstones written, journal emptied) in the big store against the small one,
  median of ``repeat`` x 5 erasures each; target big ≤ 1.3x small.

Medians of ``repeat`` runs, the two sides taking turns. Runs alone too::

    .venv/bin/python benchmarks/retention.py --retention-rows 100000
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

SECTION = "Retention: purge and erase against a full read"
SMALL_ROWS = 1_000
REPEAT = 3
PURGE_TARGET = 3.0
ERASE_TARGET = 1.3
POLICY = """version: 1
rules:
  - id: tenth
    where: "customer_id < 'C-{first_kept:06d}'"
    trigger: created_at
    period: 0d
    action: delete
"""

Row = tuple[str, float, str]


def progress(message: str) -> None:
    print(f"[retention bench] {message}", file=sys.stderr, flush=True)


def custrec(*args: str, env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "-m", "custrec", *args],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def build(directory: Path, rows: int, env: dict[str, str]) -> tuple[Path, float]:
    """A store of ``rows`` generated customers, and the seconds it took to make."""
    started = time.perf_counter()
    source = directory / f"customers-{rows}.csv"
    store = directory / f"customers-{rows}.crec"
    custrec(
        "generate", "customers", "--rows", str(rows), "--bad-share", "0", "-o", str(source), env=env
    )
    custrec("init", str(store), "--region", "GB", env=env)
    custrec("collect", str(store), str(source), env=env)
    return store, time.perf_counter() - started


def copy_store(source: Path, target: Path) -> None:
    """A copy of a store: its data file and its key store (``STORE.keys``)."""
    shutil.copy(source, target)
    shutil.copy(f"{source}.keys", f"{target}.keys")


def bench_retention(rows: int, repeat: int = REPEAT) -> list[Row]:
    from custrec import retention
    from custrec.keyfile import new_key_file
    from custrec.store import KeySource, open_store

    out: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="custrec-retention-") as name:
        directory = Path(name)
        key_path = new_key_file(directory / "bench.key").path
        env = {**os.environ, "CUSTREC_KEY_FILE": str(key_path), "PYTHONPATH": str(REPO)}
        source = KeySource.from_key_file(key_path)
        progress(f"building stores of {rows:,} and {SMALL_ROWS:,} records")
        big, built = build(directory, rows, env)
        small, _ = build(directory, SMALL_ROWS, env)
        out.append(
            (
                f"custrec generate + init + collect, {rows:,} records (input of the rows "
                "below; not part of any measure)",
                built,
                f"store {big.stat().st_size / 2**20:,.1f} MiB",
            )
        )
        policy_file = directory / "policy.yaml"
        policy_file.write_text(POLICY.format(first_kept=rows // 10 + 1), encoding="utf-8")
        as_of = dt.date(2100, 1, 1)
        reads: list[float] = []
        purges: list[float] = []
        plans: list[float] = []
        applies: list[float] = []
        purged = 0
        for run in range(1, repeat + 1):
            progress(f"run {run}/{repeat}: (a) full streaming read")
            with open_store(big, source) as opened:
                started = time.perf_counter()
                count = sum(batch.num_rows for batch in opened.iter_batches())
                reads.append(time.perf_counter() - started)
            assert count == rows, count
            progress(f"run {run}/{repeat}: (b) purge of 10%")
            copy = directory / "purged.crec"
            copy_store(big, copy)
            with open_store(copy, source) as opened:
                policy = retention.load_policy(policy_file, dict(opened.columns), None)
                started = time.perf_counter()
                plan = retention.plan_purge(opened, policy, as_of)
                planned = time.perf_counter()
                retention.apply_purge(opened, plan, policy, None)
                applied = time.perf_counter()
                purges.append(applied - started)
                plans.append(planned - started)
                applies.append(applied - planned)
                purged = len(plan.records)
                assert opened.count() == rows - purged
            for leftover in directory.glob("purged.crec*"):
                leftover.unlink()
        read, purge = statistics.median(reads), statistics.median(purges)
        ratio = purge / read
        met = "met" if ratio <= PURGE_TARGET else "MISSED"
        out.append(
            (
                f"(a) one full streaming read of the store, {rows:,} records, median of "
                f"{repeat} (reference)",
                read,
                f"{rows / read:,.0f} records/s; 1.00x",
            )
        )
        out.append(
            (
                f"(b) purge by policy of {purged:,} records ({purged / rows:.0%}): plan + apply "
                f"in one transaction, median of {repeat}",
                purge,
                f"{ratio:.2f}x the read's time (target ≤ {PURGE_TARGET:g}x: {met})",
            )
        )
        plan_time, apply_time = statistics.median(plans), statistics.median(applies)
        out.append(
            (
                "(b1) of which the plan (a streaming read and the policy's rules)",
                plan_time,
                f"{plan_time / read:.2f}x the read's time",
            )
        )
        out.append(
            (
                "(b2) of which applying it (chunks rewritten, index entries and audit "
                "subjects removed, one transaction)",
                apply_time,
                f"{apply_time / read:.2f}x the read's time",
            )
        )
        for lean in (False, True):
            floor = index_floor(directory, rows, purged, lean=lean)
            layout = (
                "8-byte tokens, no secondary index (the leanest lookup layout)"
                if lean
                else "the store's index layout"
            )
            out.append(
                (
                    f"(c) reference: SQLite alone deleting {purged:,} records' index entries "
                    f"({rows:,} id and {2 * rows:,} match entries, random tokens; {layout}), "
                    "one transaction",
                    floor,
                    f"{floor / read:.2f}x the read's time",
                )
            )
        timings: dict[str, list[float]] = {"big": [], "small": []}
        picker = random.Random(2026)
        for label, path, size in (("big", big, rows), ("small", small, SMALL_ROWS)):
            copy = directory / f"erase-{label}.crec"
            copy_store(path, copy)
            chosen = picker.sample(range(1, size + 1), repeat * 5)
            progress(f"erasing {len(chosen)} records one by one in the {size:,}-record store")
            with open_store(copy, source) as opened:
                for number in chosen:
                    started = time.perf_counter()
                    opened.erase(f"C-{number:06d}")
                    timings[label].append(time.perf_counter() - started)
        big_erase = statistics.median(timings["big"])
        small_erase = statistics.median(timings["small"])
        erase_ratio = big_erase / small_erase
        met = "met" if erase_ratio <= ERASE_TARGET else "MISSED"
        out.append(
            (
                f"erase one record in the {SMALL_ROWS:,}-record store, median of "
                f"{len(timings['small'])} (reference)",
                small_erase,
                "1.00x",
            )
        )
        out.append(
            (
                f"erase one record in the {rows:,}-record store, median of {len(timings['big'])}",
                big_erase,
                f"{erase_ratio:.2f}x the small store's (target ≤ {ERASE_TARGET:g}x: {met})",
            )
        )
    return out


LEAN_TABLES = """
CREATE TABLE id_index (token BLOB PRIMARY KEY, chunk_id INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE match_index (token BLOB NOT NULL, record BLOB NOT NULL,
                          PRIMARY KEY (token, record)) WITHOUT ROWID;
"""


def index_floor(directory: Path, rows: int, due: int, *, lean: bool) -> float:
    """What SQLite alone takes to delete ``due`` records' entries (an id entry and two
    match entries each, in key order, as the purge does) from index tables of
    ``rows`` records with random tokens, in one transaction of a database set up like a
    store (WAL, full sync, zeroed free pages): the floor under the purge's index work
    for that layout, measured here rather than assumed."""
    import sqlite3

    from custrec.store.fileformat import INDEX_TABLES  # the store's own index layout

    path = directory / ("floor-lean.db" if lean else "floor.db")
    width = 8 if lean else 16
    db = sqlite3.connect(path, isolation_level=None)
    try:
        for pragma in ("journal_mode = WAL", "synchronous = FULL", "secure_delete = ON",
                       "cache_size = -65536"):  # fmt: skip
            db.execute(f"PRAGMA {pragma}")
        db.executescript(LEAN_TABLES if lean else INDEX_TABLES)
        ids = [os.urandom(width) for _ in range(rows)]
        emails = [os.urandom(width) for _ in range(rows)]
        phones = [os.urandom(width) for _ in range(rows)]
        db.execute("BEGIN")
        db.executemany(
            "INSERT INTO id_index VALUES (?, ?)", ((t, i // 1024) for i, t in enumerate(ids))
        )
        for tokens, name in ((emails, "email"), (phones, "phone")):
            if lean:
                db.executemany(
                    "INSERT INTO match_index VALUES (?, ?)", zip(tokens, ids, strict=True)
                )
            else:
                db.executemany(
                    "INSERT INTO match_index VALUES (?, ?, ?)",
                    ((name, t, r) for t, r in zip(tokens, ids, strict=True)),
                )
        db.execute("COMMIT")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        gone = ids[:due]
        started = time.perf_counter()
        db.execute("BEGIN")
        if lean:
            pairs = sorted(
                [*zip(emails[:due], gone, strict=True), *zip(phones[:due], gone, strict=True)]
            )
            db.executemany("DELETE FROM match_index WHERE token = ? AND record = ?", pairs)
        else:
            db.executemany("DELETE FROM match_index WHERE record = ?", [(t,) for t in sorted(gone)])
        db.executemany("DELETE FROM id_index WHERE token = ?", [(t,) for t in sorted(gone)])
        db.execute("COMMIT")
        return time.perf_counter() - started
    finally:
        db.close()
        for leftover in directory.glob(path.name + "*"):
            leftover.unlink()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of this benchmark, here and in benchmarks/run.py."""
    parser.add_argument(
        "--retention-rows", type=int, default=1_000_000, help="records of the purged store"
    )


def main() -> int:
    from run import render  # type: ignore[import-not-found]

    parser = argparse.ArgumentParser(description="custrec retention benchmarks alone")
    add_arguments(parser)
    parser.add_argument("--retention-repeat", type=int, default=REPEAT, help="runs per timing")
    args = parser.parse_args()
    rows = bench_retention(args.retention_rows, args.retention_repeat)
    print(render({SECTION: rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
