"""Validation on the engines: ``custrec validate FILE.csv --schema customer.yaml --format
json`` of the same generated customer file, as whole processes, with ``--engine
polars`` (the default, batch by batch), ``--engine duckdb`` (one query, out of core,
``--memory-limit``) and ``--engine spark`` (``local[2]``, on a smaller file:
information). Every engine's counts must equal the polars engine's. The peak RSS is
the custrec process's (DuckDB runs inside it; Spark's JVM is not measured).

Target: ``validate`` of 10M customer rows with ``--engine duckdb`` in bounded memory
(peak RSS ≤ 2 GB), same counts as polars.

    .venv/bin/python benchmarks/engines.py --engine-rows 200000 --spark-rows 50000
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from validate import SCHEMA, Dataset, Measure, Runner, as_of_day, generate  # noqa: E402

SECTION = "Validation on the engines (polars, DuckDB, Spark)"
RSS_TARGET_MIB = 2048
MEMORY_LIMIT = "1GB"
Row = tuple[str, float, str]


def progress(message: str) -> None:
    print(f"[engines bench] {message}", file=sys.stderr, flush=True)


def run(runner: Runner, dataset: Dataset, as_of: str, *engine: str) -> tuple[Measure, dict]:
    measured = runner.measure(
        [
            sys.executable, "-m", "custrec", "validate", str(dataset.csv), "--schema",
            str(SCHEMA), "--format", "json", "--as-of", as_of, *engine,
        ],
        ok=(0, 1),
    )  # fmt: skip
    report = json.loads(measured.proc.stdout)
    return measured, {rule["id"]: rule["failed"] for rule in report["rules"]}


def agree(counts: dict, reference: dict) -> str:
    if counts == reference:
        return f"counts equal the polars engine's ({sum(counts.values()):,} failures)"
    differ = sorted(k for k in reference if counts.get(k) != reference[k])
    return f"COUNTS DIFFER from the polars engine's: {', '.join(differ)}"


def bench_engines(rows: int = 10_000_000, spark_rows: int = 1_000_000) -> list[Row]:
    as_of = as_of_day()
    out: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="custrec-bench-engines-") as name:
        runner = Runner(Path(name), Path(name) / "unused.key")
        big = generate(runner, rows)
        out.append(
            (
                f"custrec generate customers --bad-share 0.05, {rows:,} rows to CSV (input of "
                "the rows below; not part of any measure)",
                big.generate_seconds,
                f"file {big.csv_size}",
            )
        )
        progress(f"polars engine, {rows:,} rows")
        local, reference = run(runner, big, as_of)
        progress(f"duckdb engine, {rows:,} rows, memory limit {MEMORY_LIMIT}")
        out.append(
            (
                f"(a) custrec validate --engine polars (default), {rows:,} rows, whole process",
                local.seconds,
                f"{rows / local.seconds:,.0f} rows/s; peak RSS {local.mib}",
            )
        )
        what = (
            f"(b) custrec validate --engine duckdb --memory-limit {MEMORY_LIMIT}, {rows:,} "
            "rows, whole process"
        )
        try:
            duck, duck_counts = run(
                runner, big, as_of, "--engine", "duckdb", "--memory-limit", MEMORY_LIMIT
            )
        except RuntimeError as failed:  # e.g. exit 2: out of memory under the limit
            reason = str(failed).strip().splitlines()[-1][:200]
            out.append((what, float("nan"), f"did not complete (target MISSED): {reason}"))
        else:
            verdict = "met" if duck.kib / 1024 <= RSS_TARGET_MIB else "MISSED"
            out.append(
                (
                    what,
                    duck.seconds,
                    f"{rows / duck.seconds:,.0f} rows/s; {duck.seconds / local.seconds:.2f}x "
                    f"(a); peak RSS {duck.mib} (target ≤ {RSS_TARGET_MIB:,} MiB: {verdict}); "
                    f"{agree(duck_counts, reference)}",
                )
            )
        big.csv.unlink()
        if spark_rows:
            small = generate(runner, spark_rows)
            progress(f"polars and spark engines, {spark_rows:,} rows")
            small_local, small_reference = run(runner, small, as_of)
            spark, spark_counts = run(runner, small, as_of, "--engine", "spark")
            out += [
                (
                    f"(c) custrec validate --engine polars, {spark_rows:,} rows, whole process",
                    small_local.seconds,
                    f"{spark_rows / small_local.seconds:,.0f} rows/s; peak RSS {small_local.mib}",
                ),
                (
                    f"(d) custrec validate --engine spark (local[*] on 2 cores), {spark_rows:,} "
                    "rows, whole process including the JVM's start (information)",
                    spark.seconds,
                    f"{spark_rows / spark.seconds:,.0f} rows/s; "
                    f"{spark.seconds / small_local.seconds:.2f}x (c); peak RSS of the Python "
                    f"driver {spark.mib} (the JVM's own is not measured); "
                    f"{agree(spark_counts, small_reference)}",
                ),
            ]
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--engine-rows", type=int, default=10_000_000)
    parser.add_argument("--spark-rows", type=int, default=1_000_000)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    add_arguments(parser)
    args = parser.parse_args()
    for row in bench_engines(args.engine_rows, args.spark_rows):
        print(f"| {row[0]} | {row[1]:.3f} | {row[2]} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
