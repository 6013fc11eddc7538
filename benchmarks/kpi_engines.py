"""KPIs on the engines: ``custrec report kpi LOG.parquet --by channel --period month
--format json`` of the same generated log, as whole processes, on the default polars
engine, on ``--engine duckdb`` (out of core, ``--memory-limit``) and on ``--engine
spark`` (``local[*]``: the machine's cores). Every engine's report must equal the
polars engine's: every count exactly, every figure to 1e-9 relative (the run stops
otherwise). The peak RSS is the custrec process's (DuckDB runs inside it; Spark's
JVM is a child process measured apart, as the largest child's).

Then, on a log of ``big_rows`` interactions (100M by default), DuckDB alone with its
memory limit (target: completes, peak RSS ≤ 4 GB), and Spark when ``big_spark`` is
set, whose figures must equal DuckDB's.

    .venv/bin/python benchmarks/kpi_engines.py --kpi-engine-rows 200000 --kpi-engine-big-rows 0
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from kpi import Log, Measure, Runner, generate, progress, rate  # noqa: E402
from records import mib  # noqa: E402

SECTION = "KPIs on the engines (polars, DuckDB, Spark)"
MEMORY_LIMIT = "2GB"
RSS_TARGET_MIB = 4 * 10**9 / 2**20
Row = tuple[str, float, str]


def report(runner: Runner, log: Log, *engine: str) -> tuple[Measure, dict[str, Any]]:
    measured = runner.measure(
        [
            sys.executable, "-m", "custrec", "report", "kpi", str(log.path), "--by", "channel",
            "--period", "month", "--format", "json", *engine,
        ]
    )  # fmt: skip
    found = json.loads(measured.proc.stdout)
    if found["total"]["interactions"] != log.rows:
        raise AssertionError(f"{engine}: counted {found['total']['interactions']} of {log.rows}")
    return measured, {"rows": found["rows"], "total": found["total"]}


def differences(ours: Any, theirs: Any, path: str = "") -> list[str]:
    """Where two reports differ: counts exactly, figures beyond 1e-9 relative."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        if set(ours) != set(theirs):
            return [f"{path}: keys {sorted(set(ours) ^ set(theirs))}"]
        return [d for k in ours for d in differences(ours[k], theirs[k], f"{path}.{k}")]
    if isinstance(ours, list) and isinstance(theirs, list):
        if len(ours) != len(theirs):
            return [f"{path}: {len(ours)} rows against {len(theirs)}"]
        pairs = zip(ours, theirs, strict=True)
        return [d for i, (a, b) in enumerate(pairs) for d in differences(a, b, f"{path}[{i}]")]
    if isinstance(ours, float) and isinstance(theirs, float):
        close = math.isclose(ours, theirs, rel_tol=1e-9, abs_tol=1e-9)
        return [] if close else [f"{path}: {ours!r} against {theirs!r}"]
    return [] if ours == theirs else [f"{path}: {ours!r} against {theirs!r}"]


def check(name: str, ours: dict[str, Any], reference: dict[str, Any], what: str) -> str:
    found = differences(ours, reference)
    if found:
        raise AssertionError(f"{name} differs from {what}: {'; '.join(found[:5])}")
    return f"report equal to {what}'s ({len(reference['rows'])} rows and the total)"


