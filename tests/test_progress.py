"""Progress of long commands: the library reports batches to a ``Progress``; the command
line draws a bar on stderr only for a terminal, never with ``--quiet``, and never
touches stdout. Long lists in table summaries are cut to 20 rows and say where the
rest is."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from custrec.cli import main
from custrec.cli.progress import ProgressSettings, TerminalProgress
from custrec.progress import NO_PROGRESS

from .conftest import REPO, write

ROWS = 30
CARD = "4111 1111 1111 1111"
SCHEMA = str(REPO / "schemas" / "customer.yaml")
INTERACTIONS = str(REPO / "examples" / "interactions.csv")
CUSTOMERS = str(REPO / "examples" / "customers.csv")
"""25 records with every field of the customer schema (more.csv lacks required ones)."""
POLICY = "version: 1\nrules:\n  - {id: old, trigger: created_at, period: 2y, action: delete}\n"


def customers_csv(rows: int = ROWS, blank_ids: int = 0) -> str:
    lines = ["customer_id,name,email,city,notes,created_at"]
    for n in range(1, rows + 1):
        record_id = "" if n <= blank_ids else f"C-{n:04}"
        lines.append(f"{record_id},Name {n},person{n}@example.com,Leeds,card {CARD},2015-01-01")
    return "\n".join(lines) + "\n"


class Recorder:
    """A Progress that remembers what it was told."""

    def __init__(self) -> None:
        self.events: list[tuple[object, ...]] = []

    def start(self, total: int | None, unit: str, stage: str | None = None) -> None:
        self.events.append(("start", total, unit, stage))

    def advance(self, n: int = 1) -> None:
        self.events.append(("advance", n))

    def close(self) -> None:
        self.events.append(("close",))

    def counted(self, stage: str | None = None) -> int:
        """The units advanced in ``stage`` (its last start to the next start)."""
        total, inside = 0, False
        for event in self.events:
            if event[0] == "start":
                inside = event[3] == stage
            elif event[0] == "advance" and inside:
                total += int(str(event[1]))
        return total


@pytest.fixture(autouse=True)
def key_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CUSTREC_PASSPHRASE", "progress test passphrase")
    monkeypatch.setenv("CUSTREC_ACTOR", "tester")
    for name in ("CUSTREC_KEY_FILE", "CUSTREC_FORMAT", "CUSTREC_DEBUG"):
        monkeypatch.delenv(name, raising=False)


def run(*args: str, terminal: bool | None = None) -> Result:
    """``custrec ARGS`` in this process; ``terminal`` says whether stderr counts as a
    terminal (None: ask it, and CliRunner's is not one)."""
    settings = ProgressSettings(terminal=terminal, min_interval=0)
    return CliRunner().invoke(main, list(args), obj=settings, catch_exceptions=False)


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "customers.crec"
    assert run("init", str(path), "--chunk-records", "4").exit_code == 0
    source = write(tmp_path / "customers.csv", customers_csv())
    result = run("collect", str(path), str(source))
    assert result.exit_code == 0, result.stderr
    return path


# --- the bar ------------------------------------------------------------------------


def test_terminal_progress_shows_count_rate_and_time_left() -> None:
    stream = io.StringIO()
    bar = TerminalProgress("export", stream, min_interval=0)
    bar.start(100, "records")
    bar.advance(40)
    bar.advance(60)
    bar.close()
    text = stream.getvalue()
    assert "export: " in text
    assert "40/100" in text
    assert "100/100" in text
    assert "records/s" in text
    assert re.search(r"\[\d\d:\d\d<\d\d:\d\d", text)  # elapsed<left


def test_terminal_progress_without_a_total_counts_and_names_each_stage() -> None:
    stream = io.StringIO()
    bar = TerminalProgress("collect", stream, min_interval=0)
    bar.start(None, "rows", "read")
    bar.advance(1234)
    bar.start(1234, "rows", "write")
    bar.advance(1234)
    bar.close()
    bar.close()
    text = stream.getvalue()
    assert "collect (read): 1,234 rows [" in text
    assert "collect (write): 100%" in text
    assert "1,234/1,234" in text
    assert "rows/s" in text


def test_terminal_progress_draws_nothing_until_the_first_batch() -> None:
    stream = io.StringIO()
    bar = TerminalProgress("report kpi", stream)
    bar.start(None, "rows")
    assert stream.getvalue() == ""  # a passphrase prompt may come now
    bar.close()
    bar.advance(5)  # after close: nothing
    assert stream.getvalue() == ""


def test_no_progress_does_nothing() -> None:
    NO_PROGRESS.start(10, "rows")
    NO_PROGRESS.advance(10)
    NO_PROGRESS.close()


# --- the command line -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "label", "count"),
    [
        (["export", "{store}", "--format", "csv"], "export", f"{ROWS}/{ROWS}"),
        (["validate", "{store}", "--schema", SCHEMA], "validate", f"{ROWS}/{ROWS}"),
        (["scan", "{store}"], "scan", f"{ROWS}/{ROWS}"),
        (["verify", "{store}"], "verify", "8/8"),
        (["validate", CUSTOMERS, "--schema", SCHEMA], "validate", "25 rows"),
        (["scan", "{csv}", "--field", "notes"], "scan", f"{ROWS} rows"),
        (["redact", "{csv}", "--schema", SCHEMA, "-o", "-"], "redact", f"{ROWS} rows"),
        (["purge", "{store}", "--policy", "{policy}", "--dry-run"], "purge", f"{ROWS}/{ROWS}"),
        (["report", "kpi", INTERACTIONS, "--skip-invalid"], "report kpi", "60 rows"),
    ],
)
def test_a_terminal_shows_the_bar_and_stdout_stays_the_same(
    store: Path, tmp_path: Path, command: list[str], label: str, count: str
) -> None:
    source = write(tmp_path / "more.csv", customers_csv())
    policy = write(tmp_path / "policy.yaml", POLICY)
    args = [a.format(store=store, csv=source, policy=policy) for a in command]
    if args[0] == "redact":
        args += ["--key-file", str(tmp_path / "pseudonyms.key")]
        assert run("key", "new", args[-1]).exit_code == 0
    shown = run(*args, terminal=True)
    plain = run(*args, terminal=False)
    assert shown.exit_code == plain.exit_code, shown.stderr
    assert f"{label}: " in shown.stderr
    assert count in shown.stderr
    assert re.search(r" (rows|records|chunks)/s\]", shown.stderr)
    assert shown.stdout_bytes == plain.stdout_bytes
    assert "/s]" not in plain.stderr
    after_bar = re.split(r"/s\] *\n", shown.stderr)[-1]
    assert plain.stderr == after_bar


