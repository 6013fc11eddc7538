"""Record command benchmarks: ``collect``, ``get``, ``find``, ``update`` and ``export``,
each a whole ``python -m custrec`` process, beside a reference measured in the same run.

In a temporary directory removed at the end, generates a customers CSV of
``collect_rows`` rows (and one of 1,000 rows) once with ``custrec generate`` (timed
apart, for information), then measures, side by side in one run:

- ``collect`` of the CSV into a fresh store (``init --region GB``) against
  ``pandas.read_csv(dtype=str, keep_default_na=False).to_parquet`` of the same file,
  both whole processes: rows/s and the ratio of their times (target: at most 2.5x),
  and the peak RSS of each (through a small launcher, see ``RSS_LAUNCHER``); and the
  peer, ``sqlite-utils insert DB customers FILE.csv --csv`` (installed from the
  package index into a throw-away venv) into a new database;
- ``export`` of the collected store to CSV against ``pandas.read_parquet(...).to_csv``
  of the reference's Parquet file (the same records): rows/s and ratio, no target;
- ``get``, ``find --email`` (the email of a random record, in upper case) and
  ``update --set`` of one random record, ``--format json``, key from
  ``CUSTREC_KEY_FILE``, on the 1,000-record store and on the collected store: median
  and p95 of ``repeat`` runs each, big/small (target: within 1.3x);
- the import floor, ``python -c 'import click, sqlite3, cryptography...aead'`` with the
  same interpreter, and ``get`` on the big store against it (target: at most 1.5x).

The timed processes take turns run by run, so that machine noise falls on all alike.

Called by ``benchmarks/run.py``; also runs alone for quick iterations::

    .venv/bin/python benchmarks/records.py --collect-rows 50000
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from store import latency_rows, library_mtimes, ms, p95, target  # noqa: E402 - script dir

SMALL_ROWS = 1_000
SEED = 2026

COLLECT_TARGET = 2.5
FLOOR_TARGET = 1.5

Row = tuple[str, float, str]

FLOOR_IMPORTS = "import click, sqlite3, cryptography.hazmat.primitives.ciphers.aead"

# The references, each a whole process like the command it stands beside.
# argv: the CSV, the Parquet file to write.
REFERENCE_COLLECT = """
import sys, pandas
pandas.read_csv(sys.argv[1], dtype=str, keep_default_na=False).to_parquet(sys.argv[2])
"""
# argv: the Parquet file, the CSV to write.
REFERENCE_EXPORT = """
import sys, pandas
pandas.read_parquet(sys.argv[1]).to_csv(sys.argv[2], index=False)
"""

# Runs argv[2:] and writes its peak RSS (KiB) to the file argv[1]. A child of this (large)
# benchmark process would report the benchmark's own peak as its ru_maxrss (see
# benchmarks/store.py); a child of this small launcher reports its own.
RSS_LAUNCHER = """
import resource, subprocess, sys
code = subprocess.run(sys.argv[2:]).returncode
with open(sys.argv[1], "w") as out:
    out.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
