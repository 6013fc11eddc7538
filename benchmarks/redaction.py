"""Redaction benchmarks: ``custrec scan`` beside Presidio's pattern recognizers (texts
per second, and recall and precision per type on the same labelled texts), and
``custrec redact`` of a customer file, each a whole process, measured in one run.

In a temporary directory removed at the end:

Scan speed. ``scan_texts`` short labelled texts (customer-service notes and transcript
lines) are generated with ``tests/pii_corpus.py`` (``corpus(scan_texts, SEED)``) and
written one per line, UTF-8; a line break inside a text (the generator writes none)
becomes a space, so that offsets and labels stay as they are. Then, taking turns run by
run (``repeat`` runs each, the medians compared; one untimed run of each over a few
texts first, for imports and the page cache), one process each, no workers:

- (a) ``custrec scan texts.txt``: plain text, one document per line, one JSON finding
  per line on stdout, all of custrec's types;
- (b) the reference: Presidio's analyzer (``presidio-analyzer``, the latest from the
  package index, installed with its dependencies into a throw-away virtual environment
  so that the project's do not change; when it cannot be had, the rows say why and
  custrec is reported alone) run by a small script written into the temporary
  directory (``REFERENCE_SCAN``). It reads the same file the same way and writes one
  JSON finding per line. ``AnalyzerEngine`` is built on spaCy's blank English pipeline
  (a tokenizer: no model is downloaded and no NER runs; as it has no lemmatizer, the
  lower-case token stands in for the lemma, so that Presidio's context words still
  raise scores) and asked for the seven types its predefined pattern recognizers share
  with custrec, ``REFERENCE_TYPES`` (``UkNinoRecognizer`` is added: Presidio's default
  configuration leaves it out); its default score threshold (0) applies. The email
  recognizer's ``tldextract`` uses its bundled public-suffix list (no download; its
  cache in the temporary directory).

Target: (a) at least 5x (b)'s texts per second.

Recall and precision. On the generated texts and the hand-written hard cases
(``tests/data/pii/hard_cases.jsonl``, when present; line breaks made spaces the same
way), a finding counts when its span and type equal a label's (``benchmarks/pii_eval.py``
``evaluate``): per type, recall, precision and support, for both tools. custrec's
findings are ``Detector().find(text)`` in this process, which must equal (a)'s output
on every generated text (the benchmark stops with an error when they do not);
Presidio's are (b)'s output, and one more untimed run of (b)'s script over the hard
cases. Presidio's figures are also given for its findings scoring at least 0.5 (custrec's
default threshold), for information. Target: over ``REFERENCE_TYPES``, custrec's recall
higher than Presidio's (at its default threshold).

Redact speed. ``redact_rows`` customer records are generated with ``custrec generate
customers --rows N --bad-share 0`` to CSV (timed apart, for information; no deliberately
bad records, as one date of birth that is not a date stops ``redact`` with an error) and
a key is made with ``custrec key new``; then, taking turns run by run:

- (c) ``custrec redact customers.csv -o out.csv --schema schemas/customer.yaml
  --key-file K --summary-format json``: rows per second and peak RSS; its summary must
  count every record, and the output is compared byte for byte across runs;
- (d) for context: ``pandas.read_csv(dtype=str, keep_default_na=False)`` and
  ``to_csv`` of the same file with this interpreter (information, no target).

Then, once, untimed: ``custrec scan out.csv --field notes``, the findings left in the
redacted notes (information). Peak RSS is measured through the small launcher of
records.py (``RSS_LAUNCHER``).

Called by ``benchmarks/run.py``; also runs alone for quick iterations::

    .venv/bin/python benchmarks/redaction.py --scan-texts 2000 --redact-rows 5000
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from kpi import Measure, Runner  # noqa: E402 - benchmarks/ is the script's directory
from records import Installed, install_package, last_line, mib  # noqa: E402
from store import library_mtimes  # noqa: E402

SEED = 2026
REPEAT = 3
SPEED_TARGET = 5.0
REFERENCE_THRESHOLD = 0.5
WARM_UP_TEXTS = 50
WARM_UP_ROWS = 100
SCHEMA = REPO / "schemas" / "customer.yaml"

Row = tuple[str, float, str]

SECTION = "Redaction: scan against Presidio's pattern recognizers, and redact"

REFERENCE_TYPES = (
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "IBAN_CODE",
    "US_SSN",
    "UK_NINO",
    "IP_ADDRESS",
)

# The reference (b), a whole process run by the throw-away environment's interpreter.
# argv: the text file (one document per line), tldextract's cache directory. Writes one
# JSON object per finding: line (1-based), start, end, type, score.
REFERENCE_SCAN = r'''
import json
import os
import sys

os.environ["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] = ""  # the bundled list: no download
os.environ["TLDEXTRACT_CACHE"] = sys.argv[2]

import spacy
from presidio_analyzer import AnalyzerEngine
from presidio_analyzer.nlp_engine import NlpArtifacts, SpacyNlpEngine
from presidio_analyzer.predefined_recognizers import UkNinoRecognizer

ENTITIES = %(types)r


class BlankSpacyNlpEngine(SpacyNlpEngine):
    """spaCy's blank English pipeline: tokens, no trained model, no entities. It has no
    lemmatizer: the lower-case token stands in for the lemma (context words)."""

    def load(self):
        self.nlp = {"en": spacy.blank("en")}

    def _doc_to_nlp_artifact(self, doc, language):
        return NlpArtifacts(
            entities=[],
            tokens=doc,
            tokens_indices=[token.idx for token in doc],
            lemmas=[token.lower_ for token in doc],
            nlp_engine=self,
            language=language,
            scores=[],
        )


engine = BlankSpacyNlpEngine(models=[{"lang_code": "en", "model_name": "blank"}])
analyzer = AnalyzerEngine(nlp_engine=engine, supported_languages=["en"])
if not any("UK_NINO" in r.supported_entities for r in analyzer.registry.recognizers):
    analyzer.registry.add_recognizer(UkNinoRecognizer())
missing = sorted(set(ENTITIES) - set(analyzer.get_supported_entities("en")))
if missing:
    sys.exit(f"no Presidio recognizer for {', '.join(missing)}")

write = sys.stdout.write
dumps = json.dumps
with open(sys.argv[1], encoding="utf-8", newline="") as stream:
    for number, line in enumerate(stream, start=1):
        text = line.rstrip("\r\n")
        if not text:
            continue
        for r in analyzer.analyze(text, language="en", entities=ENTITIES):
            write(dumps({"line": number, "start": r.start, "end": r.end,
                         "type": r.entity_type, "score": round(r.score, 4)}))
            write("\n")
'''

# argv: the CSV file, the copy to write.
PANDAS_COPY = (
    "import sys, pandas; pandas.read_csv(sys.argv[1], dtype=str, keep_default_na=False)"
    ".to_csv(sys.argv[2], index=False)"
)

SCANNED = re.compile(r"scanned (\d+) value")
LINE_BREAKS = str.maketrans({"\r": " ", "\n": " "})


def progress(message: str) -> None:
    print(f"[redaction bench] {message}", file=sys.stderr, flush=True)


# --- the reference's environment ------------------------------------------------------


@dataclass
class Presidio(Installed):
    spacy: str = ""


def install_presidio(directory: Path, package: str = "presidio-analyzer") -> Presidio:
    """``package`` (``presidio-analyzer``, or a package that brings it, such as
    ``presidio-evaluator``) from the package index in a throw-away virtual environment."""
    installed = install_package(directory, package, version_of="presidio-analyzer")
    if installed.python is None:
        return Presidio(install_seconds=installed.install_seconds, why_not=installed.why_not)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    check = subprocess.run(
        [str(installed.python), "-c", "import presidio_analyzer, spacy; print(spacy.__version__)"],
        env=env,
        capture_output=True,
        text=True,
    )
    if check.returncode != 0:
        return Presidio(
            install_seconds=installed.install_seconds,
            why_not=f"import presidio_analyzer failed: {last_line(check.stderr)}",
        )
    return Presidio(
        python=installed.python,
        install_seconds=installed.install_seconds,
        version=installed.version,
        spacy=check.stdout.strip(),
    )


# --- the texts and the findings -------------------------------------------------------


class Hit(NamedTuple):
    """One finding as read from a process's output."""

    start: int
    end: int
    type: str
    score: float


