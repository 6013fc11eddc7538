"""Personal data in text nobody here wrote: ``custrec scan`` and Presidio's pattern
recognizers on presidio-evaluator's generated sentences, as whole processes, and what
Presidio still finds in ``custrec redact``'s output of them.

The yardstick is public: ``presidio-evaluator`` (the latest from the package index,
installed with its dependencies, ``presidio-analyzer`` among them, into a throw-away
virtual environment) and its ``PresidioSentenceFaker`` (locale en_US, 5% of sentences in
lower case, seed ``SEED``) generate ``texts`` labelled sentences: customer-service
requests, forms and signatures holding names, street addresses, phone numbers of many
countries, cards, IBANs, SSNs, emails and IP addresses. Nothing of the detector was
written against these texts; the tests do not embed them.

In a temporary directory removed at the end:

- the sentences are written one per line (a line break inside one becomes a space, so
  offsets stay as they are; escaped breaks, ``\\n`` written as two characters, stay);
- taking turns run by run (``repeat`` runs, medians compared; one untimed run of each
  over a few texts first), one process each: (a) ``custrec scan texts.txt`` and (b)
  Presidio's ``AnalyzerEngine`` with its predefined pattern recognizers on a blank spaCy
  pipeline (``benchmarks/redaction.py``, ``REFERENCE_SCAN``) for the six types both look
  for (``SHARED``). Target: (a) at least 5x (b)'s texts per second;
- recall and precision per type for both: a finding counts when a label of its type
  covers the same span with an intersection over union of at least 0.9 (``IOU``); the
  evaluator's ``STREET_ADDRESS`` is compared with custrec's ``LOCATION``. Targets for
  custrec: precision and recall of at least 0.95 over ``SHARED`` together, and of at
  least 0.85 for ``PERSON`` and ``STREET_ADDRESS``;
- the cross-check: the sentences as the ``notes`` column of a CSV file go through
  ``custrec redact --policy`` (``notes: scan``), and (b) and ``custrec scan`` read the
  redacted notes: what they still find of ``SHARED`` (target: nothing).

Called by ``benchmarks/run.py`` (``--only pii-outside``); also runs alone::

    .venv/bin/python benchmarks/pii_outside.py --outside-texts 3000
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from kpi import Runner  # noqa: E402 - benchmarks/ is the script's directory
from redaction import (  # noqa: E402
    REFERENCE_SCAN,
    Hit,
    Presidio,
    Texts,
    Timings,
    at_least,
    custrec_argv,
    hits_by_line,
    install_presidio,
    rate,
    scan_count,
    write_texts,
)

SECTION = "Redaction on outside data: presidio-evaluator's generated sentences"
SEED = 2026
REPEAT = 3
IOU = 0.9
SPEED_TARGET = 5.0
SHARED_TARGET = 0.95
NAMES_TARGET = 0.85
WARM_UP_TEXTS = 50
SHARED = ("EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "US_SSN", "IP_ADDRESS")
"""The types custrec, Presidio's pattern recognizers and the generator all know."""
REPORTED = (*SHARED, "PERSON", "STREET_ADDRESS")
AS_LABELLED = {"LOCATION": "STREET_ADDRESS"}
"""custrec's type -> the generator's, where the names differ."""

TITLES = frozenset("Mr Mrs Ms Miss Mx Dr Prof MD PhD DDS DVM Jr Sr II III".split())  # noqa: SIM905
"""Titles and suffixes in the generator's name labels."""
Row = tuple[str, float, str]
Label = tuple[int, int, str]

# Run by the throw-away environment's interpreter. argv: how many, seed, output file.
# Writes one JSON object per sentence: text, spans [[type, start, end], ...], and beside
# it (".records") the given names and surnames of the generator's FakeNameGenerator.com
# records, where a sentence's first name comes from (its later ones come from Faker's
# en_US lists); prints the versions of presidio-evaluator and Faker.
GENERATE = r"""
import importlib.metadata as m
import json
import sys
import warnings

warnings.simplefilter("ignore")
from presidio_evaluator.data_generator import PresidioSentenceFaker

count, seed, target = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
from presidio_evaluator.data_generator.faker_extensions.datasets import load_fake_person_df
faker = PresidioSentenceFaker("en_US", lower_case_ratio=0.05, random_seed=seed)
with open(target, "w", encoding="utf-8") as out:
    for sample in faker.generate_new_fake_sentences(count):
        spans = [[s.entity_type, s.start_position, s.end_position] for s in sample.spans]
        out.write(json.dumps({"text": sample.full_text, "spans": spans}) + "\n")
records = load_fake_person_df()
words = sorted({str(w) for c in ("first_name", "last_name") for w in records[c].dropna()})
with open(target + ".records", "w", encoding="utf-8") as out:
    out.write("\n".join(words))
print(m.version("presidio-evaluator"), m.version("Faker"))
"""