def bench_kpi_engines(
    rows: int = 10_000_000,
    big_rows: int = 100_000_000,
    big_spark: bool = False,
    big_log: Path | None = None,
) -> list[Row]:
    out: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="custrec-bench-kpi-engines-") as name:
        runner = Runner(Path(name))
        log = generate(runner, rows)
        out.append(
            (
                f"custrec generate interactions --bad-share 0, {rows:,} rows to Parquet "
                "(input of the rows below; not part of any measure)",
                log.generate_seconds,
                f"file {mib(log.path)}",
            )
        )
        progress(f"polars engine, {rows:,} interactions")
        local, reference = report(runner, log)
        progress(f"duckdb engine, {rows:,} interactions, memory limit {MEMORY_LIMIT}")
        duck, duck_found = report(runner, log, "--engine", "duckdb", "--memory-limit", MEMORY_LIMIT)
        duck_agrees = check("duckdb", duck_found, reference, "the polars engine")
        progress(f"spark engine, {rows:,} interactions")
        spark, spark_found = report(runner, log, "--engine", "spark")
        spark_agrees = check("spark", spark_found, reference, "the polars engine")
        out += [
            (
                f"report kpi --by channel --period month, {rows:,} interactions, polars "
                "(default), whole process",
                local.seconds,
                f"{rate(rows, local.seconds)}; peak RSS {local.mib} (reference of this section)",
            ),
            (
                f"the same, --engine duckdb --memory-limit {MEMORY_LIMIT}",
                duck.seconds,
                f"{rate(rows, duck.seconds)}; {duck.seconds / local.seconds:.2f}x polars; "
                f"peak RSS {duck.mib}; {duck_agrees}",
            ),
            (
                "the same, --engine spark (local[*], 2 cores; JVM start included)",
                spark.seconds,
                f"{rate(rows, spark.seconds)}; {spark.seconds / local.seconds:.2f}x polars; "
                f"{spark_agrees} (information)",
            ),
        ]
        if big_rows:
            log.path.unlink()
            if big_log is not None:
                big = reused(big_log, big_rows)
                made = "generated before this run by the same command"
            else:
                big = generate(runner, big_rows)
                made = "not part of any measure"
            out.append(
                (
                    f"custrec generate interactions --bad-share 0, {big_rows:,} rows to "
                    f"Parquet (input of the rows below; {made})",
                    big.generate_seconds,
                    f"file {mib(big.path)}",
                )
            )
            progress(f"duckdb engine, {big_rows:,} interactions, memory limit {MEMORY_LIMIT}")
            what = (
                f"report kpi --by channel --period month, {big_rows:,} interactions, "
                f"--engine duckdb --memory-limit {MEMORY_LIMIT}, whole process"
            )
            try:
                huge, huge_found = report(
                    runner, big, "--engine", "duckdb", "--memory-limit", MEMORY_LIMIT
                )
            except RuntimeError as failed:  # e.g. exit 2: out of memory under the limit
                reason = failure_reason(failed)
                out.append((what, float("nan"), f"did not complete (target MISSED): {reason}"))
                progress("done; removing the temporary files")
                return out
            peak = huge.kib / 1024
            verdict = "met" if peak <= RSS_TARGET_MIB else "MISSED"
            agreed = "figures not compared with Spark (--kpi-engine-big-spark to compare)"
            spark_row: list[Row] = []
            if big_spark:
                progress(f"spark engine, {big_rows:,} interactions")
                named = f"the same {big_rows:,} interactions, --engine spark (local[*])"
                try:
                    far, far_found = report(runner, big, "--engine", "spark")
                except RuntimeError as failed:
                    reason = failure_reason(failed)
                    agreed = "figures not compared: Spark did not complete"
                    spark_row.append((named, float("nan"), f"did not complete: {reason}"))
                else:
                    try:
                        agreed = check("duckdb", huge_found, far_found, "Spark local[*]")
                    except AssertionError as differing:  # recorded, not lost with the run
                        agreed = f"figures DIFFER (target MISSED): {str(differing)[:300]}"
                    row = (named, far.seconds, f"{rate(big_rows, far.seconds)} (information)")
                    spark_row.append(row)
            out.append(
                (
                    what,
                    huge.seconds,
                    f"{rate(big_rows, huge.seconds)}; peak RSS {huge.mib} (target ≤ 4 GB: "
                    f"{verdict}); {agreed}",
                )
            )
            out += spark_row
        progress("done; removing the temporary files")
    return out


def failure_reason(failed: BaseException) -> str:
    """What a failed run's stderr says went wrong: custrec's own "Error:" line, else
    the last line naming a Java or Python exception (not a frame of its stack), else
    the last line."""
    lines = [line.strip() for line in str(failed).strip().splitlines() if line.strip()]
    code = re.search(r"\(exit (-?\d+)\)", lines[0]) if lines else None
    prefix = f"exit {code.group(1)}: " if code else ""
    for wanted in (
        lambda line: line.startswith("Error:"),
        lambda line: not line.startswith("at ") and re.search(r"(Exception|Error)\b", line),
    ):
        found = [line for line in lines if wanted(line)]
        if found:
            return prefix + found[-1][:300]
    return prefix + (lines[-1] if lines else "no message")[:300]


def reused(path: Path, rows: int) -> Log:
    """A log made earlier by :func:`generate`'s command for ``rows`` (``generate
    interactions --rows ROWS --customers ROWS/20 --bad-share 0 --seed 2026``): 35
    minutes saved at 100M. Its row count is checked."""
    import pyarrow.parquet as pq

    found = pq.ParquetFile(path).metadata.num_rows
    if found != rows:
        raise SystemExit(f"{path} has {found:,} rows, not {rows:,}")
    return Log(rows, path, float("nan"))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--kpi-engine-rows", type=int, default=10_000_000, help="interactions on every engine"
    )
    parser.add_argument(
        "--kpi-engine-big-rows",
        type=int,
        default=100_000_000,
        help="interactions of the DuckDB out-of-core run (0: skip)",
    )
    parser.add_argument(
        "--kpi-engine-big-log",
        type=Path,
        help="a log of --kpi-engine-big-rows made earlier by the same generate command "
        "(see reused()), instead of generating it again",
    )
    parser.add_argument(
        "--kpi-engine-big-spark",
        action="store_true",
        help="also run the big log on Spark and compare its figures with DuckDB's",
    )


def main() -> int:
    from run import render  # type: ignore[import-not-found]

    parser = argparse.ArgumentParser(description="custrec KPIs on the engines alone")
    add_arguments(parser)
    args = parser.parse_args()
    rows = bench_kpi_engines(
        args.kpi_engine_rows,
        args.kpi_engine_big_rows,
        args.kpi_engine_big_spark,
        args.kpi_engine_big_log,
    )
    print(render({SECTION: rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
