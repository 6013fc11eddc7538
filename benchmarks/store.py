"""Encrypted store benchmarks: access cost, full read and memory against store size.

Builds stores of a small size (1,000 records), of ``store_rows`` records and of
``memory_rows`` records once, in a temporary directory removed at the end, and
measures, side by side in one run:

- point ``get`` and ``update`` latency (median and p95 over random ids), in process and
  as a whole process, at the small and the big size (target: big/small within 1.3x);
- ``store.to_pandas()`` of the big store against ``pandas.read_parquet`` of the same
  records in a plaintext Parquet file (target: at most 1.5x);
- peak RSS of a streaming read (``iter_batches``, one batch to pandas at a time) at
  ``store_rows`` and ``memory_rows`` records, each in a fresh process (target: within
  1.5x);
- how long building each store took, for information.

Called by ``benchmarks/run.py``; also runs alone for quick iterations::

    python benchmarks/store.py --store-rows 20000 --memory-rows 50000
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

SMALL_ROWS = 1_000
PUT_ROWS = 50_000  # generated rows per put (one transaction each)
SEED = 2026
WARM_UP = 5

ACCESS_TARGET = 1.3
READ_TARGET = 1.5
MEMORY_TARGET = 1.5

Row = tuple[str, float, str]

# One point access in a fresh interpreter: what a `custrec get` command would cost
# (there is none yet). argv: store, key file, "get" or "update", record id.
ACCESS_SCRIPT = """
import sys
from custrec.store import KeySource, open_store
with open_store(sys.argv[1], KeySource.from_key_file(sys.argv[2])) as store:
    if sys.argv[3] == "get":
        store.get(sys.argv[4])
    else:
        store.update(sys.argv[4], set_fields={"notes": "updated by a benchmark process"})
"""

# A streaming read in a fresh interpreter; prints records read, peak RSS (KiB) and, as a
# cross-check, VmHWM (KiB). argv: store, key file, "read" (or "open": the baseline).
READ_RSS_SCRIPT = """
import resource, sys
import pandas, pyarrow
from custrec.store import KeySource, open_store
records = 0
with open_store(sys.argv[1], KeySource.from_key_file(sys.argv[2])) as store:
    if sys.argv[3] == "read":
        for batch in store.iter_batches():
            frame = batch.to_pandas()
            records += len(frame)
            del frame, batch
hwm = [l.split()[1] for l in open("/proc/self/status") if l.startswith("VmHWM:")] or ["0"]
print(records, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, hwm[0])
"""

# Linux keeps a process's peak RSS across exec, and a child made by fork or vfork starts
# from its parent's peak: a child of this (large) benchmark process would report the
# benchmark's own peak as ru_maxrss. So the measured process is started by a small
# launcher process, whose peak is the interpreter's own (about 10 MiB).
LAUNCHER_SCRIPT = """
import subprocess, sys
sys.exit(subprocess.run(sys.argv[1:]).returncode)
"""


def progress(message: str) -> None:
    print(f"[store bench] {message}", file=sys.stderr, flush=True)


@dataclass
class BuiltStore:
    rows: int
    path: Path
    seconds: float = 0.0
    put_seconds: float = 0.0
    ids: list[str] = field(default_factory=list)
    megabytes: float = 0.0


def build_store(
    directory: Path, rows: int, source: Any, *, keep_ids: bool, parquet: Path | None = None
) -> BuiltStore:
    """A store of ``rows`` generated customers (all ids unique), one put per generated
    chunk; optionally the same rows in a plaintext Parquet file too."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from custrec.generate import generate_customers
    from custrec.store import create_store

    built = BuiltStore(rows, directory / f"customers-{rows}.crec")
    types = {"string": pa.string(), "int64": pa.int64(), "float64": pa.float64(),
             "bool": pa.bool_()}  # fmt: skip
    writer: Any = None
    progress(f"building a {rows:,}-record store")
    started = time.perf_counter()
    done = 0
    with create_store(built.path, source) as store:
        for chunk in generate_customers(rows, bad_share=0.0, seed=SEED, chunk_rows=PUT_ROWS):
            put_started = time.perf_counter()
            store.put(chunk.rows)
            put_seconds = time.perf_counter() - put_started
            built.put_seconds += put_seconds
            if keep_ids:
                built.ids += [str(row["customer_id"]) for row in chunk.rows]
            if parquet is not None:
                if writer is None:
                    schema = pa.schema([(name, types[kind]) for name, kind in store.columns])
                    writer = pq.ParquetWriter(parquet, schema)
                writer.write_table(pa.Table.from_pylist(chunk.rows, schema=writer.schema))
            done += len(chunk.rows)
            if done % 500_000 == 0 or done == rows:
                elapsed = time.perf_counter() - started
                progress(
                    f"  {done:,}/{rows:,} records in {elapsed:.1f} s "
                    f"(last put of {len(chunk.rows):,}: {put_seconds:.2f} s)"
                )
    if writer is not None:
        writer.close()
    built.seconds = time.perf_counter() - started
    built.megabytes = built.path.stat().st_size / 2**20
    return built


