"""The end-to-end demonstration behind ``custrec demo`` and ``make demo``.

It generates the example data (customers and an interaction log, with deliberately
bad rows and the list of them), profiles each file as a data steward would before
loading it, and returns one result that says what was created and what was found.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from custrec.datasets import DatasetWritten, write_dataset
from custrec.errors import InputError
from custrec.locking import exclusive_lock
from custrec.render import Summary, Table
from custrec.table_profile import TableProfile, inspect_table

LOCK_NAME = ".custrec-demo.lock"


@dataclass
class DemoStep:
    written: DatasetWritten
    profile: TableProfile


@dataclass
class DemoResult:
    """What :func:`run_demo` created and found."""

    workdir: str
    seed: int
    steps: list[DemoStep]
    kind: str = "demo"

    def to_json(self) -> dict[str, object]:
        return {
            "workdir": self.workdir,
            "seed": self.seed,
            "datasets": [
                {
                    "generated": step.written.to_json(),
                    "profile": step.profile.to_json(),
                }
                for step in self.steps
            ],
        }

    def tables(self) -> list[Table]:
        files = Table(
            title="Example data (generated, then profiled without reading any value out)",
            columns=(
                "file",
                "rows",
                "columns",
                "deliberate defects",
                "missing ids",
                "repeated ids",
            ),
            rows=[
                (
                    Path(step.written.path).name,
                    step.profile.rows,
                    len(step.profile.columns),
                    step.written.defect_rows,
                    step.profile.missing_ids,
                    step.profile.duplicate_ids,
                )
                for step in self.steps
            ],
        )
        defects = Table(
            title="Deliberate defects by kind (ground truth for validation)",
            columns=("file", "defect", "rows"),
            rows=[
                (Path(step.written.path).name, kind, count)
                for step in self.steps
                for kind, count in sorted(step.written.defects.items())
            ],
        )
        tables = [files, defects]
        for step in self.steps:
            columns = step.profile.tables()[0]
            tables.append(
                Table(
                    title=f"Columns of {Path(step.written.path).name}",
                    columns=columns.columns,
                    rows=columns.rows,
                )
            )
        return tables

    def summary(self) -> Summary:
        return Summary(
            (
                ("custrec demo", f"example data in {self.workdir}"),
                ("seed", self.seed),
            )
        )


def run_demo(
    workdir: str | Path,
    *,
    customers: int = 1000,
    interactions: int = 3000,
    seed: int = 2026,
    lock_timeout: float = 10.0,
) -> DemoResult:
    """Run the demonstration in ``workdir`` (created if missing) and return its result.

    Concurrent demos in the same directory take turns through a lock; one that waits
    longer than ``lock_timeout`` seconds raises :class:`~custrec.errors.StoreBusyError`.
    """
    directory = Path(workdir)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            str(directory), f"cannot create the demo directory ({exc.strerror})"
        ) from None
    steps: list[DemoStep] = []
    with exclusive_lock(
        directory / LOCK_NAME, timeout=lock_timeout, what=f"demo directory {directory}"
    ):
        for dataset, rows in (("customers", customers), ("interactions", interactions)):
            path = directory / f"{dataset}.csv"
            written = write_dataset(
                dataset,
                str(path),
                rows=rows,
                seed=seed,
                customers=customers,
                defects_dest=str(directory / f"{dataset}-defects.csv"),
            )
            steps.append(DemoStep(written=written, profile=inspect_table(str(path))))
    return DemoResult(workdir=str(directory), seed=seed, steps=steps)
