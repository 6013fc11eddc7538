"""``custrec report kpi``: customer-service KPIs from interaction logs."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

from custrec.cli.core import (
    INPUT_FORMATS,
    csv_delimiter,
    csv_options,
    engine_options,
    input_format_option,
    key_file_option,
    lock_timeout_option,
    mapping_options,
    note,
    note_restricted,
    open_cli_store,
    output_option,
    read_mapping,
    reason_option,
    resolved_engine,
)
from custrec.cli.progress import command_progress, quiet_option
from custrec.errors import UsageError
from custrec.protected import refuse_protected

OUTPUT_FORMATS = ("table", "json", "csv", "markdown", "html")


if TYPE_CHECKING:
    from custrec.store import Store


@click.group("report")
def report() -> None:
    """Reports computed from interaction logs.

    \b
    Examples:
      custrec report kpi interactions.csv --by channel
      custrec report kpi log.parquet --period month --format html -o kpis.html
    """


def _arrow_memory() -> None:
    """Arrow's buffers from jemalloc where pyarrow has it (unless the environment
    chooses with ARROW_DEFAULT_MEMORY_POOL): a log is read batch by batch while
    narrow columns are kept, and jemalloc gives the batches' memory back where the
    default allocator keeps much of it."""
    import os

    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        return
    import pyarrow as pa

    with contextlib.suppress(NotImplementedError, pa.ArrowNotImplementedError):
        pa.set_memory_pool(pa.jemalloc_memory_pool())


def _duration(text: str, option: str = "--fcr-window") -> dt.timedelta:
    match = re.fullmatch(r"([0-9]+)\s*([smhdw])", text.strip().lower())
    if not match:
        raise UsageError(f"{option} {text!r}: expected a duration like 7d, 48h, 30m")
    amount = int(match[1])
    unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[match[2]]
    return dt.timedelta(**{unit: amount})


def _moment(text: str | None, tz: str, what: str) -> dt.datetime | None:
    if text is None:
        return None
    from custrec.kpi.calendar import zone

    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"{what} {text!r}: expected a date or time in ISO 8601") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone(tz))
    return moment.astimezone(dt.UTC)


@report.command("kpi", short_help="Customer-service KPIs from interaction logs.")
@click.argument("logs", nargs=-1, type=click.Path(dir_okay=False, allow_dash=True))
@click.option(
    "--by",
    "by",
    metavar="COLUMNS",
    default="",
    help="Group by these columns (comma-separated): channel, direction, agent_id, team, category.",
)
@click.option(
    "--period",
    type=click.Choice(["hour", "day", "week", "month", "quarter"]),
    help="Split by period of the contact's (for cases: the first contact's) creation.",
)
@click.option("--since", metavar="WHEN", help="Only contacts created at or after WHEN.")
@click.option("--until", metavar="WHEN", help="Only contacts created before WHEN.")
@click.option(
    "--tz",
    default="UTC",
    show_default=True,
    metavar="ZONE",
    help="Time zone of periods, business hours and times written without an offset.",
)
@mapping_options
@click.option(
    "--skip-invalid",
    is_flag=True,
    help="Leave invalid rows out (the report says how many) instead of stopping (exit 3).",
)
@click.option(
    "--fcr-method",
    type=click.Choice(["case", "repeat"]),
    default="case",
    show_default=True,
    help="case: resolved cases with one inbound contact; repeat: resolved contacts not "
    "followed by another from the customer within --fcr-window.",
)
@click.option(
    "--fcr-window",
    default="7d",
    show_default=True,
    metavar="DURATION",
    help="With --fcr-method repeat: how long after a resolved contact another one from "
    "the same customer counts as a repeat (e.g. 72h, 3d, 7d).",
)
@click.option(
    "--fcr-same-category", is_flag=True, help="Repeat contacts count only in the same category."
)
@click.option(
    "--sl-threshold",
    type=float,
    default=20.0,
    show_default=True,
    metavar="SECONDS",
    help="Service level: the share of phone and chat contacts answered within this many "
    "seconds (abandoned ones count against it).",
)
@click.option(
    "--short-abandon",
    type=float,
    default=5.0,
    show_default=True,
    metavar="SECONDS",
    help="A contact abandoned within this many seconds is a short abandon, left out of "
    "service level and abandonment rate.",
)
@click.option(
    "--follow-up-window",
    default="7d",
    show_default=True,
    metavar="DURATION",
    help="Follow-up rate: a resolved case counts as followed up when an outbound contact "
    "of the case comes within this long after its resolution (e.g. 48h, 7d).",
)
@click.option(
    "--business-hours",
    metavar="HOURS",
    help="Count only business time in durations, e.g. 'Mon-Fri 09:00-17:00' (in --tz).",
)
@click.option(
    "--holidays",
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="Closed days, one YYYY-MM-DD per line.",
)
@click.option(
    "--schema",
    "schema_file",
    type=click.Path(dir_okay=False),
    metavar="NAME|FILE",
    help="Check the logs against this schema instead: a file (or shipped name) that "
    "extends the interaction schema with more fields, checks or rules.",
)
@click.option(
    "--detail",
    is_flag=True,
    help="Instead of the KPIs, one row per case with its derived fields (first contact, "
    "contacts, resolved, FCR, resolution time) to audit a figure.",
)
@click.option(
    "--targets",
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="With --format html: targets to show, a YAML or JSON mapping such as "
    "'csat: 80' and 'sl: 80/20' (docs/kpi-report.md).",
)
@click.option(
    "--chart-scale",
    type=click.Choice(["full", "data"]),
    default="full",
    show_default=True,
    help="With --format html: full draws rates on 0-100%, NPS on -100..100, CES on 1-7 and "
    "times from 0; data zooms each chart to its figures.",
)
@input_format_option(INPUT_FORMATS)
@csv_options
@engine_options("the KPIs are computed")
@key_file_option()
@lock_timeout_option()
@reason_option()
@click.option(
    "--format",
    "output_format",
    type=click.Choice(OUTPUT_FORMATS),
    default="table",
    show_default=True,
    help="table for people, json/csv for programs, markdown or html (one self-contained "
    "page with headline figures, trend charts and the definitions) to share.",
)
@output_option("Write the report here (default: stdout).")
@quiet_option()
def kpi(
    logs: tuple[str, ...],
    by: str,
    period: str | None,
    since: str | None,
    until: str | None,
    tz: str,
    mapping: tuple[str, ...],
    map_file: str | None,
    skip_invalid: bool,
    fcr_method: str,
    fcr_window: str,
    fcr_same_category: bool,
    sl_threshold: float,
    short_abandon: float,
    follow_up_window: str,
    business_hours: str | None,
    holidays: str | None,
    schema_file: str | None,
    detail: bool,
    targets: str | None,
    chart_scale: str,
    input_format: str | None,
    delimiter: str | None,
    encoding: str | None,
    engine: str | None,
    memory_limit: str | None,
    spark_remote: str | None,
    key_file: str | None,
    lock_timeout: float,
    reason: str | None,
    output_format: str,
    output: str,
) -> None:
    """CSAT, NPS, CES, AHT, FCR, response, resolution and answer times, service level,
    abandonment and escalation, from interaction LOGS (CSV, NDJSON, Parquet, '-', or
    encrypted stores of interactions, opened with your key; the read is audited).

    Every row is validated against the interaction schema first (`custrec schemas show
    interaction`; --schema for one that extends it), exit 3 naming file, line and
    rule; --skip-invalid leaves bad rows out and says how many. Each rate
    comes with its numerator, denominator and 95% interval, each time with median,
    mean, p90 and n; small samples are flagged. Definitions: docs/kpi-definitions.md.

    \b
    Examples:
      custrec report kpi interactions.csv
      custrec report kpi interactions.csv --by channel,team --period week --format json
      custrec report kpi export.csv --map created_at=Created --map case_id=Ticket
      custrec report kpi log.csv --business-hours 'Mon-Fri 09:00-17:00' --tz Europe/London
      custrec report kpi log.csv --period month --format html -o kpis.html
      custrec report kpi log.csv --period week --by channel --format html \\
        --targets targets.yaml -o kpis.html
      custrec report kpi log.csv --detail --format csv -o cases.csv
      custrec report kpi helpdesk.csv --schema helpdesk-interaction.yaml
    """
    from custrec.kpi import KpiOptions, compute_kpis
    from custrec.kpi.calendar import BusinessHours, read_holidays
    from custrec.kpi.checks import interaction_schema
    from custrec.kpi.engine import needed_columns
    from custrec.kpi.logs import load_logs
    from custrec.kpi.report import KpiReport

    if not logs:
        raise UsageError("give one or more interaction logs ('-' for stdin)")
    hours = None
    if business_hours:
        hours = BusinessHours.parse(business_hours, tz, read_holidays(holidays) if holidays else ())
    elif holidays:
        raise UsageError("--holidays needs --business-hours")
    options = KpiOptions(
        by=tuple(name.strip() for name in by.split(",") if name.strip()),
        period=period,
        tz=tz,
        since=_moment(since, tz, "--since"),
        until=_moment(until, tz, "--until"),
        fcr_method=fcr_method,
        fcr_window=_duration(fcr_window),
        fcr_same_category=fcr_same_category,
        sl_threshold=sl_threshold,
        short_abandon=short_abandon,
        follow_up_window=_duration(follow_up_window, "--follow-up-window"),
        business_hours=hours,
    )
    options.check()
    schema = interaction_schema(schema_file) if schema_file else None
    goals = None
    if targets is not None:
        if output_format != "html" or detail:
            raise UsageError("--targets is shown by --format html only")
        from custrec.kpi.targets import read_targets

        goals = read_targets(targets, sl_threshold)
    read = (*logs, map_file, holidays, key_file, schema_file, targets)
    if output != "-":
        refuse_protected(output, read)  # now, not after reading the logs
    chosen = resolved_engine(engine, logs, holds_all=True)
    opened: list[Store] = []

    def open_log_store(path: str) -> Store:
        opened.append(open_cli_store(path, key_file, lock_timeout, reason))
        return opened[-1]

    if chosen != "polars":
        _kpi_on_engine(
            chosen,
            logs,
            options,
            schema,
            open_store=open_log_store,
            delimiter=csv_delimiter(delimiter),
            encoding=encoding,
            goals=goals,
            chart_scale=chart_scale,
            memory_limit=memory_limit,
            spark_remote=spark_remote,
            mapping=read_mapping(mapping, map_file),
            input_format=input_format,
            skip_invalid=skip_invalid,
            detail=detail,
            output_format=output_format,
            output=output,
            read=read,
        )
        for store in opened:
            note_restricted(store)
        return
    if memory_limit or spark_remote:
        raise UsageError("--memory-limit and --spark-remote go with --engine duckdb or spark")
    _arrow_memory()
    progress = click.get_current_context().with_resource(command_progress("report kpi"))
    loaded = load_logs(
        logs,
        mapping=read_mapping(mapping, map_file),
        input_format=input_format,
        delimiter=csv_delimiter(delimiter),
        encoding=encoding,
        tz=tz,
        skip_invalid=skip_invalid,
        schema=schema,
        open_store=open_log_store,
        columns=needed_columns(options),
        group_by=options.by,
        progress=progress,
    )
    for store in opened:
        note_restricted(store)
    if loaded.invalid:
        note(f"{loaded.invalid} invalid row(s) left out, e.g. {'; '.join(loaded.problems[:3])}")
    if detail:
        _write_detail(loaded.contacts, options, output_format, output, read)
        return
    result = compute_kpis(loaded.contacts, options, overall=output_format == "html")
    document = KpiReport(
        result=result,
        sources=["<stdin>" if s == "-" else s for s in logs],
        rows_read=loaded.rows,
        invalid_skipped=loaded.invalid,
    )
    if output_format == "html":
        from custrec.kpi.page import page_context
        from custrec.kpi.report import html_page

        context = page_context(loaded.contacts, options, goals, chart_scale, result.overall)
        _emit_text(html_page(document, context), output, read)
        return
    _write(document, output_format, output, read)


def _kpi_on_engine(
    name: str,
    logs: Sequence[str],
    options: Any,
    schema: Any,
    *,
    open_store: Any,
    delimiter: str | None,
    encoding: str | None,
    goals: Any,
    chart_scale: str,
    memory_limit: str | None,
    spark_remote: str | None,
    mapping: dict[str, str],
    input_format: str | None,
    skip_invalid: bool,
    detail: bool,
    output_format: str,
    output: str,
    read: Sequence[str | None],
) -> None:
    """``report kpi`` of logs on DuckDB or Spark (stores and standard input read here
    and streamed in)."""

    from custrec.engines import open_engine
    from custrec.kpi import definitions
    from custrec.kpi.lazylogs import kpis_of, load_on_engine
    from custrec.kpi.page import context_of
    from custrec.kpi.report import KpiReport, html_page

    if memory_limit and name != "duckdb":
        raise UsageError("--memory-limit is for --engine duckdb")
    context = cases = None
    with open_engine(name, memory_limit=memory_limit, remote=spark_remote) as engine:
        found = load_on_engine(
            logs,
            options,
            engine,
            input_format=input_format,
            mapping=mapping,
            skip_invalid=skip_invalid,
            schema=schema,
            open_store=open_store,
            delimiter=delimiter,
            encoding=encoding,
        )
        with engine.reading(found.source):
            if detail:
                cases = definitions.case_rows(found.frame, options, make_table=engine.table)
            else:
                result = kpis_of(found.frame, options, engine, overall=output_format == "html")
            if output_format == "html" and not detail:
                first, last = definitions.contact_span(found.frame, options)
                context = context_of(result.overall, first, last, options, goals, chart_scale)
    if found.invalid:
        note(f"{found.invalid} invalid row(s) left out, e.g. {'; '.join(found.problems[:3])}")
    if detail:
        _write_detail(None, options, output_format, output, read, cases)
        return
    document = KpiReport(
        result=result,
        sources=["<stdin>" if s == "-" else s for s in logs],
        rows_read=found.rows,
        invalid_skipped=found.invalid,
    )
    if output_format == "html":
        _emit_text(html_page(document, context), output, read)
        return
    _write(document, output_format, output, read)


def _write(document: object, output_format: str, output: str, read: Sequence[str | None]) -> None:
    import io

    from custrec.kpi.report import html_page, markdown
    from custrec.render import render

    if output_format == "markdown":
        text = markdown(document)  # type: ignore[arg-type]
    elif output_format == "html":
        text = html_page(document)  # type: ignore[arg-type]
    else:
        buffer = io.StringIO()
        render(document, output_format, buffer)  # type: ignore[arg-type]
        text = buffer.getvalue()
    _emit_text(text, output, read)


def _emit_text(text: str, output: str, read: Sequence[str | None]) -> None:
    """Write ``text`` to ``output`` (or stdout); ``read``: the files it may not replace."""
    from custrec.atomic import atomic_file
    from custrec.errors import reporting_no_space

    if output == "-":
        with reporting_no_space("<stdout>", stream=True):
            sys.stdout.write(text)
            sys.stdout.flush()
        return

    with atomic_file(output, inputs=read) as handle:
        handle.write(text.encode("utf-8"))
    note(f"wrote {output}")


def _write_detail(
    frame: object,
    options: object,
    output_format: str,
    output: str,
    read: Sequence[str | None],
    cases: Sequence[dict[str, Any]] | None = None,
) -> None:
    import io

    from custrec.io import CsvLineWriter
    from custrec.kpi.report import case_details
    from custrec.render import json_text

    columns, rows = case_details(frame, options, cases)
    buffer = io.StringIO()
    if output_format == "json":
        document = {"version": 1, "kind": "kpi-cases", "cases": list(rows)}
        buffer.write(json_text(document, indent=2, default=None) + "\n")
    elif output_format == "csv":
        writer = CsvLineWriter(buffer)
        writer.writerow(columns)
        writer.writerows(
            [
                [
                    "" if r[c] is None else str(r[c]).lower() if isinstance(r[c], bool) else r[c]
                    for c in columns
                ]
                for r in rows
            ]
        )
    else:
        raise UsageError("--detail writes csv or json (--format csv|json)")
    _emit_text(buffer.getvalue(), output, read)


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value
