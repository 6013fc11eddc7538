"""Per-value library calls behind a check (libphonenumber's parse and validity, the
normal form of a match field) run once per distinct value of a batch, with the same
verdicts as value by value."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from custrec.schema import checks
from custrec.schema.scalar import per_distinct, phone_ok


def test_per_distinct_calls_once_per_distinct_arguments_and_keeps_order() -> None:
    calls: list[tuple[Any, ...]] = []

    def seen(*args: Any) -> str:
        calls.append(args)
        return "-".join(map(str, args))

    arguments = [("a", 1), ("b", 2), ("a", 1), (pd.NA, None), ("b", 2), (pd.NA, None)]
    assert per_distinct(seen, arguments) == ["a-1", "b-2", "a-1", "<NA>-None", "b-2", "<NA>-None"]
    assert calls == [("a", 1), ("b", 2), (pd.NA, None)]


def test_phone_checks_of_a_batch_run_once_per_distinct_number(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    numbers = ["+44 20 7946 0958", "020 7946 0958", "+44 20 7946 0958", None, "12", "12"]
    countries = ["GB", "GB", "GB", "GB", "GB", "DE"]
    frame = pd.DataFrame({"phone": numbers, "country": countries})
    expected = [
        True if n is None else phone_ok(n, c, "valid")
        for n, c in zip(numbers, countries, strict=True)
    ]
    calls: list[tuple[str, str | None]] = []

    def counted(value: str, region: str | None, level: str = "valid") -> bool:
        calls.append((value, region))
        return phone_ok(value, region, level)

    monkeypatch.setattr(checks, "phone_ok", counted)
    verdicts = checks.check_phone(frame, field="phone", region_field="country")
    assert verdicts.tolist() == expected
    assert sorted(calls) == sorted({("+44 20 7946 0958", "GB"), ("020 7946 0958", "GB"),
                                    ("12", "GB"), ("12", "DE")})  # fmt: skip