sys.exit(code)
"""

EXPORTED = re.compile(r"exported (\d+) record")


@dataclass
class Installed:
    """A package installed from the package index into a throw-away virtual
    environment (its ``python``), or why it could not be."""

    python: Path | None = None
    install_seconds: float = 0.0
    why_not: str = ""
    version: str = ""


def last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if not line.startswith("WARNING")]
    return (lines or ["(no message)"])[-1][:200]


def install_package(directory: Path, package: str, version_of: str | None = None) -> Installed:
    """``package`` from the package index in a throw-away virtual environment, so that
    the project's dependencies do not help or hinder it; the version reported is that
    of ``version_of`` (default: the package)."""
    venv = directory / f"{package}-venv"  # one per package: they may differ in versions
    progress(f"installing {package} into a throw-away venv")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    started = time.perf_counter()
    made = subprocess.run(
        [sys.executable, "-m", "venv", str(venv)], env=env, capture_output=True, text=True
    )
    if made.returncode != 0:
        return Installed(why_not=f"python -m venv failed: {last_line(made.stderr)}")
    python = venv / "bin" / "python"
    pip = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", package],
        env=env,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    if pip.returncode != 0:
        why = f"pip install {package} failed: {last_line(pip.stderr)}"
        return Installed(install_seconds=seconds, why_not=why)
    check = subprocess.run(
        [
            str(python),
            "-c",
            f"import importlib.metadata as m; print(m.version({version_of or package!r}))",
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    if check.returncode != 0:
        why = f"{package} is not installed: {last_line(check.stderr)}"
        return Installed(install_seconds=seconds, why_not=why)
    return Installed(python=python, install_seconds=seconds, version=check.stdout.strip())


def progress(message: str) -> None:
    print(f"[records bench] {message}", file=sys.stderr, flush=True)


def mib(path: Path) -> str:
    return f"{path.stat().st_size / 2**20:,.1f} MiB"


@dataclass
class Runner:
    """Runs ``sys.executable`` processes with the repository on the path and the
    benchmark's key in ``CUSTREC_KEY_FILE``."""

    directory: Path
    key_path: Path
    env: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "CUSTREC_KEY_FILE": str(self.key_path),
        }

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [sys.executable, *args], env=self.env, check=False, capture_output=True, text=True
        )
        if proc.returncode != 0:
            raise RuntimeError(
                f"benchmark process failed (exit {proc.returncode}): {' '.join(args[:4])}\n"
                f"{proc.stderr[-3000:]}"
            )
        return proc

    def timed(self, *args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
        started = time.perf_counter()
        proc = self.run(*args)
        return time.perf_counter() - started, proc

    def with_peak_rss(
        self, *args: str, program: str = sys.executable
    ) -> tuple[float, int, subprocess.CompletedProcess[str]]:
        """Wall seconds, peak RSS (KiB) and the finished process (``program`` with
        ``args``, through the launcher)."""
        rss_file = self.directory / "peak-rss.txt"
        seconds, proc = self.timed("-c", RSS_LAUNCHER, str(rss_file), program, *args)
        kib = int(rss_file.read_text())
        rss_file.unlink()
        return seconds, kib, proc


@dataclass
class Sample:
    record_id: str
    email: str


@dataclass
class Dataset:
    rows: int
    csv: Path
    store: Path
    generate_seconds: float = 0.0
    samples: dict[str, list[Sample]] = field(default_factory=dict)
    init_args: tuple[str, ...] = ()
    """More arguments of ``custrec init`` (for example ``("--schema", "customer")``)."""


def generate_csv(runner: Runner, rows: int) -> Dataset:
    path = runner.directory / f"customers-{rows}.csv"
    progress(f"generating a {rows:,}-row customers CSV")
    seconds, _ = runner.timed(
        "-m", "custrec", "generate", "customers", "--rows", str(rows),
        "--bad-share", "0", "--seed", str(SEED), "-o", str(path),
    )  # fmt: skip
    return Dataset(rows, path, runner.directory / f"customers-{rows}.crec", seconds)


def draw_samples(dataset: Dataset, ops: list[str], count: int, rng: random.Random) -> None:
    """``count`` distinct random records of the CSV per operation (ids and emails)."""
    wanted = rng.sample(range(dataset.rows), min(dataset.rows, count * len(ops)))
    positions = set(wanted)
    found: dict[int, Sample] = {}
    with dataset.csv.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        for index, row in enumerate(reader):
            if index in positions:
                found[index] = Sample(row["customer_id"], row["email"])
    picked = [found[i] for i in wanted]
    per_op = max(1, len(picked) // len(ops))
    dataset.samples = {op: picked[i * per_op : (i + 1) * per_op] for i, op in enumerate(ops)}


def collect(runner: Runner, dataset: Dataset) -> tuple[float, int]:
    """``init --region GB`` (and the dataset's ``init_args``) then ``collect`` of the CSV,
    the collect measured: wall seconds and peak RSS (KiB)."""
    runner.run(
        "-m", "custrec", "init", str(dataset.store), "--region", "GB", "--format", "json",
        *dataset.init_args,
    )  # fmt: skip
    progress(f"custrec collect of {dataset.rows:,} rows")
    seconds, kib, proc = runner.with_peak_rss(
        "-m", "custrec", "collect", str(dataset.store), str(dataset.csv), "--format", "json"
    )
    report = json.loads(proc.stdout)
    if not report["written"] or report["inserted"] != dataset.rows:
        raise AssertionError(f"collect inserted {report['inserted']} of {dataset.rows} rows")
    return seconds, kib


def reference_collect(runner: Runner, dataset: Dataset, parquet: Path) -> tuple[float, int]:
    progress(f"reference read_csv + to_parquet of {dataset.rows:,} rows")
    seconds, kib, _ = runner.with_peak_rss("-c", REFERENCE_COLLECT, str(dataset.csv), str(parquet))
    return seconds, kib


def peer_collect(runner: Runner, dataset: Dataset, peer: Installed) -> tuple[float, int] | None:
    """``sqlite-utils insert DB customers FILE.csv --csv`` (its console script, in its own
    venv) into a new database: wall seconds and peak RSS (KiB), or None without it."""
    if peer.python is None:
        return None
    progress(f"sqlite-utils insert of {dataset.rows:,} rows")
    script = str(peer.python.parent / "sqlite-utils")
    database = dataset.store.with_suffix(".sqlite-utils.db")
    seconds, kib, proc = runner.with_peak_rss(
        "insert", str(database), "customers", str(dataset.csv), "--csv", program=script
    )
    if proc.returncode != 0:
        raise AssertionError(f"sqlite-utils insert failed: {proc.stderr[-2000:]}")
    database.unlink()
    return seconds, kib


def collect_rows(
    big: Dataset,
    ours: tuple[float, int],
    reference: tuple[float, int],
    parquet: Path,
    peer: tuple[float, int] | None,
    installed: Installed,
) -> list[Row]:
    (seconds, kib), (base, base_kib) = ours, reference
    ratio = seconds / base
    if peer is None:
        versus = f"sqlite-utils not measured: {installed.why_not}"
        peer_rows: list[Row] = []
    else:
        versus = f"{seconds / peer[0]:.2f}x the time of sqlite-utils insert"
        peer_rows = [
            (
                f"sqlite-utils insert DB customers FILE --csv ({installed.version}, in a "
                "throw-away venv), same CSV into a new database, whole process (peer)",
                peer[0],
                f"{big.rows / peer[0]:,.0f} rows/s; {peer[0] / base:.2f}x the reference's "
                f"time; peak RSS {peer[1] / 1024:,.0f} MiB",
            )
        ]
    return [
        (
            f"custrec generate customers, {big.rows:,} rows to CSV (input of the next rows; "
            "not part of any measure)",
            big.generate_seconds,
            f"{big.rows / big.generate_seconds:,.0f} rows/s; file {mib(big.csv)}",
        ),
        (
            f"custrec collect, {big.rows:,} CSV rows into a new store (--format json), "
            "whole process",
            seconds,
            f"{big.rows / seconds:,.0f} rows/s; {ratio:.2f}x the reference's time "
            f"({target(ratio, COLLECT_TARGET)}); {versus}; peak RSS {kib / 1024:,.0f} MiB; "
            f"store {mib(big.store)}",
        ),
        *peer_rows,
        (
            "pandas.read_csv(dtype=str, keep_default_na=False).to_parquet, same CSV, "
            "whole process (reference)",
            base,
            f"{big.rows / base:,.0f} rows/s; 1.00x; peak RSS {base_kib / 1024:,.0f} MiB; "
            f"Parquet {mib(parquet)}",
        ),
    ]


def export_rows(runner: Runner, big: Dataset, parquet: Path) -> list[Row]:
    """``export -o out.csv`` of the collected store against ``read_parquet().to_csv()``
    of the same records (information: no target)."""
    out = runner.directory / "export.csv"
    progress(f"reference read_parquet + to_csv of {big.rows:,} records")
    base, _ = runner.timed("-c", REFERENCE_EXPORT, str(parquet), str(out))
    base_mib = mib(out)
    out.unlink()
    progress(f"custrec export of {big.rows:,} records to CSV")
    seconds, proc = runner.timed("-m", "custrec", "export", str(big.store), "-o", str(out))
    exported = EXPORTED.search(proc.stderr)
    if exported is None or int(exported.group(1)) != big.rows:
        raise AssertionError(f"export wrote {exported and exported.group(1)} of {big.rows}")
    ours_mib = mib(out)
    out.unlink()
    ratio = seconds / base
    return [
        (
            f"custrec export -o out.csv, {big.rows:,} records, whole process",
            seconds,
            f"{big.rows / seconds:,.0f} rows/s; {ratio:.2f}x the reference's time "
            f"(information, no target); file {ours_mib}",
        ),
        (
            "pandas.read_parquet(...).to_csv(index=False), same records, whole process (reference)",
            base,
            f"{big.rows / base:,.0f} rows/s; 1.00x; file {base_mib}",
        ),
    ]


def command(op: str, dataset: Dataset, sample: Sample, run: int) -> list[str]:
    store = str(dataset.store)
    if op == "get":
        args = ["get", store, sample.record_id]
    elif op == "find --email":
        args = ["find", store, "--email", sample.email.upper()]
    else:
        args = ["update", store, sample.record_id, "--set", f"notes=benchmark update {run}"]
    return ["-m", "custrec", *args, "--format", "json"]


def check_answer(op: str, proc: subprocess.CompletedProcess[str], sample: Sample) -> None:
    records = json.loads(proc.stdout)["records"]
    if not any(r["id"] == sample.record_id for r in records):
        raise AssertionError(f"{op} did not show {sample.record_id}")


def access_times(
    runner: Runner, stores: list[Dataset], ops: list[str], repeat: int
) -> tuple[dict[str, dict[int, list[float]]], list[float]]:
    """Whole-process times of each operation on each store, and of the import floor,
    ``repeat`` runs each, taking turns run by run (one warm-up run of each first)."""
    times: dict[str, dict[int, list[float]]] = {op: {s.rows: [] for s in stores} for op in ops}
    floor: list[float] = []
    floor_args = ("-c", FLOOR_IMPORTS)
    progress(f"get, find --email, update --set and the import floor: {repeat} runs each")
    for run in range(repeat + 1):
        warm_up = run == 0
        seconds, _ = runner.timed(*floor_args)
        if not warm_up:
            floor.append(seconds)
        for op in ops:
            for store in stores:
                samples = store.samples[op]
                sample = samples[run % len(samples)]
                seconds, proc = runner.timed(*command(op, store, sample, run))
                check_answer(op, proc, sample)
                if not warm_up:
                    times[op][store.rows].append(seconds)
    return times, floor


def floor_rows(
    times: dict[str, dict[int, list[float]]], floor: list[float], big: Dataset
) -> list[Row]:
    base = statistics.median(floor)
    get_big = statistics.median(times["get"][big.rows])
    ratio = get_big / base
    return [
        (
            f"python -c '{FLOOR_IMPORTS}' (import floor), median of {len(floor)}",
            base,
            f"{ms(base)}; p95 {ms(p95(floor))}; 1.00x",
        ),
        (
            f"custrec get --format json, {big.rows:,} records, median of "
            f"{len(times['get'][big.rows])}, against the import floor",
            get_big,
            f"{ms(get_big)}; {ratio:.2f}x of the floor ({target(ratio, FLOOR_TARGET)})",
        ),
    ]


def bench_records(collect_rows_: int = 1_000_000, repeat: int = 15) -> list[Row]:
    """All rows of the record-commands section (see the module docstring)."""
    from custrec.keyfile import new_key_file

    ops = ["get", "find --email", "update --set"]
    rng = random.Random(SEED)
    mtimes = library_mtimes()
    with tempfile.TemporaryDirectory(prefix="custrec-bench-records-") as name:
        directory = Path(name)
        runner = Runner(directory, new_key_file(directory / "bench.key").path)
        big = generate_csv(runner, collect_rows_)
        small = generate_csv(runner, SMALL_ROWS)
        # The small store first: it is also the warm-up of collect and of the reference.
        collect(runner, small)
        reference_collect(runner, small, directory / "warm-up.parquet")
        parquet = directory / f"customers-{big.rows}.parquet"
        reference = reference_collect(runner, big, parquet)
        ours = collect(runner, big)
        installed = install_package(directory, "sqlite-utils")
        peer_collect(runner, small, installed)  # its warm-up
        peer = peer_collect(runner, big, installed)
        rows = collect_rows(big, ours, reference, parquet, peer, installed)
        # Export before any update, so that the store and the Parquet file hold the same
        # records.
        rows += export_rows(runner, big, parquet)
        for dataset in (small, big):
            draw_samples(dataset, ops, repeat + 1, rng)
        times, floor = access_times(runner, [small, big], ops, repeat)
        rows += latency_rows(
            "custrec {op} --format json, whole process", times, small.rows, big.rows
        )
        rows += floor_rows(times, floor, big)
        progress("done; removing the temporary files")
    changed = [str(p.relative_to(REPO)) for p, t in library_mtimes().items() if mtimes.get(p) != t]
    if changed:
        progress(f"WARNING: the library changed during this run: {', '.join(changed)}")
    return rows


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of this benchmark, here and in benchmarks/run.py."""
    parser.add_argument(
        "--collect-rows", type=int, default=1_000_000, help="rows collected into the big store"
    )
    parser.add_argument(
        "--records-repeat", type=int, default=15, help="runs per whole-process timing"
    )


def main() -> int:
    from run import render  # type: ignore[import-not-found]

    parser = argparse.ArgumentParser(description="custrec record-command benchmarks alone")
    add_arguments(parser)
    args = parser.parse_args()
    rows = bench_records(args.collect_rows, args.records_repeat)
    print(render({"Record commands (collect, get, find, update, export) as whole processes": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
