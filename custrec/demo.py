"""The end-to-end demonstration behind ``custrec demo`` and ``make demo``.

It generates the example data (customers and an interaction log, with deliberately
bad rows and the list of them), profiles each file as a data steward would before
loading it, collects the customer records into an encrypted store (bad rows go to a
rejects file), uses the store as an agent would (a point lookup, a search by a
differently written email, a correction, an export of the fields asked for, an
integrity check), scans the notes for personal data and writes a redacted copy,
reports KPIs of the interaction log, and ends as a compliance officer would: a
dry-run purge by the retention policy, one customer erased, and the proof (the record
is gone; the audit trail holds its erasure under a pseudonym). It returns one result
that says what was created and found.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from custrec.datasets import DatasetWritten, write_dataset
from custrec.errors import InputError
from custrec.io import atomic_file
from custrec.kpi.report import KpiReport, html_page, readable
from custrec.locking import DEFAULT_LOCK_TIMEOUT, exclusive_lock
from custrec.render import Summary, Table
from custrec.schema import Schema, shipped_schema
from custrec.store import Store
from custrec.table_profile import TableProfile, inspect_table
from custrec.validate import validate_source
from custrec.validation_report import ValidationReport

if TYPE_CHECKING:
    from custrec.kpi.page import PageContext

LOCK_NAME = ".custrec-demo.lock"


@dataclass
class DemoStep:
    written: DatasetWritten
    profile: TableProfile


@dataclass
class DemoStore:
    """The encrypted store the demo filled with the customer records."""

    path: str
    key_file: str
    records: int
    skipped: int
    bytes: int
    lookup_ms: float
    email_matches: int
    updated_version: int
    exported: int
    audit_entries: int
    audit_intact: bool

    @property
    def audit_state(self) -> str:
        return "intact" if self.audit_intact else "TAMPERED"


@dataclass
class DemoRedaction:
    """Personal data found in the store's free text, and the redacted copy made of it."""

    scanned: int
    found: dict[str, int]
    shared: str
    shared_records: int
    replaced: dict[str, int]
    strategies: dict[str, str]
    left_in_copy: int

    def to_json(self) -> dict[str, object]:
        return {
            "scanned_values": self.scanned,
            "found": self.found,
            "shared": self.shared,
            "shared_records": self.shared_records,
            "findings_replaced": self.replaced,
            "strategies": self.strategies,
            "findings_left_in_copy": self.left_in_copy,
        }


@dataclass
class DemoRights:
    """The end of the demo: a dry-run purge by the shipped retention policy, and one
    customer erased, gone, and the audit trail's proof of it."""

    due: dict[str, int]
    erased_pseudonym: str
    gone: bool
    audit_entries: int
    audit_intact: bool

    def to_json(self) -> dict[str, object]:
        return {
            "purge_dry_run": self.due,
            "erased_pseudonym": self.erased_pseudonym,
            "erased_record_gone": self.gone,
            "erase_audit_entries": self.audit_entries,
            "audit_intact": self.audit_intact,
        }


