"""Integrity of ``collect`` end to end: messy files in, exact values out; arbitrary text
surviving collect -> export; all-or-nothing under ``kill -9``; concurrent collects.

1. Every case of the messy-file corpus (``tests/data/messy/cases.json``) goes through
   ``custrec init`` / ``collect`` / ``export --format ndjson``: readable cases come back
   exactly (text, null for empty), unreadable ones exit 3 naming ``FILE:LINE[:COLUMN]``
   and write nothing.
2. A property test: records with arbitrary unicode text, written as CSV (minimal and
   full quoting) and as NDJSON, come back identical from ``export`` as NDJSON and as
   raw CSV.
3. A collect of 20,000 rows killed with SIGKILL at random moments leaves the store
   verifying, its audit trail intact, and either none or all of the rows.
4. Two concurrent collects into one store: disjoint files both land; the same new ids
   land once, and the other collect exits 1 naming every row as a duplicate id.
"""

from __future__ import annotations

import csv
import json
import random
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custrec.collect import REPORT_PROBLEMS, CollectOptions, collect_records
from custrec.export import export_records
from custrec.io import open_table
from custrec.keyfile import new_key_file
from custrec.store import KeySource, StoreSettings, create_store, open_store

from .conftest import InvokeCli, copy_store, custrec_command
from .test_io_messy import CASES, CORPUS, case_id
from .test_store_faults import child_env, stress_iterations, verified

# --- helpers ----------------------------------------------------------------------------


def ndjson_objects(text: str) -> list[dict[str, Any]]:
    """The objects of NDJSON text. Split at ``\\n`` only: values may hold U+2028, U+0085
    and other characters that ``str.splitlines`` would split at."""
    return [json.loads(line) for line in text.split("\n") if line]


def store_ids(path: Path, key: Path) -> set[str]:
    """Every record id of the store, through a full (decrypting, verifying) scan."""
    with open_store(path, KeySource.from_key_file(key)) as store:
        id_field = store.settings.id_field
        return {
            str(value)
            for batch in store.iter_batches(fields=[id_field])
            for value in batch.column(id_field).to_pylist()
        }