@dataclass
class Recorded:
    """Findings already made, looked up by text: a detector for ``evaluate``."""

    by_text: dict[str, list[Hit]]
    threshold: float = 0.0

    def find(self, text: str) -> list[Hit]:
        return [h for h in self.by_text.get(text, []) if h.score >= self.threshold]


@dataclass
class Texts:
    """Labelled texts written one per line to ``path``."""

    path: Path
    cases: list[tuple[str, list[tuple[int, int, str]]]]
    broken: int = 0  # texts whose line breaks became spaces

    @property
    def texts(self) -> list[str]:
        return [text for text, _ in self.cases]


def write_texts(path: Path, cases: Sequence[tuple[str, Sequence[tuple[int, int, str]]]]) -> Texts:
    """``cases`` one per line, a line break inside a text made a space (same length)."""
    kept: list[tuple[str, list[tuple[int, int, str]]]] = []
    broken = 0
    with path.open("w", encoding="utf-8", newline="\n") as out:
        for text, labels in cases:
            flat = text.translate(LINE_BREAKS)
            broken += flat != text
            kept.append((flat, [(int(s), int(e), str(t)) for s, e, t in labels]))
            out.write(flat)
            out.write("\n")
    return Texts(path, kept, broken)


def hits_by_line(stdout: str) -> dict[int, list[Hit]]:
    found: dict[int, list[Hit]] = {}
    for line in stdout.splitlines():
        if line.strip():
            doc = json.loads(line)
            found.setdefault(int(doc["line"]), []).append(
                Hit(int(doc["start"]), int(doc["end"]), str(doc["type"]), float(doc["score"]))
            )
    return found