@dataclass
class DemoResult:
    """What :func:`run_demo` created and found."""

    workdir: str
    seed: int
    steps: list[DemoStep]
    store: DemoStore
    redaction: DemoRedaction
    rights: DemoRights
    validation: ValidationReport
    store_validation: ValidationReport
    kpis: KpiReport
    kpi_html: str
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
            "store": {
                "path": self.store.path,
                "key_file": self.store.key_file,
                "records": self.store.records,
                "skipped_rows": self.store.skipped,
                "bytes": self.store.bytes,
                "lookup_ms": round(self.store.lookup_ms, 2),
                "email_matches": self.store.email_matches,
                "updated_to_version": self.store.updated_version,
                "exported": self.store.exported,
                "audit_entries": self.store.audit_entries,
                "audit_intact": self.store.audit_intact,
            },
            "redaction": self.redaction.to_json(),
            "rights": self.rights.to_json(),
            "validation": {
                "customers_csv": self.validation.to_json(),
                "store": self.store_validation.to_json(),
            },
            "kpis": {**self.kpis.to_json(), "html": self.kpi_html},
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
        store = Table(
            title="Encrypted store: collect (bad rows to customers-rejects.csv), get, "
            "find, update, export (customers-contacts.csv), verify",
            columns=(
                "store",
                "records",
                "rows rejected",
                "size",
                "get by id",
                "found by email",
                "updated to version",
                "exported",
                "audit entries",
            ),
            rows=[
                (
                    Path(self.store.path).name,
                    self.store.records,
                    self.store.skipped,
                    f"{self.store.bytes / 1024:.0f} KiB",
                    f"{self.store.lookup_ms:.1f} ms",
                    self.store.email_matches,
                    self.store.updated_version,
                    self.store.exported,
                    f"{self.store.audit_entries} ({self.store.audit_state})",
                )
            ],
        )
        checked = Table(
            title="Validation against the customer schema: rules that failed (the CSV "
            "before loading; the store, whose schema refused the bad rows)",
            columns=("rule", "severity", "customers.csv", "customers.crec", "expected"),
            rows=[
                (
                    outcome.id,
                    outcome.severity,
                    outcome.failed,
                    self.store_validation.outcomes[n].failed,
                    outcome.expected,
                )
                for n, outcome in enumerate(self.validation.outcomes)
                if outcome.failed or self.store_validation.outcomes[n].failed
            ],
        )
        kpi_columns, kpi_rows = readable(self.kpis)
        kpis = Table(
            title=f"KPIs of interactions.csv by channel ({self.kpis.invalid_skipped} invalid rows "
            f"left out; * small sample; also in {Path(self.kpi_html).name})",
            columns=kpi_columns,
            rows=kpi_rows,
        )
        shared = Table(
            title="Personal data in the store's notes (scan), and the redacted copy "
            f"{Path(self.redaction.shared).name} (redact)",
            columns=("notes scanned", "found", "copied records", "replaced", "found in the copy"),
            rows=[
                (
                    self.redaction.scanned,
                    _counts(self.redaction.found),
                    self.redaction.shared_records,
                    _counts(self.redaction.replaced),
                    self.redaction.left_in_copy,
                )
            ],
        )
        rights = Table(
            title="Retention and erasure: a dry-run purge by the retention policy (nothing "
            "changed), then one customer erased",
            columns=("due by rule", "erased (pseudonym)", "gone", "audit entries of it"),
            rows=[
                (
                    _counts(self.rights.due),
                    self.rights.erased_pseudonym,
                    self.rights.gone,
                    f"{self.rights.audit_entries} "
                    f"({'intact' if self.rights.audit_intact else 'TAMPERED'})",
                )
            ],
        )
        columns_tables = []
        for step in self.steps:
            columns = step.profile.tables()[0]
            columns_tables.append(
                Table(
                    title=f"Columns of {Path(step.written.path).name}",
                    columns=columns.columns,
                    rows=columns.rows,
                )
            )
        tables = [files, defects, *columns_tables, checked, store, shared, kpis, rights]
        return tables

    def summary(self) -> Summary:
        return Summary(
            (
                ("custrec demo", f"example data in {self.workdir}"),
                ("seed", self.seed),
            )
        )


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {n}" for name, n in sorted(counts.items())) or "none"


