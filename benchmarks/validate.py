"""Validation benchmarks: ``custrec validate`` on an encrypted store and on a CSV file,
beside plain pandas + pandera and pandera's own command line, measured in one run.

In a temporary directory removed at the end, generates ``rows`` customer records once
with ``custrec generate customers --bad-share 0.05`` (timed apart, for information),
collects them into a store made by ``custrec init --region GB`` (no schema; invalid rows
rejected, duplicates skipped; timed for information), then measures, each a whole
process, with the same schema (``schemas/customer.yaml``) and the same ``--as-of`` day
(the day the generator anchors its dates on):

- (a) ``custrec validate STORE --schema ... --format json``, key from
  ``CUSTREC_KEY_FILE``;
- (b) ``custrec validate records.csv --schema ... --format json`` on the generated CSV;
- (c) the reference: ``polars.read_parquet`` of a plaintext Parquet file holding the
  same records as the store (``custrec export``; every column read as text), then
  ``to_pandera(schema, as_of=...).validate(frame, lazy=True)`` catching
  ``SchemaErrors`` (``custrec.schema.compile``: the schema as a pandera
  ``DataFrameSchema`` on pandera's polars backend, whose checks are custrec's rule
  definitions).

pandera's own command line (``pandera validate -s S.yaml``) is not measured any more:
it reads schemas serialised to YAML for its pandas backend, and custrec's compiled
schema is a polars one whose checks are functions, which pandera's YAML cannot hold.

Targets: (a) within 1.5x of (c)'s time; the peak RSS of (a) on a
store of ``memory_rows`` records (built from a generated CSV by ``custrec collect``, the
bulk path) within 1.3x of its peak RSS at ``rows`` records, and the same for the
peak RSS of that ``collect`` (memory must not grow with the input where it can
stream).
Peak RSS is measured through a small launcher (see ``RSS_LAUNCHER`` in records.py).

Called by ``benchmarks/run.py``; also runs alone for quick iterations::

    .venv/bin/python benchmarks/validate.py --validate-rows 50000 --validate-memory-rows 100000
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from records import RSS_LAUNCHER, mib  # noqa: E402 - benchmarks/ is the script's directory
from store import library_mtimes, target  # noqa: E402

SEED = 2026
BAD_SHARE = "0.05"
SCHEMA = REPO / "schemas" / "customer.yaml"

REFERENCE_TARGET = 1.5
MEMORY_TARGET = 1.3
STORE_SECONDS = 5.0
"""``custrec validate STORE`` of 1,000,000 records, whole process."""

Row = tuple[str, float, str]

SECTION = "Validation (validate) against pandera on polars with the compiled schema"

# The reference (c), a whole process. argv: Parquet file, schema file, as-of day.
# Prints what it found as JSON: records, failure cases, distinct failing records and
# distinct failing checks.
REFERENCE_VALIDATE = """
import json, sys
import polars
import pandera.errors
from custrec.schema import load_schema
from custrec.schema.compile import to_pandera
schema = to_pandera(load_schema(sys.argv[2]), as_of=sys.argv[3])
frame = polars.read_parquet(sys.argv[1])
frame = frame.select(polars.all().cast(polars.String))
try:
    schema.validate(frame, lazy=True)
    cases = polars.DataFrame({"index": [], "check": []})
except pandera.errors.SchemaErrors as exc:
    cases = exc.failure_cases
