"""Store format 2 (data keys in a key store beside the data file) against format 1.

The reference is custrec at the last revision of format 1 (``--format2-baseline``, a
git revision), extracted with ``git archive`` and run from there, so that both
versions are measured side by side in one run, as whole processes:

- ``collect`` of the same generated CSV into a new store by each version (1,000 and
  ``format2_rows`` records): time and peak RSS, ratio current/baseline;
- ``get``, ``find --email`` and ``update --set`` of random records, ``--format json``,
  on each version's own store, taking turns run by run: median and p95, ratio
  current/baseline (target: within 1.10x, the issue's "within 10% of format 1");
- ``export`` of the large store by each version (a full read), for information.

Called by ``benchmarks/run.py``; also runs alone::

    .venv/bin/python benchmarks/format2.py --format2-rows 100000
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from records import (  # noqa: E402 - script dir
    Dataset,
    Runner,
    collect,
    draw_samples,
    generate_csv,
)
from trust import extract, point_rows, point_times  # noqa: E402 - script dir

SECTION = "Store format 2 (key store) against format 1: collect, get, find, update"
BASELINE = "0313ea6"
"""The last revision of store format 1."""
SMALL_ROWS = 1_000
SEED = 21

Row = tuple[str, float, str]


def progress(message: str, label: str = "format2") -> None:
    print(f"[{label} bench] {message}", file=sys.stderr, flush=True)


def compare_formats(
    rows: int, repeat: int, baseline: str, init_args: tuple[str, ...] = (), label: str = "format2"
) -> list[Row]:
    """The current custrec against custrec at git revision ``baseline``, as whole
    processes side by side: ``collect`` into a new store (1,000 and ``rows`` records),
    ``get`` / ``find --email`` / ``update --set`` (``repeat`` runs each) and ``export``,
    each version on the stores it built itself (``init --region GB`` and ``init_args``).
    ``label`` names the progress messages and the temporary directory."""
    from custrec.keyfile import new_key_file

    ops = ["get", "find --email", "update --set"]
    rng = random.Random(SEED)
    init = f" (init {' '.join(init_args)})" if init_args else ""
    out: list[Row] = []
    with tempfile.TemporaryDirectory(prefix=f"custrec-bench-{label}-") as name:
        directory = Path(name)
        key = new_key_file(directory / "bench.key").path
        current = Runner(directory, key)
        old = Runner(directory, key)
        old.env["PYTHONPATH"] = str(extract(baseline, directory / "baseline"))
        runners = {"baseline": old, "current": current}
        stores: dict[str, list[Dataset]] = {"baseline": [], "current": []}
        for size in (SMALL_ROWS, rows):
            built = generate_csv(current, size)
            draw_samples(built, ops, 2 * (repeat + 1), rng)
            built.samples["find --email"] = [s for s in built.samples["find --email"] if s.email]
            seconds: dict[str, tuple[float, int]] = {}
            for version in ("baseline", "current"):  # each version builds its own store
                dataset = Dataset(
                    size, built.csv, directory / f"{version}-{size}.crec", init_args=init_args
                )
                dataset.samples = built.samples
                progress(f"collect of {size:,} rows ({version})", label)
                seconds[version] = collect(runners[version], dataset)
                stores[version].append(dataset)
            (old_s, old_kib), (new_s, new_kib) = seconds["baseline"], seconds["current"]
            out.append(
                (
                    f"custrec collect, {size:,} CSV rows into a new store{init}, whole process: "
                    "current / baseline",
                    new_s,
                    f"{new_s:.3f} s against {old_s:.3f} s; {new_s / old_s:.2f}x; peak RSS "
                    f"{new_kib / 1024:,.0f} MiB against {old_kib / 1024:,.0f} MiB",
                )
            )
        progress(f"get, find --email, update --set: {repeat} runs each, both versions", label)
        out += point_rows(point_times(runners, stores, ops, repeat), ops)
        for version in ("baseline", "current"):
            big = stores[version][-1]
            progress(f"export of {big.rows:,} records ({version})", label)
            seconds_export, _ = runners[version].timed(
                "-m", "custrec", "export", str(big.store), "-o", str(directory / f"{version}.csv")
            )
            out.append(
                (
                    f"custrec export -o out.csv, {big.rows:,} records, whole process ({version})",
                    seconds_export,
                    f"{big.rows / seconds_export:,.0f} records/s",
                )
            )
        progress("done; removing the temporary files", label)
    return out


def bench_format2(rows: int = 1_000_000, repeat: int = 15, baseline: str = BASELINE) -> list[Row]:
    return compare_formats(rows, repeat, baseline)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format2-rows", type=int, default=1_000_000, help="records of the large store"
    )
    parser.add_argument("--format2-repeat", type=int, default=15, help="runs per point timing")
    parser.add_argument(
        "--format2-baseline", default=BASELINE, help="git revision of the format-1 custrec"
    )


def main() -> int:
    from run import render  # type: ignore[import-not-found]

    parser = argparse.ArgumentParser(description="custrec store format 2 benchmark alone")
    add_arguments(parser)
    args = parser.parse_args()
    rows = bench_format2(args.format2_rows, args.format2_repeat, args.format2_baseline)
    print(render({SECTION: rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