def run_demo(
    workdir: str | Path,
    *,
    customers: int = 1000,
    interactions: int = 3000,
    seed: int = 2026,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
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
        directory / LOCK_NAME,
        timeout=lock_timeout,
        what=f"demo directory {directory}",
        remove=True,
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
        schema = shipped_schema("customer")
        as_of = today_text()
        validation = validate_source(str(directory / "customers.csv"), schema, as_of=as_of)
        store, redaction, rights, store_validation = _encrypt_customers(
            directory, directory / "customers.csv", schema, as_of
        )
        kpis, page = _kpis(directory / "interactions.csv")
        kpi_html = directory / "kpis.html"
        with atomic_file(str(kpi_html)) as handle:
            handle.write(html_page(kpis, page).encode("utf-8"))
    return DemoResult(
        workdir=str(directory),
        seed=seed,
        steps=steps,
        store=store,
        redaction=redaction,
        rights=rights,
        validation=validation,
        store_validation=store_validation,
        kpis=kpis,
        kpi_html=str(kpi_html),
    )


def _kpis(log: Path) -> tuple[KpiReport, PageContext]:
    """The KPIs of the example log by channel and month, as a team lead would ask for
    them (the log's deliberately bad rows left out and counted), and what the HTML page
    shows besides (all channels together, the contacts' span, the time of making)."""
    from custrec.kpi import KpiOptions, compute_kpis
    from custrec.kpi.logs import load_logs
    from custrec.kpi.page import page_context

    loaded = load_logs([str(log)], skip_invalid=True)
    options = KpiOptions(by=("channel",), period="month")
    result = compute_kpis(loaded.contacts, options, overall=True)
    report = KpiReport(
        result=result,
        sources=[log.name],
        rows_read=loaded.rows,
        invalid_skipped=loaded.invalid,
    )
    return report, page_context(loaded.contacts, options, overall=result.overall)


def today_text() -> str:
    import datetime as dt

    return dt.datetime.now(dt.UTC).date().isoformat()


def _encrypt_customers(
    directory: Path, customers_csv: Path, schema: Schema, as_of: str
) -> tuple[DemoStore, DemoRedaction, DemoRights, ValidationReport]:
    """Collect the customer rows into a new encrypted store that keeps to the customer
    schema, as a nightly job would (invalid and duplicate rows go to a rejects file),
    then use it as an agent would: look a record up by id and by a differently written
    email, correct it, and export the fields a colleague asked for; scan its notes for
    personal data and write a redacted copy to share; and validate it."""
    from custrec.audit import AuditContext
    from custrec.collect import CollectOptions, collect_records
    from custrec.export import export_records
    from custrec.keyfile import new_key_file
    from custrec.lookup import find_records, update_record
    from custrec.schema import dump_schema
    from custrec.store import KeySource, StoreSettings, create_store

    key_path = directory / "demo.key"
    store_path = directory / "customers.crec"
    rejects = directory / "customers-rejects.csv"
    exported = directory / "customers-contacts.csv"
    shared = directory / "customers-shared.csv"
    erasures = store_path.with_name(store_path.name + ".erasures")
    keys = store_path.with_name(store_path.name + ".keys")
    stale_files = (key_path, store_path, rejects, exported, shared, erasures, keys)
    companions = (*directory.glob("customers.crec-*"), *directory.glob("customers.crec.keys-*"))
    for stale in (*stale_files, *companions):
        stale.unlink(missing_ok=True)
    source = KeySource.from_key_file(new_key_file(key_path).path)
    context = AuditContext(command="custrec demo", reason="demonstration")
    settings = StoreSettings(region="GB", schema=dump_schema(schema))
    with create_store(
        store_path, source, settings=settings, columns=schema.store_columns(), context=context
    ) as store:
        collected = collect_records(
            store,
            [str(customers_csv)],
            CollectOptions(on_invalid="reject", rejects=str(rejects), source="demo"),
        )
        some_id = next(iter(store.iter_batches())).column(0)[0].as_py()
        started = time.perf_counter()
        some = store.get(some_id)
        lookup_ms = (time.perf_counter() - started) * 1000
        email = some.data.get("email")
        matches = 0
        if isinstance(email, str):
            matches = len(find_records(store, email=f"  {email.upper()} ").records)
        updated = update_record(
            store, some_id, set_fields={"city": "Leeds"}, if_version=some.version
        )
        export = export_records(
            store, str(exported), fields=["customer_id", "email", "phone", "country"]
        )
        redaction = _share(store, schema, shared, key_path)
        count = store.verify()
        checked = validate_source(str(store_path), schema, store=store, as_of=as_of)
        rights = _rights(store, schema, as_of)
        audit = store.audit_verify()
    return (
        DemoStore(
            path=str(store_path),
            key_file=str(key_path),
            records=count,
            skipped=collected.rejected,
            bytes=store_path.stat().st_size,
            lookup_ms=lookup_ms,
            email_matches=matches,
            updated_version=updated.version,
            exported=export.records,
            audit_entries=audit.entries,
            audit_intact=audit.ok,
        ),
        redaction,
        rights,
        checked,
    )


def _rights(store: Store, schema: Schema, as_of: str) -> DemoRights:
    """A compliance officer's turn: what the retention policy says is due (a dry run,
    which changes nothing), then one customer's erasure, checked by a lookup and by
    the audit trail (which names the customer by pseudonym only)."""
    import datetime as dt

    from custrec import retention
    from custrec.audit_read import AuditQuery
    from custrec.errors import NotFoundError
    from custrec.resources import RETENTION_POLICY, shipped

    policy = retention.parse_policy(
        shipped("retention", RETENTION_POLICY).read_text(),
        "retention (shipped retention policy)",
        dict(store.columns),
        schema,
    )
    plan = retention.plan_purge(store, policy, dt.date.fromisoformat(as_of), audited=False)
    ids = [
        str(i) for batch in store.iter_batches() for i in batch.column("customer_id").to_pylist()
    ]
    chosen = ids[len(ids) // 2]
    store.erase(chosen)
    try:
        store.get(chosen)
        gone = False
    except NotFoundError:
        gone = True
    store.verify()  # the store is whole after the erasure
    entries = store.audit_query(AuditQuery(customer=chosen)).entries
    erased = [e for e in entries if e.get("action") == "erase"]
    return DemoRights(
        due={k: v for k, v in plan.counts().items()},
        erased_pseudonym=store.pseudonym_of(chosen),
        gone=gone,
        audit_entries=len(erased),
        audit_intact=store.audit_verify().ok,
    )


def _share(store: Store, schema: Schema, shared: Path, key_path: Path) -> DemoRedaction:
    """Scan the store's notes, write a redacted copy by the schema's redaction
    strategies, and scan the copy again."""
    from custrec.io import open_table
    from custrec.redaction.detect import Detector
    from custrec.redaction.policy import RedactionPolicy
    from custrec.redaction.run import RedactOptions, redact_store
    from custrec.redaction.scan import ScanSummary, scan_store, scan_table

    detector = Detector()
    found = ScanSummary()
    for _ in scan_store(store, detector, found, schema=schema):
        pass
    options = RedactOptions(RedactionPolicy(), detector, schema, str(key_path), "csv")
    result = redact_store(store, str(shared), None, options)
    again = ScanSummary()
    with open_table(str(shared)) as reader:
        for _ in scan_table(reader, detector, again, fields=["notes"], schema=schema):
            pass
    return DemoRedaction(
        scanned=found.documents,
        found=dict(sorted(found.counts.items())),
        shared=str(shared),
        shared_records=result.records,
        replaced=dict(sorted(result.findings.items())),
        strategies=result.strategies,
        left_in_copy=again.findings,
    )
