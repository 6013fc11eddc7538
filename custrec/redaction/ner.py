"""Person names and places from a spaCy pipeline the user has installed
(``custrec scan --ner spacy:MODEL``, the same for ``redact``).

custrec finds names and addresses offline with its name lists and patterns
(:mod:`custrec.redaction.gazetteer`, :mod:`custrec.redaction.addresses`); a
statistical model finds more, in more languages, but needs weights that custrec does
not ship and cannot download at run time. Where a user has a spaCy pipeline (a package
such as ``en_core_web_lg``, installed with ``python -m spacy download``, or a pipeline
directory), its entities are added to custrec's own findings: ``PERSON`` and ``PER`` as
``PERSON``; ``GPE``, ``LOC`` and ``FAC`` as ``LOCATION`` (the mapping Presidio uses),
score 0.85, rule ``ner_spacy``. spaCy is never required: without it, ``--ner`` exits 2
saying what to install.
"""

from __future__ import annotations

from typing import Any

from custrec.errors import UsageError
from custrec.redaction.findings import Finding

__all__ = ["LABELS", "SpacyEntities", "entity_finder"]

LABELS = {"PERSON": "PERSON", "PER": "PERSON", "GPE": "LOCATION", "LOC": "LOCATION",
          "FAC": "LOCATION"}  # fmt: skip
"""spaCy's entity labels (OntoNotes and WikiNER schemes) -> custrec's types."""
SCORE = 0.85
_INSTALL = "pip install spacy, then python -m spacy download en_core_web_sm (or another pipeline)"


class SpacyEntities:
    """A loaded spaCy pipeline, called on one text at a time."""

    def __init__(self, model: str) -> None:
        try:
            import spacy
        except ImportError:
            raise UsageError(f"--ner spacy:{model}: spaCy is not installed; {_INSTALL}") from None
        try:
            self._nlp: Any = spacy.load(model)
        except (OSError, ValueError, ImportError) as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise UsageError(
                f"--ner spacy:{model}: no spaCy pipeline of that name or directory ({first}); "
                f"{_INSTALL}"
            ) from None
        if not self._nlp.has_pipe("ner") and not self._nlp.has_pipe("entity_ruler"):
            raise UsageError(f"--ner spacy:{model}: the pipeline finds no entities (no ner)")
        self.model = model

    def __call__(self, text: str) -> list[Finding]:
        out = []
        for entity in self._nlp(text).ents:
            kind = LABELS.get(entity.label_)
            if kind is not None and entity.text.strip():
                out.append(
                    Finding(
                        entity.start_char, entity.end_char, kind, SCORE, "ner_spacy",
                        f"an entity {entity.label_} of the spaCy pipeline {self.model}",
                    )
                )  # fmt: skip
        return out


def entity_finder(spec: str) -> SpacyEntities:
    """The finder that ``--ner SPEC`` names: ``spacy:MODEL``, MODEL a pipeline package
    or directory."""
    engine, _, model = spec.partition(":")
    if engine != "spacy" or not model.strip():
        raise UsageError(
            f"--ner {spec}: expected spacy:MODEL, MODEL a spaCy pipeline (en_core_web_sm) "
            "or its directory"
        )
    return SpacyEntities(model.strip())
