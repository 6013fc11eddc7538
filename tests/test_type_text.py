"""The store's text grammar for typed columns (``custrec.store.records``: integers,
decimals, true/false words) has two executions: ``convert_text`` for one value
(``update``, ``put``) and collect's vectorised conversion of a batch (Arrow). A
hypothesis property proves they agree on every text, and boundary verdicts are pinned
with explicit expected values, because two executions can agree and both be wrong."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custrec.collect import _to_kind
from custrec.store.records import FALSE_TEXTS, TRUE_TEXTS, convert_text

KINDS = ("int64", "float64", "bool")

texts = st.one_of(
    st.text(max_size=12),
    st.from_regex(r"[ +-]?[0-9]{0,21}(\.[0-9]{0,3})?([eE][+-]?[0-9]{1,3})? ?", fullmatch=True),
    st.sampled_from([*TRUE_TEXTS, *FALSE_TEXTS]).map(lambda t: t.upper()),
    st.integers(-(2**64), 2**64).map(str),
)


def one_by_one(values: list[str], kind: str) -> list[object]:
    out: list[object] = []
    for value in values:
        try:
            out.append(convert_text(value, kind))
        except ValueError:
            out.append("refused")
    return out


def in_a_batch(values: list[str], kind: str) -> list[object]:
    converted, bad = _to_kind(pa.array(values, type=pa.string()), kind)
    out: list[object] = converted.to_pylist()
    for index in bad:
        out[index] = "refused"
    return out


@settings(max_examples=300, deadline=None)
@given(st.lists(texts, min_size=1, max_size=20), st.sampled_from(KINDS))
def test_one_value_and_a_batch_read_text_alike(values: list[str], kind: str) -> None:
    assert in_a_batch(values, kind) == one_by_one(values, kind)


@pytest.mark.parametrize(
    ("text", "kind", "expected"),
    [
        ("9223372036854775807", "int64", 9223372036854775807),  # the largest int64
        ("-9223372036854775808", "int64", -9223372036854775808),  # the smallest
        ("9223372036854775808", "int64", "refused"),  # one beyond: refused, not clamped
        ("-9223372036854775809", "int64", "refused"),
        ("+42", "int64", 42),
        (" 42", "int64", "refused"),  # the store keeps text as written: no trimming
        ("4.0", "int64", "refused"),
        ("1e3", "int64", "refused"),
        ("1e3", "float64", 1000.0),
        (".5", "float64", 0.5),
        ("5.", "float64", 5.0),
        ("nan", "float64", "refused"),
        ("inf", "float64", "refused"),
        ("TRUE", "bool", True),
        ("0", "bool", False),
        ("maybe", "bool", "refused"),
    ],
)
def test_boundary_verdicts(text: str, kind: str, expected: object) -> None:
    assert one_by_one([text], kind) == [expected]
    assert in_a_batch([text], kind) == [expected]
