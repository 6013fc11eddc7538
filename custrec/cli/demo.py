"""``custrec demo``: the toolkit's main job, end to end, on generated example data."""

from __future__ import annotations

import click

from custrec.cli.core import emit, format_option, lock_timeout_option, note


@click.command("demo", short_help="Show the toolkit end to end on example data.")
@click.option(
    "--workdir",
    type=click.Path(file_okay=False),
    default="custrec-demo",
    show_default=True,
    help="Directory for the demo's files (created if missing, files in it replaced).",
)
@click.option(
    "--customers",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Customer records to generate.",
)
@click.option(
    "--interactions",
    type=click.IntRange(min=1),
    default=3000,
    show_default=True,
    help="Interactions to generate.",
)
@click.option("--seed", type=int, default=2026, show_default=True, help="Random seed.")
@lock_timeout_option()
@format_option("table", "json")
def demo(
    workdir: str,
    customers: int,
    interactions: int,
    seed: int,
    lock_timeout: float,
    output_format: str,
) -> None:
    """Show the toolkit end to end on generated example data.

    Generates example customer records and an interaction log (with a share of
    deliberately bad rows) into WORKDIR, then profiles both files and reports what
    was created and what the profile found. Two demos sharing a WORKDIR take turns
    (exit 5 if the other one does not finish within --lock-timeout).

    \b
    Examples:
      custrec demo
      custrec demo --workdir /tmp/demo --customers 10000 --interactions 50000
      custrec demo --format json | python -m json.tool
    """
    from custrec.demo import run_demo

    result = run_demo(
        workdir,
        customers=customers,
        interactions=interactions,
        seed=seed,
        lock_timeout=lock_timeout,
    )
    emit(result, output_format)
    note(f"Demo files are in {workdir}/")
