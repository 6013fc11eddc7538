"""Writing a redacted copy of records: each field by its strategy, free text scanned.

Each field gets a strategy (:mod:`custrec.redaction.operators`): its entry in the
policy file, else its ``redaction:`` in the schema, else ``keep`` for a field the
schema declares not personal (``pii`` false, no redaction), else the policy's default
(``drop``). Fields whose strategy is ``scan`` are searched with
:class:`~custrec.redaction.detect.Detector`, with the record's own name, email, phone
and address as known values, and each finding is replaced as the policy says for its
type. A value ``generalise`` cannot read (a date of birth that is not a date) is
replaced by its tag and counted, or, with ``strict``, stops the redaction.

Pseudonyms are keyed (HMAC-SHA256 under a key derived from a key file), so the same
value gives the same pseudonym across files, runs and fields, and nobody without the
key can tell which value it stands for. The same input, policy and key give a
byte-identical output.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from custrec.errors import UsageError
from custrec.render import Summary, Table
from custrec.types import COLUMN_TYPES, STRING, column_type_of_arrow

if TYPE_CHECKING:
    from custrec.redaction.detect import Detector
    from custrec.redaction.operators import Pseudonymiser
    from custrec.redaction.policy import FieldRule, RedactionPolicy
    from custrec.redaction.scan import KnownFields
    from custrec.schema import Schema

PSEUDONYM_KEY_INFO = "custrec redaction pseudonyms v1"
"""HKDF ``info`` deriving the pseudonym key from a key file's key."""


def pseudonym_key(key: bytes) -> bytes:
    """The pseudonym key derived from a key file's 32-byte key (never the key itself)."""
    from custrec import crypto

    return crypto.hkdf(key, PSEUDONYM_KEY_INFO)


class UnreadableValue(ValueError):
    """A value its field's strategy cannot read (e.g. a date to generalise that is not
    a date); the caller names the record."""

    def __init__(self, field_name: str, problem: str) -> None:
        super().__init__(f"field {field_name}: {problem}")
        self.field = field_name


class FieldPlan(NamedTuple):
    """How one field is redacted: ``strategy``; ``entity`` (the type of personal data,
    naming the tag, mask shape and normal form; None when unknown); ``kind`` and
    ``to`` for ``generalise``."""

    name: str
    strategy: str
    entity: str | None = None
    kind: str | None = None
    to: str | None = None


def plan_fields(
    columns: Sequence[str],
    policy: RedactionPolicy,
    schema: Schema | None,
    kinds: Mapping[str, str] | None = None,
) -> list[FieldPlan]:
    """The plan of each of ``columns`` (``kinds``: column -> schema type, for telling
    dates when the schema does not)."""
    from custrec.redaction.scan import CATEGORY_TYPES

    plans = []
    for name in columns:
        item = schema.fields.get(name) if schema is not None else None
        metadata = item.redaction if item is not None else None
        if item is not None and metadata is None and not item.pii:
            metadata = "keep"
        rule = policy.for_field(name, metadata)
        entity = _entity_of(rule, item, CATEGORY_TYPES)
        kind = rule.kind if rule.strategy == "generalise" else None
        if rule.strategy == "generalise" and kind is None:
            kind = _generalise_kind(name, item, (kinds or {}).get(name))
        plans.append(FieldPlan(name, rule.strategy, entity, kind, rule.to))
    return plans


def _entity_of(rule: FieldRule, item: Any, category_types: Mapping[str, str]) -> str | None:
    from custrec.redaction.operators import GENERALISE_KINDS

    if rule.kind and rule.kind not in GENERALISE_KINDS:
        return rule.kind
    if item is None:
        return None
    category = ".".join(str(item.category or "").split(".")[:2])
    entity = category_types.get(category)
    if entity == "LOCATION" and "postcode" in item.name:
        return "UK_POSTCODE"
    return entity


def _generalise_kind(name: str, item: Any, column_kind: str | None) -> str:
    kind = item.type if item is not None else column_kind
    if kind in ("date", "datetime"):
        return str(kind)
    lowered = name.lower()
    if "postcode" in lowered or "zip" in lowered or "postal" in lowered:
        return "postcode"
    if lowered == "age" or lowered.endswith("_age"):
        return "age"
    raise UsageError(
        f"field {name}: generalise needs to know what the value is; give it in the policy "
        "(e.g. {strategy: generalise, kind: date})"
    )


@dataclass
class RedactResult:
    source: str
    destination: str
    output_format: str
    records: int = 0
    fields: list[str] = field(default_factory=list)
    strategies: dict[str, str] = field(default_factory=dict)
    findings: Counter[str] = field(default_factory=Counter)
    unreadable: Counter[str] = field(default_factory=Counter)
    kind: str = "redact"

    def to_json(self) -> dict[str, object]:
        return {
            "source": self.source,
            "destination": self.destination,
            "output_format": self.output_format,
            "records": self.records,
            "fields": self.fields,
            "strategies": self.strategies,
            "findings_replaced": dict(sorted(self.findings.items())),
            "unreadable_replaced": dict(sorted(self.unreadable.items())),
        }

    def tables(self) -> list[Table]:
        return [
            Table(
                ["field", "strategy"],
                [[name, strategy] for name, strategy in self.strategies.items()],
                "Fields",
            )
        ]

    def summary(self) -> Summary:
        return Summary(
            (
                ("redacted", self.records),
                ("to", self.destination),
                ("format", self.output_format),
                (
                    "findings replaced",
                    ", ".join(f"{t} {n}" for t, n in sorted(self.findings.items())) or "none",
                ),
            )
        )


