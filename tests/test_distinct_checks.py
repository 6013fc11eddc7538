"""Per-value library calls behind a check (libphonenumber's parse and validity, card
and id detection, the normal form of a match field) run once per distinct value of a
batch, with the same verdicts as value by value; many distinct values are shared among
worker processes with the same results."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

from custrec.schema import parse_schema, rules, scalar
from custrec.schema.batch import BatchRules, computed, fail_column
from custrec.schema.scalar import per_distinct, phone_ok

SCHEMA = parse_schema(
    """\
name: t
id: id
fields:
  id: {}
  country: {}
  phone:
    checks:
      - {id: possible, check: phone, region_field: country, level: possible}
      - {id: valid, check: phone, region_field: country, level: valid}
"""
)


def test_per_distinct_calls_once_per_distinct_arguments_and_keeps_order() -> None:
    calls: list[tuple[Any, ...]] = []

    def seen(*args: Any) -> str:
        calls.append(args)
        return "-".join(map(str, args))

    arguments = [("a", 1), ("b", 2), ("a", 1), (None, None), ("b", 2), (None, None)]
    assert per_distinct(seen, arguments) == ["a-1", "b-2", "a-1", "None-None", "b-2", "None-None"]
    assert calls == [("a", 1), ("b", 2), (None, None)]


def test_phone_checks_of_a_batch_run_once_per_distinct_number(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    numbers = ["+44 20 7946 0958", "020 7946 0958", "+44 20 7946 0958", None, "12", "12"]
    countries = ["GB", "GB", "GB", "GB", "GB", "DE"]
    expected = [
        True if n is None else phone_ok(n, c, "valid")
        for n, c in zip(numbers, countries, strict=True)
    ]
    calls: list[tuple[str, str | None, str]] = []

    def counted(value: str, region: str | None, level: str = "valid") -> bool:
        calls.append((value, region, level))
        return phone_ok(value, region, level)

    monkeypatch.setattr(scalar, "phone_ok", counted)
    batch = pa.table({"id": ["a"] * 6, "country": countries, "phone": numbers})
    evaluated = BatchRules(SCHEMA).evaluate(batch)
    verdicts = [not failed for failed in evaluated.frame.get_column(fail_column("valid"))]
    assert verdicts == expected
    # One parse per distinct (number, country); both levels come from it.
    pairs = {("+44 20 7946 0958", "GB"), ("020 7946 0958", "GB"), ("12", "GB"), ("12", "DE")}
    levels = ("possible", "valid")
    assert sorted(calls) == sorted((v, r, level) for v, r in pairs for level in levels)


def test_many_distinct_numbers_are_shared_among_workers_with_the_same_results(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import custrec.schema.batch as batch

    keys = [f"GB\x00+44 20 7946 {n:04d}" for n in range(300)] + ["DE\x00030 1234567", "\x0012"]
    monkeypatch.setattr(batch, "PARALLEL_KEYS", 10)
    monkeypatch.setenv("CUSTREC_WORKERS", "2")
    shared = computed(rules.phone_facts, keys)
    assert [pool.running for pool in batch._POOLS.values()] == [2]  # the workers ran them
    assert shared == [rules.phone_facts(key) for key in keys]
    assert {shared[0], shared[-1]} == {rules.PHONE_POSSIBLE | rules.PHONE_VALID, 0}
    # A function the workers cannot import by name is called here.
    assert computed(lambda key: key.upper(), ["a", "b"] * 10) == ["A", "B"] * 10
    for pool in batch._POOLS.values():
        pool.close()
    batch._POOLS.clear()


def test_workers_do_not_inherit_secrets_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import os

    from custrec.schema.workers import Pool

    monkeypatch.setenv("CUSTREC_PASSPHRASE", "correct horse")
    monkeypatch.setenv("CUSTREC_KEY_FILE", "/somewhere/steward.key")
    pool = Pool(1)
    try:
        seen = pool.map(os.getenv, ["CUSTREC_PASSPHRASE", "CUSTREC_KEY_FILE", "PATH"])
        assert pool.running == 1
    finally:
        pool.close()
    assert seen[:2] == [None, None]
    assert seen[2]  # the worker did run, with what starting Python needs


def test_when_workers_cannot_run_the_calls_are_made_here(monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker that exits at once (here: not Python at all) loses nothing: the calls
    are made in this process, with the same results."""
    import sys

    from custrec.schema.workers import Pool

    keys = [f"GB\x00+44 20 7946 {n:04d}" for n in range(50)]
    monkeypatch.setattr(sys, "executable", "/bin/false")
    pool = Pool(2)
    try:
        assert pool.map(rules.phone_facts, keys) == [rules.phone_facts(k) for k in keys]
        assert pool.running == 0  # the failed workers were stopped
    finally:
        pool.close()