def by_text(texts: Texts, found: dict[int, list[Hit]]) -> dict[str, list[Hit]]:
    return {text: found.get(number, []) for number, text in enumerate(texts.texts, start=1)}


def check_scan_output(
    texts: Texts, scanned: dict[int, list[Hit]], ours: Recorded, mtimes: dict[Path, float]
) -> None:
    """(a)'s output must equal ``Detector().find`` in this process, text by text
    (``mtimes``: the library's files when (a) ran, named in the error when changed)."""
    wrong = []
    for number, text in enumerate(texts.texts, start=1):
        got = {(h.start, h.end, h.type) for h in scanned.get(number, [])}
        want = {(h.start, h.end, h.type) for h in ours.find(text)}
        if got != want:
            wrong.append(f"line {number}: scan {sorted(got)}, Detector {sorted(want)}")
    extra = sorted(set(scanned) - set(range(1, len(texts.texts) + 1)))
    if extra:
        wrong.append(f"findings on lines past the end: {extra[:5]}")
    if wrong:
        raise AssertionError(
            f"custrec scan and Detector().find disagree on {len(wrong)} text(s)"
            f"{changed_since(mtimes)}:\n  " + "\n  ".join(wrong[:20])
        )


def changed_since(mtimes: dict[Path, float]) -> str:
    """The library's files changed since ``mtimes`` were taken, for an error message."""
    changed = [str(p.relative_to(REPO)) for p, t in library_mtimes().items() if mtimes.get(p) != t]
    return f" (the library changed meanwhile: {', '.join(changed)})" if changed else ""


def scan_count(measured: Measure) -> int:
    match = SCANNED.search(measured.proc.stderr)
    if match is None:
        raise AssertionError(f"custrec scan printed no count: {measured.proc.stderr[-500:]}")
    return int(match.group(1))


# --- the figures ----------------------------------------------------------------------

