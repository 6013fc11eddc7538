"""``--ner spacy:MODEL``: the names and places of an installed spaCy pipeline are added
to custrec's own findings in ``scan`` and ``redact``; without spaCy or the pipeline,
exit 2 saying what to install.

The pipeline here is built in the test (a blank English pipeline with an entity ruler,
saved to a directory): no model weights are downloaded, and the entities are made-up
words no name list or pattern of custrec's finds, so only the pipeline can find them.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import pytest
import spacy

from custrec.errors import UsageError
from custrec.redaction.detect import Detector
from custrec.redaction.ner import SpacyEntities, entity_finder

from .conftest import InvokeCli, write

TEXT = "Call back Zorblat Quux, who moved to Vexmoor last week; card 4111 1111 1111 1111"


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns(  # type: ignore[attr-defined]
        [
            {"label": "PERSON", "pattern": "Zorblat Quux"},
            {"label": "GPE", "pattern": "Vexmoor"},
            {"label": "ORG", "pattern": "Quantrix"},  # not a type custrec reports
        ]
    )
    directory = tmp_path_factory.mktemp("spacy") / "tiny_ner"
    nlp.to_disk(directory)
    return directory


def test_the_pipeline_adds_its_names_and_places(pipeline: Path) -> None:
    found = Detector(entities=entity_finder(f"spacy:{pipeline}")).find(TEXT + " at Quantrix")
    got = {(TEXT[f.start : f.end], f.type, f.rule) for f in found}
    assert ("Zorblat Quux", "PERSON", "ner_spacy") in got
    assert ("Vexmoor", "LOCATION", "ner_spacy") in got
    assert ("4111 1111 1111 1111", "CREDIT_CARD", "credit_card") in got
    assert not any(f.rule == "ner_spacy" and f.type not in ("PERSON", "LOCATION") for f in found)
    plain = {TEXT[f.start : f.end] for f in Detector().find(TEXT)}
    assert "Zorblat Quux" not in plain  # only the pipeline finds it
    assert "Vexmoor" not in plain


def test_the_types_asked_for_limit_the_pipeline_too(pipeline: Path) -> None:
    detector = Detector(types=["PERSON"], entities=SpacyEntities(str(pipeline)))
    assert [(TEXT[f.start : f.end], f.type) for f in detector.find(TEXT)] == [
        ("Zorblat Quux", "PERSON")
    ]


def test_scan_with_ner_reports_the_pipelines_findings(
    cli: InvokeCli, tmp_path: Path, pipeline: Path
) -> None:
    source = write(tmp_path / "notes.txt", TEXT + "\n")
    result = cli("scan", str(source), "--ner", f"spacy:{pipeline}", "--explain")
    assert result.exit_code == 0, result.output
    findings = [json.loads(line) for line in result.stdout.splitlines()]
    rules = {(f["type"], f["rule"]) for f in findings}
    assert {("PERSON", "ner_spacy"), ("LOCATION", "ner_spacy")} <= rules
    assert all("Zorblat" not in line for line in result.stdout.splitlines())  # no values


def test_redact_with_ner_replaces_the_pipelines_findings(
    cli: InvokeCli, tmp_path: Path, pipeline: Path
) -> None:
    source = tmp_path / "notes.csv"
    with source.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([["note_id", "notes"], ["1", TEXT]])
    policy = write(
        tmp_path / "policy.yaml",
        "version: 1\nfields:\n  note_id: keep\n  notes: scan\ntypes:\n  default: replace\n",
    )
    target = tmp_path / "out.csv"
    args = ["redact", str(source), "-o", str(target), "--policy", str(policy)]
    result = cli(*args, "--ner", f"spacy:{pipeline}")
    assert result.exit_code == 0, result.output
    notes = target.read_text(encoding="utf-8")
    assert "Zorblat" not in notes
    assert "Vexmoor" not in notes
    assert "4111" not in notes
    assert "<PERSON>" in notes
    assert "<LOCATION>" in notes
    result = cli(*args)  # without the pipeline the made-up name stays
    assert result.exit_code == 0, result.output
    assert "Zorblat Quux" in target.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("spacy:/no/such/pipeline", "no spaCy pipeline of that name or directory"),
        ("spacy:", "expected spacy:MODEL"),
        ("flair:ner-english", "expected spacy:MODEL"),
    ],
)
def test_a_wrong_ner_exits_2_saying_what_is_expected(
    cli: InvokeCli, tmp_path: Path, spec: str, message: str
) -> None:
    source = write(tmp_path / "notes.txt", "hello\n")
    result = cli("scan", str(source), "--ner", spec)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_without_spacy_ner_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "spacy", None)  # an import of spacy now fails
    with pytest.raises(UsageError, match="spaCy is not installed; pip install spacy"):
        entity_finder("spacy:en_core_web_sm")
