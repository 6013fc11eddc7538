"""Store format 3 (each field group of the store's schema sealed apart) against format 2.

The reference is custrec at the last revision of format 2 (``--format3-baseline``, a
git revision; default 7f52144), extracted with ``git archive`` and run from there, so
that both versions are measured side by side in one run, as whole processes. Each
version creates its own stores with ``init --region GB --schema customer`` (the
shipped customer schema declares 5 field groups: format 3 costs something only when
the schema has groups):

- ``collect`` of the same generated CSV into a new store by each version (1,000 and
  ``format3_rows`` records): time and peak RSS, ratio current/baseline (target: not
  worse than the baseline);
- ``get``, ``find --email`` and ``update --set`` of random records, ``--format json``,
  on each version's own store, taking turns run by run: median and p95, ratio
  current/baseline (target: medians within 1.10x of the baseline);
- ``export`` of the large store by each version (a full read), for information.

Called by ``benchmarks/run.py``; also runs alone::

    .venv/bin/python benchmarks/format3.py --format3-rows 100000
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from format2 import Row, compare_formats  # noqa: E402 - script dir

SECTION = "Store format 3 (field groups sealed apart) against format 2: collect, get, find, update"
BASELINE = "7f52144"
"""The last revision of store format 2."""
INIT_ARGS = ("--schema", "customer")
"""The shipped customer schema: 5 field groups, each sealed apart in format 3."""


def bench_format3(rows: int = 1_000_000, repeat: int = 15, baseline: str = BASELINE) -> list[Row]:
    return compare_formats(rows, repeat, baseline, INIT_ARGS, "format3")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format3-rows", type=int, default=1_000_000, help="records of the large store"
    )
    parser.add_argument("--format3-repeat", type=int, default=15, help="runs per point timing")
    parser.add_argument(
        "--format3-baseline", default=BASELINE, help="git revision of the format-2 custrec"
    )


def main() -> int:
    from run import render  # type: ignore[import-not-found]

    parser = argparse.ArgumentParser(description="custrec store format 3 benchmark alone")
    add_arguments(parser)
    args = parser.parse_args()
    rows = bench_format3(args.format3_rows, args.format3_repeat, args.format3_baseline)
    print(render({SECTION: rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
