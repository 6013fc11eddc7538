"""``custrec schemas``: the schemas and policies shipped with custrec, listed, shown
and copied (:mod:`custrec.resources`)."""

from __future__ import annotations

import sys

import click

from custrec.cli.core import emit, format_option, note
from custrec.errors import reporting_no_space


@click.group("schemas", short_help="The shipped schemas and policies: list, show, copy.")
def schemas() -> None:
    """The schemas and policies shipped with custrec.

    Wherever a command takes --schema or --policy, a shipped name (without .yaml)
    works as well as a file: `--schema customer`, `--policy retention`. Copy one to
    start a schema or policy of your own.

    \b
    Examples:
      custrec schemas list
      custrec schemas show customer
      custrec schemas copy customer my-customer.yaml
      custrec schemas roles customer
      custrec validate customers.csv --schema customer
    """


@schemas.command("list", short_help="List the shipped schemas and policies.")
@format_option("table", "json", "ndjson", "csv")
def list_command(output_format: str) -> None:
    """List the shipped schemas and policies: name, kind and what each is for.

    \b
    Examples:
      custrec schemas list
      custrec schemas list --format json
    """
    from custrec.resources import ShippedList

    emit(ShippedList(), output_format)


@schemas.command("show", short_help="Print a shipped schema or policy.")
@click.argument("name")
def show(name: str) -> None:
    """Print the shipped schema or policy NAME (its YAML, comments and all).

    \b
    Examples:
      custrec schemas show customer
      custrec schemas show retention | less
    """
    from custrec.resources import shipped

    text = shipped(name).read_text()
    with reporting_no_space("<stdout>", stream=True):
        sys.stdout.write(text)
        sys.stdout.flush()


@schemas.command("copy", short_help="Copy a shipped schema or policy to edit it.")
@click.argument("name")
@click.argument("destination", required=False, type=click.Path(allow_dash=True))
@click.option("--force", is_flag=True, help="Replace DESTINATION if it exists.")
def copy(name: str, destination: str | None, force: bool) -> None:
    """Copy the shipped schema or policy NAME to DESTINATION, to edit it.

    DESTINATION is a file, a directory (the file keeps its name, e.g. customer.yaml),
    or '-' for stdout. Default: NAME.yaml in the current directory. An existing file
    is replaced only with --force; the copy appears only once complete.

    \b
    Examples:
      custrec schemas copy customer
      custrec schemas copy retention policies/retention.yaml
      custrec schemas copy vendor-redaction - > vendor.yaml
    """
    from custrec.resources import copy_shipped, shipped

    if destination == "-":
        show.callback(name)  # type: ignore[misc]
        return
    written = copy_shipped(name, destination or shipped(name).filename, force=force)
    note(f"wrote {written}")


@schemas.command("roles", short_help="Show a schema's field groups and what each role may do.")
@click.argument("schema", metavar="NAME|FILE", default="customer")
@format_option("table", "json")
def roles(schema: str, output_format: str) -> None:
    """Show the field groups of a schema (a shipped name or a file; default: the
    shipped customer schema) and, for each role, the groups it reads, writes and may
    only check, whether it runs the rights commands (erase, access, purge, hold), and
    how many fields it does not read.

    The shipped roles are agent, analyst, steward, officer and writer; a schema's
    `roles` section changes them or adds its own (docs/schema.md, "Field groups and
    roles"). A schema without `groups` has one group, `record`.

    \b
    Examples:
      custrec schemas roles
      custrec schemas roles my-customer.yaml --format json
    """
    from custrec.schema.groups import AccessPlan
    from custrec.schema.model import load_schema

    loaded = load_schema(schema)
    emit(AccessPlan(loaded.name, loaded.field_groups, loaded.roles), output_format)
