"""The demo end to end, and writing generated datasets in every format."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from custrec.datasets import write_dataset
from custrec.demo import run_demo
from custrec.generate import CUSTOMER_COLUMNS, INTERACTION_COLUMNS
from custrec.io import open_table

from .conftest import REPO, InvokeCli


def test_demo_creates_and_profiles_the_example_data(cli: InvokeCli, tmp_path: Path) -> None:
    workdir = tmp_path / "demo"
    result = cli("demo", "--workdir", str(workdir), "--customers", "200", "--interactions", "500")
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in workdir.iterdir()) == [  # no lock file left behind
        "customers-contacts.csv",
        "customers-defects.csv",
        "customers-rejects.csv",
        "customers-shared.csv",
        "customers.crec",
        "customers.crec.erasures",
        "customers.crec.keys",
        "customers.csv",
        "demo.key",
        "interactions-defects.csv",
        "interactions.csv",
        "kpis.html",
    ]
    lines = result.stdout.splitlines()
    customers_row = next(x for x in lines if x.startswith("customers.csv "))
    defects = len((workdir / "customers-defects.csv").read_text().splitlines()) - 1
    assert customers_row.split()[1:4] == ["200", str(len(CUSTOMER_COLUMNS)), str(defects)]
    assert f"Demo files are in {workdir}/" in result.stderr


def test_demo_json_matches_the_files(cli: InvokeCli, tmp_path: Path) -> None:
    workdir = tmp_path / "demo"
    result = cli(
        "demo",
        "--workdir",
        str(workdir),
        "--customers",
        "100",
        "--interactions",
        "300",
        "--format",
        "json",
    )
    document = json.loads(result.stdout)
    assert document["version"] == 1
    assert document["kind"] == "demo"
    for dataset in document["datasets"]:
        path = Path(dataset["generated"]["path"])
        with open(path, newline="", encoding="utf-8") as handle:
            assert sum(1 for _ in csv.DictReader(handle)) == dataset["profile"]["rows"]
        duplicate_defects = dataset["generated"]["defects"].get("duplicate_id", 0)
        assert dataset["profile"]["duplicate_rows"] == duplicate_defects


def test_demo_store_holds_the_loadable_customers(tmp_path: Path) -> None:
    from custrec.store import KeySource, open_store

    result = run_demo(tmp_path / "d", customers=120, interactions=10, seed=11)
    profile = result.steps[0].profile
    with open(tmp_path / "d" / "customers-rejects.csv", newline="", encoding="utf-8") as f:
        rejected = list(csv.DictReader(f))
    assert result.store.records + result.store.skipped == 120
    assert result.store.skipped >= profile.missing_ids + profile.duplicate_rows
    assert len(rejected) == result.store.skipped
    assert all(row["_rules"] and row["_reasons"] for row in rejected)
    with open_store(result.store.path, KeySource.from_key_file(result.store.key_file)) as store:
        assert store.count() == result.store.records - 1  # the demo ends with an erasure
    assert result.rights.gone
    assert result.rights.audit_entries >= 1
    assert result.rights.audit_intact
    again = run_demo(tmp_path / "d", customers=30, interactions=10, seed=11)  # replaces
    assert again.store.records <= 30


def test_demo_scans_the_notes_and_shares_a_copy_without_what_it_found(tmp_path: Path) -> None:
    result = run_demo(tmp_path / "d", customers=400, interactions=10, seed=12)
    shared = result.redaction
    assert shared.found.get("CREDIT_CARD", 0) > 0
    assert shared.found.get("EMAIL_ADDRESS", 0) > 0
    assert shared.replaced == shared.found
    assert shared.left_in_copy == 0
    assert shared.shared_records == result.store.records
    with open(shared.shared, newline="", encoding="utf-8") as handle:
        copy = handle.read()
    with open(tmp_path / "d" / "customers.csv", newline="", encoding="utf-8") as handle:
        originals = list(csv.DictReader(handle))
    assert all(not row["email"] or row["email"] not in copy for row in originals)
    copied = list(csv.DictReader(copy.splitlines()))
    assert {row["last_name"] for row in copied} <= {"<PERSON>", ""}


def test_demo_is_reproducible(tmp_path: Path) -> None:
    first = run_demo(tmp_path / "a", customers=50, interactions=80, seed=5)
    second = run_demo(tmp_path / "b", customers=50, interactions=80, seed=5)
    for a, b in zip(first.steps, second.steps, strict=True):
        assert Path(a.written.path).read_bytes() == Path(b.written.path).read_bytes()


@pytest.mark.parametrize("fmt", ["csv", "ndjson", "parquet"])
@pytest.mark.parametrize(
    ("dataset", "columns"), [("customers", CUSTOMER_COLUMNS), ("interactions", INTERACTION_COLUMNS)]
)
def test_every_format_holds_the_same_rows(
    tmp_path: Path, fmt: str, dataset: str, columns: tuple[str, ...]
) -> None:
    path = tmp_path / f"data.{fmt}"
    written = write_dataset(
        dataset, str(path), rows=300, seed=3, defects_dest=str(tmp_path / "d.csv")
    )
    assert written.rows == 300
    with open_table(str(path)) as reader:
        rows = [row for batch in reader for row in batch.to_pylist()]
        assert reader.columns == list(columns)
    assert len(rows) == 300
    with open_table(str(tmp_path / "d.csv")) as reader:
        defect_rows = [row for batch in reader for row in batch.to_pylist()]
    assert len(defect_rows) == written.defect_rows
    id_column = columns[0]
    for defect in defect_rows:
        if defect["record_id"]:
            assert rows[int(defect["row"]) - 1][id_column] == defect["record_id"]


def test_committed_examples_match_the_generator(tmp_path: Path) -> None:
    for dataset, rows in (("customers", 25), ("interactions", 60)):
        expected = tmp_path / f"{dataset}.csv"
        write_dataset(
            dataset,
            str(expected),
            rows=rows,
            seed=7,
            customers=25,
            bad_share=0.2,
            defects_dest=str(tmp_path / f"{dataset}-defects.csv"),
        )
        for name in (f"{dataset}.csv", f"{dataset}-defects.csv"):
            committed = REPO / "examples" / name
            assert committed.read_bytes() == (tmp_path / name).read_bytes(), (
                f"examples/{name} is stale: run `make examples`"
            )