POLICY = """version: 1
description: Notes shared with a vendor, personal data in them replaced.
fields:
  note_id: keep
  notes: scan
types:
  default: replace
"""


def progress(message: str) -> None:
    print(f"[pii-outside bench] {message}", file=sys.stderr, flush=True)


@dataclass
class Evaluator:
    """presidio-evaluator's environment (:func:`redaction.install_presidio`) and the
    versions of the generator."""

    presidio: Presidio
    version: str = ""
    faker: str = ""
    record_names: frozenset[str] = frozenset()

    @property
    def python(self) -> Path | None:
        return self.presidio.python


def install_evaluator(directory: Path) -> Evaluator:
    """``presidio-evaluator`` (with ``presidio-analyzer``) in a throw-away venv."""
    return Evaluator(install_presidio(directory, "presidio-evaluator"))


def generate(evaluator: Evaluator, directory: Path, count: int) -> list[tuple[str, list[Label]]]:
    assert evaluator.python is not None
    target = directory / "generated.jsonl"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    script = directory / "generate.py"
    script.write_text(GENERATE, encoding="utf-8")
    proc = subprocess.run(
        [str(evaluator.python), str(script), str(count), str(SEED), str(target)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"presidio-evaluator's generator failed: {proc.stderr[-2000:]}")
    evaluator.version, evaluator.faker = proc.stdout.split()[-2:]
    evaluator.record_names = frozenset(
        Path(str(target) + ".records").read_text(encoding="utf-8").split()
    )
    cases = []
    for line in target.read_text(encoding="utf-8").splitlines():
        doc = json.loads(line)
        cases.append((doc["text"], [(int(s), int(e), str(t)) for t, s, e in doc["spans"]]))
    return cases


# --- the figures ----------------------------------------------------------------------


def overlap(a: tuple[int, int], b: tuple[int, int]) -> float:
    """Intersection over union of two spans."""
    inter = max(0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if union else 0.0


@dataclass
class Score:
    support: int = 0
    found: int = 0
    hit_labels: int = 0
    hit_found: int = 0

    @property
    def recall(self) -> float:
        return self.hit_labels / self.support if self.support else 1.0

    @property
    def precision(self) -> float:
        return self.hit_found / self.found if self.found else 1.0

    def add(self, other: Score) -> None:
        self.support += other.support
        self.found += other.found
        self.hit_labels += other.hit_labels
        self.hit_found += other.hit_found

    def text(self) -> str:
        precision = f"{self.precision:.3f}" if self.found else "-"
        return (
            f"recall {self.recall:.3f} ({self.hit_labels:,} of {self.support:,}), "
            f"precision {precision} ({self.found:,} found)"
        )


def score(
    texts: Texts, found: dict[int, list[Hit]], types: Sequence[str] = REPORTED
) -> dict[str, Score]:
    """Per type, labels found and findings right at :data:`IOU`."""
    table = {name: Score() for name in types}
    for number, (_, labels) in enumerate(texts.cases, start=1):
        hits = [
            (h.start, h.end, AS_LABELLED.get(h.type, h.type))
            for h in found.get(number, [])
            if AS_LABELLED.get(h.type, h.type) in table
        ]
        wanted = [label for label in labels if label[2] in table]
        for start, end, name in wanted:
            table[name].support += 1
            if any(t == name and overlap((s, e), (start, end)) >= IOU for s, e, t in hits):
                table[name].hit_labels += 1
        for start, end, name in hits:
            table[name].found += 1
            if any(t == name and overlap((s, e), (start, end)) >= IOU for s, e, t in wanted):
                table[name].hit_found += 1
    return table


def coverage(texts: Texts, found: dict[int, list[Hit]], label: str) -> tuple[float, float]:
    """Characters (not spaces) of ``label`` spans covered by findings of that type, and
    characters of those findings inside such spans: what redaction removes of an
    address or name, and how much else it removes, whatever the span boundaries."""
    labelled = hit = covered = 0
    for number, (text, labels) in enumerate(texts.cases, start=1):
        want = {i for s, e, name in labels if name == label for i in range(s, e)}
        got = {
            i
            for h in found.get(number, [])
            if AS_LABELLED.get(h.type, h.type) == label
            for i in range(h.start, h.end)
        }
        want = {i for i in want if not text[i].isspace()}
        got = {i for i in got if not text[i].isspace()}
        labelled += len(want)
        covered += len(got)
        hit += len(want & got)
    return (hit / labelled if labelled else 1.0), (hit / covered if covered else 1.0)


def person_recall_by_source(
    texts: Texts, found: dict[int, list[Hit]], record_names: frozenset[str]
) -> tuple[Score, Score]:
    """Recall of ``PERSON`` labels (IoU ≥ :data:`IOU`) made of the generator's
    FakeNameGenerator.com record names only, and of the others (Faker's en_US lists,
    which custrec's name lists leave out)."""
    records, others = Score(), Score()
    for number, (text, labels) in enumerate(texts.cases, start=1):
        hits = [(h.start, h.end) for h in found.get(number, []) if h.type == "PERSON"]
        for start, end, name in labels:
            if name != "PERSON":
                continue
            words = [w.strip(".") for w in text[start:end].split()]
            words = [w for w in words if len(w) > 1 and w not in TITLES]
            score = records if all(w in record_names for w in words) else others
            score.support += 1
            if any(overlap(hit, (start, end)) >= IOU for hit in hits):
                score.hit_labels += 1
    return records, others


def together(table: dict[str, Score], types: Sequence[str]) -> Score:
    total = Score()
    for name in types:
        total.add(table[name])
    return total


def verdict(value: float, limit: float) -> str:
    return f"target ≥ {limit:g}: {'met' if value >= limit else 'MISSED'}"


# --- the runs -------------------------------------------------------------------------


def redacted_notes(runner: Runner, texts: Texts) -> Texts:
    """The texts as the notes of a CSV file, through ``custrec redact --policy``."""
    directory = runner.directory
    source = directory / "notes.csv"
    with source.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["note_id", "notes"])
        writer.writerows((n, text) for n, text in enumerate(texts.texts, start=1))
    policy = directory / "vendor.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    target = directory / "notes-redacted.csv"
    runner.run(custrec_argv("redact", str(source), "-o", str(target), "--policy", str(policy)))
    with target.open(encoding="utf-8", newline="") as handle:
        notes = [row["notes"] for row in csv.DictReader(handle)]
    return write_texts(directory / "redacted.txt", [(note, []) for note in notes])


def bench_pii_outside(
    count: int = 3000, repeat: int = REPEAT, doc: Path | None = None
) -> list[Row]:
    """The section's rows; with ``doc`` (``docs/redaction.md`` under ``make bench``),
    its block of figures (between :data:`BEGIN` and :data:`END`) is written anew."""
    with tempfile.TemporaryDirectory(prefix="custrec-bench-pii-") as name:
        runner = Runner(Path(name))
        directory = runner.directory
        evaluator = install_evaluator(directory)
        if evaluator.python is None:
            why = evaluator.presidio.why_not
            return [("presidio-evaluator not available", float("nan"), why)]
        progress(f"generating {count:,} sentences (PresidioSentenceFaker, seed {SEED})")
        texts = write_texts(directory / "texts.txt", generate(evaluator, directory, count))
        warm = write_texts(directory / "warm.txt", texts.cases[:WARM_UP_TEXTS])
        cache = directory / "tldextract-cache"
        script = directory / "presidio_scan.py"
        script.write_text(REFERENCE_SCAN % {"types": list(SHARED)}, encoding="utf-8")
        reference = [str(evaluator.python), str(script)]
        runner.run([*reference, str(warm.path), str(cache)])
        runner.run(custrec_argv("scan", str(warm.path)))
        timings = Timings()
        ours: dict[int, list[Hit]] = {}
        theirs: dict[int, list[Hit]] = {}
        for run in range(repeat):
            progress(f"run {run + 1}/{repeat}: Presidio, then custrec scan, {count:,} texts")
            measured = runner.measure([*reference, str(texts.path), str(cache)])
            timings.theirs.append(measured)
            theirs = hits_by_line(measured.proc.stdout)
            measured = runner.measure(custrec_argv("scan", str(texts.path)))
            if scan_count(measured) != count:
                raise AssertionError(f"custrec scan read {scan_count(measured)} of {count} texts")
            timings.ours.append(measured)
            ours = hits_by_line(measured.proc.stdout)
        progress("the cross-check: custrec redact, then Presidio and custrec scan again")
        redacted = redacted_notes(runner, texts)
        left_theirs = hits_by_line(runner.run([*reference, str(redacted.path), str(cache)]).stdout)
        left_ours = hits_by_line(runner.run(custrec_argv("scan", str(redacted.path))).stdout)
        for number, hits in sorted(left_theirs.items()):
            text = redacted.texts[number - 1]
            shown = ", ".join(f"{h.type} {text[h.start : h.end]!r}" for h in hits)
            progress(f"Presidio in redacted note {number}: {shown}")
    measured = Measured(evaluator, texts, timings, ours, theirs, left_theirs, left_ours)
    if doc is not None:
        write_block(doc, doc_block(measured))
    return rows(measured, repeat)


@dataclass
class Measured:
    """What one run of the benchmark found: the texts, the timings, and the findings
    of custrec and Presidio by line, before and after redaction."""

    evaluator: Evaluator
    texts: Texts
    timings: Timings
    ours: dict[int, list[Hit]]
    theirs: dict[int, list[Hit]]
    left_theirs: dict[int, list[Hit]]
    left_ours: dict[int, list[Hit]]


def rows(measured: Measured, repeat: int) -> list[Row]:
    evaluator, texts, timings = measured.evaluator, measured.texts, measured.timings
    ours, theirs = measured.ours, measured.theirs
    left_theirs, left_ours = measured.left_theirs, measured.left_ours
    count = len(texts.cases)
    labels = Counter(name for _, found in texts.cases for _, _, name in found)
    ratio = timings.base / timings.seconds
    out: list[Row] = [
        (
            f"input: {count:,} sentences of presidio-evaluator {evaluator.version} "
            f"(PresidioSentenceFaker en_US, lower-case ratio 0.05, seed {SEED}; Faker "
            f"{evaluator.faker}), one per line; installed in "
            f"{evaluator.presidio.install_seconds:.0f} s",
            float("nan"),
            ", ".join(f"{name} {labels[name]:,}" for name in REPORTED)
            + f"; other labels {sum(labels.values()) - sum(labels[n] for n in REPORTED):,}",
        ),
        (
            f"(a) custrec scan texts.txt, whole process, median of {repeat}",
            timings.seconds,
            f"{rate(count, timings.seconds, 'texts')}; {ratio:.2f}x Presidio's texts per "
            f"second ({at_least(ratio, SPEED_TARGET)})",
        ),
        (
            f"(b) Presidio's pattern recognizers for {', '.join(SHARED)} (blank spaCy "
            f"pipeline, threshold 0), whole process, median of {repeat} (reference)",
            timings.base,
            f"{rate(count, timings.base, 'texts')}; 1.00x",
        ),
    ]
    mine, reference = score(texts, ours), score(texts, theirs, SHARED)
    shared, shared_ref = together(mine, SHARED), together(reference, SHARED)
    worst = min(shared.precision, shared.recall)
    out.append(
        (
            f"over {', '.join(SHARED)} (IoU ≥ {IOU}): custrec against Presidio",
            float("nan"),
            f"custrec {shared.text()} ({verdict(worst, SHARED_TARGET)}); "
            f"Presidio {shared_ref.text()}",
        )
    )
    for name in REPORTED:
        theirs_text = f"; Presidio {reference[name].text()}" if name in reference else ""
        target = NAMES_TARGET if name not in SHARED else SHARED_TARGET
        low = min(mine[name].precision, mine[name].recall)
        out.append(
            (
                f"{name}: custrec (IoU ≥ {IOU})",
                float("nan"),
                f"{mine[name].text()} ({verdict(low, target)}){theirs_text}",
            )
        )
    for name in ("PERSON", "STREET_ADDRESS"):
        recall, precision = coverage(texts, ours, name)
        out.append(
            (
                f"{name}: characters covered by custrec's findings (whatever the span "
                "boundaries; what redaction removes; the measure proposed for names and "
                "addresses)",
                float("nan"),
                f"recall {recall:.3f}, precision {precision:.3f} "
                f"({verdict(min(recall, precision), NAMES_TARGET)})",
            )
        )
    records, others = person_recall_by_source(texts, ours, evaluator.record_names)
    out.append(
        (
            "PERSON recall by where the generator took the name: its FakeNameGenerator.com "
            "records (in no list of custrec's) / Faker's en_US lists (left out of custrec's)",
            float("nan"),
            f"records {records.recall:.3f} ({records.hit_labels:,} of {records.support:,}); "
            f"Faker en_US {others.recall:.3f} ({others.hit_labels:,} of {others.support:,})",
        )
    )
    kinds = Counter(h.type for hits in left_theirs.values() for h in hits)
    ours_left = Counter(h.type for hits in left_ours.values() for h in hits)
    out.append(
        (
            "cross-check: custrec redact (notes: scan) of the sentences, then Presidio's "
            "recognizers and custrec scan over the redacted notes",
            float("nan"),
            f"Presidio finds {sum(kinds.values()):,} "
            f"({', '.join(f'{k} {v}' for k, v in kinds.most_common()) or 'nothing'}; "
            f"target: nothing); custrec scan finds {sum(ours_left.values()):,}",
        )
    )
    return out


# --- the figures in docs/redaction.md -------------------------------------------------

DOC = REPO / "docs" / "redaction.md"
BEGIN = "<!-- figures: written by make bench (benchmarks/pii_outside.py); do not edit -->"
END = "<!-- end of figures -->"


def doc_block(measured: Measured) -> str:
    """The figures of docs/redaction.md's outside measure, as Markdown."""
    import datetime as dt

    evaluator, texts, timings = measured.evaluator, measured.texts, measured.timings
    ours, theirs, left_theirs = measured.ours, measured.theirs, measured.left_theirs

    mine, reference = score(texts, ours), score(texts, theirs, SHARED)
    lines = [
        f"Measured {dt.date.today().isoformat()}: {len(texts.cases):,} sentences, "
        f"presidio-evaluator {evaluator.version} (Faker {evaluator.faker}), seed {SEED}; "
        f"a finding counts at IoU ≥ {IOU}.",
        "",
        "| type | labels | custrec precision | custrec recall | Presidio precision "
        "| Presidio recall |",
        "|---|---:|---:|---:|---:|---:|",
    ]

    def row(name: str, ours_: Score, theirs_: Score | None) -> str:
        other = f"{theirs_.precision:.3f} | {theirs_.recall:.3f}" if theirs_ is not None else " | "
        return (
            f"| {name} | {ours_.support:,} | {ours_.precision:.3f} | {ours_.recall:.3f} | {other} |"
        )

    lines += [row(name, mine[name], reference[name]) for name in SHARED]
    lines.append(row("the six together", together(mine, SHARED), together(reference, SHARED)))
    lines.append(row("PERSON", mine["PERSON"], None))
    lines.append(row("STREET_ADDRESS (custrec's `LOCATION`)", mine["STREET_ADDRESS"], None))
    person = coverage(texts, ours, "PERSON")
    street = coverage(texts, ours, "STREET_ADDRESS")
    records, others = person_recall_by_source(texts, ours, evaluator.record_names)
    kinds = Counter(h.type for hits in left_theirs.values() for h in hits)
    ratio = timings.base / timings.seconds
    lines += [
        "",
        f"- By characters (what redaction removes, whatever the span boundaries: the "
        f"share of labelled characters covered, and the share of what is covered that is "
        f"labelled): names recall {person[0]:.3f}, precision {person[1]:.3f}; street "
        f"addresses recall {street[0]:.3f}, precision {street[1]:.3f}.",
        f"- Names the generator took from its FakeNameGenerator.com records (in no list of "
        f"custrec's): recall {records.recall:.3f} ({records.hit_labels:,} of "
        f"{records.support:,}); from Faker's en_US lists (left out of custrec's): "
        f"{others.recall:.3f} ({others.hit_labels:,} of {others.support:,}).",
        f"- Speed, whole processes with start-up, median of {len(timings.ours)}: custrec "
        f"scan {timings.seconds:.2f} s, Presidio's recognizers {timings.base:.2f} s: "
        f"{ratio:.1f}x.",
        f"- After `redact` (`notes: scan`): Presidio's recognizers report "
        f"{sum(kinds.values()):,} spans "
        f"({', '.join(f'{k} {v}' for k, v in kinds.most_common()) or 'none'}).",
    ]
    return "\n".join(lines)


def write_block(path: Path, block: str) -> None:
    """``path`` with the text between :data:`BEGIN` and :data:`END` replaced."""
    text = path.read_text(encoding="utf-8")
    head, begin, rest = text.partition(BEGIN)
    _, end, tail = rest.partition(END)
    if not begin or not end:
        raise RuntimeError(f"{path}: the markers {BEGIN!r} and {END!r} are missing")
    path.write_text(f"{head}{BEGIN}\n{block}\n{END}{tail}", encoding="utf-8")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--outside-texts", type=int, default=3000, help="presidio-evaluator sentences"
    )


def main() -> int:
    from run import render  # type: ignore[import-not-found]

    parser = argparse.ArgumentParser(description="custrec scan on outside data, alone")
    add_arguments(parser)
    args = parser.parse_args()
    print(render({SECTION: bench_pii_outside(args.outside_texts, doc=DOC)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
