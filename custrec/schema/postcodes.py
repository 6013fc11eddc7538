"""Postcode formats by country, for checks and for generated data."""

from __future__ import annotations

POSTCODE_PATTERNS: dict[str, str] = {
    "GB": r"[A-Z]{1,2}\d[A-Z\d]? \d[ABD-HJLNP-UW-Z]{2}",
    "US": r"\d{5}(-\d{4})?",
    "DE": r"\d{5}",
    "FR": r"\d{5}",
    "ES": r"\d{5}",
    "IE": r"[ACDEFHKNPRTVWXY]\d[\dW] [\dACDEFHKNPRTVWXY]{4}",
    "PL": r"\d{2}-\d{3}",
    "NL": r"[1-9]\d{3} (?:[A-RT-Z][A-Z]|S[BCE-RT-Z])",  # not SA, SD or SS
    "SE": r"\d{3} \d{2}",
    "IN": r"[1-9]\d{5}",
    "BR": r"\d{5}-\d{3}",
    "JP": r"\d{3}-\d{4}",
}
"""Country -> the full-match regular expression of a well-formed postcode."""