# --- helpers -----------------------------------------------------------------------


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def p95(times: Sequence[float]) -> float:
    return statistics.quantiles(times, n=20, method="inclusive")[-1]


def target(ratio: float, limit: float) -> str:
    return f"target ≤ {limit:g}x: {'met' if ratio <= limit else 'MISSED'}"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms"


def python_process(*args: str) -> Callable[[], subprocess.CompletedProcess[str]]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}

    def run() -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [sys.executable, *args], env=env, check=False, capture_output=True, text=True
        )
        if proc.returncode != 0:
            raise RuntimeError(
                f"benchmark process failed (exit {proc.returncode}): {args[:2]}\n"
                f"{proc.stderr[-3000:]}"
            )
        return proc

    return run


def library_mtimes() -> dict[Path, float]:
    return {p: p.stat().st_mtime for p in sorted((REPO / "custrec").rglob("*.py"))}


def latency_rows(
    what: str, times: dict[str, dict[int, list[float]]], small: int, big: int
) -> list[Row]:
    """Median and p95 rows of each operation, small store then big store, with the
    big/small ratio against the access target. ``what`` may name the ``{op}``."""
    rows: list[Row] = []
    for op, by_size in times.items():
        label = what.format(op=op)
        for stat_name, stat in (("median", statistics.median), ("p95", p95)):
            base = stat(by_size[small])
            count = len(by_size[small])
            for size in (small, big):
                value = stat(by_size[size])
                ratio = value / base
                text = f"{ms(value)}; " + (
                    "1.00x"
                    if size == small
                    else f"{ratio:.2f}x of {small:,} ({target(ratio, ACCESS_TARGET)})"
                )
                rows.append((f"{label}, {stat_name} of {count}, {size:,} records", value, text))
    return rows


# --- measurements ------------------------------------------------------------------


def in_process_latency(
    stores: Sequence[BuiltStore], source: Any, count: int
) -> dict[str, dict[int, list[float]]]:
    """``get`` then ``update`` of ``count`` random ids per store, the stores taking
    turns call by call so that machine noise falls on both alike."""
    from custrec.store import open_store

    rng = random.Random(SEED)
    samples = {s.rows: rng.sample(s.ids, min(count, len(s.ids))) for s in stores}
    opened = {s.rows: open_store(s.path, source) for s in stores}
    times: dict[str, dict[int, list[float]]] = {"get": {}, "update": {}}
    try:
        for op in times:
            progress(f"in-process {op}: {count} random ids per store")
            for size, store in opened.items():
                action = store.get if op == "get" else store.update
                for record_id in samples[size][:WARM_UP]:
                    action(record_id)
                times[op][size] = []
            for i in range(count):
                for size, store in opened.items():
                    record_id = samples[size][i % len(samples[size])]
                    if op == "get":
                        seconds = timed(lambda s=store, r=record_id: s.get(r))
                    else:
                        seconds = timed(
                            lambda s=store, r=record_id, n=i: s.update(
                                r, set_fields={"notes": f"updated by benchmark call {n}"}
                            )
                        )
                    times[op][size].append(seconds)
    finally:
        for store in opened.values():
            store.close()
    return times


