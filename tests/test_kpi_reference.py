"""Every KPI of ``report kpi`` against an independent formulation: the DuckDB SQL query
of the KPI benchmark (benchmarks/kpi.py), written from docs/kpi-definitions.md and not
from custrec's code. On a generated log, every figure of every channel and of the
total agrees to 1e-9 relative and every count exactly; the benchmark makes the same
check on 1M interactions."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import InvokeCli

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture(scope="module")
def bench() -> Any:
    sys.path.insert(0, str(BENCHMARKS))
    before = set(sys.modules)
    try:
        import kpi  # type: ignore[import-not-found]

        yield kpi
    finally:
        sys.path.remove(str(BENCHMARKS))
        for name in set(sys.modules) - before:  # the benchmark's modules
            if not name.startswith("custrec"):
                sys.modules.pop(name, None)


def reference(query: str, log: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", query, str(log)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    found: dict[str, Any] = json.loads(done.stdout)
    return found


def test_every_kpi_agrees_with_an_independent_sql_query(
    cli: InvokeCli, tmp_path: Path, bench: Any
) -> None:
    log = tmp_path / "log.parquet"
    made = cli(
        "generate", "interactions", "--rows", "6000", "--customers", "400",
        "--bad-share", "0", "--seed", "11", "-o", str(log),
    )  # fmt: skip
    assert made.exit_code == 0, made.stderr
    result = cli("report", "kpi", str(log), "--by", "channel", "--format", "json")
    assert result.exit_code == 0, result.stderr
    ours = bench.custrec_figures(json.loads(result.stdout))
    theirs = reference(bench.REFERENCE_KPI, log)
    assert bench.differences(ours, theirs) == []
    # every KPI is there, with data behind it: a comparison of nulls would prove little
    total = ours["total"]
    assert set(total) == {*bench.FIGURES, "counts"}
    assert all(total[name] is not None for name in bench.FIGURES), total
    assert len(ours["channels"]) >= 4
    # and the comparison notices a definition written differently
    other = bench.REFERENCE_KPI.replace("wait <= 20", "wait < 20").replace(
        "quantile_cont(frt, 0.9)", "quantile_disc(frt, 0.9)"
    )
    found = bench.differences(ours, reference(other, log))
    assert any("SERVICE_LEVEL" in line for line in found)
    assert any("FRT_P90" in line for line in found)
