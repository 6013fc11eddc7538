"""custrec benchmarks: each figure beside its reference, measured in one run.

    python benchmarks/run.py                         # print the results
    python benchmarks/run.py --write docs/performance.md

Timings on a shared machine are noisy: read the ratios within one run, not the
absolute times across runs. Tests never assert a time.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from store import LAUNCHER_SCRIPT  # noqa: E402 - benchmarks/ is the script's directory


def median_seconds(action: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def run_python(*args: str) -> Callable[[], object]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return lambda: subprocess.run([sys.executable, *args], env=env, check=True, capture_output=True)


def bench_startup(repeat: int) -> list[tuple[str, float, str]]:
    bare = median_seconds(run_python("-c", "pass"), repeat)
    help_ = median_seconds(run_python("-m", "custrec", "--help"), repeat)
    version = median_seconds(run_python("-m", "custrec", "--version"), repeat)
    heavy = median_seconds(run_python("-c", "import pandas, pandera"), repeat)
    return [
        ("python -c pass (interpreter alone)", bare, "1.00x"),
        ("custrec --version", version, f"{version / bare:.2f}x"),
        ("custrec --help", help_, f"{help_ / bare:.2f}x"),
        ("python -c 'import pandas, pandera' (reference)", heavy, f"{heavy / bare:.2f}x"),
    ]


def bench_generate(rows: int) -> list[tuple[str, float, str]]:
    from custrec.generate import generate_customers, generate_interactions

    results = []
    for name, generate in (
        ("customers", generate_customers),
        ("interactions", generate_interactions),
    ):
        seconds = median_seconds(lambda g=generate: sum(len(c.rows) for c in g(rows)), 1)
        results.append(
            (f"generate {rows:,} {name} (in memory)", seconds, f"{rows / seconds:,.0f} rows/s")
        )
    return results


def bench_inspect(rows: int) -> list[tuple[str, float, str]]:
    import pandas as pd

    from custrec.datasets import write_dataset
    from custrec.table_profile import inspect_table

    with tempfile.TemporaryDirectory() as directory:
        path = str(Path(directory) / "customers.csv")
        write_dataset("customers", path, rows=rows, seed=1)

        def pandas_profile() -> object:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
            return frame.isna().sum(), frame["customer_id"].duplicated().sum()

        ours = median_seconds(lambda: inspect_table(path), 3)
        reference = median_seconds(pandas_profile, 3)
    return [
        (f"custrec inspect, {rows:,} customer rows (CSV)", ours, f"{ours / reference:.2f}x"),
        ("pandas read_csv + isna + duplicated (reference)", reference, "1.00x"),
    ]


PEAK_RSS = """
import resource, sys
from custrec.datasets import write_dataset
write_dataset("customers", sys.argv[1], rows=int(sys.argv[2]), seed=1)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def bench_generate_memory(sizes: tuple[int, ...]) -> list[tuple[str, float, str]]:
    """Peak memory of writing generated rows to Parquet: bounded, whatever the size."""
    results = []
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with tempfile.TemporaryDirectory() as directory:
        for rows in sizes:
            started = time.perf_counter()
            # Started through a small launcher: a child of this (large) process would
            # report the parent's peak as its own ru_maxrss (see benchmarks/store.py).
            proc = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    LAUNCHER_SCRIPT,
                    sys.executable,
                    "-c",
                    PEAK_RSS,
                    str(Path(directory) / "c.parquet"),
                    str(rows),
                ],
                env=env,
                check=True,
                capture_output=True,
                text=True,
            )
            seconds = time.perf_counter() - started
            results.append(
                (
                    f"generate {rows:,} customers to Parquet, peak RSS",
                    seconds,
                    f"{int(proc.stdout.strip()) / 1024:,.0f} MiB",
                )
            )
    return results


def machine() -> str:
    cpu = platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores ({cpu}), "
        f"Python {platform.python_version()}"
    )


