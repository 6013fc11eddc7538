"""What the detectors of :mod:`custrec.redaction.detect` report: the entity types,
the :class:`Finding` and how overlapping findings are resolved."""

from __future__ import annotations

from bisect import bisect_left, insort
from typing import NamedTuple

from custrec.redaction.national_ids import NATIONAL_ID_TYPES

ENTITY_TYPES: tuple[str, ...] = (
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "IBAN_CODE",
    "US_SSN",
    "UK_NINO",
    "IP_ADDRESS",
    "DATE_OF_BIRTH",
    "UK_POSTCODE",
    "US_ZIP",
    "PERSON",
    "LOCATION",
    *NATIONAL_ID_TYPES,
)

DEFAULT_REGIONS: tuple[str, ...] = ("GB", "US", "DE", "FR", "IE", "NL", "ES", "IN", "AU", "CA")

TYPE_ORDER = {name: i for i, name in enumerate(ENTITY_TYPES)}


class Finding(NamedTuple):
    """One piece of personal data: ``text[start:end]`` is the finding."""

    start: int
    end: int
    type: str
    score: float
    rule: str
    explanation: str


def resolve(found: list[Finding]) -> list[Finding]:
    """Non-overlapping findings, sorted by start: the longer span wins, then the higher
    score, then the earlier start, then the type name."""
    if len(found) <= 1:
        return found
    found.sort(key=lambda f: (f.start - f.end, -f.score, f.start, f.type, f.rule, f.explanation))
    # The spans chosen so far, sorted: they do not overlap, so their ends are sorted
    # too, and a new span overlaps one of them exactly when the last one starting
    # before it ends ends after it starts. (Comparing with each chosen span was
    # quadratic: a line of 20,000 email addresses took 20 seconds.)
    spans: list[tuple[int, int]] = []
    chosen: list[Finding] = []
    for f in found:
        before = bisect_left(spans, (f.end, -1))  # the spans starting before f ends
        if before and spans[before - 1][1] > f.start:
            continue
        insort(spans, (f.start, f.end))
        chosen.append(f)
    chosen.sort(key=lambda f: (f.start, f.end))
    return chosen