Table = dict[str, dict[str, float]]


def totals(table: Table, types: Sequence[str]) -> tuple[float, float, int, int]:
    """Recall and precision over ``types`` together, with the labels and findings."""
    support = found = hit_labels = hit_found = 0
    for name in types:
        entry = table.get(name)
        if entry is None:
            continue
        support += int(entry["support"])
        found += int(entry["found"])
        hit_labels += round(entry["recall"] * entry["support"])
        hit_found += round(entry["precision"] * entry["found"])
    return (
        hit_labels / support if support else 1.0,
        hit_found / found if found else 1.0,
        support,
        found,
    )


def figures(entry: dict[str, float] | None) -> str:
    if entry is None:
        return "recall 0.0000, precision - (0 found)"
    precision = f"{entry['precision']:.4f}" if entry["found"] else "-"
    return f"recall {entry['recall']:.4f}, precision {precision} ({int(entry['found']):,} found)"


def compared(ours: float, theirs: float) -> str:
    if ours > theirs:
        return "custrec's recall higher"
    if ours < theirs:
        return "custrec's recall LOWER"
    return "same recall"


def at_least(ratio: float, limit: float) -> str:
    return f"target ≥ {limit:g}x: {'met' if ratio >= limit else 'MISSED'}"


def rate(count: int, seconds: float, unit: str) -> str:
    return f"{count / seconds:,.0f} {unit}/s"


# --- the runs -------------------------------------------------------------------------


@dataclass
class Timings:
    ours: list[Measure] = field(default_factory=list)
    theirs: list[Measure] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return statistics.median(m.seconds for m in self.ours)

    @property
    def base(self) -> float:
        return statistics.median(m.seconds for m in self.theirs)


def custrec_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "custrec", *args]


