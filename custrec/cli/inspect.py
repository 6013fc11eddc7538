"""``custrec inspect``: profile a tabular file without showing its values."""

from __future__ import annotations

import click

from custrec.cli.core import csv_delimiter, csv_options, emit, format_option, input_format_option
from custrec.io import INPUT_FORMATS


@click.command("inspect", short_help="Profile a table file without showing its values.")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@input_format_option(INPUT_FORMATS)
@click.option(
    "--id-column",
    metavar="COLUMN",
    help="Column holding record ids. Default: interaction_id, customer_id or id, "
    "whichever exists first.",
)
@click.option(
    "--id",
    "find_ids",
    multiple=True,
    metavar="ID",
    help="Report the rows holding this id (repeatable). Exit 6 if one is not found.",
)
@click.option(
    "--fail-on-duplicates",
    is_flag=True,
    help="Exit 1 when an id occurs on more than one row.",
)
@csv_options
@format_option()
def inspect_command(
    file: str,
    input_format: str | None,
    id_column: str | None,
    find_ids: tuple[str, ...],
    fail_on_duplicates: bool,
    delimiter: str | None,
    encoding: str | None,
    output_format: str,
) -> None:
    """Profile FILE (CSV, NDJSON or Parquet; '-' for stdin) without showing its values.

    Reads the file once, in chunks, and reports the number of rows and, per column, the
    inferred type and how many values are present or missing; with an id column, how
    many ids are missing or repeated. The report holds counts and row numbers only,
    never a value from the file, so it is safe to share. Rows are numbered from 1,
    not counting the header.

    Malformed input exits 3 with the file, line and column of the first problem.

    \b
    Examples:
      custrec inspect customers.csv
      custrec inspect customers.csv --fail-on-duplicates      # exit 1 on repeated ids
      custrec inspect crm-export.csv --delimiter ';' --encoding cp1252
      custrec inspect export.parquet --id C-001001 --format json
      zcat crm-export.csv.gz | custrec inspect - --input-format csv
    """
    from custrec.table_profile import inspect_table, require_found, require_no_duplicates

    profile = inspect_table(
        file,
        input_format=input_format,
        id_column=id_column,
        find_ids=find_ids,
        delimiter=csv_delimiter(delimiter),
        encoding=encoding,
    )
    emit(profile, output_format)
    if fail_on_duplicates:
        require_no_duplicates(profile)
    require_found(profile)
