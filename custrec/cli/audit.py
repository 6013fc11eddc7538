"""``custrec audit``: verify and query a store's audit trail."""

from __future__ import annotations

import shutil

import click

from custrec.audit_read import AuditEntries
from custrec.cli.core import (
    emit,
    format_option,
    key_file_option,
    lock_timeout_option,
    note,
    open_cli_store,
    split_fields,
    store_argument,
)
from custrec.errors import UsageError

AUDIT_COLUMNS = AuditEntries.COLUMNS


@click.group("audit")
def audit_group() -> None:
    """Verify and query the audit trail kept in a store.

    Every command that reads or changes records leaves entries: when, who (--actor or
    CUSTREC_ACTOR, else your OS user), which command, why (--reason), the records as
    keyed pseudonyms, field names (never values), counts and the outcome.

    \b
    Examples:
      custrec audit verify customers.crec --key-file officer.key
      custrec audit head customers.crec >> /mnt/witness/customers.heads
      custrec audit show customers.crec --customer C-001001 --since 2026-11-01
    """


@audit_group.command("verify", short_help="Check that no audit entry was tampered with.")
@store_argument()
@key_file_option()
@click.option(
    "--expect-head",
    metavar="HASH",
    help="A head hash printed by an earlier verify: exit 1 unless it is still in the log "
    "(the log was not rewritten since).",
)
@lock_timeout_option()
@format_option("table", "json")
def audit_verify(
    store: str,
    key_file: str | None,
    expect_head: str | None,
    lock_timeout: float,
    output_format: str,
) -> None:
    """Check that no audit entry of STORE was edited, removed, reordered or added.

    Exit 1 names the first bad entry. Prints the head (last sequence number and its
    hash): keep it somewhere else, and a later `--expect-head HASH` proves the log was
    not rewritten wholesale since.

    \b
    Examples:
      custrec audit verify customers.crec --key-file officer.key
      custrec audit verify customers.crec --expect-head 9f2c...e1 --format json
    """
    with open_cli_store(store, key_file, lock_timeout) as opened:
        result = opened.audit_verify(expect_head=expect_head)
    emit(result, output_format)
    result.raise_if_bad()


@audit_group.command("head", short_help="Print the audit trail's head, for a witness.")
@store_argument()
@key_file_option()
@lock_timeout_option()
def audit_head(store: str, key_file: str | None, lock_timeout: float) -> None:
    """Print the audit trail's head of STORE as one line, for a witness kept elsewhere.

    The line names the store, the last entry's sequence number and its hash, and the
    time. Append it from cron to a file on another machine or medium; `custrec verify
    STORE --witness FILE` then proves the store was not rolled back to an older copy
    (the trail must still hold the last head the witness saw).

    \b
    Examples:
      custrec audit head customers.crec >> /mnt/witness/customers.heads
      custrec verify customers.crec --witness /mnt/witness/customers.heads
    """
    import datetime as dt

    from custrec.store.verification import witness_line

    with open_cli_store(store, key_file, lock_timeout) as opened:
        seq, head_hash = opened.audit_head()
        at = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        click.echo(witness_line(opened.store_id, seq, head_hash, at))


@audit_group.command("show")
@store_argument()
@key_file_option()
@click.option("--since", metavar="WHEN", help="From this date or time (ISO 8601, UTC default).")
@click.option("--until", metavar="WHEN", help="Up to this date or time (a date includes it).")
@click.option("--actor", "who", metavar="NAME", help="Only entries by this actor.")
@click.option("--command", metavar="NAME", help="Only this command, e.g. 'key add'.")
@click.option(
    "--customer",
    metavar="ID",
    help="Only operations on this record (the id is turned into its pseudonym) or on all.",
)
@click.option(
    "--resolve-ids",
    is_flag=True,
    help="Also map pseudonyms back to the ids of records still in the store (JSON 'ids'; "
    "this reads every id, and is itself audited).",
)
@click.option(
    "--columns",
    metavar="C1,C2",
    multiple=True,
    help="Table format: show these columns (comma-separated or repeated) of "
    + ", ".join(AUDIT_COLUMNS)
    + ". Default: those that fit the terminal (80 characters when not a terminal).",
)
@click.option("--wide", is_flag=True, help="Table format: show every column.")
@lock_timeout_option()
@format_option()
def audit_show(
    store: str,
    key_file: str | None,
    since: str | None,
    until: str | None,
    who: str | None,
    command: str | None,
    customer: str | None,
    resolve_ids: bool,
    columns: tuple[str, ...],
    wide: bool,
    lock_timeout: float,
    output_format: str,
) -> None:
    """Show audit entries of STORE, filtered.

    For a breach report: which records did actor X read or change between T1 and T2?
    Entries name records by keyed pseudonym only; --customer turns an id into its
    pseudonym to find every access to that customer.

    \b
    Examples:
      custrec audit show customers.crec --actor alice --since 2026-11-01 --until 2026-11-07
      custrec audit show customers.crec --customer C-001001 --format json
      custrec audit show customers.crec --command get --format csv > reads.csv
      custrec audit show customers.crec --actor bob --since 2026-11-20 --resolve-ids \\
          --format json   # whom to notify after a breach
    """
    from custrec.audit_read import AuditQuery

    chosen = split_fields(columns)
    if chosen and wide:
        raise UsageError("give --columns or --wide, not both")
    unknown = [name for name in chosen or () if name not in AUDIT_COLUMNS]
    if unknown:
        raise UsageError(f"--columns {unknown[0]}: expected some of {', '.join(AUDIT_COLUMNS)}")
    wanted = AuditQuery(since=since, until=until, actor=who, command=command, customer=customer)
    with open_cli_store(store, key_file, lock_timeout) as opened:
        entries = opened.audit_query(wanted, resolve_ids=resolve_ids)
    if output_format == "table" and not wide:
        if chosen:
            entries.shown = tuple(c for c in AUDIT_COLUMNS if c in chosen)
        else:
            entries.shown = entries.fitting_columns(shutil.get_terminal_size((80, 24)).columns)
            hidden = len(AUDIT_COLUMNS) - len(entries.shown)
            if hidden:
                note(
                    f"{hidden} column(s) left out to fit the terminal; --wide or --columns "
                    "shows more, --format json everything"
                )
    emit(entries, output_format)