print(json.dumps({
    "rows": frame.height,
    "failure_cases": cases.height,
    "records": int(cases["index"].drop_nulls().n_unique()),
    "checks": int(cases["check"].cast(polars.String).n_unique()),
}))
"""

# Loads the libraries (and warms their files in the page cache) before any timing.
WARM_UP = (
    "import polars, narwhals, pandera.polars, pyarrow.parquet, phonenumbers, pycountry, "
    "custrec.validate"
)


def progress(message: str) -> None:
    print(f"[validate bench] {message}", file=sys.stderr, flush=True)


def as_of_day() -> str:
    """The day the generator anchors its dates on (``generate_customers(today=...)``)."""
    from custrec.generate import generate_customers

    return str(inspect.signature(generate_customers).parameters["today"].default.isoformat())


@dataclass
class Measure:
    seconds: float
    kib: int
    proc: subprocess.CompletedProcess[str]

    @property
    def mib(self) -> str:
        return f"{self.kib / 1024:,.0f} MiB"


@dataclass
class Runner:
    """Runs processes with the repository on the path and the benchmark's key in
    ``CUSTREC_KEY_FILE``; each measured one through the peak-RSS launcher."""

    directory: Path
    key_path: Path
    env: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "CUSTREC_KEY_FILE": str(self.key_path),
        }

    def run(
        self,
        argv: list[str],
        *,
        ok: tuple[int, ...] = (0,),
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            argv, env=env or self.env, check=False, capture_output=True, text=True
        )
        if proc.returncode not in ok:
            raise RuntimeError(
                f"benchmark process failed (exit {proc.returncode}): {' '.join(argv[:6])}\n"
                f"{proc.stderr[-3000:]}"
            )
        return proc

    def custrec(self, *args: str, ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[str]:
        return self.run([sys.executable, "-m", "custrec", *args], ok=ok)

    def measure(
        self,
        argv: list[str],
        *,
        ok: tuple[int, ...] = (0,),
        env: dict[str, str] | None = None,
    ) -> Measure:
        """Wall seconds, peak RSS (KiB) and the finished process ``argv``."""
        rss_file = self.directory / "peak-rss.txt"
        started = time.perf_counter()
        proc = self.run([sys.executable, "-c", RSS_LAUNCHER, str(rss_file), *argv], ok=ok, env=env)
        seconds = time.perf_counter() - started
        kib = int(rss_file.read_text())
        rss_file.unlink()
        return Measure(seconds, kib, proc)


@dataclass
class Dataset:
    rows: int
    csv: Path
    store: Path
    generate_seconds: float = 0.0
    csv_size: str = ""
    collect: Measure | None = None
    records: int = 0  # held by the store
    report: dict[str, int] = field(default_factory=dict)  # collect's counts


def generate(runner: Runner, rows: int) -> Dataset:
    path = runner.directory / f"customers-{rows}.csv"
    progress(f"generating {rows:,} customer records (bad share {BAD_SHARE}) to CSV")
    started = time.perf_counter()
    runner.custrec(
        "generate", "customers", "--rows", str(rows), "--bad-share", BAD_SHARE,
        "--seed", str(SEED), "-o", str(path),
    )  # fmt: skip
    seconds = time.perf_counter() - started
    return Dataset(rows, path, runner.directory / f"customers-{rows}.crec", seconds, mib(path))


def collect(runner: Runner, dataset: Dataset) -> None:
    """``init --region GB`` (no schema), then ``collect`` of the CSV with invalid rows
    rejected and duplicates skipped, so that most rows go in (measured)."""
    runner.custrec("init", str(dataset.store), "--region", "GB", "--format", "json")
    progress(f"custrec collect of {dataset.rows:,} rows into a new store")
    rejects = runner.directory / f"rejects-{dataset.rows}.csv"
    dataset.collect = runner.measure(
        [
            sys.executable, "-m", "custrec", "collect", str(dataset.store), str(dataset.csv),
            "--on-invalid", "reject", "--rejects", str(rejects), "--on-duplicate", "skip",
            "--format", "json",
        ]
    )  # fmt: skip
    report = json.loads(dataset.collect.proc.stdout)
    if not report["written"]:
        raise AssertionError(f"collect wrote nothing: {dataset.collect.proc.stderr[-2000:]}")
    dataset.records = int(report["inserted"])
    dataset.report = {k: int(report[k]) for k in ("rows_read", "inserted", "skipped", "rejected")}
    rejects.unlink(missing_ok=True)


def validate(runner: Runner, source: Path, as_of: str, expected: int) -> Measure:
    """``custrec validate SOURCE --schema ... --format json`` (exit 1: rules failed)."""
    measured = runner.measure(
        [
            sys.executable, "-m", "custrec", "validate", str(source), "--schema", str(SCHEMA),
            "--as-of", as_of, "--format", "json",
        ],
        ok=(0, 1),
    )  # fmt: skip
    report = json.loads(measured.proc.stdout)
    if report["rows"] != expected:
        raise AssertionError(f"validate of {source.name} saw {report['rows']} of {expected}")
    return measured


def failed_rules(measured: Measure) -> str:
    report = json.loads(measured.proc.stdout)
    failed = [r for r in report["rules"] if r["failed"]]
    return (
        f"{len(failed)} of {len(report['rules'])} rules found failures, "
        f"{sum(r['failed'] for r in failed):,} in all"
    )


def write_parquet(runner: Runner, dataset: Dataset, target: Path) -> None:
    """The store's records in plaintext Parquet (``custrec export``, not timed)."""
    runner.custrec("export", str(dataset.store), "-o", str(target))


