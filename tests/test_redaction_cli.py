"""``custrec scan`` and ``custrec redact`` end to end: the NDJSON finding contract, exit
codes, known values, auditing, and redacted copies that hold none of the original
personal data."""

from __future__ import annotations

import csv
import io
import json
import re
import socket
import stat
from pathlib import Path
from typing import Any

import pytest

from .conftest import REPO, InvokeCli, write

EXAMPLES = REPO / "examples" / "customers.csv"
SCHEMA = REPO / "schemas" / "customer.yaml"
FINDING_KEYS = ["id", "line", "field", "start", "end", "type", "score", "rule"]
PII_FIELDS = ("customer_id", "first_name", "last_name", "email", "phone", "date_of_birth")


@pytest.fixture
def key(cli: InvokeCli, tmp_path: Path) -> Path:
    path = tmp_path / "officer.key"
    assert cli("key", "new", str(path)).exit_code == 0
    return path


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUSTREC_ACTOR", "tester")
    for name in ("CUSTREC_KEY_FILE", "CUSTREC_PASSPHRASE", "CUSTREC_FORMAT", "CUSTREC_DEBUG"):
        monkeypatch.delenv(name, raising=False)


def findings(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def example_rows() -> list[dict[str, str]]:
    with EXAMPLES.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


# --- scan ---------------------------------------------------------------------------


def test_scan_of_plain_text_gives_one_finding_per_line_with_offsets_into_the_line(
    cli: InvokeCli, tmp_path: Path
) -> None:
    lines = [
        "Customer paid with 4111 1111 1111 1111 yesterday.",
        "",
        "Order 2026-03-02 #55512 shipped; nothing personal here.",
        "Mail ann.lee@example.org or call +44 20 7946 0958, IBAN GB82 WEST 1234 5698 7654 32.",
    ]
    path = write(tmp_path / "notes.txt", "\n".join(lines) + "\n")
    result = cli("scan", str(path))
    assert result.exit_code == 0, result.stderr
    found = findings(result.stdout)
    assert all(list(f) == FINDING_KEYS for f in found)
    got = {(f["line"], lines[f["line"] - 1][f["start"] : f["end"]], f["type"]) for f in found}
    assert got == {
        (1, "4111 1111 1111 1111", "CREDIT_CARD"),
        (4, "ann.lee@example.org", "EMAIL_ADDRESS"),
        (4, "+44 20 7946 0958", "PHONE_NUMBER"),
        (4, "GB82 WEST 1234 5698 7654 32", "IBAN_CODE"),
    }
    assert all(f["id"] is None and f["field"] is None for f in found)
    assert "CREDIT_CARD 1" in result.stderr
    assert "EMAIL_ADDRESS 1" in result.stderr
    # The values themselves are never in the report.
    assert "ann.lee" not in result.stdout
    assert "4111" not in result.stdout


def test_scan_fail_on_findings_is_exit_1_only_when_something_is_found(
    cli: InvokeCli, tmp_path: Path
) -> None:
    dirty = write(tmp_path / "dirty.txt", "card 5555 5555 5555 4444\n")
    clean = write(tmp_path / "clean.txt", "card ending 4444, order 12345678\n")
    assert cli("scan", str(dirty), "--fail-on-findings").exit_code == 1
    assert cli("scan", str(dirty)).exit_code == 0
    result = cli("scan", str(clean), "--fail-on-findings")
    assert result.exit_code == 0, result.stdout
    assert result.stdout == ""


def test_scan_types_filter_and_unknown_type(cli: InvokeCli, tmp_path: Path) -> None:
    path = write(tmp_path / "t.txt", "a@b.example.com 4111-1111-1111-1111\n")
    result = cli("scan", str(path), "--types", "credit_card")
    assert [f["type"] for f in findings(result.stdout)] == ["CREDIT_CARD"]
    bad = cli("scan", str(path), "--types", "CARD")
    assert bad.exit_code == 2
    assert "CREDIT_CARD" in bad.stderr


def test_scan_of_csv_names_the_line_where_each_row_starts_and_the_record_id(
    cli: InvokeCli, tmp_path: Path
) -> None:
    text = (
        "customer_id,first_name,notes\n"
        'C-1,Ann,"first line\nsecond line with ann@example.com"\n'
        "C-2,Bo,card 4111111111111111 read out\n"
    )
    path = write(tmp_path / "c.csv", text)
    result = cli("scan", str(path), "--field", "notes")
    assert result.exit_code == 0, result.stderr
    found = findings(result.stdout)
    assert [(f["id"], f["line"], f["field"], f["type"]) for f in found] == [
        ("C-1", 2, "notes", "EMAIL_ADDRESS"),
        ("C-2", 4, "notes", "CREDIT_CARD"),
    ]
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows[0]["notes"][found[0]["start"] : found[0]["end"]] == "ann@example.com"
    missing = cli("scan", str(path), "--field", "remarks")
    assert missing.exit_code == 3  # an unknown column
    assert missing.stderr.startswith(f"Error: {path}: --field remarks: no such column")


def test_scan_finds_the_records_own_name_and_phone_in_its_notes_with_a_schema(
    cli: InvokeCli, tmp_path: Path
) -> None:
    text = (
        "customer_id,first_name,last_name,phone,country,notes\n"
        "C-1,Siobhán,O'Neil,07911 123456,GB,Spoke to SIOBHÁN o’neil; call back on 07911-123-456\n"
    )
    path = write(tmp_path / "c.csv", text)
    plain = findings(cli("scan", str(path), "--field", "notes").stdout)
    known = findings(cli("scan", str(path), "--field", "notes", "--schema", str(SCHEMA)).stdout)
    note = next(csv.DictReader(io.StringIO(text)))["notes"]
    spans = {note[f["start"] : f["end"]] for f in known if f["rule"] == "known_value"}
    assert {"SIOBHÁN", "o’neil", "07911-123-456"} <= spans
    assert not any(f["rule"] == "known_value" for f in plain)


def test_scan_json_has_version_findings_and_summary(cli: InvokeCli, tmp_path: Path) -> None:
    path = write(tmp_path / "t.txt", "x 4111111111111111\ny a@b.example.org\n")
    result = cli("scan", str(path), "--format", "json", "--explain")
    document = json.loads(result.stdout)
    assert document["version"] == 1
    assert document["kind"] == "scan"
    assert document["summary"] == {
        "documents": 2,
        "findings": 2,
        "by_type": {"CREDIT_CARD": 1, "EMAIL_ADDRESS": 1},
    }
    assert all(f["explanation"] for f in document["findings"])


def test_scan_opens_no_network_connection(
    cli: InvokeCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    result = cli("scan", str(EXAMPLES), "--schema", str(SCHEMA))
    assert result.exit_code == 0, result.stderr
    assert findings(result.stdout)


def test_scan_of_a_store_reads_its_free_text_and_is_audited_without_values(
    cli: InvokeCli, tmp_path: Path, key: Path
) -> None:
    store = tmp_path / "s.crec"
    assert cli("init", str(store), "--key-file", str(key), "--schema", str(SCHEMA)).exit_code == 0
    collected = cli(
        "collect", str(store), str(EXAMPLES), "--key-file", str(key),
        "--on-invalid", "reject", "--rejects", str(tmp_path / "rejects.csv"),
    )  # fmt: skip
    assert collected.exit_code == 0, collected.stderr
    result = cli("scan", str(store), "--key-file", str(key), "--reason", "monthly check")
    assert result.exit_code == 0, result.stderr
    found = findings(result.stdout)
    assert found
    assert {f["field"] for f in found} == {"notes"}
    assert all(f["line"] is None and f["id"].startswith("C-") for f in found)
    audit = cli("audit", "show", str(store), "--key-file", str(key), "--format", "json")
    entries = [e for e in json.loads(audit.stdout)["entries"] if e["action"] == "scan"]
    assert entries
    raw = json.dumps(entries)
    for row in example_rows():
        for name in ("email", "first_name", "last_name"):
            assert not row[name] or row[name] not in raw


# --- redact -------------------------------------------------------------------------


def redact_examples(cli: InvokeCli, out: Path, key: Path, *args: str) -> Any:
    return cli(
        "redact", str(EXAMPLES), "-o", str(out), "--schema", str(SCHEMA),
        "--key-file", str(key), *args,
    )  # fmt: skip


def test_redacted_examples_hold_none_of_the_original_personal_values(
    cli: InvokeCli, tmp_path: Path, key: Path
) -> None:
    out = tmp_path / "shared.csv"
    result = redact_examples(cli, out, key)
    assert result.exit_code == 0, result.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    text = out.read_text(encoding="utf-8")
    rows = example_rows()
    redacted = list(csv.DictReader(io.StringIO(text)))
    assert len(redacted) == len(rows)
    digits = re.sub(r"\D", "", text)
    for row in rows:
        for name in PII_FIELDS:
            value = row[name].strip()
            if len(re.sub(r"\W", "", value)) < 5:
                continue  # empty, or a planted defect too short to tell from other text
            assert value not in text, (name, value)
            if name == "phone":
                assert re.sub(r"\D", "", value)[-8:] not in digits, value
    # Nothing the detector finds is left in the copy but the tags it wrote.
    rescan = cli("scan", str(out), "--schema", str(SCHEMA), "--field", "notes")
    assert findings(rescan.stdout) == []
    for original, copy in zip(rows, redacted, strict=True):
        assert copy["country"] == original["country"]  # not personal: kept
        assert copy["created_at"] == original["created_at"]
        if original["date_of_birth"]:
            assert copy["date_of_birth"] == original["date_of_birth"][:4]


def test_mask_on_a_store_without_a_schema_masks_emails_and_phones_by_kind(
    cli: InvokeCli, tmp_path: Path, key: Path
) -> None:
    store = tmp_path / "plain.crec"
    assert cli("init", str(store), "--key-file", str(key)).exit_code == 0
    source = write(
        tmp_path / "in.csv",
        "customer_id,email,phone,city\n"
        "C-1,dana.lee@example.com,+44 7911 128222,Bath\n"
        "C-2,omar@example.org,+1 (212) 555-0123,Leeds\n",
    )
    assert cli("collect", str(store), str(source), "--key-file", str(key)).exit_code == 0
    policy = write(tmp_path / "p.yaml", "version: 1\nfields:\n  customer_id: keep\ndefault: mask\n")
    out = tmp_path / "masked.csv"
    result = cli(
        "redact", str(store), "-o", str(out), "--policy", str(policy), "--key-file", str(key),
        "--reason", "share with the SMS vendor",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    rows = {r["customer_id"]: r for r in csv.DictReader(out.open(encoding="utf-8"))}
    assert rows["C-1"]["email"] == "d***@example.com"
    assert rows["C-1"]["phone"] == "+** **** **8222"
    assert rows["C-2"]["email"] == "o***@example.org"
    assert rows["C-2"]["phone"] == "+* (***) ***-0123"
    assert rows["C-1"]["city"] == "****"


def test_the_same_key_gives_byte_identical_output_and_another_key_other_pseudonyms(
    cli: InvokeCli, tmp_path: Path, key: Path
) -> None:
    first, second, other = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "c.csv"
    assert redact_examples(cli, first, key).exit_code == 0
    assert redact_examples(cli, second, key).exit_code == 0
    assert first.read_bytes() == second.read_bytes()
    other_key = tmp_path / "other.key"
    cli("key", "new", str(other_key))
    assert redact_examples(cli, other, other_key).exit_code == 0
    ids = [r["customer_id"] for r in csv.DictReader(first.open(encoding="utf-8"))]
    other_ids = [r["customer_id"] for r in csv.DictReader(other.open(encoding="utf-8"))]
    assert ids.count("") == 1  # the example row without an id stays without one
    ids = [i for i in ids if i]
    assert all(re.fullmatch(r"<CUSTOMER_ID_[0-9a-f]{16}>", i) for i in ids)
    assert len(set(ids)) == len(ids)
    assert not set(ids) & set(other_ids)


def test_a_pseudonym_is_the_same_across_files_formats_and_fields(
    cli: InvokeCli, tmp_path: Path, key: Path
) -> None:
    policy = write(
        tmp_path / "policy.yaml",
        "version: 1\nfields:\n  email: pseudonymise\n  notes: scan\n  customer_id: keep\n"
        "types:\n  EMAIL_ADDRESS: pseudonymise\ndefault: drop\n",
    )
    csv_in = write(
        tmp_path / "a.csv",
        "customer_id,email,notes\nC-1,Ann.Lee@Example.org,wrote from ann.lee@example.org\n",
    )
    ndjson_in = write(
        tmp_path / "b.ndjson",
        json.dumps({"customer_id": "C-9", "email": " ann.lee@EXAMPLE.org ", "notes": None}) + "\n",
    )
    outputs = []
    for source in (csv_in, ndjson_in):
        out = tmp_path / f"{source.stem}.out.ndjson"
        result = cli(
            "redact", str(source), "-o", str(out), "--policy", str(policy),
            "--schema", str(SCHEMA), "--key-file", str(key),
        )  # fmt: skip
        assert result.exit_code == 0, result.stderr
        outputs.append(findings(out.read_text(encoding="utf-8")))
    first, second = outputs[0][0], outputs[1][0]
    assert re.fullmatch(r"<EMAIL_ADDRESS_[0-9a-f]{16}>", first["email"])
    assert first["email"] == second["email"]
    assert first["notes"] == f"wrote from {first['email']}"
    assert first["customer_id"] == "C-1"


def test_redact_refuses_pseudonyms_without_a_key_and_names_policy_lines(
    cli: InvokeCli, tmp_path: Path
) -> None:
    out = tmp_path / "x.csv"
    result = cli("redact", str(EXAMPLES), "-o", str(out), "--schema", str(SCHEMA))
    assert result.exit_code == 2
    assert "--key-file" in result.stderr
    assert not out.exists()
    policy = write(tmp_path / "p.yaml", "version: 1\nfields:\n  email: scramble\n")
    bad = cli("redact", str(EXAMPLES), "-o", str(out), "--policy", str(policy))
    assert bad.exit_code == 2
    assert "p.yaml:3:" in bad.stderr
    assert "scramble" in bad.stderr
    both = cli("redact", str(EXAMPLES), "-o", str(out), "--into", str(tmp_path / "n.crec"))
    assert both.exit_code == 2


def test_a_value_that_cannot_be_generalised_names_file_line_and_field(
    cli: InvokeCli, tmp_path: Path, key: Path
) -> None:
    source = write(
        tmp_path / "in.csv",
        'customer_id,date_of_birth\nC-1,1980-02-03\nC-2,"3rd\nof May"\nC-3,1990-01-01\n',
    )
    out = tmp_path / "out.csv"
    lenient = cli(
        "redact", str(source), "-o", str(out), "--schema", str(SCHEMA), "--key-file", str(key)
    )
    assert lenient.exit_code == 0, lenient.stderr
    assert "date_of_birth 1" in lenient.stderr
    copied = list(csv.DictReader(out.open(encoding="utf-8", newline="")))
    assert [r["date_of_birth"] for r in copied] == ["1980", "<DATE_OF_BIRTH>", "1990"]
    out.unlink()
    result = cli(
        "redact", str(source), "-o", str(out), "--schema", str(SCHEMA), "--key-file", str(key),
        "--strict",
    )  # fmt: skip
    assert result.exit_code == 3
    assert "in.csv:3:" in result.stderr
    assert "date_of_birth" in result.stderr
    assert "expected a date" in result.stderr
    assert "May" not in result.stderr  # the value itself is not echoed
    assert not out.exists()  # nothing half-written


def test_redact_into_a_new_store_keeps_it_encrypted_and_audits_the_read(
    cli: InvokeCli, tmp_path: Path, key: Path
) -> None:
    store, copy = tmp_path / "s.crec", tmp_path / "copy.crec"
    assert cli("init", str(store), "--key-file", str(key), "--schema", str(SCHEMA)).exit_code == 0
    cli(
        "collect", str(store), str(EXAMPLES), "--key-file", str(key),
        "--on-invalid", "reject", "--rejects", str(tmp_path / "rejects.csv"),
    )  # fmt: skip
    result = cli("redact", str(store), "--into", str(copy), "--key-file", str(key))
    assert result.exit_code == 0, result.stderr
    exported = cli("export", str(copy), "--key-file", str(key), "--format", "ndjson")
    rows = findings(exported.stdout)
    assert rows
    assert all(r["first_name"] == "<PERSON>" for r in rows)
    raw = copy.read_bytes()
    for row in example_rows():
        for name in ("email", "last_name", "city"):
            if row[name]:
                assert row[name].encode() not in raw  # encrypted, or redacted
    audit = cli("audit", "show", str(store), "--key-file", str(key), "--format", "json")
    assert any(e["action"] == "redact" for e in json.loads(audit.stdout)["entries"])


@pytest.mark.parametrize("fmt", ["csv", "ndjson", "parquet"])
def test_redact_writes_each_format_with_the_same_values(
    cli: InvokeCli, tmp_path: Path, key: Path, fmt: str
) -> None:
    import pyarrow.csv as pacsv
    import pyarrow.json as pajson
    import pyarrow.parquet as pq

    out = tmp_path / f"shared.{fmt}"
    result = redact_examples(cli, out, key, "--format", fmt)
    assert result.exit_code == 0, result.stderr
    reference = tmp_path / "shared-reference.csv"
    assert redact_examples(cli, reference, key).exit_code == 0
    expected = list(csv.DictReader(reference.open(encoding="utf-8", newline="")))
    if fmt == "parquet":
        rows = pq.read_table(out).to_pylist()
    elif fmt == "ndjson":
        rows = pajson.read_json(out).to_pylist()
    else:
        options = pacsv.ConvertOptions(strings_can_be_null=False, column_types={})
        rows = pacsv.read_csv(out, convert_options=options).to_pylist()
    assert len(rows) == len(expected)
    for got, want in zip(rows, expected, strict=True):
        assert str(got["customer_id"] or "") == want["customer_id"]
        assert str(got["email"] or "") == want["email"].lstrip("'")
        assert str(got["notes"] or "") == want["notes"]


def test_a_scan_of_redacted_notes_finds_nothing_the_policy_replaces(
    cli: InvokeCli, tmp_path: Path
) -> None:
    """A replacement can be context for the next value (the tag ``<US_ZIP>`` names a
    ZIP code): the notes are scanned again until nothing more is found."""
    notes = [
        "update my address to the same: 13878 Auerstrasse 132 ALTA , nan  Norway 29340",
        "call me on 020 7946 0958, card 4111 1111 1111 1111",
    ]
    source = tmp_path / "notes.csv"
    with source.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["note_id", "notes"])
        writer.writerows(enumerate(notes, start=1))
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "version: 1\nfields:\n  note_id: keep\n  notes: scan\ntypes:\n  default: replace\n",
        encoding="utf-8",
    )
    out = tmp_path / "out.csv"
    result = cli("redact", str(source), "-o", str(out), "--policy", str(policy))
    assert result.exit_code == 0, result.stderr
    rescan = cli("scan", str(out), "--field", "notes", "--format", "ndjson")
    assert rescan.exit_code == 0, rescan.stderr
    assert rescan.stdout == ""
    assert "29340" not in out.read_text(encoding="utf-8")


def test_findings_replaced_counts_what_was_replaced_not_what_was_kept(
    cli: InvokeCli, tmp_path: Path
) -> None:
    source = tmp_path / "notes.csv"
    source.write_text(
        "note_id,notes\n1,card 4111 1111 1111 1111 and call 020 7946 0958\n", encoding="utf-8"
    )
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "version: 1\nfields:\n  note_id: keep\n  notes: scan\n"
        "types:\n  CREDIT_CARD: keep\n  default: replace\n",
        encoding="utf-8",
    )
    out = tmp_path / "out.csv"
    result = cli(
        "redact", str(source), "-o", str(out), "--policy", str(policy),
        "--summary-format", "json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""  # the copy went to -o; the summary goes to stderr
    summary = json.loads(result.stderr)
    assert summary["findings_replaced"] == {"PHONE_NUMBER": 1}
    written = out.read_text(encoding="utf-8")
    assert "4111 1111 1111 1111" in written
    assert "7946" not in written
