"""Data-subject rights and legal hold: ``hold``, ``release``, ``restrict``,
``unrestrict``, ``erase`` and ``reapply-erasures``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import click

from custrec.cli.core import (
    audit_context,
    emit,
    format_option,
    key_file_option,
    lock_timeout_option,
    note,
    note_store,
    open_cli_store,
    output_option,
    store_argument,
)
from custrec.cli.progress import command_progress, quiet_option
from custrec.errors import UsageError
from custrec.render import Fields

if TYPE_CHECKING:
    from custrec.store import KeySource

F = TypeVar("F", bound=Callable[..., Any])


def _required_reason(what: str) -> Callable[[F], F]:
    return click.option(
        "--reason",
        required=True,
        metavar="TEXT",
        help=f"Why the record is {what} (e.g. a case or ticket number), for the audit trail. "
        "Never put personal data here.",
    )


def _log_stores_option() -> Callable[[F], F]:
    return click.option(
        "--logs",
        "logs",
        multiple=True,
        type=click.Path(dir_okay=False, exists=True),
        metavar="LOGSTORE",
        help="Interaction-log store (opened by the same key) in which the customer ids of "
        "the records removed are replaced by a pseudonym, so KPIs stay computable and the "
        "person is gone. Repeatable.",
    )


def _pseudonymise_logs(
    logs: tuple[str, ...],
    key: KeySource,
    pseudonyms: dict[str, str],
    reason: str | None,
    lock_timeout: float,
) -> None:
    from custrec.retention import pseudonymise_logs

    changed = pseudonymise_logs(
        logs, key, pseudonyms, context=audit_context(reason), lock_timeout=lock_timeout
    )
    for path, rows in changed.items():
        note(f"{path}: {rows} interaction(s) now name the customer by a pseudonym")


def _set_state(
    state: str,
    on: bool,
    store: str,
    record_id: str,
    key_file: str | None,
    lock_timeout: float,
    reason: str | None,
    output_format: str,
    command_name: str,
) -> None:
    with open_cli_store(store, key_file, lock_timeout, reason) as opened:
        changed = opened.set_state(state, record_id, on)
        pseudonym = opened.pseudonym_of(record_id)
    word = {
        ("hold", True): "under legal hold",
        ("hold", False): "released from legal hold",
        ("restricted", True): "restricted",
        ("restricted", False): "unrestricted",
    }[(state, on)]
    emit(
        Fields(
            command_name,
            [
                ("record", "record", record_id),
                ("pseudonym", "pseudonym in the audit trail", pseudonym),
                ("state", "state", word),
                ("changed", "changed", changed),
            ],
        ),
        output_format,
    )
    if not changed:
        note(f"record {record_id} was already {word}")


def _state_command(name: str, state: str, on: bool, short: str, summary: str, examples: str) -> Any:
    @click.command(name, short_help=short, help=f"{summary}\n\n\b\nExamples:\n{examples}")
    @store_argument()
    @click.argument("record_id", metavar="ID")
    @key_file_option()
    @_required_reason("held" if state == "hold" else "restricted")
    @format_option("table", "json")
    @lock_timeout_option()
    def command(
        store: str,
        record_id: str,
        key_file: str | None,
        reason: str,
        output_format: str,
        lock_timeout: float,
    ) -> None:
        _set_state(state, on, store, record_id, key_file, lock_timeout, reason, output_format, name)

    return command


hold = _state_command(
    "hold",
    "hold",
    True,
    "Put a record under legal hold.",
    "Put a record under legal hold: it is never erased or purged, whatever a policy or "
    "request says, until it is released. The hold is checked at the moment of deletion. "
    "Audited (with --reason); setting it twice changes nothing.",
    "  custrec hold customers.crec C-000042 --reason 'litigation 2026-117'",
)
release = _state_command(
    "release",
    "hold",
    False,
    "Release a record from legal hold.",
    "Release a record from legal hold (audited, with --reason).",
    "  custrec release customers.crec C-000042 --reason 'litigation 2026-117 closed'",
)
restrict = _state_command(
    "restrict",
    "restricted",
    True,
    "Restrict processing of a record (GDPR Art. 18).",
    "Restrict processing of a record (GDPR Art. 18): it is kept, but get, update, export, "
    "redact, scan, validate and report refuse it or leave it out (saying how many); only "
    "access and erase use it. Audited.",
    "  custrec restrict customers.crec C-000042 --reason 'accuracy contested, ticket 4711'",
)
unrestrict = _state_command(
    "unrestrict",
    "restricted",
    False,
    "Lift the restriction of a record.",
    "Lift the restriction of a record (audited, with --reason).",
    "  custrec unrestrict customers.crec C-000042 --reason 'ticket 4711 resolved'",
)


@click.command("erase", short_help="Erase one customer's record now (GDPR Art. 17).")
@store_argument()
@click.argument("record_id", metavar="ID")
@key_file_option()
@_required_reason("erased")
@click.option(
    "--except",
    "keep",
    multiple=True,
    metavar="FIELD",
    help="Keep this field (repeatable) because a legal obligation requires it; needs --ground.",
)
@click.option(
    "--ground",
    metavar="TEXT",
    help="The legal obligation that requires keeping the --except fields (recorded).",
)
@_log_stores_option()
@format_option("table", "json")
@lock_timeout_option()
def erase(
    store: str,
    record_id: str,
    key_file: str | None,
    reason: str,
    keep: tuple[str, ...],
    ground: str | None,
    logs: tuple[str, ...],
    output_format: str,
    lock_timeout: float,
) -> None:
    """Erase one customer's record now (the right to erasure, GDPR Art. 17).

    The record is removed (with --except, only those fields are kept, for the legal
    obligation --ground names). Its chunk is re-encrypted under a new data key and the
    old key destroyed; freed pages are overwritten and the journal emptied, so no copy
    of the values is left in the store's files. A tombstone of the record (keyed
    tokens of its id, email and phone, never the values) is kept in the store and in
    STORE.erasures beside it: collect refuses to bring the customer back, and
    reapply-erasures erases them again from a store restored from an older backup.
    A record under legal hold is refused (exit 1). Audited with the record's pseudonym.

    \b
    Examples:
      custrec erase customers.crec C-000042 --reason 'erasure request 2026-11-20'
      custrec erase customers.crec C-000042 --reason 'request 87' --logs interactions.crec
      custrec erase customers.crec C-000042 --reason 'request 88' \\
          --except customer_id --except created_at --ground 'invoices: 10 years (HGB 257)'
    """
    if keep and not ground:
        raise UsageError("--except needs --ground: the legal obligation to keep the fields")
    recorded = reason if not keep else f"{reason} (kept {', '.join(keep)}: {ground})"
    from custrec.store import resolve_key_source

    key = resolve_key_source(key_file)
    with open_cli_store(store, key_file, lock_timeout, recorded, source=key) as opened:
        pseudonym = opened.pseudonym_of(record_id)
        if logs:
            from custrec.store.states import LegalHoldError

            opened.get_many([record_id], include_restricted=True, action="erase-check")
            if opened.record_states(record_id)["hold"]:
                raise LegalHoldError(
                    f"record {record_id} is under legal hold: it cannot be erased or purged "
                    "until it is released (custrec release)"
                )
            _pseudonymise_logs(logs, key, {record_id: pseudonym}, recorded, lock_timeout)
        result = opened.erase(record_id, keep=list(keep), ground=ground)
        note_store(opened)
    if result.already_erased:
        note(f"record {record_id} was erased already: nothing more to remove")
    emit(
        Fields(
            "erase",
            [
                ("record", "record", record_id),
                ("pseudonym", "pseudonym in the audit trail", pseudonym),
                ("erased", "erased", "fields kept: " + ", ".join(keep) if keep else "whole"),
                ("deleted", "records deleted", result.deleted),
                ("already_erased", "erased before", result.already_erased),
                ("scrubbed", "journal scrubbed", "yes" if result.scrubbed else "pending"),
            ],
        ),
        output_format,
    )


@click.command("reapply-erasures", short_help="Erase again after restoring a backup.")
@store_argument()
@key_file_option()
@format_option("table", "json")
@lock_timeout_option()
def reapply_erasures(
    store: str, key_file: str | None, output_format: str, lock_timeout: float
) -> None:
    """Erase again every customer erased since a backup was taken, after restoring the
    store from that backup (the tombstones in STORE.erasures beside it say which).
    Run it right after any restore; it changes nothing when nothing needs erasing.

    \b
    Examples:
      custrec reapply-erasures customers.crec      # right after restoring it from a backup
      custrec reapply-erasures customers.crec --format json | jq .erased_again
    """
    with open_cli_store(store, key_file, lock_timeout, "restore: erasures re-applied") as opened:
        again = opened.reapply_erasures()
        note_store(opened)
    emit(
        Fields(
            "reapply-erasures",
            [
                ("erased_again", "records erased again", len(again)),
                ("pseudonyms", "pseudonyms", again),
            ],
        ),
        output_format,
    )


@click.command("access", short_help="Everything held about one customer (GDPR Art. 15).")
@store_argument()
@click.argument("record_id", metavar="ID")
@key_file_option()
@output_option("Where to write the report ('-' for stdout, the default). Created with mode 0600.")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["json", "csv", "table"]),
    default="json",
    show_default=True,
    help="json: the whole report (docs/rights.md); csv: one row per item "
    "(section, name, value); table: for reading.",
)
@click.option(
    "--logs",
    "logs",
    multiple=True,
    type=click.Path(dir_okay=False),
    metavar="LOG",
    help="Interaction logs (CSV, NDJSON, Parquet, or a store opened by the same key) "
    "whose rows with this customer_id are included. Repeatable.",
)
@click.option(
    "--schema",
    "schema_file",
    type=click.Path(dir_okay=False),
    metavar="NAME|FILE",
    help="Schema describing the fields (purposes, retention), shipped (custrec schemas "
    "list) or a file. Default: the store's own.",
)
@_required_reason("accessed")
@lock_timeout_option()
def access(
    store: str,
    record_id: str,
    key_file: str | None,
    output: str,
    output_format: str,
    logs: tuple[str, ...],
    schema_file: str | None,
    reason: str,
    lock_timeout: float,
) -> None:
    """Everything held about one customer, for a subject access request (GDPR Art. 15)
    or data portability (Art. 20).

    The report holds every field of the record with its value, description, purposes,
    lawful basis and retention class; where the record came from and when; whether its
    processing is restricted; the retention that applies and the day it ends; the
    record's history from the audit trail (what was done, when, why; staff names left
    out); and the customer's rows in the interaction logs given with --logs. Works on
    restricted records too. Audited as 'access'.

    \b
    Examples:
      custrec access customers.crec C-000042 --reason 'SAR 2026-031' -o C-000042.json
      custrec access customers.crec C-000042 --reason 'SAR 2026-031' --logs interactions.csv
      custrec access customers.crec C-000042 --reason 'portability 77' --format csv -o out.csv
    """
    from custrec.access import access_report
    from custrec.schema import load_schema, parse_schema
    from custrec.store import resolve_key_source

    key = resolve_key_source(key_file)
    with open_cli_store(store, key_file, lock_timeout, reason, source=key) as opened:
        if schema_file:
            schema = load_schema(schema_file)
        elif opened.settings.schema:
            schema = parse_schema(opened.settings.schema, f"{store} (its schema)")
        else:
            schema = None
        report = access_report(opened, record_id, schema=schema, logs=logs, log_key=key)
    _write_report(report, output, output_format, inputs=(store, key_file, schema_file, *logs))
    if output != "-":
        note(f"wrote the access report of {record_id} to {output}")


def _write_report(
    report: Any, output: str, output_format: str, inputs: Sequence[str | None]
) -> None:
    import io

    from custrec.atomic import atomic_file
    from custrec.errors import reporting_no_space
    from custrec.io import CsvLineWriter
    from custrec.render import render

    buffer = io.StringIO()
    if output_format == "csv":
        writer = CsvLineWriter(buffer)
        writer.writerow(["section", "name", "value"])
        document = report.to_json()
        for item in document["fields"]:
            writer.writerow(["field", item["name"], "" if item["value"] is None else item["value"]])
        for key, value in document["provenance"].items():
            writer.writerow(["provenance", key, "" if value is None else value])
        for item in document["retention"]:
            writer.writerow(["retention", item["class"], item["ends_on"] or ""])
        for entry in document["history"]:
            writer.writerow(["history", entry["at"], entry["action"]])
        for n, row in enumerate(document["interactions"]["rows"], start=1):
            for key, value in row.items():
                writer.writerow([f"interaction {n}", key, "" if value is None else value])
    else:
        render(report, output_format, buffer)
    data = buffer.getvalue().encode("utf-8")
    if output == "-":
        with reporting_no_space("<stdout>", stream=True):
            click.echo(data.decode("utf-8"), nl=False)
        return
    with atomic_file(output, mode=0o600, inputs=inputs) as handle:
        handle.write(data)


@click.command("purge", short_help="Purge records whose retention period has ended.")
@store_argument()
@key_file_option()
@click.option(
    "--policy",
    "policy_file",
    required=True,
    type=click.Path(dir_okay=False),
    metavar="NAME|FILE",
    help="Retention policy (docs/retention.md): the shipped one by name (retention) or a file.",
)
@click.option(
    "--as-of",
    metavar="DATE",
    help="Purge as of this day (YYYY-MM-DD). Default: today (UTC); --apply uses the plan's.",
)
@click.option("--dry-run", is_flag=True, help="Show what would be purged; change nothing.")
@click.option(
    "--plan",
    "plan_file",
    type=click.Path(dir_okay=False),
    metavar="PLAN.json",
    help="Like --dry-run, and save the plan for review and --apply.",
)
@click.option(
    "--apply",
    "apply_file",
    type=click.Path(dir_okay=False, exists=True),
    metavar="PLAN.json",
    help="Carry out a saved plan, only if the store still matches it (else exit 1).",
)
@click.option("--yes", is_flag=True, help="Plan and purge in one go (for cron).")
@click.option(
    "--grace",
    metavar="PERIOD",
    help="Grace period (e.g. 30d): purged records first become invisible and restorable "
    "(custrec restore), and are destroyed by a purge once it has ended. Default: the "
    "policy's 'grace', else none.",
)
@click.option(
    "--show-ids",
    is_flag=True,
    help="List record ids, not only their pseudonyms (the read is then audited).",
)
@_log_stores_option()
@format_option("table", "json")
@click.option("--reason", metavar="TEXT", help="Why, for the audit trail (e.g. a ticket).")
@lock_timeout_option()
@quiet_option()
def purge(
    store: str,
    key_file: str | None,
    policy_file: str,
    as_of: str | None,
    dry_run: bool,
    plan_file: str | None,
    apply_file: str | None,
    yes: bool,
    grace: str | None,
    show_ids: bool,
    logs: tuple[str, ...],
    output_format: str,
    reason: str | None,
    lock_timeout: float,
) -> None:
    """Purge records whose retention period has ended, by a retention policy.

    Each rule of the policy names the records it applies to, the field whose date
    starts the period, the period, and the action: delete, or anonymise (personal
    fields removed or generalised, a random id; the rest kept for statistics). Records
    under legal hold or restricted are never purged (they are counted). A dry run
    (--dry-run, --plan) lists counts per rule and the records as audit pseudonyms, and
    changes no byte of any file of the store. --apply carries out a saved plan only if
    every planned record is still there, unchanged and not held, and nothing else has
    become due: otherwise exit 1 and nothing is purged. The purge is one transaction
    (a killed purge leaves the store as it was), and its receipt in the audit trail
    holds the rule counts and the pseudonyms.

    \b
    Examples:
      custrec purge customers.crec --policy retention --dry-run
      custrec purge customers.crec --policy retention --plan plan.json
      custrec purge customers.crec --policy retention --apply plan.json
      custrec purge customers.crec --policy retention --yes --format json
      custrec purge customers.crec --policy retention --yes --grace 30d
      custrec purge customers.crec --policy retention --yes --logs calls.crec
    """
    import datetime as dt

    from custrec import retention

    modes = [dry_run, plan_file is not None, apply_file is not None, yes]
    if sum(modes) != 1:
        raise UsageError("give one of --dry-run, --plan PLAN.json, --apply PLAN.json or --yes")
    saved = retention.read_plan(apply_file) if apply_file else None
    if saved is not None:
        day = str(saved.get("as_of"))
    else:
        day = as_of or dt.datetime.now(dt.UTC).date().isoformat()
    try:
        when = dt.date.fromisoformat(day)
    except ValueError:
        raise UsageError(f"--as-of {day!r}: expected a date YYYY-MM-DD") from None
    from custrec.store import resolve_key_source

    key = resolve_key_source(key_file)
    with open_cli_store(store, key_file, lock_timeout, reason, source=key) as opened:
        from custrec.schema import parse_schema

        schema = (
            parse_schema(opened.settings.schema, f"{store} (its schema)")
            if opened.settings.schema
            else None
        )
        policy = retention.load_policy(policy_file, dict(opened.columns), schema)
        writes = saved is not None or yes
        if grace is not None:
            from custrec.access import parse_period

            parse_period(grace)
        with command_progress("purge") as progress:
            plan = retention.plan_purge(
                opened,
                policy,
                when,
                show_ids=show_ids,
                audited=writes or show_ids,
                grace=grace,
                progress=progress,
            )
        if saved is not None:
            retention.check_plan(saved, plan)
        if writes:
            going = {r.record_id: r.pseudonym for r in plan.records if r.until is None}
            if logs and going:
                _pseudonymise_logs(logs, key, going, reason, lock_timeout)
            retention.apply_purge(opened, plan, policy, schema)
            note_store(opened)
    if plan_file:
        retention.save_plan(plan, plan_file, inputs=(store, policy_file, key_file, *logs))
        if show_ids:
            held_in_plan = "the records due by id and audit pseudonym"
        else:
            held_in_plan = (
                "the records due by audit pseudonym only; to see their ids, make the plan "
                "with --show-ids (an audited read)"
            )
        note(
            f"wrote the plan to {plan_file}: counts per rule and {held_in_plan}; review "
            f"it, then run with --apply {plan_file}"
        )
    if any(plan.without_trigger.values()):
        note(
            "no trigger date: records a rule applies to that have no date in its trigger "
            "field; that rule cannot date them and leaves them to the next rule (if none "
            "is due, they are kept)"
        )
    emit(plan, output_format)


@click.command("restore", short_help="Bring back a record in a purge's grace period.")
@store_argument()
@click.argument("record_id", metavar="ID")
@key_file_option()
@_required_reason("restored")
@lock_timeout_option()
def restore(
    store: str, record_id: str, key_file: str | None, reason: str, lock_timeout: float
) -> None:
    """Bring back a record that a purge with a grace period made invisible, before the
    grace period ends (exit 6 when there is no such record). Audited.

    \b
    Examples:
      custrec restore customers.crec C-000042 --reason 'purged in error, ticket 5120'
    """
    with open_cli_store(store, key_file, lock_timeout, reason) as opened:
        opened.restore(record_id)
    note(f"restored {record_id}")