def reference(
    runner: Runner, parquet: Path, as_of: str, expected: int
) -> tuple[Measure, dict[str, int]]:
    measured = runner.measure(
        [sys.executable, "-c", REFERENCE_VALIDATE, str(parquet), str(SCHEMA), as_of]
    )
    found = json.loads(measured.proc.stdout)
    if found["rows"] != expected:
        raise AssertionError(f"the reference read {found['rows']} of {expected} records")
    if not found["failure_cases"] or found["checks"] < 5:
        raise AssertionError(f"the reference found too little on 5% bad records: {found}")
    return measured, found


# --- the section -----------------------------------------------------------------------


def rate(rows: int, seconds: float) -> str:
    return f"{rows / seconds:,.0f} rows/s"


def bench_validate(rows: int = 1_000_000, memory_rows: int = 5_000_000) -> list[Row]:
    """All rows of the validation section (see the module docstring)."""
    from custrec.keyfile import new_key_file

    as_of = as_of_day()
    mtimes = library_mtimes()
    out: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="custrec-bench-validate-") as name:
        directory = Path(name)
        runner = Runner(directory, new_key_file(directory / "bench.key").path)
        big = generate(runner, rows)
        collect(runner, big)
        typed = directory / f"records-{rows}.parquet"
        progress("writing the store's records to plaintext Parquet (custrec export)")
        write_parquet(runner, big, typed)
        runner.run([sys.executable, "-c", WARM_UP])

        progress(f"(c) reference: read_parquet + pandera-polars validate, {big.records:,} records")
        ref, found = reference(runner, typed, as_of, big.records)
        progress(f"(a) custrec validate of the {big.records:,}-record store")
        store_run = validate(runner, big.store, as_of, big.records)
        progress(f"(b) custrec validate of the {rows:,}-row CSV")
        csv_run = validate(runner, big.csv, as_of, rows)
        huge = None
        huge_run = None
        if memory_rows and memory_rows != rows:
            for path in (big.csv, typed):
                path.unlink(missing_ok=True)
            huge = generate(runner, memory_rows)
            collect(runner, huge)
            huge.csv.unlink()
            progress(f"(a) custrec validate of the {huge.records:,}-record store (peak RSS)")
            huge_run = validate(runner, huge.store, as_of, huge.records)

        ratio = store_run.seconds / ref.seconds
        out += [
            (
                f"custrec generate customers --bad-share {BAD_SHARE}, {rows:,} rows to CSV "
                "(input of the rows below; not part of any measure)",
                big.generate_seconds,
                f"{rate(rows, big.generate_seconds)}; file {big.csv_size}",
            ),
            collect_row(big),
            (
                f"(a) custrec validate STORE --schema customer.yaml --format json, "
                f"{big.records:,} records, whole process",
                store_run.seconds,
                f"{rate(big.records, store_run.seconds)}; {seconds_target(store_run, big)}; "
                f"{ratio:.2f}x the reference's time ({target(ratio, REFERENCE_TARGET)}); "
                f"peak RSS {store_run.mib}; {failed_rules(store_run)}",
            ),
            (
                f"(b) custrec validate records.csv --schema customer.yaml --format json, "
                f"{rows:,} rows, whole process",
                csv_run.seconds,
                f"{rate(rows, csv_run.seconds)}; {csv_run.seconds / ref.seconds:.2f}x the "
                f"reference's time; peak RSS {csv_run.mib}; {failed_rules(csv_run)}",
            ),
            (
                f"(c) polars.read_parquet + to_pandera(schema, as_of).validate(lazy=True) "
                f"(pandera on polars, custrec's rules as its checks), the store's "
                f"{big.records:,} records in plaintext Parquet, whole process (reference)",
                ref.seconds,
                f"{rate(big.records, ref.seconds)}; 1.00x; peak RSS {ref.mib}; "
                f"{found['failure_cases']:,} failure cases ({found['records']:,} records, "
                f"{found['checks']} checks)",
            ),
        ]
        if huge is not None and huge_run is not None:
            memory = huge_run.kib / store_run.kib
            out += [
                (
                    f"custrec generate customers, {memory_rows:,} rows to CSV (input of the "
                    "next rows; not part of any measure)",
                    huge.generate_seconds,
                    f"{rate(memory_rows, huge.generate_seconds)}; file {huge.csv_size}",
                ),
                collect_row(huge, big),
                (
                    f"(a) custrec validate STORE, {huge.records:,} records, whole process, "
                    f"peak RSS against (a) at {big.records:,}",
                    huge_run.seconds,
                    f"{rate(huge.records, huge_run.seconds)}; peak RSS {huge_run.mib}, "
                    f"{memory:.2f}x of {store_run.mib} ({target(memory, MEMORY_TARGET)})",
                ),
            ]
        progress("done; removing the temporary files")
    changed = [str(p.relative_to(REPO)) for p, t in library_mtimes().items() if mtimes.get(p) != t]
    if changed:
        progress(f"WARNING: the library changed during this run: {', '.join(changed)}")
    return out


