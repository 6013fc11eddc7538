"""``custrec scan`` and ``custrec redact``: find personal data, and share records safely."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click

from custrec.cli.core import (
    INPUT_FORMATS,
    audit_context,
    csv_delimiter,
    csv_options,
    key_file_option,
    lock_timeout_option,
    note,
    note_restricted,
    open_cli_store,
    output_option,
    reason_option,
    split_fields,
)
from custrec.cli.progress import command_progress, quiet_option
from custrec.errors import CheckFailedError, UsageError

F = TypeVar("F", bound=Callable[..., Any])

if TYPE_CHECKING:
    from custrec.progress import Progress
    from custrec.redaction.detect import Detector
    from custrec.redaction.scan import ScanFinding, ScanSummary
    from custrec.schema import Schema
    from custrec.store import Store


def _regions(values: tuple[str, ...]) -> tuple[str, ...] | None:
    names = split_fields(values)
    return tuple(name.upper() for name in names) if names else None


def _types(values: tuple[str, ...]) -> list[str] | None:
    from custrec.redaction.detect import ENTITY_TYPES

    names = split_fields(values)
    if names is None:
        return None
    unknown = [name for name in names if name.upper() not in ENTITY_TYPES]
    if unknown:
        raise UsageError(f"--types {unknown[0]}: expected one of {', '.join(ENTITY_TYPES)}")
    return [name.upper() for name in names]


def _detector(
    types: list[str] | None,
    regions: tuple[str, ...] | None,
    threshold: float,
    ner: str | None = None,
) -> Detector:
    from custrec.redaction.detect import DEFAULT_REGIONS, Detector

    entities = None
    if ner is not None:
        from custrec.redaction.ner import entity_finder

        entities = entity_finder(ner)
    return Detector(
        types=types, regions=regions or DEFAULT_REGIONS, threshold=threshold, entities=entities
    )


def _schema(schema_file: str | None, store: Store | None, source: str) -> Schema | None:
    from custrec.schema import load_schema, parse_schema

    if schema_file:
        return load_schema(schema_file)
    if store is not None and store.settings.schema:
        return parse_schema(store.settings.schema, f"{source} (its schema)")
    return None


def _is_store(source: str) -> bool:
    from custrec.protected import is_store_file

    return source != "-" and is_store_file(source)


def _schema_option() -> Callable[[F], F]:
    return click.option(
        "--schema",
        "schema_file",
        type=click.Path(dir_okay=False),
        metavar="NAME|FILE",
        help="Schema of the records (docs/schema.md), shipped (custrec schemas list) or a "
        "file: names the free-text fields and the fields holding each record's own name, "
        "email, phone and address. Default: a store's own schema.",
    )


def _ner_option() -> Callable[[F], F]:
    return click.option(
        "--ner",
        metavar="spacy:MODEL",
        help="Add the person names and places of an installed spaCy pipeline (a package "
        "such as en_core_web_lg, or its directory) to custrec's own finders. Optional; "
        "needs spaCy and the pipeline, which custrec does not install.",
    )


def _regions_option() -> Callable[[F], F]:
    return click.option(
        "--regions",
        multiple=True,
        metavar="CC,CC",
        help="Countries whose phone numbers are looked for (ISO 3166 codes). "
        "Default: GB,US,DE,FR,IE,NL,ES,IN,AU,CA.",
    )


@click.command("scan", short_help="Find personal data in text, tables or a store.")
@click.argument("source", type=click.Path(dir_okay=False, allow_dash=True))
@click.option(
    "--field",
    "fields",
    multiple=True,
    metavar="NAME",
    help="Scan this field (repeatable). Default: the schema's free-text fields, else every column.",
)
@click.option(
    "--types",
    multiple=True,
    metavar="T1,T2",
    help="Report only these types (e.g. CREDIT_CARD,US_SSN). Default: all.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["ndjson", "json", "table"]),
    default="ndjson",
    show_default=True,
    help="ndjson: one finding per line; json: one object with 'version', 'findings' "
    "and 'summary'; table: for people.",
)
@click.option(
    "--input-format",
    type=click.Choice(("text", *INPUT_FORMATS)),
    default=None,
    help="Format of a file input. Default: from the extension (.csv, .ndjson, .jsonl, "
    ".parquet); anything else, and '-', is plain text with one document per line.",
)
@click.option(
    "--fail-on-findings",
    is_flag=True,
    help="Exit 1 when anything is found (for a cron check).",
)
@click.option(
    "--explain",
    is_flag=True,
    help="Add to each finding why it was reported (rule, validator, context word).",
)
@click.option(
    "--threshold",
    type=click.FloatRange(0, 1),
    default=0.5,
    show_default=True,
    help="Report findings scoring at least this.",
)
@_schema_option()
@_regions_option()
@_ner_option()
@csv_options
@key_file_option()
@lock_timeout_option()
@reason_option()
@quiet_option()
def scan(
    source: str,
    fields: tuple[str, ...],
    types: tuple[str, ...],
    output_format: str,
    input_format: str | None,
    fail_on_findings: bool,
    explain: bool,
    threshold: float,
    schema_file: str | None,
    regions: tuple[str, ...],
    ner: str | None,
    delimiter: str | None,
    encoding: str | None,
    key_file: str | None,
    lock_timeout: float,
    reason: str | None,
) -> None:
    """Find personal data in text: emails, phone numbers, payment cards, IBANs,
    national ids, IP addresses, dates of birth, postcodes, person names and street
    addresses.

    SOURCE is plain text (one document per line), a CSV, NDJSON or Parquet file, or a
    store (its free-text fields; the read is audited). Each finding gives where it is
    (record id, line, field, start and end offsets) and its type, score and rule,
    never the value itself. When the record's own fields are at hand (a store, or
    --schema), its own name, email, phone and address are found in its free text too,
    however they are written. Counts per type go to stderr. Nothing is sent over the
    network.

    Exit codes: 0 done (also with findings, unless --fail-on-findings), 1 findings with
    --fail-on-findings, 2 usage error, 3 bad input, 4 key error.

    \b
    Examples:
      custrec scan notes.txt
      custrec scan customers.csv --field notes --schema customer
      custrec scan customers.crec --types CREDIT_CARD,US_SSN --fail-on-findings
      custrec scan customers.csv --format table --explain
      custrec export customers.crec --format ndjson | custrec scan - --input-format ndjson
    """
    from custrec.redaction.scan import ScanSummary

    detector = _detector(_types(types), _regions(regions), threshold, ner)
    summary = ScanSummary()
    wanted = split_fields(fields) or []
    progress = click.get_current_context().with_resource(command_progress("scan"))
    if _is_store(source):
        with open_cli_store(source, key_file, lock_timeout, reason) as store:
            schema = _schema(schema_file, store, source)
            from custrec.redaction.scan import scan_store

            found = scan_store(
                store, detector, summary, fields=wanted, schema=schema, progress=progress
            )
            _emit_findings(found, summary, output_format, explain)
            note_restricted(store)
    else:
        schema = _schema(schema_file, None, source)
        _emit_findings(
            _scan_file(
                source,
                input_format,
                detector,
                summary,
                wanted,
                schema,
                delimiter,
                encoding,
                progress,
            ),
            summary,
            output_format,
            explain,
        )
    counts = ", ".join(f"{t} {n}" for t, n in sorted(summary.counts.items())) or "nothing"
    note(f"scanned {summary.documents} value(s): found {counts}")
    if fail_on_findings and summary.findings:
        raise CheckFailedError(f"{summary.findings} finding(s) of personal data")


def _file_format(source: str, explicit: str | None) -> str:
    from custrec.io import format_from_extension

    if explicit:
        return explicit
    if source == "-":
        return "text"
    return format_from_extension(source) or "text"


def _scan_file(
    source: str,
    input_format: str | None,
    detector: Detector,
    summary: ScanSummary,
    fields: list[str],
    schema: Schema | None,
    delimiter: str | None,
    encoding: str | None,
    progress: Progress,
) -> Iterator[ScanFinding]:
    from custrec.io import text_lines
    from custrec.redaction.scan import scan_lines, scan_table

    chosen = _file_format(source, input_format)
    if chosen == "text":
        if fields:
            raise UsageError("--field applies to CSV, NDJSON, Parquet and stores, not plain text")
        yield from scan_lines(text_lines(source, encoding), detector, summary)
        return
    from custrec.io import open_table

    with open_table(
        source,
        input_format=chosen,
        delimiter=csv_delimiter(delimiter),
        encoding=encoding,
        light=True,
    ) as reader:
        yield from scan_table(
            reader, detector, summary, fields=fields, schema=schema, progress=progress
        )


def _emit_findings(
    found: Iterable[ScanFinding], summary: ScanSummary, output_format: str, explain: bool
) -> None:
    out = sys.stdout
    if output_format == "ndjson":
        for finding in found:
            out.write(json.dumps(finding.to_json(explain=explain), ensure_ascii=False))
            out.write("\n")
        out.flush()
        return
    findings = [finding.to_json(explain=explain) for finding in found]
    if output_format == "json":
        document = {
            "version": 1,
            "kind": "scan",
            "findings": findings,
            "summary": summary.to_json(),
        }
        out.write(json.dumps(document, indent=2, ensure_ascii=False))
        out.write("\n")
    else:
        from tabulate import tabulate

        from custrec.render import Cell, Table, capped

        columns = ["id", "line", "field", "start", "end", "type", "score", "rule"]
        if explain:
            columns.append("explanation")
        rows = [["" if f[c] is None else f[c] for c in columns] for f in findings]
        # A finding's JSON holds only text and numbers: cells of a Table.
        shown = capped(
            Table(columns, cast("list[list[Cell]]", rows)),
            rest="(use --format ndjson or json for all)",
        )
        out.write(tabulate(shown.rows, headers=columns, tablefmt="simple", disable_numparse=True))
        out.write("\n")
        if shown.note:
            out.write(shown.note + "\n")
    out.flush()


@click.command("redact", short_help="Write a redacted copy, safe to share.")
@click.argument("source", type=click.Path(dir_okay=False, allow_dash=True))
@output_option(
    "Where to write the redacted copy ('-' for stdout). Created with mode 0600.", default=None
)
@click.option(
    "--into",
    "into",
    default=None,
    type=click.Path(dir_okay=False),
    metavar="NEWSTORE",
    help="Write the redacted copy into a new encrypted store instead (opened by the same key).",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["csv", "ndjson", "parquet"]),
    default=None,
    help="Data format of -o: csv, ndjson or parquet. Default: from the file extension, else csv.",
)
@click.option(
    "--policy",
    "policy_file",
    type=click.Path(dir_okay=False),
    metavar="NAME|FILE",
    help="Redaction policy (docs/redaction.md), shipped (vendor-redaction; custrec schemas "
    "list) or a file: a strategy per field and per type of personal data found in free "
    "text. Default: the schema's redaction metadata.",
)
@click.option(
    "--fields",
    "fields",
    multiple=True,
    metavar="F1,F2",
    help="Write only these fields (before redaction). Select what the purpose needs.",
)
@click.option(
    "--input-format",
    type=click.Choice(INPUT_FORMATS),
    default=None,
    help="Format of a file input. Default: from the file extension.",
)
@click.option(
    "--strict",
    is_flag=True,
    help="Stop (exit 3, naming file, line and field) at a value its strategy cannot read, "
    "e.g. a date of birth that is not a date. Default: replace it by its tag and count it.",
)
@click.option(
    "--summary-format",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="Format of the summary written to stderr (json for programs).",
)
@_schema_option()
@_regions_option()
@_ner_option()
@csv_options
@key_file_option()
@lock_timeout_option()
@reason_option()
@quiet_option()
def redact(
    source: str,
    output: str | None,
    into: str | None,
    output_format: str | None,
    policy_file: str | None,
    fields: tuple[str, ...],
    input_format: str | None,
    strict: bool,
    summary_format: str,
    schema_file: str | None,
    regions: tuple[str, ...],
    ner: str | None,
    delimiter: str | None,
    encoding: str | None,
    key_file: str | None,
    lock_timeout: float,
    reason: str | None,
) -> None:
    """Write a redacted copy of a store or a record file, safe to share.

    Each field is redacted by its strategy: keep, drop, mask (e.g. the last 4 digits of
    a phone or card, the first letter and domain of an email), replace (a type tag
    such as <EMAIL_ADDRESS>), pseudonymise (a keyed pseudonym such as
    <EMAIL_ADDRESS_3f2a9c1d07be8a55>: the same value gives the same pseudonym across
    files, runs and fields with the same key, and cannot be reversed without it),
    generalise (a date to its year or month, a postcode to its outward code, an age to
    a band) or scan (free text: personal data found in it is replaced as the policy
    says for its type). Strategies come from --policy, else the schema's redaction
    metadata; fields the schema does not declare personal are kept, other unclassified
    fields dropped.

    Pseudonyms are keyed by the key file (--key-file or $CUSTREC_KEY_FILE); the same
    input, policy and key give a byte-identical output. Reading a store is audited.

    \b
    Examples:
      custrec redact customers.crec -o shared.csv --reason 'vendor analysis #4411'
      custrec redact customers.csv -o shared.parquet --schema customer
      custrec redact customers.crec --policy vendor-redaction -o vendor.csv --key-file K
      custrec redact customers.crec --policy policy.yaml --fields customer_id,notes -o -
      custrec redact customers.crec --into training.crec --policy training.yaml
    """
    from custrec.redaction.policy import RedactionPolicy, load_policy

    if (output is None) == (into is None):
        raise UsageError("give either -o FILE (or -o - for stdout) or --into NEWSTORE")
    policy = load_policy(policy_file) if policy_file else RedactionPolicy()
    wanted = split_fields(fields)
    from custrec.redaction.run import RedactOptions, redact_file, redact_store

    options = RedactOptions(
        policy=policy,
        detector=_detector(None, _regions(regions), 0.5, ner),
        key_file=key_file,
        output_format=output_format,
        fields=wanted,
        lock_timeout=lock_timeout,
        strict=strict,
        inputs=(policy_file, schema_file),
        context=audit_context("redacted copy"),
        progress=click.get_current_context().with_resource(command_progress("redact")),
    )
    if _is_store(source):
        with open_cli_store(source, key_file, lock_timeout, reason) as store:
            schema = _schema(schema_file, store, source)
            result = redact_store(store, output, into, options._replace(schema=schema))
            note_restricted(store)
    else:
        result = redact_file(
            source,
            output,
            into,
            options._replace(schema=_schema(schema_file, None, source)),
            input_format=input_format,
            delimiter=csv_delimiter(delimiter),
            encoding=encoding,
        )
    if result.unreadable:
        note(
            "values that could not be generalised, replaced by their tag: "
            + ", ".join(f"{name} {n}" for name, n in sorted(result.unreadable.items()))
        )
    if summary_format == "json":
        from custrec.render import to_json_document

        click.echo(json.dumps(to_json_document(result), ensure_ascii=False), err=True)
    else:
        note(
            f"redacted {result.records} record(s) to {result.destination}: "
            + ", ".join(f"{name} {strategy}" for name, strategy in result.strategies.items())
        )