def scan_section(runner: Runner, presidio: Presidio, scan_texts: int, repeat: int) -> list[Row]:
    """Scan speed, then recall and precision per type (see the module docstring)."""
    from pii_eval import HARD_CASES, evaluate, load_hard_cases

    from custrec.redaction.detect import Detector
    from tests.pii_corpus import corpus

    directory = runner.directory
    progress(f"generating {scan_texts:,} labelled texts (tests/pii_corpus.py, seed {SEED})")
    texts = write_texts(directory / "texts.txt", corpus(scan_texts, SEED))
    hard = write_texts(directory / "hard.txt", load_hard_cases()) if HARD_CASES.exists() else None
    warm = write_texts(directory / "warm.txt", texts.cases[:WARM_UP_TEXTS])
    reference: list[str] = []
    cache = directory / "tldextract-cache"
    if presidio.python is not None:
        script = directory / "presidio_scan.py"
        script.write_text(REFERENCE_SCAN % {"types": list(REFERENCE_TYPES)}, encoding="utf-8")
        reference = [str(presidio.python), str(script)]
        runner.run([*reference, str(warm.path), str(cache)])
    else:
        progress(f"Presidio not available: {presidio.why_not}")
    runner.run(custrec_argv("scan", str(warm.path)))

    mtimes = library_mtimes()
    timings = Timings()
    scanned: dict[int, list[Hit]] = {}
    theirs_found: dict[int, list[Hit]] = {}
    for run in range(repeat):
        if reference:
            progress(f"run {run + 1}/{repeat}: (b) Presidio over {scan_texts:,} texts")
            measured = runner.measure([*reference, str(texts.path), str(cache)])
            found = hits_by_line(measured.proc.stdout)
            if theirs_found and found != theirs_found:
                raise AssertionError("the Presidio reference changed its answer between runs")
            timings.theirs.append(measured)
            theirs_found = found
        progress(f"run {run + 1}/{repeat}: (a) custrec scan of {scan_texts:,} texts")
        measured = runner.measure(custrec_argv("scan", str(texts.path)))
        if scan_count(measured) != scan_texts:
            raise AssertionError(f"custrec scan read {scan_count(measured)} of {scan_texts} texts")
        found = hits_by_line(measured.proc.stdout)
        if scanned and found != scanned:
            raise AssertionError(
                f"custrec scan changed its answer between runs{changed_since(mtimes)}"
            )
        timings.ours.append(measured)
        scanned = found

    progress("recall and precision: custrec in process, checked against its scan output")
    detector = Detector()
    cases = texts.cases + (hard.cases if hard is not None else [])
    ours = Recorded(
        {
            text: [Hit(f.start, f.end, f.type, f.score) for f in detector.find(text)]
            for text, _ in cases
        }
    )
    check_scan_output(texts, scanned, ours, mtimes)
    ours_table = evaluate(ours, cases)
    theirs_table: Table = {}
    theirs_strict: Table = {}
    if reference:
        recorded = by_text(texts, theirs_found)
        if hard is not None:
            progress(f"(b) Presidio over the {len(hard.cases)} hard cases (untimed)")
            proc = runner.run([*reference, str(hard.path), str(cache)])
            recorded.update(by_text(hard, hits_by_line(proc.stdout)))
        theirs_table = evaluate(Recorded(recorded), cases)
        theirs_strict = evaluate(Recorded(recorded, REFERENCE_THRESHOLD), cases)

    chars = sum(len(text) for text in texts.texts) / max(1, scan_texts)
    out: list[Row] = [
        (
            f"input: {scan_texts:,} generated labelled texts (tests/pii_corpus.py, seed {SEED}), "
            f"one per line, mean {chars:.0f} characters, {mib(texts.path)}; "
            f"{texts.broken:,} with a line break (made a space)",
            float("nan"),
            f"{sum(len(labels) for _, labels in texts.cases):,} labels; "
            f"{sum(1 for _, labels in texts.cases if not labels):,} texts without any",
        )
    ]
    seconds = timings.seconds
    peak = max(m.kib for m in timings.ours)
    findings = sum(len(v) for v in scanned.values())
    what = (
        f"(a) custrec scan texts.txt (plain text, ndjson findings, all its types), "
        f"{scan_texts:,} texts, whole process, single process (no workers), median of {repeat}"
    )
    same = f"{findings:,} findings, the same as Detector().find in process"
    if timings.theirs:
        base = timings.base
        ratio = base / seconds
        out += [
            (
                what,
                seconds,
                f"{rate(scan_texts, seconds, 'texts')}; {ratio:.2f}x Presidio's texts per "
                f"second ({at_least(ratio, SPEED_TARGET)}); peak RSS {peak / 1024:,.0f} MiB; "
                f"{same}",
            ),
            (
                f"(b) Presidio {presidio.version} AnalyzerEngine on a blank spaCy "
                f"{presidio.spacy} 'en' pipeline (tokenizer only, no NER model; lower-case "
                f"tokens as lemmas for context words), its predefined pattern recognizers "
                f"for {', '.join(REFERENCE_TYPES)} (UkNinoRecognizer added), default score "
                f"threshold 0; same file, whole process, single process (no workers), "
                f"median of {repeat} (reference; presidio-analyzer in a throw-away venv, "
                f"installed in {presidio.install_seconds:.0f} s)",
                base,
                f"{rate(scan_texts, base, 'texts')}; 1.00x; peak RSS "
                f"{max(m.kib for m in timings.theirs) / 1024:,.0f} MiB; "
                f"{sum(len(v) for v in theirs_found.values()):,} findings",
            ),
        ]
    else:
        out += [
            (
                what,
                seconds,
                f"{rate(scan_texts, seconds, 'texts')}; no reference to compare with; peak "
                f"RSS {peak / 1024:,.0f} MiB; {same}",
            ),
            ("(b) Presidio's pattern recognizers, same file", float("nan"), presidio.why_not),
        ]

    labelled = f"{scan_texts:,} generated texts" + (
        f" + {len(hard.cases):,} hard cases" if hard is not None else " (no hard cases file)"
    )
    our_recall, our_precision, support, _ = totals(ours_table, REFERENCE_TYPES)
    if theirs_table:
        their_recall, their_precision, _, _ = totals(theirs_table, REFERENCE_TYPES)
        strict_recall, strict_precision, _, _ = totals(theirs_strict, REFERENCE_TYPES)
        met = "met" if our_recall > their_recall else "MISSED"
        summary = (
            f"custrec recall {our_recall:.4f}, precision {our_precision:.4f}; Presidio "
            f"recall {their_recall:.4f}, precision {their_precision:.4f} (score ≥ "
            f"{REFERENCE_THRESHOLD:g}: recall {strict_recall:.4f}, precision "
            f"{strict_precision:.4f}); target: custrec's recall higher: {met}"
        )
    else:
        summary = (
            f"custrec recall {our_recall:.4f}, precision {our_precision:.4f}; no reference "
            "to compare with"
        )
    out.append(
        (
            f"recall and precision, exact span and type, over the {len(REFERENCE_TYPES)} types "
            f"both look for: {labelled}, {support:,} labels",
            float("nan"),
            summary,
        )
    )
    for name in sorted(set(ours_table) | set(theirs_table)):
        entry = ours_table.get(name)
        count = int((entry or theirs_table[name])["support"])
        if name in REFERENCE_TYPES and theirs_table:
            theirs = theirs_table.get(name)
            text = (
                f"custrec {figures(entry)}; Presidio {figures(theirs)}; score ≥ "
                f"{REFERENCE_THRESHOLD:g}: {figures(theirs_strict.get(name))}; "
                + compared(entry["recall"] if entry else 0.0, theirs["recall"] if theirs else 0.0)
            )
        else:
            why = "not compared" if theirs_table else "no reference"
            text = f"custrec {figures(entry)}; Presidio: {why}"
        out.append((f"per type: {name}, {count:,} labels", float("nan"), text))
    return out


