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


@pytest.fixture
def pii_outside(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    before = set(sys.modules)
    import pii_outside as module

    yield module
    for name in set(sys.modules) - before:  # the benchmark's modules (kpi, redaction...)
        if not name.startswith("custrec"):
            sys.modules.pop(name, None)


def test_the_outside_figures_in_redaction_md_are_the_benchmarks(pii_outside) -> None:  # type: ignore[no-untyped-def]
    """docs/redaction.md's accuracy table is written by `make bench` between its
    markers, not by hand."""
    text = (BENCHMARKS.parent / "docs" / "redaction.md").read_text(encoding="utf-8")
    block = text.split(pii_outside.BEGIN, 1)[1].split(pii_outside.END, 1)[0]
    assert "presidio-evaluator" in block
    for name in pii_outside.REPORTED:
        assert f"| {name}" in block, name
    assert "(filled by make bench)" not in block


def test_the_benchmark_rewrites_only_its_block(pii_outside, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    begin, end = pii_outside.BEGIN, pii_outside.END
    doc = tmp_path / "doc.md"
    doc.write_text(f"before\n{begin}\nold\n{end}\nafter\n", encoding="utf-8")
    pii_outside.write_block(doc, "new figures")
    assert doc.read_text(encoding="utf-8") == f"before\n{begin}\nnew figures\n{end}\nafter\n"
    doc.write_text("no markers\n", encoding="utf-8")
    with pytest.raises(RuntimeError, match="markers"):
        pii_outside.write_block(doc, "x")
