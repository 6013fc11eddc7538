"""``--engine spark --spark-remote sc://...``: custrec as a Spark Connect client. The
server runs inside the test session's Spark (``SparkConnectService``, on a free port),
so the client, a separate ``custrec`` process, talks gRPC to it as to a cluster: the
same figures and counts as the polars engine, the failures written by the server to
the URI named, and clear exits when the server is away or the path missing."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import REPO, run_custrec
from .test_kpi_engines import same

pytest.importorskip("pyspark")
pytest.importorskip("grpc")  # the spark extra: pyspark[connect]

LOG = REPO / "examples" / "interactions.csv"
CUSTOMERS = REPO / "examples" / "customers.csv"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def remote(spark: Any) -> Iterator[str]:
    """A Spark Connect server in the test session's JVM: its address."""
    jvm = spark.session._jvm
    context = spark.session._jsc.sc()
    port = _free_port()
    context.conf().set("spark.connect.grpc.binding.port", str(port))
    service = jvm.org.apache.spark.sql.connect.service.SparkConnectService
    service.start(context)
    yield f"sc://localhost:{port}"
    service.stop(jvm.scala.Option.empty(), jvm.scala.Option.empty())


def _json(args: list[str], *, input: bytes | None = None, code: int = 0) -> Any:
    done = run_custrec(args, input=input, timeout=300)
    assert done.returncode == code, done.stderr.decode()[-2000:]
    return json.loads(done.stdout)


def test_report_kpi_through_spark_connect_equals_the_polars_engine(remote: str) -> None:
    args = ["report", "kpi", str(LOG), "--by", "channel", "--format", "json", "--skip-invalid"]
    local = _json(args)
    connected = _json([*args, "--engine", "spark", "--spark-remote", remote])
    same(local["rows"], connected["rows"])  # counts exactly, figures to 1e-9
    same(local["total"], connected["total"])
    assert local["total"]["interactions"] > 0
    # standard input: read here, its batches sent to the server
    piped = _json(
        ["report", "kpi", "-", "--by", "channel", "--format", "json", "--skip-invalid",
         "--engine", "spark", "--spark-remote", remote],
        input=LOG.read_bytes(),
    )  # fmt: skip
    same(local["total"], piped["total"])


def test_validate_through_spark_connect_writes_failures_on_the_server(
    remote: str, tmp_path: Path
) -> None:
    args = ["validate", str(CUSTOMERS), "--schema", "customer", "--as-of", "2026-12-01"]
    args += ["--format", "json"]
    local = _json([*args, "--failures", str(tmp_path / "local.ndjson")], code=1)
    target = tmp_path / "failures"
    connected = _json(
        [*args, "--engine", "spark", "--spark-remote", remote, "--failures", target.as_uri()],
        code=1,
    )
    counts = {rule["id"]: rule["failed"] for rule in connected["rules"]}
    assert counts == {rule["id"]: rule["failed"] for rule in local["rules"]}
    assert sum(counts.values()) > 0
    written = [
        json.loads(line)
        for part in sorted(target.glob("part-*"))
        for line in part.read_text(encoding="utf-8").splitlines()
    ]
    wanted = [
        json.loads(line)
        for line in (tmp_path / "local.ndjson").read_text(encoding="utf-8").splitlines()
    ]
    key = lambda entry: (entry["row"], entry["rule"])  # noqa: E731
    assert sorted(written, key=key) == sorted(wanted, key=key)
    # the same URI again: the server refuses to overwrite it
    again = run_custrec(
        [*args, "--engine", "spark", "--spark-remote", remote, "--failures", target.as_uri()],
        timeout=300,
    )
    assert again.returncode == 2
    assert b"already exists" in again.stderr


def test_a_missing_path_on_spark_connect_exits_3(remote: str, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.parquet"
    done = run_custrec(
        ["report", "kpi", str(missing), "--engine", "spark", "--spark-remote", remote],
        timeout=300,
    )
    assert done.returncode == 3, done.stderr.decode()[-1000:]
    assert b"PATH_NOT_FOUND" in done.stderr


def test_a_server_that_does_not_answer_exits_2_soon_without_the_token() -> None:
    away = f"sc://localhost:{_free_port()}/;token=sEcReT-t0ken"
    # within the timeout: with the client's default retries it waits 10 minutes
    done = run_custrec(
        ["report", "kpi", str(LOG), "--engine", "spark", "--spark-remote", away], timeout=120
    )
    assert done.returncode == 2, done.stderr.decode()[-1000:]
    assert b"did not answer" in done.stderr
    assert b"sEcReT" not in done.stderr