class Redactor:
    """Redacts records one at a time by a plan; counts the findings it replaced."""

    def __init__(
        self,
        plans: Sequence[FieldPlan],
        policy: RedactionPolicy,
        pseudonymiser: Pseudonymiser | None,
        detector: Detector,
        known: KnownFields | None,
        *,
        strict: bool = False,
    ) -> None:
        self.plans = [plan for plan in plans if plan.strategy != "drop"]
        self.strict = strict
        self.unreadable: Counter[str] = Counter()
        """Per field, values ``generalise`` could not read (replaced by their tag)."""
        self.policy = policy
        self.pseudonymiser = pseudonymiser
        self.detector = detector
        self.known = known
        self.region_field = known.region_field if known is not None else None
        self.findings: Counter[str] = Counter()
        if pseudonymiser is None and any(plan.strategy == "pseudonymise" for plan in self.plans):
            raise UsageError("pseudonyms need a key: give --key-file (or $CUSTREC_KEY_FILE)")

    @property
    def columns(self) -> list[str]:
        return [plan.name for plan in self.plans]

    def record(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """The redacted record (dropped fields left out). A value its strategy cannot
        read raises :class:`UnreadableValue`."""
        from custrec.redaction import operators

        region = record.get(self.region_field) if self.region_field else None
        region_text = str(region).upper() if region else None
        out: dict[str, Any] = {}
        for plan in self.plans:
            value = record.get(plan.name)
            if plan.strategy == "keep" or value is None or value == "":
                out[plan.name] = value
                continue
            text = value if isinstance(value, str) else _text(value)
            if plan.strategy == "mask":
                out[plan.name] = operators.mask(text, plan.entity, detector=self.detector)
            elif plan.strategy == "replace":
                out[plan.name] = operators.replace(plan.entity or plan.name.upper())
            elif plan.strategy == "pseudonymise":
                assert self.pseudonymiser is not None
                tag = plan.entity or plan.name.upper()
                out[plan.name] = self.pseudonymiser.token(tag, text, region_text)
            elif plan.strategy == "generalise":
                try:
                    out[plan.name] = operators.generalise(text, str(plan.kind), to=plan.to)
                except ValueError:  # its message holds the value: not repeated
                    if self.strict:
                        raise UnreadableValue(
                            plan.name, f"expected a {plan.kind} to generalise, found another value"
                        ) from None
                    self.unreadable[plan.name] += 1
                    out[plan.name] = operators.replace(plan.entity or plan.name.upper())
            else:  # scan
                out[plan.name] = self._scanned(text, record, region_text)
        return out

    def _scanned(self, text: str, record: Mapping[str, Any], region: str | None) -> str:
        known = self.known.values(record) if self.known is not None else None
        # What replaces a finding can be read as context by the next one ("<US_ZIP>"
        # names a ZIP code): the text is scanned again until nothing more is found,
        # so that a scan of the output finds nothing the policy does not keep. Only
        # what is replaced is counted (``findings_replaced``).
        for _ in range(_SCAN_PASSES):
            replaced = [
                f for f in self.detector.find(text, known) if self.policy.for_type(f.type) != "keep"
            ]
            if not replaced:
                break
            for finding in replaced:
                self.findings[finding.type] += 1
            text = self._replaced(text, replaced, region)
        return text

    def _replaced(self, text: str, found: list[Any], region: str | None) -> str:
        """``text`` with each finding replaced by the strategy of its type (none keeps)."""
        from custrec.redaction import operators

        def apply(entity: str, value: str) -> str:
            strategy = self.policy.for_type(entity)
            if strategy == "mask":
                return operators.mask(value, entity)
            if strategy == "pseudonymise":
                assert self.pseudonymiser is not None
                return self.pseudonymiser.token(entity, value, region)
            return operators.replace(entity)

        return operators.redact_text(text, found, apply)

    def output_types(self, kinds: Mapping[str, str]) -> dict[str, str]:
        """The column type of each output column: a kept field keeps its type (a date
        or time read as such is written as text), every other one is text."""
        out: dict[str, str] = {}
        for plan in self.plans:
            kind = kinds.get(plan.name, STRING) if plan.strategy == "keep" else STRING
            out[plan.name] = kind if kind in COLUMN_TYPES else STRING
        return out


_SCAN_PASSES = 3
"""The most times a text is scanned and redacted (see ``_scanned``)."""


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)


def arrow_kinds(schema: Any) -> dict[str, str]:
    """Column -> column type (string, int64, float64, bool) of an Arrow schema; dates
    and times as ``date``/``datetime``."""
    import pyarrow as pa

    out: dict[str, str] = {}
    for item in schema:
        if pa.types.is_date(item.type):
            out[item.name] = "date"
        elif pa.types.is_timestamp(item.type):
            out[item.name] = "datetime"
        else:
            out[item.name] = column_type_of_arrow(item.type)
    return out