Section = list[tuple[str, float, str]]
HEADER = [
    "# Performance",
    "",
    "<!-- Written by `make bench` (benchmarks/run.py); do not edit by hand. -->",
    "",
    "Timings are medians; compare the ratios within one section (one run), not across",
    "sections or runs: each section says when and where it was measured.",
    "",
]


def render_section(title: str, rows: Section) -> list[str]:
    lines = [
        f"## {title}",
        "",
        f"Measured {dt.date.today().isoformat()} on {machine()}.",
        "",
        "| what | seconds | ratio / rate |",
        "|---|---:|---:|",
    ]
    lines += [
        f"| {what} | {'-' if math.isnan(seconds) else f'{seconds:.3f}'} | {ratio} |"
        for what, seconds, ratio in rows
    ]
    return [*lines, ""]


def render(sections: dict[str, Section]) -> str:
    lines = list(HEADER)
    for title, rows in sections.items():
        lines += render_section(title, rows)
    return "\n".join(lines)


def sections_of(text: str) -> dict[str, str]:
    """The sections of a performance file: title -> its text (heading included)."""
    found: dict[str, str] = {}
    title = None
    for line in text.splitlines(keepends=True):
        if line.startswith("## "):
            title = line[3:].strip()
            found[title] = ""
        if title is not None:
            found[title] += line
    return found


