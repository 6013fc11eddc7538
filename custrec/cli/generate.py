"""``custrec generate``: reproducible example data for demos, tests and benchmarks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from custrec.cli.core import note
from custrec.io import OUTPUT_FORMATS


@click.group(short_help="Generate example data (synthetic people only).")
def generate() -> None:
    """Generate realistic, reproducible example data (synthetic people only).

    The same --seed always gives the same bytes. A share of rows (--bad-share) is
    deliberately wrong (bad emails, impossible dates, missing ids, duplicates...);
    --defects FILE lists them (row, record_id, kind, field) for use as ground truth.
    Rows are generated in chunks, so millions of rows need little memory.

    \b
    Examples:
      custrec generate customers --rows 1000 -o customers.csv --defects defects.csv
      custrec generate interactions --rows 1000000 --customers 50000 -o log.parquet
      custrec generate customers --rows 5 --bad-share 0 --output-format ndjson
    """


def _common_options(default_rows: int) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        options = [
            click.option(
                "--rows",
                type=click.IntRange(min=0),
                default=default_rows,
                show_default=True,
                help="Number of rows to generate.",
            ),
            click.option(
                "--seed",
                type=int,
                default=2026,
                show_default=True,
                help="Random seed; the same seed gives the same output.",
            ),
            click.option(
                "--bad-share",
                type=click.FloatRange(0, 1),
                default=0.05,
                show_default=True,
                help="Share of rows with a deliberate defect.",
            ),
            click.option(
                "-o",
                "--output",
                default="-",
                show_default=True,
                metavar="FILE",
                help="Where to write ('-' for stdout). The format follows the "
                "extension (.csv, .ndjson, .jsonl, .parquet).",
            ),
            click.option(
                "--output-format",
                type=click.Choice(OUTPUT_FORMATS),
                help="Output format, when the file name does not tell. Default csv.",
            ),
            click.option(
                "--defects",
                "defects_path",
                metavar="FILE",
                help="Also write the list of deliberately bad rows to FILE.",
            ),
        ]
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


def _write(dataset: str, output: str, **kwargs: Any) -> None:
    from custrec.datasets import write_dataset

    result = write_dataset(dataset, output, **kwargs)
    if output != "-":
        note(
            f"Wrote {result.rows} {dataset} rows ({result.defect_rows} with deliberate "
            f"defects) to {output}."
        )


@generate.command("customers")
@_common_options(default_rows=1000)
def generate_customers(
    rows: int,
    seed: int,
    bad_share: float,
    output: str,
    output_format: str | None,
    defects_path: str | None,
) -> None:
    """Generate customer records.

    Names from a dozen countries (many with non-ASCII letters), phone numbers in E.164
    and messy local forms, emails, postcodes, dates, consent flags, and agent notes
    that mention phone numbers, emails and card numbers.

    \b
    Examples:
      custrec generate customers --rows 1000 -o customers.csv
      custrec generate customers --rows 20 --seed 7 | custrec inspect -
    """
    _write(
        "customers",
        output,
        rows=rows,
        seed=seed,
        bad_share=bad_share,
        output_format=output_format,
        defects_dest=defects_path,
    )


@generate.command("interactions", short_help="Generate an interaction log, for KPI reports.")
@_common_options(default_rows=3000)
@click.option(
    "--customers",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="How many customers (C-000001 ...) the interactions refer to.",
)
def generate_interactions(
    rows: int,
    seed: int,
    bad_share: float,
    output: str,
    output_format: str | None,
    defects_path: str | None,
    customers: int,
) -> None:
    """Generate an interaction log (contacts with customers, for KPI reports).

    Cases with follow-up contacts, several channels, agents and teams, answer and
    handling times, resolutions, escalations, and CSAT/NPS/CES survey answers.

    \b
    Examples:
      custrec generate interactions --rows 3000 --customers 1000 -o interactions.csv
      custrec generate interactions --rows 1000000 -o log.parquet --defects bad.csv
    """
    _write(
        "interactions",
        output,
        rows=rows,
        seed=seed,
        bad_share=bad_share,
        output_format=output_format,
        defects_dest=defects_path,
        customers=customers,
    )