def process_latency(
    stores: Sequence[BuiltStore], key_path: Path, count: int
) -> dict[str, dict[int, list[float]]]:
    """The same as :func:`in_process_latency`, one fresh interpreter per call."""
    rng = random.Random(SEED + 1)
    samples = {s.rows: rng.sample(s.ids, min(count, len(s.ids))) for s in stores}
    times: dict[str, dict[int, list[float]]] = {"get": {}, "update": {}}
    for op in times:
        progress(f"whole-process {op}: {count} runs per store")
        for store in stores:
            times[op][store.rows] = []
            python_process("-c", ACCESS_SCRIPT, str(store.path), str(key_path), op,
                           samples[store.rows][0])()  # fmt: skip
        for i in range(count):
            for store in stores:
                record_id = samples[store.rows][i % len(samples[store.rows])]
                run = python_process(
                    "-c", ACCESS_SCRIPT, str(store.path), str(key_path), op, record_id
                )
                times[op][store.rows].append(timed(run))
    return times


def verify_process(store: BuiltStore, key_path: Path, count: int) -> list[float]:
    progress(f"custrec verify on the {store.rows:,}-record store: {count} runs")
    run = python_process("-m", "custrec", "verify", str(store.path), "--key-file", str(key_path))
    run()
    return [timed(run) for _ in range(count)]


def full_read(store: BuiltStore, source: Any, parquet: Path, repeat: int) -> list[Row]:
    """``store.to_pandas()`` against ``pandas.read_parquet`` of the same records, taking
    turns run by run."""
    import pandas as pd

    from custrec.store import open_store

    progress(f"full read of the {store.rows:,}-record store and its Parquet file, {repeat}x")
    ours: list[float] = []
    reference: list[float] = []
    with open_store(store.path, source) as opened:
        for _ in range(repeat):
            started = time.perf_counter()
            frame = opened.to_pandas()
            ours.append(time.perf_counter() - started)
            started = time.perf_counter()
            plain = pd.read_parquet(parquet)
            reference.append(time.perf_counter() - started)
            if frame.shape != plain.shape or set(frame.columns) != set(plain.columns):
                raise AssertionError(f"store {frame.shape} and Parquet {plain.shape} differ")
            del frame, plain
    median, base = statistics.median(ours), statistics.median(reference)
    ratio = median / base
    size_mb = parquet.stat().st_size / 2**20
    return [
        (
            f"store.to_pandas(), {store.rows:,} records (decrypt + Arrow + pandas), "
            f"median of {repeat}",
            median,
            f"{ratio:.2f}x of read_parquet ({target(ratio, READ_TARGET)}); "
            f"{store.rows / median:,.0f} rows/s",
        ),
        (
            f"pandas.read_parquet, same records in plaintext Parquet ({size_mb:,.1f} MiB, "
            "reference)",
            base,
            f"1.00x; {store.rows / base:,.0f} rows/s",
        ),
    ]