def merge(old: str, titles: list[str], new: dict[str, Section]) -> str:
    """``old``'s sections in the order of ``titles``, those measured now replaced."""
    kept = sections_of(old)
    parts = ["\n".join(HEADER)]
    for title in titles:
        if title in new:
            parts.append("\n".join(render_section(title, new[title])))
        elif title in kept:
            parts.append(kept[title].rstrip("\n") + "\n")
    return "\n".join(parts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", metavar="FILE", help="also write the results to FILE")
    parser.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help="run only this benchmark (repeatable: startup, generate, generate-memory, "
        "inspect, store, audit, records, validate, validate-polars, engines, kpi, kpi-engines, "
        "redaction, "
        "pii-outside, retention, trust, format2, format3); with "
        "--write, the other sections of FILE are kept as they are",
    )
    parser.add_argument("--rows", type=int, default=200_000, help="rows for data benchmarks")
    parser.add_argument("--repeat", type=int, default=7, help="runs per start-up timing")
    parser.add_argument(
        "--store-rows", type=int, default=1_000_000, help="records of the big store"
    )
    parser.add_argument(
        "--memory-rows", type=int, default=5_000_000, help="records of the memory-figure store"
    )
    parser.add_argument("--store-ids", type=int, default=200, help="random ids per point timing")
    parser.add_argument(
        "--audit-entries", type=int, default=100_000, help="entries of the audit log to verify"
    )
    parser.add_argument(
        "--store-process-repeat", type=int, default=20, help="runs per whole-process timing"
    )
    import engines
    import format2
    import format3
    import kpi
    import kpi_engines
    import pii_outside
    import records
    import redaction
    import retention
    import trust
    import validate
    import validate_polars

    for bench in (
        records,
        validate,
        validate_polars,
        engines,
        kpi,
        kpi_engines,
        redaction,
        pii_outside,
        retention,
        trust,
        format2,
        format3,
    ):
        bench.add_arguments(parser)
    args = parser.parse_args()
    from audit import bench_audit
    from engines import SECTION as ENGINES_SECTION
    from engines import bench_engines
    from format2 import SECTION as FORMAT2_SECTION
    from format2 import bench_format2
    from format3 import SECTION as FORMAT3_SECTION
    from format3 import bench_format3
    from kpi import SECTION as KPI_SECTION
    from kpi import bench_kpi
    from kpi_engines import SECTION as KPI_ENGINES_SECTION
    from kpi_engines import bench_kpi_engines
    from pii_outside import DOC as PII_OUTSIDE_DOC
    from pii_outside import SECTION as PII_OUTSIDE_SECTION
    from pii_outside import bench_pii_outside
    from records import bench_records
    from redaction import SECTION as REDACTION_SECTION
    from redaction import bench_redaction
    from retention import SECTION as RETENTION_SECTION
    from retention import bench_retention
    from store import bench_store
    from trust import SECTION as TRUST_SECTION
    from trust import bench_trust
    from validate import SECTION as VALIDATE_SECTION
    from validate import bench_validate
    from validate_polars import SECTION as VALIDATE_POLARS_SECTION
    from validate_polars import bench_validate_polars

    benchmarks: dict[str, tuple[str, Callable[[], Section]]] = {
        "startup": (
            "Start-up (light commands must not load pandas or pandera)",
            lambda: bench_startup(args.repeat),
        ),
        "generate": ("Example data generator", lambda: bench_generate(args.rows)),
        "generate-memory": (
            "Generator memory (one chunk at a time)",
            lambda: bench_generate_memory((args.rows // 10, args.rows * 5)),
        ),
        "inspect": (
            "Profiling a file (inspect) against plaintext pandas",
            lambda: bench_inspect(args.rows),
        ),
        "store": (
            "Encrypted store: access, full read and memory against store size",
            lambda: bench_store(
                args.store_rows, args.memory_rows, args.store_ids, args.store_process_repeat
            ),
        ),
        "audit": (
            "Audit trail: cost per read, verifying a long log",
            lambda: bench_audit(args.audit_entries),
        ),
        "records": (
            "Record commands (collect, get, find, update, export) as whole processes",
            lambda: bench_records(args.collect_rows, args.records_repeat),
        ),
        "validate": (
            VALIDATE_SECTION,
            lambda: bench_validate(args.validate_rows, args.validate_memory_rows),
        ),
        "validate-polars": (
            VALIDATE_POLARS_SECTION,
            lambda: bench_validate_polars(args.validate_polars_sizes),
        ),
        "engines": (ENGINES_SECTION, lambda: bench_engines(args.engine_rows, args.spark_rows)),
        "kpi": (KPI_SECTION, lambda: bench_kpi(args.kpi_rows, args.kpi_memory_rows)),
        "kpi-engines": (
            KPI_ENGINES_SECTION,
            lambda: bench_kpi_engines(
                args.kpi_engine_rows,
                args.kpi_engine_big_rows,
                args.kpi_engine_big_spark,
                args.kpi_engine_big_log,
            ),
        ),
        "redaction": (
            REDACTION_SECTION,
            lambda: bench_redaction(args.scan_texts, args.redact_rows),
        ),
        "pii-outside": (
            PII_OUTSIDE_SECTION,
            lambda: bench_pii_outside(
                args.outside_texts, doc=PII_OUTSIDE_DOC if args.write else None
            ),
        ),
        "retention": (RETENTION_SECTION, lambda: bench_retention(args.retention_rows)),
        "trust": (
            TRUST_SECTION,
            lambda: bench_trust(args.trust_rows, args.trust_repeat, args.trust_baseline),
        ),
        "format2": (
            FORMAT2_SECTION,
            lambda: bench_format2(args.format2_rows, args.format2_repeat, args.format2_baseline),
        ),
        "format3": (
            FORMAT3_SECTION,
            lambda: bench_format3(args.format3_rows, args.format3_repeat, args.format3_baseline),
        ),
    }
    chosen = args.only or list(benchmarks)
    unknown = sorted(set(chosen) - set(benchmarks))
    if unknown:
        parser.error(f"unknown benchmark {unknown[0]!r}; choose from {', '.join(benchmarks)}")
    sections = {benchmarks[name][0]: benchmarks[name][1]() for name in chosen}
    text = render(sections)
    print(text)
    if args.write:
        target = Path(args.write)
        if args.only and target.exists():
            titles = [title for title, _ in benchmarks.values()]
            text = merge(target.read_text(encoding="utf-8"), titles, sections)
        target.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
