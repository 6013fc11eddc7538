"""Statistics for KPI figures: confidence intervals, margins of error, time summaries.

Every rate carries a 95% Wilson score interval (Wilson 1927; it stays inside 0..100 and
behaves with small samples and rates near 0 or 100, unlike the normal approximation).
NPS carries the margin of error of a difference of two proportions from one sample.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

Z95 = 1.959963984540054
"""The 97.5th percentile of the standard normal distribution."""
SMALL_SAMPLE = 30
"""Figures based on fewer responses or contacts than this are flagged."""


def rate(numerator: int, denominator: int) -> dict[str, object]:
    """A percentage with its counts, 95% Wilson interval and small-sample flag; the
    value is null (never 0) without a denominator."""
    value = 100.0 * numerator / denominator if denominator else None
    return {
        "value": value,
        "numerator": int(numerator),
        "denominator": int(denominator),
        "ci95": wilson(numerator, denominator),
        "small_sample": denominator < SMALL_SAMPLE,
    }


def wilson(numerator: int, denominator: int, z: float = Z95) -> list[float] | None:
    """The Wilson score interval of ``numerator / denominator``, in percent."""
    if denominator <= 0:
        return None
    p = numerator / denominator
    n = denominator
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return [100.0 * max(0.0, centre - half), 100.0 * min(1.0, centre + half)]


def nps(promoters: int, passives: int, detractors: int) -> dict[str, object]:
    """Net Promoter Score with its 95% margin of error (points): ``z * sqrt((P + D -
    (P - D)^2) / n)`` for the shares P of promoters and D of detractors."""
    responses = promoters + passives + detractors
    value = moe = None
    if responses:
        p, d = promoters / responses, detractors / responses
        value = 100.0 * (p - d)
        moe = 100.0 * Z95 * math.sqrt(max(p + d - (p - d) ** 2, 0.0) / responses)
    return {
        "value": value,
        "promoters": int(promoters),
        "passives": int(passives),
        "detractors": int(detractors),
        "responses": int(responses),
        "moe95": moe,
        "small_sample": responses < SMALL_SAMPLE,
    }


def mean_of(total: float, n: int) -> dict[str, object]:
    """A mean with its count (null without values)."""
    return {"value": total / n if n else None, "n": int(n), "small_sample": n < SMALL_SAMPLE}


def times(values: Sequence[float]) -> dict[str, object]:
    """Median, mean and 90th percentile (linear interpolation between closest ranks,
    as numpy's default) of durations in seconds, and how many."""
    import numpy as np

    array = np.asarray(values, dtype="float64")
    n = int(array.size)
    if not n:
        return {"median": None, "mean": None, "p90": None, "n": 0, "small_sample": True}
    return {
        "median": float(np.median(array)),
        "mean": float(array.mean()),
        "p90": float(np.percentile(array, 90)),
        "n": n,
        "small_sample": n < SMALL_SAMPLE,
    }