def peak_rss(store: BuiltStore, key_path: Path, mode: str) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of a fresh process that streams the whole store
    (``mode`` "read") or only opens it (``mode`` "open")."""
    progress(f"peak RSS of a streaming read ({mode}) of the {store.rows:,}-record store")
    run = python_process(
        "-c", LAUNCHER_SCRIPT,
        sys.executable, "-c", READ_RSS_SCRIPT, str(store.path), str(key_path), mode,
    )  # fmt: skip
    started = time.perf_counter()
    proc = run()
    seconds = time.perf_counter() - started
    records, kib, hwm_kib = (int(v) for v in proc.stdout.split())
    progress(f"  peak RSS {kib / 1024:,.0f} MiB (VmHWM {hwm_kib / 1024:,.0f} MiB)")
    expected = store.rows if mode == "read" else 0
    if records != expected:
        raise AssertionError(f"streamed {records} records, expected {expected}")
    return seconds, kib


def rss_rows(
    stores: Sequence[BuiltStore], key_path: Path, measured: dict[int, tuple[float, int]]
) -> list[Row]:
    """Peak RSS rows: a baseline without the read (``measured[0]``, on the first store),
    then a streaming read of each store (from ``measured`` by size when measured)."""
    base_store = stores[0]
    seconds, kib = measured.get(0) or peak_rss(base_store, key_path, "open")
    rows: list[Row] = [
        (
            f"no read: imports + open_store only, {base_store.rows:,} records, peak RSS (baseline)",
            seconds,
            f"{kib / 1024:,.0f} MiB",
        )
    ]
    first_kib = 0
    for store in stores:
        seconds, kib = measured.get(store.rows) or peak_rss(store, key_path, "read")
        text = f"{kib / 1024:,.0f} MiB"
        if first_kib:
            ratio = kib / first_kib
            text += f"; {ratio:.2f}x of {stores[0].rows:,} ({target(ratio, MEMORY_TARGET)})"
        else:
            first_kib = kib
        rows.append(
            (
                f"streaming read (iter_batches, each batch to pandas and dropped), "
                f"{store.rows:,} records, peak RSS of a fresh process (seconds: its wall time)",
                seconds,
                text,
            )
        )
    return rows


def build_rows(stores: Sequence[BuiltStore]) -> list[Row]:
    return [
        (
            f"build a {s.rows:,}-record store (generate + put per {PUT_ROWS:,} rows)",
            s.seconds,
            f"{s.rows / s.seconds:,.0f} rows/s (put alone {s.rows / s.put_seconds:,.0f} rows/s); "
            f"file {s.megabytes:,.1f} MiB",
        )
        for s in stores
    ]


# --- the section -------------------------------------------------------------------


def bench_store(
    store_rows: int = 1_000_000,
    memory_rows: int = 5_000_000,
    ids: int = 200,
    process_repeat: int = 20,
    read_repeat: int = 3,
) -> list[Row]:
    """All rows of the store section (see the module docstring)."""
    from custrec.keyfile import new_key_file
    from custrec.store import KeySource

    mtimes = library_mtimes()
    with tempfile.TemporaryDirectory(prefix="custrec-bench-store-") as name:
        directory = Path(name)
        key_path = new_key_file(directory / "bench.key").path
        source = KeySource.from_key_file(key_path)
        parquet = directory / f"customers-{store_rows}.parquet"

        # A throw-away store first, so that no measured build pays for first imports.
        build_store(directory, 100, source, keep_ids=False)
        small = build_store(directory, SMALL_ROWS, source, keep_ids=True)
        big = build_store(directory, store_rows, source, keep_ids=True, parquet=parquet)
        built = [small, big]

        # Everything on the small and big stores first, the (long) memory-store build
        # last, so that the measurements of one store follow its build closely.
        rows = latency_rows(
            "{op}, in process", in_process_latency([small, big], source, ids), small.rows, big.rows
        )
        rows += latency_rows(
            "{op}, whole process (python -c open_store(...).{op}(id): no CLI command yet)",
            process_latency([small, big], key_path, process_repeat),
            small.rows,
            big.rows,
        )
        verify = verify_process(small, key_path, process_repeat)
        rows.append(
            (
                f"custrec verify, whole process, {small.rows:,} records, median of "
                f"{process_repeat}",
                statistics.median(verify),
                f"{ms(statistics.median(verify))}; p95 {ms(p95(verify))}",
            )
        )
        rows += full_read(big, source, parquet, read_repeat)
        memory = [big]
        measured = {0: peak_rss(big, key_path, "open"), big.rows: peak_rss(big, key_path, "read")}
        if memory_rows and memory_rows != store_rows:
            huge = build_store(directory, memory_rows, source, keep_ids=False)
            built.append(huge)
            memory.append(huge)
        rows += rss_rows(memory, key_path, measured)
        rows = build_rows(built) + rows
        progress("done; removing the temporary stores")
    changed = [str(p.relative_to(REPO)) for p, t in library_mtimes().items() if mtimes.get(p) != t]
    if changed:
        progress(f"WARNING: the library changed during this run: {', '.join(changed)}")
    return rows


def main() -> int:
    from run import render  # type: ignore[import-not-found]

    parser = argparse.ArgumentParser(description="custrec store benchmarks alone")
    parser.add_argument("--store-rows", type=int, default=1_000_000)
    parser.add_argument("--memory-rows", type=int, default=5_000_000)
    parser.add_argument("--store-ids", type=int, default=200)
    parser.add_argument("--store-process-repeat", type=int, default=20)
    args = parser.parse_args()
    rows = bench_store(args.store_rows, args.memory_rows, args.store_ids, args.store_process_repeat)
    print(render({"Encrypted store against store size": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