def csv_rows(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def generate_customers(cli: InvokeCli, path: Path, rows: int, seed: int = 2026) -> Path:
    result = cli(
        "generate", "customers", "--rows", str(rows), "--bad-share", "0",
        "--seed", str(seed), "-o", str(path),
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    return path


def init_store(cli: InvokeCli, path: Path, key: Path, *args: str) -> Path:
    result = cli("init", str(path), "--key-file", str(key), "--region", "GB", *args)
    assert result.exit_code == 0, result.stderr
    return path


def audit_verifies(cli: InvokeCli, path: Path, key: Path) -> None:
    result = cli("audit", "verify", str(path), "--key-file", str(key), "--format", "json")
    assert result.exit_code == 0, result.stdout + result.stderr


# --- 1. the messy corpus, end to end ---------------------------------------------------------
#
# Decisions per case, from the data: every "ok" case has a first column named "id" whose
# values are non-empty and unique ("1", "2", "3"), so the store's id field is "id" and
# no case needs --on-duplicate skip. None of the expected rows breaks a collect rule:
# no empty id, and no repeated email or phone ("header_only" has an email column but no
# rows; "text_values" has one row, so its phone and mobile repeat nothing). Every case is
# therefore collected whole and must export exactly. "header_only" writes no record: its
# export is empty. The "error" cases are unreadable files (exit 3, nothing written).


def collect_case(cli: InvokeCli, tmp_path: Path, case: dict[str, Any]) -> tuple[Any, Path, Path]:
    key = new_key_file(tmp_path / "owner.key").path
    store = init_store(cli, tmp_path / "messy.crec", key, "--id-field", "id")
    source = CORPUS / case["file"]
    options = [f"--{name}={value}" for name, value in sorted(case["args"].items())]
    args = ["collect", str(store), str(source), "--key-file", str(key), *options]
    return cli(*args, "--format", "json"), store, key


@pytest.mark.parametrize("case", [c for c in CASES if c["outcome"] == "ok"], ids=case_id)
def test_messy_case_collects_and_exports_exactly(
    case: dict[str, Any], tmp_path: Path, cli: InvokeCli
) -> None:
    header, *rows = case["rows"]
    assert header[0] == "id"
    assert all(row[0] for row in rows), "every row needs an id"
    result, store, key = collect_case(cli, tmp_path, case)
    assert result.exit_code == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["written"] is True
    assert (report["rows_read"], report["inserted"], report["problems_total"]) == (
        len(rows), len(rows), 0,
    )  # fmt: skip

    exported = cli("export", str(store), "--key-file", str(key), "--format", "ndjson")
    assert exported.exit_code == 0, exported.stderr
    objects = ndjson_objects(exported.stdout)
    assert [list(o.values()) for o in objects] == rows
    assert all(list(o) == header for o in objects)
    assert verified(cli, store, "--key-file", str(key)) == len(rows)


@pytest.mark.parametrize("case", [c for c in CASES if c["outcome"] == "error"], ids=case_id)
def test_messy_case_error_is_exit_3_and_writes_nothing(
    case: dict[str, Any], tmp_path: Path, cli: InvokeCli
) -> None:
    result, store, key = collect_case(cli, tmp_path, case)
    assert result.exit_code == 3, result.stdout + result.stderr
    where = f"{CORPUS / case['file']}:{case['line']}"
    if case["column"] is not None:
        where += f":{case['column']}"
    assert f"{where}: " in result.stderr, result.stderr
    assert case["message"] in result.stderr
    assert result.stdout == ""
    with open_store(store, KeySource.from_key_file(key)) as opened:
        assert opened.count() == 0
        assert opened.columns == [("id", "string")]  # no field was declared either
    assert verified(cli, store, "--key-file", str(key)) == 0


# --- 2. arbitrary text survives collect -> export ------------------------------------------
#
# Characters: any code point but lone surrogates (category Cs), which UTF-8 text cannot
# hold. NUL is included: both CSV parsers (Arrow's and Python's), the NDJSON reader and
# the store keep it (checked by hand before writing this test). Tricky characters are
# drawn more often than chance would, and values start and end with formula signs,
# quotes, spaces and line breaks.

TRICKY = list("\n\r\",;=+-@ \t'\x00\u2028\x85\ufeff€😀")
STARTS = ["", "=", "+", "-", "@", " ", "  ", "\t", "\r", "\n", '"', ";", ",", "\ufeff"]
ENDS = ["", " ", "\r", "\n", "\r\n", '"', ",", ";"]
FIELD_NAMES = ["name", "note", "city"]

characters = st.one_of(st.characters(exclude_categories=["Cs"]), st.sampled_from(TRICKY))
texts = st.builds(
    lambda start, body, end: start + body + end,
    st.sampled_from(STARTS),
    st.text(characters, max_size=20),
    st.sampled_from(ENDS),
)
# An id must be non-blank (collect refuses it otherwise; Arrow's and Python's notions of
# whitespace agree, checked over all code points) and ids are unique.
ids = texts.filter(lambda text: text.strip() != "" and not text.startswith("_"))

Record = dict[str, str | None]


# The first id of a CSV is the first field of its first data row: a leading U+FEFF
# there must survive too (not be taken for a byte-order mark).
first_ids = ids


@st.composite
def record_lists(draw: st.DrawFn) -> list[Record]:
    count = draw(st.integers(min_value=1, max_value=10))
    first = draw(first_ids)
    others = ids.filter(lambda text: text != first)
    more = draw(st.lists(others, min_size=count - 1, max_size=count - 1, unique=True))
    record_ids = [first, *more]
    fields = FIELD_NAMES[: draw(st.integers(min_value=2, max_value=3))]
    values = st.one_of(st.none(), st.just(""), texts)
    return [{"customer_id": i, **{f: draw(values) for f in fields}} for i in record_ids]


@pytest.fixture(scope="module")
def key_source(tmp_path_factory: pytest.TempPathFactory) -> KeySource:
    key = new_key_file(tmp_path_factory.mktemp("keys") / "owner.key")
    return KeySource.from_key_file(key.path)


def collect_and_export(
    key_source: KeySource, work: Path, source: Path
) -> tuple[list[dict[str, Any]], list[list[str]], list[dict[str, Any]]]:
    """Collect ``source`` into a fresh store; its export as NDJSON objects, as raw CSV
    rows (Python's reader), and that CSV read back by custrec's own reader."""
    store_path = work / f"{source.stem}.crec"
    with create_store(store_path, key_source, settings=StoreSettings(region="GB")) as store:
        result = collect_records(store, [str(source)], CollectOptions())
        assert result.written, [p.to_json() for p in result.problems]
        assert result.problems_total == 0
        export_records(store, str(work / "out.ndjson"), output_format="ndjson")
        export_records(store, str(work / "out.csv"), output_format="csv", raw=True)
    objects = ndjson_objects((work / "out.ndjson").read_text(encoding="utf-8"))
    with open_table(str(work / "out.csv")) as reader:
        reread = [row for batch in reader for row in batch.to_pylist()]
    return objects, csv_rows(work / "out.csv"), reread


def by_id(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {row["customer_id"]: row for row in rows}


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(records=record_lists(), ascii_json=st.booleans())
def test_arbitrary_text_survives_collect_and_export(
    key_source: KeySource, records: list[Record], ascii_json: bool
) -> None:
    header = list(records[0])
    # CSV has no null apart from the empty field: None and "" both read as null.
    as_csv = [{k: v if v != "" else None for k, v in r.items()} for r in records]
    with tempfile.TemporaryDirectory(prefix="custrec-roundtrip-") as temp:
        work = Path(temp)
        sources: list[tuple[Path, list[Record]]] = []
        for name, quoting in (("minimal", csv.QUOTE_MINIMAL), ("all", csv.QUOTE_ALL)):
            path = work / f"{name}.csv"
            with open(path, "w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle, quoting=quoting)
                writer.writerow(header)
                writer.writerows([r[c] for c in header] for r in records)
            sources.append((path, as_csv))
        ndjson = work / "records.ndjson"
        ndjson.write_text(
            "".join(json.dumps(r, ensure_ascii=ascii_json) + "\n" for r in records),
            encoding="utf-8",
        )
        sources.append((ndjson, records))

        for source, expected in sources:
            objects, rows, reread = collect_and_export(key_source, work, source)
            assert all(list(o) == header for o in objects), source.name
            assert by_id(objects) == by_id(expected), source.name
            assert len(objects) == len(expected)
            # Raw CSV: the exact text; null and "" are both the empty field.
            assert rows[0] == header
            cells = [{k: "" if v is None else v for k, v in r.items()} for r in expected]
            assert by_id([dict(zip(header, row, strict=True)) for row in rows[1:]]) == by_id(
                cells
            ), source.name
            # And custrec reads its own raw export back to the same values.
            as_read = [{k: v if v != "" else None for k, v in r.items()} for r in expected]
            assert by_id(reread) == by_id(as_read), source.name


def test_leading_feff_of_the_first_data_field_is_kept(
    key_source: KeySource, tmp_path: Path
) -> None:
    source = tmp_path / "feff.csv"
    source.write_text("customer_id,name\n\ufeffC-1,Ann\n\ufeffC-2,Bob\n", encoding="utf-8")
    objects, _, _ = collect_and_export(key_source, tmp_path, source)
    assert [o["customer_id"] for o in objects] == ["\ufeffC-1", "\ufeffC-2"]


# --- 3. all or nothing under kill -9 ----------------------------------------------------------

BIG_ROWS = 20_000
SMALL_ROWS = 30
WRITING = 1 << 20
"""WAL bytes that show the collect's write transaction under way."""


def small_file_like(big: Path, path: Path) -> Path:
    """A few records with the big file's columns (so the store has its fields), other
    ids and contact details that nothing in the big file shares."""
    header, *rows = csv_rows(big)[: SMALL_ROWS + 1]
    column = {name: n for n, name in enumerate(header)}
    for n, row in enumerate(rows):
        row[column["customer_id"]] = f"S-{n:03d}"
        row[column["email"]] = f"s{n}@small.invalid"
        row[column["phone"]] = ""
    return write_csv(path, header, rows)


@pytest.mark.slow
def test_collect_is_all_or_nothing_under_kill_9(tmp_path: Path, cli: InvokeCli) -> None:
    """Each round: a fresh copy of a store holding 30 records; ``custrec collect`` of a
    20,000-row file is killed with SIGKILL after a random delay spread over the
    duration of one uninterrupted collect. The store then verifies, its audit trail
    verifies, and it holds exactly the 30 old ids or the old and all 20,000 new ids."""
    key = new_key_file(tmp_path / "owner.key").path
    big = generate_customers(cli, tmp_path / "big.csv", BIG_ROWS)
    small = small_file_like(big, tmp_path / "small.csv")
    base = init_store(cli, tmp_path / "base.crec", key)
    seeded = cli("collect", str(base), str(small), "--key-file", str(key))
    assert seeded.exit_code == 0, seeded.stderr
    old_ids = {f"S-{n:03d}" for n in range(SMALL_ROWS)}
    all_ids = old_ids | {row[0] for row in csv_rows(big)[1:]}
    assert store_ids(base, key) == old_ids
    assert len(all_ids) == SMALL_ROWS + BIG_ROWS
    assert not Path(f"{base}-wal").exists()  # closed cleanly: the file alone is the store

    store = tmp_path / "s.crec"
    wal = Path(f"{store}-wal")

    def reset() -> None:
        for path in (store, wal, Path(f"{store}-shm")):
            path.unlink(missing_ok=True)  # a stale WAL must never meet the copied base
        for suffix in ("-wal", "-shm"):
            Path(f"{store}.keys{suffix}").unlink(missing_ok=True)
        copy_store(base, store)

    def start_collect() -> subprocess.Popen[bytes]:
        command = custrec_command("collect", str(store), str(big), "--key-file", str(key))
        return subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=child_env()
        )

    def check(round_no: object) -> set[str]:
        count = verified(cli, store, "--key-file", str(key))
        assert count in (SMALL_ROWS, SMALL_ROWS + BIG_ROWS), (round_no, count)
        audit_verifies(cli, store, key)
        found = store_ids(store, key)
        assert found in (old_ids, all_ids), (round_no, len(found))
        assert len(found) == count
        return found

    def wal_size() -> int:
        try:
            return wal.stat().st_size
        except FileNotFoundError:
            return 0

    # One uninterrupted run: its duration, and when its write transaction began (the
    # WAL passes WRITING bytes; before that only the small audit intent is in it).
    reset()
    started = time.monotonic()
    proc = start_collect()
    writing_at = None
    try:
        while proc.poll() is None:
            if writing_at is None and wal_size() >= WRITING:
                writing_at = time.monotonic() - started
            time.sleep(0.005)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    duration = time.monotonic() - started
    assert proc.returncode == 0, err.decode(errors="replace")
    assert check("uninterrupted") == all_ids
    writing_at = min(writing_at or duration / 2, duration * 0.8)

    rng = random.Random(20_000)
    outcomes = {"before the write": 0, "during the write": 0, "after the commit": 0}
    finished = 0
    for round_no in range(stress_iterations(default=8)):
        reset()
        # Odd rounds: anywhere from 10% of the run to its end. Even rounds: from just
        # before the write transaction began, so that several kills land while it is
        # being written; round 0 stops short of the end, so that even a single round
        # kills the collect before it finishes.
        low = 0.1 * duration if round_no % 2 else 0.9 * writing_at
        high = 0.85 * duration if round_no == 0 else duration
        delay = rng.uniform(low, high)
        proc = start_collect()
        try:
            time.sleep(delay)
            proc.send_signal(signal.SIGKILL)
            _, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        wal_bytes = wal_size()
        if proc.returncode != -signal.SIGKILL:
            assert proc.returncode == 0, (round_no, err.decode(errors="replace"))
            finished += 1
        found = check(round_no)
        if proc.returncode == -signal.SIGKILL:
            if found == all_ids:
                outcomes["after the commit"] += 1
            elif wal_bytes >= WRITING:
                outcomes["during the write"] += 1
            else:
                outcomes["before the write"] += 1
    killed = sum(outcomes.values())
    assert killed >= 1, f"no round killed the collect before it finished ({finished} finished)"
    print(
        f"collect took {duration:.2f} s, writing from {writing_at:.2f} s; "
        f"{finished} finished; killed: {outcomes}"
    )


# --- 4. concurrent collects ------------------------------------------------------------------

HALF = 2_000


def start_collects(store: Path, key: Path, sources: list[Path]) -> list[tuple[int, str, str]]:
    """Run one ``custrec collect`` per source at the same time; (exit code, stdout,
    stderr) of each."""
    procs = [
        subprocess.Popen(
            custrec_command(
                "collect", str(store), str(source), "--key-file", str(key),
                "--lock-timeout", "120", "--format", "json",
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=child_env(),
        )
        for source in sources
    ]  # fmt: skip
    results = []
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=180)
            results.append((proc.returncode, out, err))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return results


def test_concurrent_collects_of_disjoint_files_both_land(tmp_path: Path, cli: InvokeCli) -> None:
    key = new_key_file(tmp_path / "owner.key").path
    header, *rows = csv_rows(generate_customers(cli, tmp_path / "all.csv", 2 * HALF, seed=5))
    first = write_csv(tmp_path / "first.csv", header, rows[:HALF])
    second = write_csv(tmp_path / "second.csv", header, rows[HALF:])
    store = init_store(cli, tmp_path / "c.crec", key)  # fresh: both may declare the fields

    results = start_collects(store, key, [first, second])
    for code, out, err in results:
        assert code == 0, err
        report = json.loads(out)
        assert (report["written"], report["inserted"], report["problems_total"]) == (
            True, HALF, 0,
        )  # fmt: skip
    assert verified(cli, store, "--key-file", str(key)) == 2 * HALF
    assert store_ids(store, key) == {row[0] for row in rows}
    audit_verifies(cli, store, key)


def test_concurrent_collects_of_the_same_new_ids_insert_them_once(
    tmp_path: Path, cli: InvokeCli
) -> None:
    key = new_key_file(tmp_path / "owner.key").path
    header, *rows = csv_rows(generate_customers(cli, tmp_path / "one.csv", HALF, seed=6))
    notes = header.index("notes")
    one = tmp_path / "one.csv"
    # The same ids (and contact details); only the notes tell the two files apart.
    other_rows = [[*row[:notes], f"copy {n}", *row[notes + 1 :]] for n, row in enumerate(rows)]
    other = write_csv(tmp_path / "other.csv", header, other_rows)
    store = init_store(cli, tmp_path / "c.crec", key)

    results = start_collects(store, key, [one, other])
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 1], [err for _, _, err in results]
    winner = 0 if results[0][0] == 0 else 1
    won, lost = json.loads(results[winner][1]), json.loads(results[1 - winner][1])
    assert (won["written"], won["inserted"], won["problems_total"]) == (True, HALF, 0)
    assert (lost["written"], lost["inserted"], lost["problems_total"]) == (False, 0, HALF)
    assert {p["rule"] for p in lost["problems"]} == {"customer_id.unique"}
    # All are counted; the report lists the first REPORT_PROBLEMS, in input order.
    assert [(p["row"], p["line"]) for p in lost["problems"]] == [
        (n, n + 1) for n in range(1, min(HALF, REPORT_PROBLEMS) + 1)
    ]
    assert "nothing was written" in results[1 - winner][2]

    assert verified(cli, store, "--key-file", str(key)) == HALF
    expected_rows = rows if winner == 0 else other_rows
    expected = {row[0]: row[notes] or None for row in expected_rows}
    with open_store(store, KeySource.from_key_file(key)) as opened:
        stored = {
            r["customer_id"]: r["notes"]
            for batch in opened.iter_batches(fields=["customer_id", "notes"])
            for r in batch.to_pylist()
        }
    assert stored == expected  # every record once, all from the collect that won
    audit_verifies(cli, store, key)


# --- 5. streaming: batches and runs written out change nothing -------------------------------


def test_collect_in_small_batches_reports_and_stores_what_one_batch_does(
    tmp_path: Path, cli: InvokeCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """collect streams its inputs into the store batch by batch, remembering the ids and
    contact details seen as sorted tokens (written out beyond a limit). Read in batches
    of about 40 rows with the tokens written out every 30, it gives the report, the
    rejects file and the stored records it gives in one batch held in memory: repeats
    of a row many batches back (by id, by email, by phone) are found and named by their
    row, across inputs too, and ``--on-duplicate update`` updates what it updated."""
    import custrec.collect as collect_module
    import custrec.io as io_module
    import custrec.seen as seen

    header, *rows = csv_rows(generate_customers(cli, tmp_path / "g.csv", 600, seed=11))
    email, phone = header.index("email"), header.index("phone")
    late = [
        list(rows[3]),  # the same id as row 4, many batches back
        [f"{rows[5][0]}-x", *rows[5][1:]],  # another id, row 6's email and phone
        [f"{rows[7][0]}-y", *[v if n != email else "" for n, v in enumerate(rows[7][1:], 1)]],
    ]
    first = write_csv(tmp_path / "first.csv", header, rows[:400])
    second = write_csv(tmp_path / "second.csv", header, [*rows[400:], *late])
    assert rows[7][phone]  # the third late row repeats a phone only

    def run(name: str) -> tuple[dict[str, Any], list[list[str]], list[dict[str, Any]]]:
        key = new_key_file(tmp_path / f"{name}.key").path
        store = init_store(cli, tmp_path / f"{name}.crec", key)
        rejects = tmp_path / f"{name}-rejects.csv"
        args = ["--key-file", str(key), "--format", "json"]
        seed = cli("collect", str(store), str(first), *args)
        assert seed.exit_code == 0, seed.stderr
        result = cli(
            "collect", str(store), str(first), str(second), *args,
            "--on-invalid", "reject", "--rejects", str(rejects), "--on-duplicate", "update",
        )  # fmt: skip
        assert result.exit_code == 0, result.stderr  # rejected rows go to the rejects file
        report = json.loads(result.stdout)
        for name_key in ("store", "rejects_file"):
            report.pop(name_key)
        exported = cli("export", str(store), *args[:2], "--format", "ndjson")
        records = ndjson_objects(exported.stdout)
        for record in records:
            record.pop("_collected_at", None)
        audit_verifies(cli, store, key)
        shown = cli("audit", "show", str(store), *args)
        outcome = [e for e in json.loads(shown.stdout)["entries"] if e["phase"] == "outcome"][-1]
        # The outcome binds the id of every row read (as pseudonyms), batch after batch.
        assert outcome["action"] == "collect"
        assert outcome["subjects"] == len({row[0] for row in [*rows, *late]})
        return report, csv_rows(rejects), sorted(records, key=lambda r: str(r["customer_id"]))

    whole = run("whole")
    monkeypatch.setattr(io_module, "_CSV_BLOCK_BYTES", 4_000)  # blocks of a few rows
    monkeypatch.setattr(io_module.regrouped, "__defaults__", (40,))
    monkeypatch.setattr(seen, "SPILL_BYTES", 30 * 24)  # 30 tokens with their labels
    monkeypatch.setattr(collect_module, "HELD_ROWS", 2)  # refused rows written out, sealed
    streamed = run("streamed")
    assert streamed == whole
    report = whole[0]
    assert (report["inserted"], report["updated"], report["rejected"]) == (200, 400, 3)
    reasons = {(p["file"], p["row"]): (p["rule"], p["message"]) for p in report["problems"]}
    assert reasons[(str(second), 201)] == ("customer_id.unique", f"the same id as row 4 of {first}")
    assert reasons[(str(second), 202)] == (
        "email.unique",
        f"the same email as row 6 of {first}, under another id",
    )
    assert reasons[(str(second), 203)] == (
        "phone.unique",
        f"the same phone as row 8 of {first}, under another id",
    )


def test_collect_refused_by_its_last_batch_writes_nothing_of_the_earlier_ones(
    tmp_path: Path, cli: InvokeCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With --on-invalid abort, an invalid row in the last batch refuses the whole
    collect, after earlier batches went into the store's transaction: none of them is
    kept, the store verifies, and the audit shows the collect failed, naming nobody."""
    import custrec.io as io_module

    header, *rows = csv_rows(generate_customers(cli, tmp_path / "g.csv", 300, seed=12))
    source = write_csv(tmp_path / "in.csv", header, [*rows, ["", *rows[0][1:]]])
    key = new_key_file(tmp_path / "k.key").path
    store = init_store(cli, tmp_path / "s.crec", key)
    monkeypatch.setattr(io_module, "_CSV_BLOCK_BYTES", 4_000)
    monkeypatch.setattr(io_module.regrouped, "__defaults__", (40,))
    args = ["--key-file", str(key), "--format", "json"]
    result = cli("collect", str(store), str(source), *args)
    assert result.exit_code == 1, result.stderr
    report = json.loads(result.stdout)
    assert (report["written"], report["inserted"], report["problems_total"]) == (False, 0, 1)
    assert report["problems"][0]["row"] == 301
    assert verified(cli, store, "--key-file", str(key)) == 0
    shown = json.loads(cli("audit", "show", str(store), *args).stdout)["entries"]
    collect = [e for e in shown if e["action"] == "collect"]
    assert [(e["phase"], e["outcome"], e["subjects"]) for e in collect] == [
        ("intent", "started", None),
        ("outcome", "failed", None),
    ]
    audit_verifies(cli, store, key)


def test_refused_rows_written_out_are_sealed_and_come_back_in_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Beyond HELD_ROWS, refused rows go to an unnamed temporary file sealed under a key
    of the collect: no value of theirs is in its bytes, they come back in the order they
    were refused, and a changed byte is refused as tampering."""
    import custrec.collect as collect_module
    from custrec.errors import IntegrityError

    monkeypatch.setattr(collect_module, "HELD_ROWS", 3)
    refused = collect_module._Refused()
    rows = [
        ("in.csv", n, [("email.format", "email", "rule email.format")],
         {"_line": n + 1, "email": f"canary-{n}@example.org"})
        for n in range(1, 9)
    ]  # fmt: skip
    for row in rows:
        refused.add(row)
    assert (len(refused), len(refused.held)) == (8, 2)  # two parts of three written out
    assert list(refused) == rows
    assert list(refused) == rows  # read again: the file is read from its start each time
    handle = refused._file
    handle.seek(0)
    raw = handle.read()
    assert len(raw) > 100
    assert b"canary" not in raw
    assert b"example.org" not in raw
    handle.seek(20)
    handle.write(bytes([raw[20] ^ 1]))
    with pytest.raises(IntegrityError):
        list(refused)
    refused.close()
