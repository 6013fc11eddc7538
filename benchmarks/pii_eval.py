"""Precision and recall of the personal-data detector (``custrec.redaction.detect``).

Runs :class:`~custrec.redaction.detect.Detector` over the generated corpus
(``tests/pii_corpus.py``) and the hand-written hard cases
(``tests/data/pii/hard_cases.jsonl``), and prints, per entity type, precision, recall
and support (the number of labels):

- exact: a finding is a true positive when its type and span equal a label's;
- overlap: a finding is a true positive when a label of the same type overlaps it
  (and a label counts as found when a finding of its type overlaps it).

It also prints the scanning speed in microseconds per text. Runs alone::

    .venv/bin/python benchmarks/pii_eval.py [--n 2000] [--seed 20261122]

``evaluate(detector, cases)`` returns the exact-match table for tests to assert on.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from custrec.redaction.detect import Detector  # noqa: E402

HARD_CASES = REPO / "tests" / "data" / "pii" / "hard_cases.jsonl"

Label = tuple[int, int, str]
Case = tuple[str, Sequence[Label]]


def load_hard_cases(path: Path = HARD_CASES) -> list[tuple[str, list[Label]]]:
    """The hand-written cases: one JSON object per line, ``{"text", "entities"}``."""
    cases = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            doc = json.loads(line)
            cases.append((doc["text"], [(int(s), int(e), str(t)) for s, e, t in doc["entities"]]))
    return cases


def _table(
    counts: dict[str, list[int]],
) -> dict[str, dict[str, float]]:
    table: dict[str, dict[str, float]] = {}
    for etype in sorted(counts):
        tp_found, found, tp_labels, support = counts[etype]
        table[etype] = {
            "precision": tp_found / found if found else 1.0,
            "recall": tp_labels / support if support else 1.0,
            "support": float(support),
            "found": float(found),
        }
    return table


def evaluate(
    detector: Any, cases: Iterable[Case], *, overlap: bool = False
) -> dict[str, dict[str, float]]:
    """Per type: ``precision``, ``recall``, ``support`` (labels) and ``found`` (findings).

    Exact match by default: type and span equal. With ``overlap``, a finding and a label
    of the same type match when their spans overlap.
    """
    # per type: [findings matching a label, findings, labels matched by a finding, labels]
    counts: dict[str, list[int]] = {}
    for text, labels in cases:
        findings = detector.find(text)
        for start, end, etype in labels:
            row = counts.setdefault(etype, [0, 0, 0, 0])
            row[3] += 1
            if any(_match(f.start, f.end, f.type, start, end, etype, overlap) for f in findings):
                row[2] += 1
        for f in findings:
            row = counts.setdefault(f.type, [0, 0, 0, 0])
            row[1] += 1
            if any(_match(f.start, f.end, f.type, s, e, t, overlap) for s, e, t in labels):
                row[0] += 1
    return _table(counts)


def _match(fs: int, fe: int, ft: str, ls: int, le: int, lt: str, overlap: bool) -> bool:
    if ft != lt:
        return False
    if overlap:
        return fs < le and ls < fe
    return fs == ls and fe == le


def errors(detector: Any, cases: Iterable[Case], limit: int = 20) -> list[str]:
    """Readable lines for the first ``limit`` texts where findings and labels differ."""
    out = []
    for text, labels in cases:
        got = {(f.start, f.end, f.type) for f in detector.find(text)}
        want = set(labels)
        if got != want:
            missed = [(text[s:e], t) for s, e, t in sorted(want - got)]
            extra = [(text[s:e], t) for s, e, t in sorted(got - want)]
            out.append(f"{text!r}\n    missed {missed}\n    extra  {extra}")
            if len(out) >= limit:
                break
    return out


def format_table(exact: dict[str, dict[str, float]], loose: dict[str, dict[str, float]]) -> str:
    lines = [
        f"{'type':<15}{'support':>8}{'found':>7}{'precision':>11}{'recall':>8}"
        f"{'overlap P':>11}{'overlap R':>11}"
    ]
    for etype in sorted(set(exact) | set(loose)):
        e = exact.get(etype, {})
        o = loose.get(etype, {})
        lines.append(
            f"{etype:<15}{int(e.get('support', 0)):>8}{int(e.get('found', 0)):>7}"
            f"{e.get('precision', 1.0):>11.4f}{e.get('recall', 1.0):>8.4f}"
            f"{o.get('precision', 1.0):>11.4f}{o.get('recall', 1.0):>11.4f}"
        )
    return "\n".join(lines)


def speed(detector: Any, texts: Sequence[str], rounds: int = 3) -> tuple[float, float]:
    """Microseconds per text over ``texts``: the first pass (the phone reader's caches
    hold nothing of these texts yet) and the best of ``rounds`` passes."""
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for text in texts:
            detector.find(text)
        times.append((time.perf_counter() - t0) / max(1, len(texts)) * 1e6)
    return times[0], min(times)


def main(argv: Sequence[str] | None = None) -> int:
    from tests.pii_corpus import DEFAULT_SEED, corpus

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="generated texts (default 2000)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--errors", type=int, default=0, help="print up to N wrong texts")
    args = parser.parse_args(argv)

    detector = Detector()
    generated = corpus(args.n, args.seed)
    hard = load_hard_cases()
    cases: list[Case] = [*generated, *hard]
    detector.find("warm up: call 020 7946 0958")  # loads phonenumbers before timing

    print(f"{len(generated)} generated texts (seed {args.seed}) + {len(hard)} hard cases")
    print(format_table(evaluate(detector, cases), evaluate(detector, cases, overlap=True)))
    print()
    print("hard cases only:")
    print(format_table(evaluate(detector, hard), evaluate(detector, hard, overlap=True)))
    # Speed on texts the detector has not seen (another seed), so that the first pass
    # reads every phone number afresh; and on the texts without a digit.
    texts = [t for t, _ in corpus(args.n, args.seed + 1)]
    plain = [t for t in texts if not any(c.isdigit() for c in t)] or ["no digits here"]
    mean_len = sum(map(len, texts)) / max(1, len(texts))
    first, best = speed(detector, texts)
    _, plain_best = speed(detector, plain)
    print()
    print(
        f"speed: {first:.1f} us per text on the first pass, {best:.1f} us best of 3 "
        f"({len(texts)} generated texts, mean {mean_len:.0f} characters); "
        f"{plain_best:.1f} us per text without digits ({len(plain)} of them)"
    )
    if args.errors:
        for line in errors(detector, cases, args.errors):
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