def redact_section(runner: Runner, rows: int, repeat: int) -> list[Row]:
    """Redact speed (see the module docstring)."""
    directory = runner.directory
    source = directory / "customers.csv"
    progress(f"generating {rows:,} customer records to CSV")
    started = time.perf_counter()
    runner.run(
        custrec_argv(
            "generate", "customers", "--rows", str(rows), "--bad-share", "0",
            "--seed", str(SEED), "-o", str(source),
        )
    )  # fmt: skip
    generate_seconds = time.perf_counter() - started
    with source.open(encoding="utf-8", newline="") as stream:
        reader = csv.DictReader(stream)
        noted = sum(1 for record in reader if (record.get("notes") or "").strip())
    key = directory / "bench.key"
    runner.run(custrec_argv("key", "new", str(key)))

    small = directory / "warm.csv"
    runner.run(
        custrec_argv(
            "generate", "customers", "--rows", str(WARM_UP_ROWS), "--bad-share", "0",
            "-o", str(small),
        )
    )  # fmt: skip
    output = directory / "redacted.csv"
    copy = directory / "copy.csv"

    def redact(src: Path) -> list[str]:
        return custrec_argv(
            "redact", str(src), "-o", str(output), "--schema", str(SCHEMA),
            "--key-file", str(key), "--summary-format", "json",
        )  # fmt: skip

    runner.run(redact(small))
    output.unlink()
    runner.run([sys.executable, "-c", PANDAS_COPY, str(small), str(copy)])

    timings = Timings()
    digests: set[str] = set()
    summary: dict[str, Any] = {}
    for run in range(repeat):
        progress(f"run {run + 1}/{repeat}: (d) pandas read_csv + to_csv of {rows:,} records")
        copy.unlink(missing_ok=True)
        timings.theirs.append(
            runner.measure([sys.executable, "-c", PANDAS_COPY, str(source), str(copy)])
        )
        progress(f"run {run + 1}/{repeat}: (c) custrec redact of {rows:,} records")
        output.unlink(missing_ok=True)
        measured = runner.measure(redact(source))
        summary = json.loads(measured.proc.stderr.strip().splitlines()[-1])
        if summary.get("records") != rows:
            raise AssertionError(f"custrec redact counted {summary.get('records')} of {rows}")
        digests.add(hashlib.sha256(output.read_bytes()).hexdigest())
        timings.ours.append(measured)
    identical = "byte-identical" if len(digests) == 1 else "NOT byte-identical"
    if len(digests) != 1:
        progress(f"WARNING: custrec redact wrote {len(digests)} different outputs")

    progress("custrec scan of the redacted notes (untimed)")
    left = runner.run(custrec_argv("scan", str(output), "--field", "notes"))
    left_over = hits_by_line(left.stdout)
    kinds: dict[str, int] = {}
    for found in left_over.values():
        for hit in found:
            kinds[hit.type] = kinds.get(hit.type, 0) + 1

    seconds, base = timings.seconds, timings.base
    peak = max(m.kib for m in timings.ours)
    strategies = summary.get("strategies", {})
    return [
        (
            f"custrec generate customers --bad-share 0, {rows:,} rows to CSV (input of the "
            "rows below; not part of any measure)",
            generate_seconds,
            f"{rate(rows, generate_seconds, 'rows')}; file {mib(source)}; {noted:,} records "
            "with notes",
        ),
        (
            f"(c) custrec redact customers.csv -o out.csv --schema schemas/customer.yaml "
            f"--key-file K, {rows:,} records, whole process, median of {repeat}",
            seconds,
            f"{rate(rows, seconds, 'rows')}; {seconds / base:.2f}x the pandas copy's time "
            f"(information); peak RSS {peak / 1024:,.0f} MiB; output {mib(output)}, "
            f"{identical} across {repeat} runs; notes: {strategies.get('notes', '?')}",
        ),
        (
            "(d) pandas.read_csv(dtype=str, keep_default_na=False) + to_csv of the same file, "
            f"whole process, median of {repeat} (context)",
            base,
            f"{rate(rows, base, 'rows')}; 1.00x; peak RSS "
            f"{max(m.kib for m in timings.theirs) / 1024:,.0f} MiB",
        ),
        (
            "custrec scan out.csv --field notes: findings left in the redacted notes "
            "(untimed, information)",
            float("nan"),
            ", ".join(f"{name} {n:,}" for name, n in sorted(kinds.items())) or "none",
        ),
    ]