def test_collect_shows_the_rows_as_they_stream_in(tmp_path: Path) -> None:
    store = tmp_path / "new.crec"
    assert run("init", str(store)).exit_code == 0
    source = write(tmp_path / "in.csv", customers_csv(25, blank_ids=3))
    rejects = tmp_path / "rejects.csv"
    args = ["collect", str(store), str(source), "--on-invalid", "reject"]
    result = run(*args, "--rejects", str(rejects), terminal=True)
    assert result.exit_code == 0, result.stderr
    assert "collect (read): 25 rows" in result.stderr  # read and written in one pass
    assert "(write)" not in result.stderr
    assert result.stderr.endswith("3 row(s) refused, written to " + str(rejects) + "\n")


def test_collect_stdout_is_the_same_with_and_without_the_bar(tmp_path: Path) -> None:
    outputs = []
    for n, terminal in enumerate((True, False)):
        store = tmp_path / f"s{n}.crec"
        assert run("init", str(store)).exit_code == 0
        source = write(tmp_path / "in.csv", customers_csv(12))
        result = run("collect", str(store), str(source), terminal=terminal)
        assert result.exit_code == 0, result.stderr
        outputs.append(result.stdout_bytes.replace(str(store).encode(), b"STORE"))
    assert outputs[0] == outputs[1]


@pytest.mark.parametrize(
    "args",
    [
        ["-q", "export", "{store}"],
        ["--quiet", "export", "{store}"],
        ["export", "{store}", "-q"],
        ["verify", "{store}", "--quiet"],
        ["key", "rotate", "{store}", "-q"],
    ],
)
def test_quiet_hides_the_bar(store: Path, args: list[str]) -> None:
    result = run(*(a.format(store=store) for a in args), terminal=True)
    assert result.exit_code == 0, result.stderr
    assert "/s]" not in result.stderr
    assert "%|" not in result.stderr


def test_key_rotate_shows_chunks(store: Path) -> None:
    result = run("key", "rotate", str(store), terminal=True)
    assert result.exit_code == 0, result.stderr
    assert "key rotate: 100%" in result.stderr
    assert "8/8" in result.stderr
    assert "chunks/s" in result.stderr
    assert result.stderr.endswith("Rotated the data keys: 8 chunks re-encrypted.\n")