def seconds_target(run: Measure, dataset: Dataset) -> str:
    """The target of a 1M-record store's validation, ``STORE_SECONDS``, scaled to the
    records measured (linear in records; stated only from 100,000 records)."""
    if dataset.records < 100_000:
        return "target: stated for 1,000,000 records"
    limit = STORE_SECONDS * dataset.records / 1_000_000
    verdict = "met" if run.seconds <= limit else "MISSED"
    return f"target ≤ {limit:.1f} s ({STORE_SECONDS:g} s per 1,000,000 records): {verdict}"


def collect_row(dataset: Dataset, smaller: Dataset | None = None) -> Row:
    """The collect of ``dataset``; with ``smaller``, its peak RSS against that one's."""
    assert dataset.collect is not None
    counts = dataset.report
    memory = ""
    if smaller is not None and smaller.collect is not None:
        ratio = dataset.collect.kib / smaller.collect.kib
        memory = (
            f", {ratio:.2f}x of {smaller.collect.mib} at {smaller.rows:,} rows "
            f"({target(ratio, MEMORY_TARGET)})"
        )
    return (
        f"custrec collect --on-invalid reject --on-duplicate skip, {dataset.rows:,} CSV rows "
        "into a new store (init --region GB, no schema)",
        dataset.collect.seconds,
        f"{rate(dataset.rows, dataset.collect.seconds)}; {counts['inserted']:,} records in, "
        f"{counts['skipped']:,} duplicates skipped, {counts['rejected']:,} rejected; "
        f"peak RSS {dataset.collect.mib}{memory}; store {mib(dataset.store)}",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of this benchmark, here and in benchmarks/run.py."""
    parser.add_argument(
        "--validate-rows", type=int, default=1_000_000, help="generated records validated"
    )
    parser.add_argument(
        "--validate-memory-rows",
        type=int,
        default=5_000_000,
        help="records of the store whose validation's peak RSS is compared (0: skip)",
    )


def main() -> int:
    from run import render  # type: ignore[import-not-found]

    parser = argparse.ArgumentParser(description="custrec validation benchmarks alone")
    add_arguments(parser)
    args = parser.parse_args()
    rows = bench_validate(args.validate_rows, args.validate_memory_rows)
    print(render({SECTION: rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