def bench_redaction(
    scan_texts: int = 100_000, redact_rows: int = 1_000_000, repeat: int = REPEAT
) -> list[Row]:
    """All rows of the redaction section (see the module docstring)."""
    if repeat < 1:
        raise ValueError("repeat must be at least 1")
    mtimes = library_mtimes()
    out: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="custrec-bench-redaction-") as name:
        runner = Runner(Path(name))
        if scan_texts:
            presidio = install_presidio(runner.directory)
            out += scan_section(runner, presidio, scan_texts, repeat)
        if redact_rows:
            out += redact_section(runner, redact_rows, repeat)
        progress("done; removing the temporary files")
    changed = [str(p.relative_to(REPO)) for p, t in library_mtimes().items() if mtimes.get(p) != t]
    if changed:
        progress(f"WARNING: the library changed during this run: {', '.join(changed)}")
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of this benchmark, here and in benchmarks/run.py."""
    parser.add_argument(
        "--scan-texts",
        type=int,
        default=100_000,
        help="generated texts scanned by custrec and Presidio (0: skip)",
    )
    parser.add_argument(
        "--redact-rows",
        type=int,
        default=1_000_000,
        help="generated customer records redacted (0: skip)",
    )


def main() -> int:
    from run import render  # type: ignore[import-not-found]

    parser = argparse.ArgumentParser(description="custrec redaction benchmarks alone")
    add_arguments(parser)
    parser.add_argument(
        "--redaction-repeat", type=int, default=REPEAT, help="runs per whole-process timing"
    )
    args = parser.parse_args()
    rows = bench_redaction(args.scan_texts, args.redact_rows, args.redaction_repeat)
    print(render({SECTION: rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
