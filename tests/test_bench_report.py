"""benchmarks/run.py writes docs/performance.md: a partial run (``--only``) replaces
its own sections and keeps the others, each section saying when it was measured."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import run as module

    yield module
    sys.modules.pop("run", None)


def test_a_partial_run_replaces_only_its_sections(run) -> None:  # type: ignore[no-untyped-def]
    old = run.render({"A": [("a row", 1.0, "1x")], "B": [("b row", 2.0, "2x")]})
    merged = run.merge(old, ["A", "B", "C"], {"B": [("new b", 3.0, "3x")], "C": []})
    sections = run.sections_of(merged)
    assert list(sections) == ["A", "B", "C"]
    assert "| a row | 1.000 | 1x |" in sections["A"]
    assert "new b" in sections["B"]
    assert "b row" not in sections["B"]
    assert all("Measured " in text for text in sections.values())
    assert merged.startswith("# Performance")
    assert merged.count("# Performance") == 1
