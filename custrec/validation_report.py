"""The report of a validation: per rule, what failed, how often, and examples.

:class:`ValidationReport` is what :func:`custrec.validate.validate_source` returns: its
:class:`RuleOutcome` per rule (count, share, severity, what was expected) and their
:class:`Example` records (where, the record's id, the value, the other fields the rule
read). It renders itself as JSON (every rule, failing ones first) and as tables for a
person (the failing rules, then each one's examples, titled with how many of its
failures they are). The shape is described in ``docs/validate-report.md``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

from custrec.render import Cell, Summary, Table

VALUE_CHARS = 80
MESSAGE_CHARS = 200


@dataclass(frozen=True)
class Example:
    """A failing record of a rule: where it is, its id (the schema's id field), the
    failing value, and the values of the other fields the rule read."""

    row: int | None
    line: int | None
    record_id: str | None
    column: str | None
    value: str | None
    expected: str
    other_fields: Mapping[str, str | None] = dataclasses.field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {
            "row": self.row,
            "line": self.line,
            "id": self.record_id,
            "column": self.column,
            "value": self.value,
            "other_fields": dict(self.other_fields),
            "expected": self.expected,
        }


@dataclass
class RuleOutcome:
    """What one rule found over all records."""

    id: str
    check: str
    field: str | None
    severity: str
    expected: str
    max_fail_pct: float | None = None
    failed: int = 0
    examples: list[Example] = dataclasses.field(default_factory=list)
    detail: str | None = None
    out_of: int | None = None
    """What ``failed`` counts against when not records (undeclared columns: columns)."""
    reads: tuple[str, ...] = ()
    """The fields the rule reads besides ``field`` (a postcode's country...)."""

    def failed_pct(self, rows: int) -> float:
        total = rows if self.out_of is None else self.out_of
        return round(100.0 * self.failed / total, 4) if total else 0.0

    def passed(self, rows: int) -> bool:
        if not self.failed:
            return True
        if self.max_fail_pct is None:
            return False
        return self.failed_pct(rows) <= self.max_fail_pct


@dataclass
class ValidationReport:
    """The result of :func:`validate_source` (``docs/validate-report.md``)."""

    source: str
    source_kind: str
    schema: str
    rows: int = 0
    outcomes: list[RuleOutcome] = dataclasses.field(default_factory=list)
    fail_on: str = "error"
    failures_file: str | None = None
    as_of: str | None = None
    kind: str = "validate"
    all_rules: bool = False
    """Whether the table lists the rules that passed too (JSON always lists them)."""

    @property
    def failing(self) -> list[RuleOutcome]:
        """Rules that failed and count against the run (by ``fail_on``)."""
        counted = ("error", "warn") if self.fail_on == "warn" else ("error",)
        return [o for o in self.outcomes if not o.passed(self.rows) and o.severity in counted]

    @property
    def ok(self) -> bool:
        return not self.failing

    def ordered(self) -> list[RuleOutcome]:
        """Every rule, those that failed first (errors, then warnings), each group in
        schema order."""
        failed = [o for o in self.outcomes if not o.passed(self.rows)]
        failed.sort(key=lambda o: o.severity != "error")  # stable: schema order kept
        return failed + [o for o in self.outcomes if o.passed(self.rows)]

    def to_json(self) -> dict[str, object]:
        return {
            "source": self.source,
            "source_kind": self.source_kind,
            "schema": self.schema,
            "as_of": self.as_of,
            "rows": self.rows,
            "ok": self.ok,
            "fail_on": self.fail_on,
            "failures_file": self.failures_file,
            "rules": [
                {
                    "id": o.id,
                    "check": o.check,
                    "field": o.field,
                    "reads": list(o.reads),
                    "severity": o.severity,
                    "passed": o.passed(self.rows),
                    "failed": o.failed,
                    "failed_pct": o.failed_pct(self.rows),
                    "max_fail_pct": o.max_fail_pct,
                    "expected": o.expected,
                    "detail": o.detail,
                    "examples": [e.to_json() for e in o.examples],
                }
                for o in self.ordered()
            ],
        }

    def tables(self) -> list[Table]:
        shown = [o for o in self.ordered() if self.all_rules or not o.passed(self.rows)]
        tables = []
        if shown:
            rows = [
                (
                    o.id,
                    o.severity,
                    "pass" if o.passed(self.rows) else "FAIL",
                    o.failed,
                    f"{o.failed_pct(self.rows):.2f}",
                    o.expected if o.detail is None else f"{o.expected} ({o.detail})",
                )
                for o in shown
            ]
            columns = ("rule", "severity", "result", "failed", "failed %", "expected")
            title = "Rules" if self.all_rules else "Failed rules"
            tables.append(Table(columns, rows, title=title))
        for o in shown:
            if o.failed and o.examples:
                tables.append(_examples_table(o))
        return tables

    def summary(self) -> Summary:
        failed = [o for o in self.outcomes if not o.passed(self.rows)]
        passed = len(self.outcomes) - len(failed)
        return Summary(
            (
                ("validated", self.source),
                ("schema", self.schema),
                ("records", self.rows),
                ("rules", len(self.outcomes)),
                ("failed (error)", sum(1 for o in failed if o.severity == "error")),
                ("failed (warn)", sum(1 for o in failed if o.severity == "warn")),
                ("passed", passed if self.all_rules else f"{passed} (listed with --all-rules)"),
                ("result", "ok" if self.ok else "FAILED"),
                ("failures file", self.failures_file),
            )
        )


def _examples_table(outcome: RuleOutcome) -> Table:
    """The examples of one failing rule, titled with how many of its failures they are
    ("first 3 of 41")."""
    shown = len(outcome.examples)
    first = "first " if shown < outcome.failed else ""
    count = f"{first}{shown} of {outcome.failed}"
    columns: tuple[str, ...] = ("where", "id", "column", "value")
    if outcome.reads:
        columns += ("other fields",)
    rows = []
    for e in outcome.examples:
        row: tuple[Cell, ...] = (_where(e), e.record_id, e.column, e.value)
        if outcome.reads:
            row += (", ".join(f"{k}={v or ''}" for k, v in e.other_fields.items()),)
        rows.append(row)
    return Table(columns, rows, title=f"Examples of {outcome.id} ({count})")


def _where(example: Example) -> str:
    """The physical line of a file; else the position in the scan of a store."""
    if example.line is not None:
        return f"line {example.line}"
    return f"row {example.row}" if example.row is not None else "-"


def cut(value: object, limit: int = VALUE_CHARS) -> str | None:
    """A value as text for a report, at most ``limit`` characters."""
    if value is None:
        return None
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
