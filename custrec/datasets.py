"""Write the generated example datasets (see :mod:`custrec.generate`) to files.

One streaming pass writes the rows and, optionally, the list of deliberately bad rows
(the *defects*), which tests and benchmarks use as ground truth.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from typing import Any

from custrec.errors import UsageError
from custrec.io import STDIN, format_from_extension, open_row_writer, source_name
from custrec.render import Summary, Table
from custrec.types import BOOL, INT64

DEFECT_COLUMNS = ("row", "record_id", "kind", "field")

# Column types for Parquet output; every other column is text.
_PARQUET_TYPES = {
    "customers": {"consent_marketing": BOOL},
    "interactions": {
        "talk_seconds": INT64,
        "hold_seconds": INT64,
        "wrap_seconds": INT64,
        "resolved": BOOL,
        "escalated": BOOL,
        "csat": INT64,
        "nps": INT64,
        "ces": INT64,
        "survey_sent": BOOL,
    },
}

DATASETS = ("customers", "interactions")


@dataclass
class DatasetWritten:
    """The result of :func:`write_dataset`."""

    dataset: str
    path: str
    format: str
    rows: int
    columns: int
    seed: int
    defects_path: str | None
    defects: Counter[str] = field(default_factory=Counter)
    kind: str = "generate"

    @property
    def defect_rows(self) -> int:
        return sum(self.defects.values())

    def to_json(self) -> dict[str, object]:
        return {
            "dataset": self.dataset,
            "path": self.path,
            "format": self.format,
            "rows": self.rows,
            "columns": self.columns,
            "seed": self.seed,
            "defect_rows": self.defect_rows,
            "defects": dict(sorted(self.defects.items())),
            "defects_path": self.defects_path,
        }

    def tables(self) -> list[Table]:
        return [
            Table(
                columns=("defect", "rows"),
                rows=sorted(self.defects.items()),
                title="deliberate defects",
            )
        ]

    def summary(self) -> Summary:
        return Summary(
            (
                ("dataset", self.dataset),
                ("written to", self.path),
                ("rows", self.rows),
                ("seed", self.seed),
                ("rows with defects", self.defect_rows),
            )
        )


def _generator(dataset: str) -> tuple[tuple[str, ...], Callable[..., Iterator[Any]]]:
    from custrec import generate

    if dataset == "customers":
        return generate.CUSTOMER_COLUMNS, generate.generate_customers
    if dataset == "interactions":
        return generate.INTERACTION_COLUMNS, generate.generate_interactions
    raise UsageError(f"unknown dataset {dataset!r}; expected one of {', '.join(DATASETS)}")


def write_dataset(
    dataset: str,
    dest: str,
    *,
    output_format: str | None = None,
    rows: int,
    seed: int = 2026,
    bad_share: float = 0.05,
    customers: int | None = None,
    defects_dest: str | None = None,
    chunk_rows: int = 10_000,
) -> DatasetWritten:
    """Generate ``rows`` rows of ``dataset`` (``customers`` or ``interactions``) into
    ``dest`` (a path or ``-``), and the defect list into ``defects_dest`` if given.

    ``customers`` (interactions only) is how many customers the interactions refer to.
    Files appear only once complete (see :func:`custrec.io.atomic_file`).
    """
    if defects_dest is not None and _same_output(dest, defects_dest):
        raise UsageError(
            "the defect list and the rows would both go to "
            f"{'standard output' if dest == STDIN else source_name(dest)}; "
            "give --defects another file"
        )
    columns, generate_rows = _generator(dataset)
    fmt = output_format or (format_from_extension(dest) if dest != STDIN else None) or "csv"
    defects_fmt = format_from_extension(defects_dest or "") or "csv"
    kwargs: dict[str, Any] = {"seed": seed, "bad_share": bad_share, "chunk_rows": chunk_rows}
    if dataset == "interactions" and customers is not None:
        kwargs["customers"] = customers
    try:
        chunks = generate_rows(rows, **kwargs)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    result = DatasetWritten(
        dataset=dataset,
        path=source_name(dest) if dest != STDIN else "<stdout>",
        format=fmt,
        rows=0,
        columns=len(columns),
        seed=seed,
        defects_path=defects_dest,
    )
    with ExitStack() as stack:
        writer = stack.enter_context(
            open_row_writer(dest, fmt, columns, types=_PARQUET_TYPES[dataset])
        )
        defect_writer = None
        if defects_dest is not None:
            defect_writer = stack.enter_context(
                open_row_writer(defects_dest, defects_fmt, DEFECT_COLUMNS, types={"row": INT64})
            )
        for chunk in chunks:
            writer.write_rows(chunk.rows)
            if defect_writer is not None:
                defect_writer.write_rows([asdict(d) for d in chunk.defects])
            result.rows += len(chunk.rows)
            result.defects.update(d.kind for d in chunk.defects)
    return result


def _same_output(first: str, second: str) -> bool:
    """Whether two outputs are one file (or both standard output)."""
    if STDIN in (first, second):
        return first == second
    return os.path.realpath(first) == os.path.realpath(second)