def test_no_bar_when_stderr_is_not_a_terminal(store: Path) -> None:
    result = run("export", str(store), "--format", "csv")  # CliRunner's stderr: no tty
    assert result.exit_code == 0
    assert result.stderr == f"exported {ROWS} record(s) to <stdout>\n"


def test_long_commands_do_not_load_tqdm_without_a_terminal(store: Path, tmp_path: Path) -> None:
    probe = (
        "import sys\nfrom custrec.cli import main\n"
        "try:\n    main(sys.argv[1:], prog_name='custrec')\nexcept SystemExit:\n    pass\n"
        "print('TQDM=' + str('tqdm' in sys.modules), file=sys.stderr)\n"
    )
    for args in (["--help"], ["export", str(store), "-o", str(tmp_path / "out.csv")]):
        proc = subprocess.run(
            [sys.executable, "-c", probe, *args],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            check=False,
            stdin=subprocess.DEVNULL,
        )
        assert "TQDM=False" in proc.stderr, proc.stderr


# --- the library ----------------------------------------------------------------------


def test_library_functions_report_every_row(store: Path, tmp_path: Path) -> None:
    from custrec.collect import CollectOptions, collect_records
    from custrec.export import export_records
    from custrec.schema import load_schema
    from custrec.store import KeySource, open_store
    from custrec.validate import validate_source

    key = KeySource.from_passphrase("progress test passphrase")
    with open_store(store, key) as opened:
        exported = Recorder()
        export_records(opened, str(tmp_path / "out.csv"), progress=exported)
        assert exported.events[0] == ("start", ROWS, "records", None)
        assert exported.counted() == ROWS
        checked = Recorder()
        validate_source(str(store), load_schema(SCHEMA), store=opened, progress=checked)
        assert checked.counted() == ROWS
        verified = Recorder()
        opened.verify(progress=verified)
        assert verified.events[0] == ("start", 8, "chunks", None)
        assert verified.counted() == 8
        collected = Recorder()
        source = write(tmp_path / "new.csv", customers_csv(40, blank_ids=2))
        options = CollectOptions(on_invalid="reject", rejects=str(tmp_path / "r.csv"))
        options = CollectOptions(**{**options.__dict__, "on_duplicate": "skip"})
        result = collect_records(opened, [str(source)], options, progress=collected)
        assert (result.inserted, result.skipped) == (10, 28)
        assert collected.counted("read") == 40
        assert collected.events[0] == ("start", None, "rows", "read")  # one pass
        assert [e for e in collected.events if e[0] == "start"] == [collected.events[0]]


# --- capped summaries ---------------------------------------------------------------------


def test_collect_table_lists_20_problems_and_points_to_the_rejects(tmp_path: Path) -> None:
    store = tmp_path / "new.crec"
    assert run("init", str(store)).exit_code == 0
    source = write(tmp_path / "in.csv", customers_csv(40, blank_ids=33))
    rejects = tmp_path / "rejects.csv"
    args = ["collect", str(store), str(source), "--on-invalid", "reject", "--rejects"]
    result = run(*args, str(rejects))
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    problems = [line for line in lines if "customer_id.required" in line]
    assert len(problems) == 20
    assert lines[-1] == f"... 13 more in {rejects}"
    again = tmp_path / "again.crec"
    assert run("init", str(again)).exit_code == 0
    args[1] = str(again)
    full = run(*args, str(tmp_path / "r2.csv"), "--format", "json")
    assert len(json.loads(full.stdout)["problems"]) == 33


def test_collect_table_refused_batch_points_to_json(tmp_path: Path) -> None:
    store = tmp_path / "new.crec"
    assert run("init", str(store)).exit_code == 0
    source = write(tmp_path / "in.csv", customers_csv(30, blank_ids=21))
    result = run("collect", str(store), str(source))
    assert result.exit_code == 1
    assert result.stdout.splitlines()[-1] == "... 1 more (use --format json for all)"
    refused = [line for line in result.stdout.splitlines() if "customer_id.required" in line]
    assert len(refused) == 20


def test_scan_table_lists_20_findings(store: Path, tmp_path: Path) -> None:
    source = write(tmp_path / "notes.txt", "".join(f"card {CARD}\n" for _ in range(23)))
    result = run("scan", str(source), "--format", "table")
    assert result.exit_code == 0
    assert result.stdout.count("CREDIT_CARD") == 20
    assert result.stdout.splitlines()[-1] == "... 3 more (use --format ndjson or json for all)"
    assert CARD not in result.stdout
    full = run("scan", str(source), "--format", "json")
    assert len(json.loads(full.stdout)["findings"]) == 23
