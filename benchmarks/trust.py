"""Store trust benchmarks: what the whole-store guarantees cost the point commands, and
what a full ``verify`` costs on a large store.

The reference is custrec itself before the store's trust work (``--baseline``, a git
revision; default: the last one with header revision 1 and without the key schedule),
extracted with ``git archive`` into a temporary directory and run from there, so
that both versions are measured side by side in one run, as whole processes:

- a 1,000-record store and one of ``trust_rows`` records are built by the baseline
  (``init --region GB`` + ``collect``); each is copied, and the copy migrated by the
  current code (``custrec migrate``: header revision 2, store format 2);
- ``get``, ``find --email`` and ``update --set`` of random records, ``--format json``,
  on each store by each version, taking turns run by run: median and p95, and the
  ratio current/baseline (target: within 1.10x);
- ``verify`` of the large store by each version, and SQLite's ``integrity_check``
  alone (part of the current verify), for information.

Called by ``benchmarks/run.py``; also runs alone::

    .venv/bin/python benchmarks/trust.py --trust-rows 100000
"""

from __future__ import annotations

import argparse
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from records import (  # noqa: E402 - script dir
    Dataset,
    Runner,
    check_answer,
    collect,
    command,
    draw_samples,
    generate_csv,
)
from store import ms, p95  # noqa: E402 - script dir

SECTION = "Store trust: point commands against the previous store, verify of a large store"
BASELINE = "4f2b79c"
"""The last revision before the key schedule and header revision 2."""
TARGET = 1.10
SMALL_ROWS = 1_000
SEED = 16

Row = tuple[str, float, str]


def progress(message: str) -> None:
    print(f"[trust bench] {message}", file=sys.stderr, flush=True)


def extract(revision: str, into: Path) -> Path:
    """The ``custrec`` package as of ``revision``, in ``into``."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", revision, "custrec"],
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def point_times(
    runners: dict[str, Runner], stores: dict[str, list[Dataset]], ops: list[str], repeat: int
) -> dict[tuple[str, str, int], list[float]]:
    """Seconds per (version, op, store size), versions taking turns run by run."""
    times: dict[tuple[str, str, int], list[float]] = {}
    for run in range(repeat + 1):
        for op in ops:
            for position in range(len(stores["baseline"])):
                for version, runner in runners.items():
                    dataset = stores[version][position]
                    sample = dataset.samples[op][run % len(dataset.samples[op])]
                    started = time.perf_counter()
                    proc = runner.run(*command(op, dataset, sample, run))
                    seconds = time.perf_counter() - started
                    check_answer(op, proc, sample)
                    if run:  # the first run of each warms the caches
                        times.setdefault((version, op, dataset.rows), []).append(seconds)
    return times


def point_rows(times: dict[tuple[str, str, int], list[float]], ops: list[str]) -> list[Row]:
    rows: list[Row] = []
    sizes = sorted({size for _, _, size in times})
    for op in ops:
        for size in sizes:
            old, new = times[("baseline", op, size)], times[("current", op, size)]
            for name, stat in (("median", statistics.median), ("p95", p95)):
                ratio = stat(new) / stat(old)
                verdict = f"target ≤ {TARGET:.2f}x: {'met' if ratio <= TARGET else 'MISSED'}"
                rows.append(
                    (
                        f"custrec {op} --format json, {size:,} records, {name} of {len(new)}: "
                        "current / baseline",
                        stat(new),
                        f"{ms(stat(new))} against {ms(stat(old))}; {ratio:.2f}x ({verdict})",
                    )
                )
    return rows


def verify_rows(runners: dict[str, Runner], big: dict[str, Dataset]) -> list[Row]:
    rows: list[Row] = []
    seconds: dict[str, float] = {}
    for version, runner in runners.items():
        progress(f"verify of {big[version].rows:,} records ({version})")
        started = time.perf_counter()
        runner.run("-m", "custrec", "verify", str(big[version].store), "--format", "json")
        seconds[version] = time.perf_counter() - started
    started = time.perf_counter()
    with sqlite3.connect(big["current"].store) as db:
        db.execute("PRAGMA integrity_check").fetchall()
    check = time.perf_counter() - started
    size = big["current"].rows
    rows.append(
        (
            f"custrec verify, {size:,} records, whole process (current: structure, chunks, "
            "id and match indexes, states, tombstones, audit trail)",
            seconds["current"],
            f"{size / seconds['current']:,.0f} records/s; "
            f"{seconds['current'] / seconds['baseline']:.2f}x the baseline's verify",
        )
    )
    rows.append(
        (
            f"custrec verify, {size:,} records, whole process (baseline: chunks and id index)",
            seconds["baseline"],
            f"{size / seconds['baseline']:,.0f} records/s; 1.00x",
        )
    )
    rows.append(
        (
            "SQLite PRAGMA integrity_check of the same file alone (part of the current verify)",
            check,
            f"{check / seconds['current']:.0%} of the current verify",
        )
    )
    return rows


def bench_trust(rows: int = 1_000_000, repeat: int = 15, baseline: str = BASELINE) -> list[Row]:
    from custrec.keyfile import new_key_file

    ops = ["get", "find --email", "update --set"]
    rng = random.Random(SEED)
    with tempfile.TemporaryDirectory(prefix="custrec-bench-trust-") as name:
        directory = Path(name)
        key = new_key_file(directory / "bench.key").path
        current = Runner(directory, key)
        old = Runner(directory, key)
        old.env["PYTHONPATH"] = str(extract(baseline, directory / "baseline"))
        runners = {"baseline": old, "current": current}
        stores: dict[str, list[Dataset]] = {"baseline": [], "current": []}
        for size in (SMALL_ROWS, rows):
            built = generate_csv(current, size)
            collect(old, built)
            draw_samples(built, ops, 2 * (repeat + 1), rng)
            with_email = [sample for sample in built.samples["find --email"] if sample.email]
            built.samples["find --email"] = with_email  # some customers have no email
            copy = Dataset(size, built.csv, directory / f"current-{size}.crec")
            shutil.copy(built.store, copy.store)
            copy.samples = built.samples
            current.run("-m", "custrec", "migrate", str(copy.store))  # to the current format
            stores["baseline"].append(built)
            stores["current"].append(copy)
        progress(f"get, find --email, update --set: {repeat} runs each, both versions")
        out = point_rows(point_times(runners, stores, ops, repeat), ops)
        out += verify_rows(runners, {v: s[-1] for v, s in stores.items()})
        progress("done; removing the temporary files")
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--trust-rows", type=int, default=1_000_000, help="records of the large store"
    )
    parser.add_argument("--trust-repeat", type=int, default=15, help="runs per point timing")
    parser.add_argument(
        "--trust-baseline", default=BASELINE, help="git revision of the reference custrec"
    )


def main() -> int:
    from run import render  # type: ignore[import-not-found]

    parser = argparse.ArgumentParser(description="custrec store trust benchmarks alone")
    add_arguments(parser)
    args = parser.parse_args()
    rows = bench_trust(args.trust_rows, args.trust_repeat, args.trust_baseline)
    print(render({SECTION: rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
